{#- The layers' schemas are named by vars - `metricsync_schema` (marts, default `metrics`) and
    `metricsync_staging_schema` (staging views and the seed, default `metrics_staging`). On a
    production target (var `metricsync_production_targets`, default ["prod"]; `transform` names
    its own target so) they are used as named; on any other target (`dbt build --target dev`) they
    are prefixed with the target's schema, `<target.schema>_metrics`, so a dev build never
    overwrites production. Read here, where a package's vars are in scope. -#}
{% macro generate_schema_name(custom_schema_name, node) -%}
    {%- set names = {'metrics': var('metricsync_schema', 'metrics'),
                     'metrics_staging': var('metricsync_staging_schema', 'metrics_staging')} -%}
    {%- set name = names.get(custom_schema_name, custom_schema_name) -%}
    {%- if not name -%}
        {{ target.schema | trim }}
    {%- elif target.name in var('metricsync_production_targets', ['prod']) -%}
        {{ name | trim }}
    {%- else -%}
        {{ target.schema | trim }}_{{ name | trim }}
    {%- endif -%}
{%- endmacro %}
