{#- Statsig daily metric values, one row per account, date, metric, metric type and unit type ("" when none). -#}
{%- set raw = metricsync.raw_relation('statsig', 'metric_values') -%}
{%- set columns = metricsync.raw_columns(raw) -%}
{%- set staged = metricsync.typed_select(raw, [
    ['account', 'text', metricsync.account(raw)],
    ['metric_name', 'text', 'src.metric_name'],
    ['metric_type', 'text', 'src.metric_type'],
    ['unit_type', 'text', "coalesce(src.unit_type, '')"],
    ['period_start', 'date', 'src.date'],
    ['value', 'float8', 'src.value'],
    ['numerator', 'float8', 'src.numerator' if 'numerator' in columns else 'null'],
    ['denominator', 'float8', 'src.denominator' if 'denominator' in columns else 'null'],
    ['load_id', 'text', metricsync.load_id(raw)],
]) -%}
{{ metricsync.with_loaded_at('statsig', staged) }}
