{#- The current version of each posthog.group_type_metrics definition. -#}
select *
from {{ ref('stg_posthog__group_type_metrics_history') }}
where is_current
