{#- Monthly wallet net revenue from Whop, by account and currency: the wallet amounts of every query
    filtered to the `net_income` reporting category (var `metricsync_whop_net_revenue_category`),
    summed per month, whatever the query's period (day, week or month). One row per account, query,
    month and currency, so two such queries (or accounts) are not added together. `is_complete`:
    the query's periods in the month cover it exactly (from its first day to its last, none
    straddling its end: a weekly query's months are never complete) and had all ended when loaded;
    a month still running, or before the query's start date, is not. -#}
with net as (
    select
        account,
        query_name as series,
        cast(date_trunc('month', period_start) as date) as month,
        currency,
        sum(amount) as net_revenue,
        cast(sum(line_count) as bigint) as line_count
    from {{ ref('stg_whop__wallet_time_series') }}
    where reporting_category = '{{ var("metricsync_whop_net_revenue_category", "net_income") }}'
    group by account, query_name, cast(date_trunc('month', period_start) as date), currency
),

coverage as (
    select
        account,
        series,
        cast(date_trunc('month', period_start) as date) as month,
        min(period_start) as first_day,
        max(period_end) as last_day,
        min(case when is_complete then 1 else 0 end) = 1 as ended
    from {{ ref('fct_metric_values') }}
    where provider = 'whop' and metric = 'amount' and dimension_name = 'currency'
    group by account, series, cast(date_trunc('month', period_start) as date)
)

select
    net.account,
    net.series,
    net.month,
    net.currency,
    net.net_revenue,
    net.line_count,
    coalesce(
        coverage.ended and coverage.first_day = net.month
        and coverage.last_day = {{ metricsync.period_end('net.month', "'month'") }},
        false
    ) as is_complete
from net
left join coverage
    on net.account = coverage.account and net.series = coverage.series and net.month = coverage.month
