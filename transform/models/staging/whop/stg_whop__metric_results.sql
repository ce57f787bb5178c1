{#- Whop stats metric results, unpivoted: one row per account, query, period, breakdown and numeric
    column the API returned (`metric` = the column's name, e.g. gross_revenue). `dimension_name`
    names the row's breakdown (text) columns and `dimension_value` holds their values, both joined
    with "," in column-name order (a NULL value is "", so (DE, null) is "DE," and (null, DE) is
    ",DE"); "" when not broken down. Queries share the table, so a row's own breakdown columns are
    those its `breakdown_key` names. A `currency` column (rows per currency) is one of them, and also
    gives the row's `currency`. Columns are read from the warehouse at run time, so new API
    columns are picked up. -#}
{%- set raw = metricsync.raw_relation('whop', 'metric_results') -%}
{%- set columns = metricsync.raw_columns(raw) -%}
{%- set not_dimensions = ['account', 'query_name', 'period', 'breakdown_key', 'granularity', 'date', 'day', 'timestamp',
                          'time', 'bucket', 'ts', 'week', 'month'] -%}
{%- set measures, dimensions = [], [] -%}
{%- for name, column in columns.items() | sort -%}
    {%- if name.startswith('_') or name in not_dimensions or '__v_' in name -%}
    {%- elif metricsync.is_number(column) -%}
        {%- do measures.append(name) -%}
    {%- elif column.is_string() -%}
        {%- do dimensions.append(name) -%}
    {%- endif -%}
{%- endfor -%}
{%- set grain = "case src.granularity when 'weekly' then 'week' when 'monthly' then 'month' else 'day' end"
    if 'granularity' in columns else "'day'" -%}
{%- set currency = "lower(src.currency)" if 'currency' in dimensions else "null" -%}
{#- a column is in a row's breakdown when the row's `breakdown_key` (the JSON object of its
    breakdown, keys sorted, values JSON-escaped) has it as a key: queries share the table's columns -#}
{%- set names, values = [], [] -%}
{%- for name in dimensions -%}
    {%- set included = "strpos(src.breakdown_key, '\"" ~ name ~ "\": ') > 0" if 'breakdown_key' in columns else "true" -%}
    {%- do names.append("case when " ~ included ~ " then '," ~ name ~ "' else '' end") -%}
    {%- do values.append("case when " ~ included ~ " then ',' || coalesce(src." ~ adapter.quote(name) ~ ", '') else '' end") -%}
{%- endfor -%}
{%- set dimension_name = ("substr(" ~ (names | join(" || ")) ~ ", 2)") if names else "''" -%}
{%- set dimension = ("substr(" ~ (values | join(" || ")) ~ ", 2)") if values else "''" -%}
{%- if raw is none or not measures %}
{{ metricsync.with_loaded_at('whop', metricsync.typed_select(none, [
    ['account', 'text', ''], ['query_name', 'text', ''], ['grain', 'text', ''], ['period_start', 'date', ''],
    ['dimension_name', 'text', ''], ['dimension_value', 'text', ''],
    ['metric', 'text', ''], ['value', 'numeric(38,18)', ''], ['currency', 'text', ''], ['load_id', 'text', '']])) }}
{%- else %}
{%- set unpivoted -%}
    {%- for measure in measures %}
    {{ metricsync.typed_select(raw, [
        ['account', 'text', metricsync.account(raw)],
        ['query_name', 'text', 'src.query_name'],
        ['grain', 'text', grain],
        ['period_start', 'date', 'src.period'],
        ['dimension_name', 'text', dimension_name],
        ['dimension_value', 'text', dimension],
        ['metric', 'text', "'" ~ measure ~ "'"],
        ['value', 'numeric(38,18)', 'src.' ~ adapter.quote(measure)],
        ['currency', 'text', currency],
        ['load_id', 'text', metricsync.load_id(raw)],
    ], where='src.' ~ adapter.quote(measure) ~ ' is not null') }}
    {{ "union all" if not loop.last }}
    {%- endfor %}
{%- endset %}
{{ metricsync.with_loaded_at('whop', unpivoted) }}
{%- endif %}
