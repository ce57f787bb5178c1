{#- Schemas are used as named (`metrics`, `metrics_staging`), not prefixed with the target schema.
    A project that installs metricsync as a package keeps its own naming (see the README). -#}
{% macro generate_schema_name(custom_schema_name, node) -%}
    {{ (custom_schema_name or target.schema) | trim }}
{%- endmacro %}
