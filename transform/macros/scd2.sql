{#- The staging views over dlt scd2 tables (stg_<provider>__<table>_history) select a definition's
    own columns as loaded - the provider may add some, and `dim_metric_definitions` keeps them all
    in `attributes` - then dlt's scd2 columns as `valid_from`, `valid_to` (null while current) and
    `is_current`. -#}

{% macro scd2_columns(relation, required) -%}
    {#- `src."<name>", ...`: the loaded table's own columns in its order (not dlt's, not `account`),
        or the `required` ones ([name, type], the columns the marts read) when it is not loaded -#}
    {%- set names = [] -%}
    {%- if relation is none -%}
        {%- for name, type in required -%}{%- do names.append(name) -%}{%- endfor -%}
    {%- else -%}
        {%- for name in metricsync.raw_columns(relation) if not name.startswith('_dlt') and name != 'account' -%}
            {%- do names.append(name) -%}
        {%- endfor -%}
    {%- endif -%}
    {%- for name in names -%}src.{{ adapter.quote(name) }}{{ ",\n    " if not loop.last }}{%- endfor -%}
{%- endmacro %}

{% macro scd2_source(relation, required) -%}
    {#- the scd2 table, or no rows with the `required` columns and dlt's when it is not loaded -#}
    {{- metricsync.raw_or_empty(relation, required + [['_dlt_valid_from', 'timestamptz'],
        ['_dlt_valid_to', 'timestamptz'], ['_dlt_load_id', 'text']]) -}}
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
