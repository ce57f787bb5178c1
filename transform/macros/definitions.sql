{#- One definition table's versions in dim_metric_definitions' shape -#}
{% macro definition_versions(provider, kind, model, scope, definition_id, name) -%}
    select
        cast('{{ provider }}' as text) as provider,
        cast('{{ kind }}' as text) as kind,
        cast({{ scope }} as text) as scope,
        cast({{ definition_id }} as text) as definition_id,
        cast({{ name }} as text) as name,
        is_current,
        valid_from,
        valid_to,
        cast({{ metricsync.attributes(ref(model)) }} as {{ metricsync.json_type() }}) as attributes
    from {{ ref(model) }}
{%- endmacro %}
