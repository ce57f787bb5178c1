{#- One definition table's versions in dim_metric_definitions' shape; a column the provider did not
    send (no `name`, say) is null rather than an error. -#}
{% macro definition_versions(provider, kind, model, scope, definition_id, name) -%}
    {%- set columns = metricsync.raw_columns(ref(model)) -%}
    select
        cast('{{ provider }}' as text) as provider,
        cast('{{ kind }}' as text) as kind,
        cast(account as text) as account,
        cast({{ metricsync.column_or_null(scope, columns) }} as text) as scope,
        cast({{ metricsync.column_or_null(definition_id, columns) }} as text) as definition_id,
        cast({{ metricsync.column_or_null(name, columns) }} as text) as name,
        is_current,
        valid_from,
        valid_to,
        cast({{ metricsync.attributes(ref(model)) }} as {{ metricsync.json_type() }}) as attributes
    from {{ ref(model) }}
{%- endmacro %}

{% macro column_or_null(expression, columns) -%}
    {#- a column name if the relation has it (or a literal), else null -#}
    {{- expression if (not execute or expression in columns or expression.startswith("'")) else 'null' -}}
{%- endmacro %}
