{#- The current version of each statsig.metrics definition. -#}
select *
from {{ ref('stg_statsig__metrics_history') }}
where is_current
