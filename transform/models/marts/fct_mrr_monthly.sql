{#- Monthly MRR by account, query and currency from Stripe, in major units, summed over the query's
    groups (prices, products...). MRR is a level, not a flow: a month's MRR is the value of the
    complete period covering the month's last day (daily and weekly queries: that day, or the week
    holding it) or of the month itself (monthly queries). A month without one (still running, or
    its last period not yet loaded after it ended) is `is_complete = false`, with the latest complete
    period overlapping it (`as_of`, null if none) - never a partial period. The months shown are those
    a period starts in or a complete period ends in (a running week does not announce next month). -#}
with mrr as (
    select
        account,
        series,
        currency,
        period_start,
        period_end,
        sum(value) as value
    from {{ ref('fct_metric_values') }}
    where provider = 'stripe_analytics' and metric = 'mrr' and grain in ('day', 'week', 'month') and is_complete
    group by account, series, currency, period_start, period_end
),

months as (
    select distinct
        account,
        series,
        currency,
        cast(date_trunc('month', period_start) as date) as month
    from {{ ref('fct_metric_values') }}
    where provider = 'stripe_analytics' and metric = 'mrr' and grain in ('day', 'week', 'month')
    union
    select distinct
        account,
        series,
        currency,
        cast(date_trunc('month', period_end) as date) as month
    from {{ ref('fct_metric_values') }}
    where provider = 'stripe_analytics' and metric = 'mrr' and grain in ('day', 'week', 'month') and is_complete
),

bounded as (
    select
        months.*,
        {{ metricsync.period_end('month', "'month'") }} as month_end
    from months
),

ranked as (
    select
        bounded.account,
        bounded.series,
        bounded.currency,
        bounded.month,
        mrr.period_start,
        mrr.period_end,
        mrr.value,
        row_number() over (
            partition by bounded.account, bounded.series, bounded.currency, bounded.month
            order by mrr.period_start desc
        ) as recency
    from bounded
    inner join mrr
        on bounded.account = mrr.account and bounded.series = mrr.series and bounded.currency = mrr.currency
            and bounded.month_end >= mrr.period_start and bounded.month <= mrr.period_end
)

select
    bounded.month,
    bounded.account,
    bounded.currency,
    bounded.series,
    ranked.period_start as as_of,
    ranked.value as mrr,
    coalesce(ranked.period_end >= bounded.month_end, false) as is_complete
from bounded
left join ranked
    on bounded.account = ranked.account and bounded.series = ranked.series and bounded.currency = ranked.currency
        and bounded.month = ranked.month and ranked.recency = 1
