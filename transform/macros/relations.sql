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

{% macro typed_select(relation, columns, where=none) -%}
    {#- `select cast(<expr> as <type>) as <name>, ... from <relation> as src` for columns given as
        [name, type, expression] (expression may use `src.`); with no relation, the same columns
        and no rows. The load's time comes from the dataset's `_dlt_loads`. -#}
    {%- if relation is none %}
    select
        {%- for name, type, expression in columns %}
        cast(null as {{ type }}) as {{ name }}{{ "," if not loop.last }}
        {%- endfor %}
    where 1 = 0
    {%- else %}
    select
        {%- for name, type, expression in columns %}
        cast({{ expression }} as {{ type }}) as {{ name }}{{ "," if not loop.last }}
        {%- endfor %}
    from {{ relation }} as src
    {%- if where %}
    where {{ where }}
    {%- endif %}
    {%- endif %}
{%- endmacro %}

{% macro account(relation) -%}
    {#- `src.account` ('' when null), or '' for a provider loaded without accounts (no such column) -#}
    {%- if 'account' in metricsync.raw_columns(relation) -%}coalesce(src.account, ''){%- else -%}''{%- endif -%}
{%- endmacro %}

{% macro load_id(relation) -%}
    {#- `src._dlt_load_id`, or null for rows loaded before the loader added it to Arrow pages -#}
    {%- if '_dlt_load_id' in metricsync.raw_columns(relation) -%}src._dlt_load_id{%- else -%}null{%- endif -%}
{%- endmacro %}

{% macro loads_relation(provider) -%}
    {{ return(metricsync.raw_relation(provider, '_dlt_loads')) }}
{%- endmacro %}

{% macro with_loaded_at(provider, staged) -%}
    {#- `staged` (a select with a `load_id` column) plus `loaded_at`: when its load landed (moved by
        `metricsync_clock_shift_days`, which the transform sets when METRICSYNC_TODAY moves the clock) -#}
    {%- set loads = metricsync.loads_relation(provider) %}
    {%- set shift = var('metricsync_clock_shift_days', 0) | int %}
    select staged.*, loads.inserted_at{% if shift %} + interval '{{ shift }} days'{% endif %} as loaded_at
    from ({{ staged }}) as staged
    left join (
        {%- if loads is none %}
        select cast(null as text) as load_id, cast(null as timestamptz) as inserted_at where 1 = 0
        {%- else %}
        select load_id, inserted_at from {{ loads }}
        {%- endif %}
    ) as loads on loads.load_id = staged.load_id
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
