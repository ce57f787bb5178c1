{#- Statsig daily metric values, one row per account, date, metric, metric type and unit type ("" when none).
    `numerator` and `denominator` are null when the loaded table has no such column (no ratio metric loaded). -#}
{%- set raw = metricsync.raw_relation('statsig', 'metric_values') -%}
{%- set columns = metricsync.raw_columns(raw) -%}

with staged as (
    select
        cast({{ metricsync.account(raw) }} as text) as account,
        cast(src.metric_name as text) as metric_name,
        cast(src.metric_type as text) as metric_type,
        cast(coalesce(src.unit_type, '') as text) as unit_type,
        cast(src.date as date) as period_start,
        cast(src.value as float8) as value,
        cast({{ 'src.numerator' if 'numerator' in columns else 'null' }} as float8) as numerator,
        cast({{ 'src.denominator' if 'denominator' in columns else 'null' }} as float8) as denominator,
        cast({{ metricsync.load_id(raw) }} as text) as load_id
    from {{ metricsync.raw_or_empty(raw, [
        ['metric_name', 'text'], ['metric_type', 'text'], ['unit_type', 'text'], ['date', 'date'],
        ['value', 'float8'], ['_dlt_load_id', 'text']]) }} as src
)

select
    staged.*,
    {{ metricsync.shifted('loads.inserted_at') }} as loaded_at
from staged
left join {{ metricsync.loads('statsig') }} as loads on staged.load_id = loads.load_id
