{#- One row per (provider, series, metric, grain, period_start, dimension_value) across Whop,
    Stripe Analytics and Statsig. Contract (enforced) and meaning of each column: _marts.yml. -#}
{{ config(contract={'enforced': true}) }}

with whop_wallet as (
    select 'whop' as provider, query_name as series, 'amount' as metric, grain, period_start,
           currency as dimension_value, cast(amount as numeric(38,18)) as value, currency, loaded_at
    from {{ ref('stg_whop__wallet_time_series') }}
    union all
    select 'whop', query_name, 'line_count', grain, period_start,
           currency, cast(line_count as numeric(38,18)), cast(null as text), loaded_at
    from {{ ref('stg_whop__wallet_time_series') }}
),

whop_metrics as (
    select 'whop' as provider, query_name as series, metric, grain, period_start,
           dimension_value, value, currency, loaded_at
    from {{ ref('stg_whop__metric_results') }}
),

stripe as (
    select 'stripe_analytics' as provider, query_name as series, metric, grain, period_start,
           dimension_value, value, currency, loaded_at
    from {{ ref('stg_stripe_analytics__metric_results') }}
),

statsig as (
    select 'statsig' as provider, metric_name as series, 'value' as metric, 'day' as grain, period_start,
           unit_type as dimension_value, {{ metricsync.float_to_numeric('value') }} as value, cast(null as text) as currency,
           loaded_at
    from {{ ref('stg_statsig__metric_values') }}
),

unioned as (
    select * from whop_wallet
    union all select * from whop_metrics
    union all select * from stripe
    union all select * from statsig
)

select
    cast(provider as text) as provider,
    cast(series as text) as series,
    cast(metric as text) as metric,
    cast(grain as text) as grain,
    cast(period_start as date) as period_start,
    cast(dimension_value as text) as dimension_value,
    cast(value as numeric(38,18)) as value,
    cast(currency as text) as currency,
    cast(loaded_at as timestamptz) as loaded_at
from unioned
