{#- Saved query `whop_net_revenue_monthly` as a table (export): Whop net revenue (the wallet's
    `net_income` lines) per month, wallet query (series) and currency, accounts added up as the
    semantic layer's `net_revenue` does; a month is complete when it is for every account. -#}
select
    month,
    series,
    currency,
    sum(net_revenue) as net_revenue,
    bool_and(is_complete) as is_complete
from {{ ref('fct_whop_wallet_net_revenue_monthly') }}
group by month, series, currency
