{#- The layers' schemas are named by vars - `metricsync_schema` (marts, default `metrics`) and
    `metricsync_staging_schema` (staging views and the seed, default `metrics_staging`) - and used
    as named, not prefixed with the target schema (read here, where a package's vars are in scope). -#}
{% macro generate_schema_name(custom_schema_name, node) -%}
    {%- if custom_schema_name == 'metrics' -%}
        {{ var('metricsync_schema', 'metrics') | trim }}
    {%- elif custom_schema_name == 'metrics_staging' -%}
        {{ var('metricsync_staging_schema', 'metrics_staging') | trim }}
    {%- else -%}
        {{ (custom_schema_name or target.schema) | trim }}
    {%- endif -%}
{%- endmacro %}
