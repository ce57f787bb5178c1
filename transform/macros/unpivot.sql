{#- The shared pieces of an unpivot whose columns are read from the warehouse at run time
    (stg_whop__metric_results: one row per numeric column the API returned). -#}

{% macro measures_and_dimensions(columns, skip) -%}
    {#- [numeric columns, text columns] of `columns` ({name: Column}), sorted by name, leaving out
        dlt's (`_...`), its nested tables' (`__v_`) and those in `skip` -#}
    {%- set measures, dimensions = [], [] -%}
    {%- for name, column in columns.items() | sort -%}
        {%- if name.startswith('_') or name in skip or '__v_' in name -%}
        {%- elif metricsync.is_number(column) -%}
            {%- do measures.append(name) -%}
        {%- elif column.is_string() -%}
            {%- do dimensions.append(name) -%}
        {%- endif -%}
    {%- endfor -%}
    {{ return([measures, dimensions]) }}
{%- endmacro %}

{% macro names_as_rows(column, names) -%}
    {#- `select '<name>' as <column> union all ...`: one row per name (none: no rows) -#}
    {%- for name in names -%}
    select cast('{{ name }}' as text) as {{ column }}{{ "\n    union all\n    " if not loop.last }}
    {%- else -%}
    select cast(null as text) as {{ column }} where 1 = 0
    {%- endfor -%}
{%- endmacro %}

{% macro unpivoted_value(name_column, names, type) -%}
    {#- `case <name_column> when '<name>' then cast(src."<name>" as <type>) ... end`: the value of
        the column a row's name names (each cast on its own, so no common type rounds it) -#}
    {%- if names -%}
    case {{ name_column }}
        {%- for name in names %}
            when '{{ name }}' then cast(src.{{ adapter.quote(name) }} as {{ type }})
        {%- endfor %}
        end
    {%- else -%}
    cast(null as {{ type }})
    {%- endif -%}
{%- endmacro %}

{% macro breakdown(dimensions, columns, part) -%}
    {#- A row's breakdown (Whop): its text columns that the row's `breakdown_key` (the JSON object of
        its breakdown, keys sorted, values JSON-escaped) has as keys - queries share the table's
        columns - joined with "," in name order: `part` 'name' gives the columns' names, 'value'
        their values (a NULL value is "", so (DE, null) is "DE," and (null, DE) is ",DE"); "" when
        not broken down -#}
    {%- set pieces = [] -%}
    {%- for name in dimensions -%}
        {%- set included = "strpos(src.breakdown_key, '\"" ~ name ~ "\": ') > 0" if 'breakdown_key' in columns else "true" -%}
        {%- if part == 'name' -%}
            {%- do pieces.append("case when " ~ included ~ " then '," ~ name ~ "' else '' end") -%}
        {%- else -%}
            {%- do pieces.append("case when " ~ included ~ " then ',' || coalesce(src." ~ adapter.quote(name) ~ ", '') else '' end") -%}
        {%- endif -%}
    {%- endfor -%}
    {{- ("substr(" ~ (pieces | join(" || ")) ~ ", 2)") if pieces else "''" -}}
{%- endmacro %}
