{#- Views over dlt scd2 tables: every version of every definition (history), with its columns as
    loaded plus `account` ('' without accounts), `valid_from`, `valid_to` (null while current) and `is_current`. `required` are the
    columns the marts read, given as [name, type] for when the table is not loaded. -#}

{% macro scd2_history(provider, table, required) -%}
    {%- set raw = metricsync.raw_relation(provider, table) -%}
    {%- set columns = metricsync.raw_columns(raw) -%}
    {%- if raw is none %}
    {%- set typed = [] -%}
    {%- for name, type in required -%}{%- do typed.append([name, type, '']) -%}{%- endfor %}
    {{ metricsync.typed_select(none, typed + [['account', 'text', ''],
        ['valid_from', 'timestamptz', ''], ['valid_to', 'timestamptz', ''], ['is_current', 'boolean', ''],
        ['load_id', 'text', '']]) }}
    {%- else %}
    select
        {%- for name in columns if not name.startswith('_dlt') and name != 'account' %}
        src.{{ adapter.quote(name) }},
        {%- endfor %}
        cast({{ metricsync.account(raw) }} as text) as account,
        src._dlt_valid_from as valid_from,
        src._dlt_valid_to as valid_to,
        src._dlt_valid_to is null as is_current,
        {{ metricsync.load_id(raw) }} as load_id
    from {{ raw }} as src
    {%- endif %}
{%- endmacro %}

{% macro scd2_current(history) -%}
    select * from {{ history }} where is_current
{%- endmacro %}

{% macro attributes(relation, exclude=[]) -%}
    {#- The definition's own columns (not dlt's, not the history columns) as one JSON object -#}
    {%- set skip = ['account', 'valid_from', 'valid_to', 'is_current', 'load_id'] + exclude -%}
    {%- set pairs = [] -%}
    {%- for name in metricsync.raw_columns(relation) if name not in skip and not name.startswith('_dlt') -%}
        {%- do pairs.append([name, adapter.quote(name)]) -%}
    {%- endfor -%}
    {%- if pairs -%}{{ metricsync.json_object(pairs) }}{%- else -%}cast(null as {{ metricsync.json_type() }}){%- endif -%}
{%- endmacro %}
