{#- The current version of each whop.wallet_reporting_categories definition. -#}
select *
from {{ ref('stg_whop__wallet_reporting_categories_history') }}
where is_current
