{#- Whop wallet series: one row per query, period and currency; money already in major units,
    periods already in the query's time zone (the API buckets there; null zone = UTC). -#}
{%- set raw = metricsync.raw_relation('whop', 'wallet_time_series') -%}

with staged as (
    select
        cast({{ metricsync.account(raw) }} as text) as account,
        cast(src.query_name as text) as query_name,
        cast(src.group_by as text) as grain,
        cast(src.period as date) as period_start,
        cast(lower(src.currency) as text) as currency,
        cast(src.amount as numeric(38, 9)) as amount,
        cast(src.line_count as bigint) as line_count,
        cast(coalesce(src.timezone, 'UTC') as text) as timezone,
        cast(src.account_id as text) as account_id,
        cast(src.reporting_category as text) as reporting_category,
        cast(src.grouping as text) as grouping,
        cast(src.line_category as text) as line_category,
        cast(src.convert_currency as text) as convert_currency,
        cast({{ metricsync.load_id(raw) }} as text) as load_id
    from {{ metricsync.raw_or_empty(raw, [
        ['query_name', 'text'], ['group_by', 'text'], ['period', 'date'], ['currency', 'text'],
        ['amount', 'numeric(38, 9)'], ['line_count', 'bigint'], ['timezone', 'text'], ['account_id', 'text'],
        ['reporting_category', 'text'], ['grouping', 'text'], ['line_category', 'text'],
        ['convert_currency', 'text'], ['_dlt_load_id', 'text']]) }} as src
)

select
    staged.*,
    {{ metricsync.shifted('loads.inserted_at') }} as loaded_at
from staged
left join {{ metricsync.loads('whop') }} as loads on staged.load_id = loads.load_id
