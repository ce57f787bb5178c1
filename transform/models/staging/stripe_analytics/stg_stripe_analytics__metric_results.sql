{#- Stripe metric results with money in major units (minor units x the currency's minor unit from
    Stripe's own seed `stripe_currencies`, exact: ISK in hundredths, MGA whole) and the bucket dated in the query's own time zone: a Tokyo January
    bucket starts 2025-12-31 15:00 UTC but is `period_start` 2026-01-01. Rows loaded before the
    loader stored `period`/`timezone` are dated from `timestamp` in UTC. -#}
{%- set raw = metricsync.raw_relation('stripe_analytics', 'metric_results') -%}
{%- set columns = metricsync.raw_columns(raw) -%}
{%- set timezone = "coalesce(src.timezone, 'UTC')" if 'timezone' in columns else "'UTC'" -%}
{%- set computed_day = metricsync.local_day('src.timestamp', timezone) -%}
{%- set day = "coalesce(src.period, " ~ computed_day ~ ")" if 'period' in columns else computed_day -%}
{%- set staged = metricsync.typed_select(raw, [
    ['account', 'text', metricsync.account(raw)],
    ['query_name', 'text', 'src.query_name'],
    ['metric_id', 'text', 'src.metric'],
    ['result_name', 'text', 'src.name'],
    ['metric', 'text', "case when right(src.name, 12) = '_minor_units' then substr(src.name, 1, length(src.name) - 12) else src.name end"],
    ['grain', 'text', 'src.interval'],
    ['timezone', 'text', timezone],
    ['bucket_at', 'timestamptz', 'src.timestamp'],
    ['period_start', 'date', day],
    ['dimension_name', 'text', "coalesce(src.dimension_name, '')"],
    ['dimension_value', 'text', "coalesce(src.dimension_value, '')"],
    ['currency', 'text', 'lower(src.currency)'],
    ['value_minor', 'bigint', 'src.value'],
    ['livemode', 'boolean', 'src.livemode'],
    ['load_id', 'text', metricsync.load_id(raw)],
]) -%}
with staged as (
    {{ metricsync.with_loaded_at('stripe_analytics', staged) }}
)

select
    staged.*,
    currencies.exponent as currency_exponent,
    cast(case
        when staged.currency is null then cast(staged.value_minor as numeric(38,18))
        else cast(staged.value_minor as numeric(19,0)) * cast(currencies.minor_unit as numeric(19,18))
    end as numeric(38,18)) as value
from staged
left join {{ ref('stripe_currencies') }} as currencies on currencies.currency = staged.currency
