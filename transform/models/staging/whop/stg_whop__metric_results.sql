{#- Whop stats metric results, unpivoted: one row per account, query, period, breakdown and numeric
    column the API returned (`metric` = the column's name, e.g. gross_revenue; rows whose value is
    null are left out). `dimension_name` names the row's breakdown (text) columns and
    `dimension_value` holds their values, both joined with "," in column-name order (a NULL value is
    "", so (DE, null) is "DE," and (null, DE) is ",DE"); "" when not broken down. Queries share the
    table, so a row's own breakdown columns are those its `breakdown_key` names. A `currency` column
    (rows per currency) is one of them, and also gives the row's `currency`. Columns are read from
    the warehouse at run time, so new API columns are picked up. -#}
{%- set raw = metricsync.raw_relation('whop', 'metric_results') -%}
{%- set columns = metricsync.raw_columns(raw) -%}
{%- set measures, dimensions = metricsync.measures_and_dimensions(columns, skip=[
    'account', 'query_name', 'period', 'breakdown_key', 'granularity', 'date', 'day', 'timestamp', 'time',
    'bucket', 'ts', 'week', 'month']) -%}
{%- set grain = "case src.granularity when 'weekly' then 'week' when 'monthly' then 'month' else 'day' end"
    if 'granularity' in columns else "'day'" -%}
{%- set stand_in = [['query_name', 'text'], ['period', 'date'], ['_dlt_load_id', 'text']] -%}

with metric_names as (
    {{ metricsync.names_as_rows('metric', measures) }}
),

unpivoted as (
    select
        cast({{ metricsync.account(raw) }} as text) as account,
        cast(src.query_name as text) as query_name,
        cast({{ grain }} as text) as grain,
        cast(src.period as date) as period_start,
        cast({{ metricsync.breakdown(dimensions, columns, 'name') }} as text) as dimension_name,
        cast({{ metricsync.breakdown(dimensions, columns, 'value') }} as text) as dimension_value,
        metric_names.metric,
        {{ metricsync.unpivoted_value('metric_names.metric', measures, 'numeric(38, 18)') }} as value,
        cast({{ 'lower(src.currency)' if 'currency' in dimensions else 'null' }} as text) as currency,
        cast({{ metricsync.load_id(raw) }} as text) as load_id
    from {{ metricsync.raw_or_empty(raw, stand_in) }} as src
    cross join metric_names
),

staged as (
    select * from unpivoted
    where value is not null
)

select
    staged.*,
    {{ metricsync.shifted('loads.inserted_at') }} as loaded_at
from staged
left join {{ metricsync.loads('whop') }} as loads on staged.load_id = loads.load_id
