{#- Whop wallet series: one row per query, period and currency; money already in major units,
    periods already in the query's time zone (the API buckets there; null zone = UTC). -#}
{%- set raw = metricsync.raw_relation('whop', 'wallet_time_series') -%}
{%- set staged = metricsync.typed_select(raw, [
    ['account', 'text', metricsync.account(raw)],
    ['query_name', 'text', 'src.query_name'],
    ['grain', 'text', 'src.group_by'],
    ['period_start', 'date', 'src.period'],
    ['currency', 'text', 'lower(src.currency)'],
    ['amount', 'numeric(38,9)', 'src.amount'],
    ['line_count', 'bigint', 'src.line_count'],
    ['timezone', 'text', "coalesce(src.timezone, 'UTC')"],
    ['account_id', 'text', 'src.account_id'],
    ['reporting_category', 'text', 'src.reporting_category'],
    ['grouping', 'text', 'src.grouping'],
    ['line_category', 'text', 'src.line_category'],
    ['convert_currency', 'text', 'src.convert_currency'],
    ['load_id', 'text', metricsync.load_id(raw)],
]) -%}
{{ metricsync.with_loaded_at('whop', staged) }}
