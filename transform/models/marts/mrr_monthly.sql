{#- Monthly MRR by currency from Stripe: for each query and currency, the MRR of the last period
    loaded in each month (MRR is a level, not a flow: summing days would multiply it), summed
    over the query's groups (prices, products...), in major units. -#}
with mrr as (
    select series, currency, grain, period_start, value,
           cast(date_trunc('month', period_start) as date) as month
    from {{ ref('fct_metric_values') }}
    where provider = 'stripe_analytics' and metric = 'mrr'
),

last_period as (
    select series, currency, month, max(period_start) as as_of
    from mrr
    group by series, currency, month
)

select
    mrr.month,
    mrr.currency,
    mrr.series,
    last_period.as_of,
    sum(mrr.value) as mrr
from mrr
join last_period
    on last_period.series = mrr.series and last_period.currency = mrr.currency
    and last_period.month = mrr.month and last_period.as_of = mrr.period_start
group by mrr.month, mrr.currency, mrr.series, last_period.as_of
