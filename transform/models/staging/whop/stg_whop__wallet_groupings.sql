{#- The current version of each whop.wallet_groupings definition. -#}
select *
from {{ ref('stg_whop__wallet_groupings_history') }}
where is_current
