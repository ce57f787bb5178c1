{#- The current version of each statsig.metric_source_metrics definition. -#}
select *
from {{ ref('stg_statsig__metric_source_metrics_history') }}
where is_current
