{#- The current version of each whop.wallet_line_categories definition. -#}
select *
from {{ ref('stg_whop__wallet_line_categories_history') }}
where is_current
