{#- Stripe metric results with money in major units (minor units x the currency's minor unit from
    Stripe's own seed `stripe_currencies`, exact: ISK in hundredths, MGA whole) and the bucket dated
    in the query's own time zone: a Tokyo January bucket starts 2025-12-31 15:00 UTC but is
    `period_start` 2026-01-01. Rows loaded before the loader stored `period`/`timezone` are dated
    from `timestamp` in UTC. -#}
{%- set raw = metricsync.raw_relation('stripe_analytics', 'metric_results') -%}
{%- set columns = metricsync.raw_columns(raw) -%}
{%- set timezone = "coalesce(src.timezone, 'UTC')" if 'timezone' in columns else "'UTC'" -%}
{%- set computed_day = metricsync.local_day('src.timestamp', timezone) -%}
{%- set day = "coalesce(src.period, " ~ computed_day ~ ")" if 'period' in columns else computed_day -%}

with staged as (
    select
        cast({{ metricsync.account(raw) }} as text) as account,
        cast(src.query_name as text) as query_name,
        cast(src.metric as text) as metric_id,
        cast(src.name as text) as result_name,
        cast(
            case
                when right(src.name, 12) = '_minor_units' then substr(src.name, 1, length(src.name) - 12)
                else src.name
            end as text
        ) as metric,
        cast(src.interval as text) as grain,
        cast({{ timezone }} as text) as timezone,
        cast(src.timestamp as timestamptz) as bucket_at,
        cast({{ day }} as date) as period_start,
        cast(coalesce(src.dimension_name, '') as text) as dimension_name,
        cast(coalesce(src.dimension_value, '') as text) as dimension_value,
        cast(lower(src.currency) as text) as currency,
        cast(src.value as bigint) as value_minor,
        cast(src.livemode as boolean) as livemode,
        cast({{ metricsync.load_id(raw) }} as text) as load_id
    from {{ metricsync.raw_or_empty(raw, [
        ['query_name', 'text'], ['metric', 'text'], ['name', 'text'], ['interval', 'text'],
        ['timestamp', 'timestamptz'], ['dimension_name', 'text'], ['dimension_value', 'text'],
        ['currency', 'text'], ['value', 'bigint'], ['livemode', 'boolean'], ['_dlt_load_id', 'text']]) }} as src
),

loaded as (
    select
        staged.*,
        {{ metricsync.shifted('loads.inserted_at') }} as loaded_at
    from staged
    left join {{ metricsync.loads('stripe_analytics') }} as loads on staged.load_id = loads.load_id
)

select
    loaded.*,
    currencies.exponent as currency_exponent,
    cast(
        case
            when loaded.currency is null then cast(loaded.value_minor as numeric(38, 18))
            else cast(loaded.value_minor as numeric(19, 0)) * cast(currencies.minor_unit as numeric(19, 18))
        end as numeric(38, 18)
    ) as value
from loaded
left join {{ ref('stripe_currencies') }} as currencies on loaded.currency = currencies.currency
