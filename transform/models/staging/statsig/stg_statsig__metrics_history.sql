{#- Every version of statsig.metrics (dlt scd2): its own columns as loaded (`id`, `name`, `type` and
    any the API adds), the account, when the version was loaded (`valid_from`), when it changed or
    was deleted upstream (`valid_to`, null while current) and `is_current`. -#}
{%- set raw = metricsync.raw_relation('statsig', 'metrics') -%}
{%- set required = [['id', 'text'], ['name', 'text'], ['type', 'text']] -%}

select
    {{ metricsync.scd2_columns(raw, required) }},
    cast({{ metricsync.account(raw) }} as text) as account,
    src._dlt_valid_from as valid_from,
    src._dlt_valid_to as valid_to,
    src._dlt_valid_to is null as is_current,
    {{ metricsync.load_id(raw) }} as load_id
from {{ metricsync.scd2_source(raw, required) }} as src
