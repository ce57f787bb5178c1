{#- The current version of each statsig.metric_sources definition. -#}
select *
from {{ ref('stg_statsig__metric_sources_history') }}
where is_current
