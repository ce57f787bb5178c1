{#- The current version of each posthog.group_types definition. -#}
select *
from {{ ref('stg_posthog__group_types_history') }}
where is_current
