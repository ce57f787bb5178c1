{#- fct_metric_values' rows computed from the staging views, every load: Whop wallet series and
    metric results, Stripe Analytics metric results and Statsig metric values in one shape, each row
    with the load it came from (`load_id`), which lets the incremental mart take only new loads. -#}


with whop_wallet as (
    select
        'whop' as provider,
        account,
        query_name as series,
        'amount' as metric_id,
        'amount' as metric,
        grain,
        period_start,
        'currency' as dimension_name,
        currency as dimension_value,
        cast(amount as numeric(38, 18)) as value,
        cast(amount as float8) as value_double,
        currency,
        timezone,
        loaded_at,
        load_id
    from {{ ref('stg_whop__wallet_time_series') }}
    union all
    select
        'whop' as provider,
        account,
        query_name as series,
        'line_count' as metric_id,
        'line_count' as metric,
        grain,
        period_start,
        'currency' as dimension_name,
        currency as dimension_value,
        cast(line_count as numeric(38, 18)) as value,
        cast(line_count as float8) as value_double,
        cast(null as text) as currency,
        timezone,
        loaded_at,
        load_id
    from {{ ref('stg_whop__wallet_time_series') }}
),

whop_metrics as (
    select
        'whop' as provider,
        account,
        query_name as series,
        metric as metric_id,
        metric,
        grain,
        period_start,
        dimension_name,
        dimension_value,
        value,
        cast(value as float8) as value_double,
        currency,
        'UTC' as timezone,
        loaded_at,
        load_id
    from {{ ref('stg_whop__metric_results') }}
),

stripe as (
    select
        'stripe_analytics' as provider,
        account,
        query_name as series,
        metric_id,
        metric,
        grain,
        period_start,
        dimension_name,
        dimension_value,
        value,
        cast(value as float8) as value_double,
        currency,
        timezone,
        loaded_at,
        load_id
    from {{ ref('stg_stripe_analytics__metric_results') }}
),

statsig as (
    select
        'statsig' as provider,
        account,
        metric_name as series,
        metric_name || '::' || metric_type as metric_id,
        'value' as metric,
        'day' as grain,
        period_start,
        'unit_type' as dimension_name,
        unit_type as dimension_value,
        case when abs(value) < 1e20 then {{ metricsync.float_to_numeric('value') }} end as value,
        value as value_double,
        cast(null as text) as currency,
        'UTC' as timezone,
        loaded_at,
        load_id
    from {{ ref('stg_statsig__metric_values') }}
),

unioned as (
    select * from whop_wallet
    union all
    select * from whop_metrics
    union all
    select * from stripe
    union all
    select * from statsig
),

bounded as (
    select
        unioned.*,
        {{ metricsync.period_end('period_start', 'grain') }} as period_end
    from unioned
)

select
    cast(provider as text) as provider,
    cast(account as text) as account,
    cast(series as text) as series,
    cast(metric_id as text) as metric_id,
    cast(metric as text) as metric,
    cast(grain as text) as grain,
    cast(period_start as date) as period_start,
    cast(period_end as date) as period_end,
    cast(dimension_name as text) as dimension_name,
    cast(dimension_value as text) as dimension_value,
    cast(value as numeric(38, 18)) as value,
    cast(value_double as float8) as value_double,
    cast(currency as text) as currency,
    cast(coalesce(loaded_at >= {{ metricsync.local_midnight('period_end + 1', 'timezone') }}, false) as boolean)
        as is_complete,
    cast(loaded_at as timestamptz) as loaded_at,
    cast(load_id as text) as load_id
from bounded
