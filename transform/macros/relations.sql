{#- Raw tables may be missing: a provider that is not loaded, or a table it only creates when
    configured (Whop metric queries). Staging models then select no rows with the same columns,
    so the marts build for whatever subset of providers is loaded. -#}

{% macro raw_relation(provider, table) -%}
    {#- the raw table's relation, or none when it is not in the warehouse or the provider is disabled
        (var `metricsync_<provider>_enabled` false); while parsing: the source -#}
    {%- if not metricsync.provider_enabled(provider) -%}{{ return(none) }}{%- endif -%}
    {%- set declared = source(provider, table) -%}
    {%- if not execute -%}{{ return(declared) }}{%- endif -%}
    {{ return(adapter.get_relation(database=declared.database, schema=declared.schema, identifier=declared.identifier)) }}
{%- endmacro %}

{% macro provider_enabled(provider) -%}
    {%- set enabled = var('metricsync_' ~ provider ~ '_enabled', true) -%}
    {{ return(enabled not in [false, 'false', 'False', 0]) }}
{%- endmacro %}

{% macro raw_columns(relation) -%}
    {#- {lower-case name: Column} of a relation (empty for none) -#}
    {%- set found = {} -%}
    {%- if relation is not none and execute -%}
        {%- for column in adapter.get_columns_in_relation(relation) -%}
            {%- do found.update({column.name | lower: column}) -%}
        {%- endfor -%}
    {%- endif -%}
    {{ return(found) }}
{%- endmacro %}

{% macro raw_or_empty(relation, columns) -%}
    {#- `relation`, or - when it is not loaded (none) - a subquery with no rows and the `columns`
        given as [name, type]: the raw columns the staging model reads, so its SQL is the same either way -#}
    {%- if relation is none -%}
    (
        select
            {%- for name, type in columns %}
            cast(null as {{ type }}) as {{ adapter.quote(name) }}{{ "," if not loop.last }}
            {%- endfor %}
        where 1 = 0
    )
    {%- else -%}
    {{ relation }}
    {%- endif -%}
{%- endmacro %}

{% macro loads(provider) -%}
    {#- the provider's `_dlt_loads` (load_id, inserted_at), or no rows when it is not loaded -#}
    {{- metricsync.raw_or_empty(metricsync.loads_relation(provider), [['load_id', 'text'], ['inserted_at', 'timestamptz']]) -}}
{%- endmacro %}

{% macro shifted(load_time) -%}
    {#- a load's time moved by `metricsync_clock_shift_days` (the transform sets it when METRICSYNC_TODAY moves the clock) -#}
    {%- set shift = var('metricsync_clock_shift_days', 0) | int -%}
    {{ load_time }}{% if shift %} + interval '{{ shift }} days'{% endif %}
{%- endmacro %}

{% macro account(relation) -%}
    {#- `src.account` ('' when null), or '' for a provider loaded without accounts (no such column) -#}
    {%- if 'account' in metricsync.raw_columns(relation) -%}coalesce(src.account, ''){%- else -%}''{%- endif -%}
{%- endmacro %}

{% macro load_id(relation) -%}
    {#- `src._dlt_load_id`, or null for rows loaded before the loader added it to Arrow pages
        (none: the empty `raw_or_empty` subquery, which has it) -#}
    {%- if relation is none or '_dlt_load_id' in metricsync.raw_columns(relation) -%}src._dlt_load_id{%- else -%}null{%- endif -%}
{%- endmacro %}

{% macro loads_relation(provider) -%}
    {{ return(metricsync.raw_relation(provider, '_dlt_loads')) }}
{%- endmacro %}

{% macro is_number(column) -%}
    {#- numeric, decimal(p,s), integer and floating types, however the adapter spells them -#}
    {%- set dtype = column.dtype | lower -%}
    {{ return(dtype.split('(')[0].strip() in ['numeric', 'decimal', 'double', 'double precision', 'float', 'float4',
        'float8', 'real', 'bigint', 'integer', 'int', 'int4', 'int8', 'smallint', 'hugeint', 'ubigint', 'uinteger']) }}
{%- endmacro %}

{% macro float_to_numeric(expression) -%}
    {#- A double as numeric(38,18) through its shortest text form, so 0.1 stays 0.1 (a direct cast
        would keep the binary float's tail: 0.100000000000000006) -#}
    cast(cast({{ expression }} as text) as numeric(38,18))
{%- endmacro %}
