{#- Build a JSON object from columns, in the warehouse's own JSON type (DuckDB json, Postgres jsonb). -#}

{% macro json_object(pairs) -%}
    {{ return(adapter.dispatch('json_object', 'metricsync')(pairs)) }}
{%- endmacro %}

{% macro default__json_object(pairs) -%}
    json_object({%- for key, expression in pairs %}'{{ key }}', {{ expression }}{{ ", " if not loop.last }}{%- endfor %})
{%- endmacro %}

{% macro postgres__json_object(pairs) -%}
    jsonb_build_object({%- for key, expression in pairs %}'{{ key }}', {{ expression }}{{ ", " if not loop.last }}{%- endfor %})
{%- endmacro %}

{% macro json_type() -%}
    {{ return(adapter.dispatch('json_type', 'metricsync')()) }}
{%- endmacro %}

{% macro default__json_type() %}json{% endmacro %}
{% macro postgres__json_type() %}jsonb{% endmacro %}
