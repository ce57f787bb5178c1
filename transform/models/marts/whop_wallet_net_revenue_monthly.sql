{#- Monthly wallet net revenue from Whop, by account and currency: the wallet amounts of every query
    filtered to the `net_income` reporting category (var `metricsync_whop_net_revenue_category`),
    summed per month, whatever the query's period (day, week or month). One row per account, query,
    month and currency, so two such queries (or accounts) are not added together. -#}
select
    account,
    query_name as series,
    cast(date_trunc('month', period_start) as date) as month,
    currency,
    sum(amount) as net_revenue,
    sum(line_count) as line_count
from {{ ref('stg_whop__wallet_time_series') }}
where reporting_category = '{{ var("metricsync_whop_net_revenue_category", "net_income") }}'
group by account, query_name, cast(date_trunc('month', period_start) as date), currency
