{#- A nightly's data tests cost what changed. Every data test of the incremental mart
    (`fct_metric_values`) and of the views its rows come from reads only the days its change log
    names (`<mart>__changes`, macros/incremental.sql: the periods rebuilt since the last publish)
    and the days of the loads the mart has not taken yet (a key is unique within a day, so a
    duplicate across loads is seen); on a full build (the log says
    `rebuilt_in_full`), and when there is no log yet, every row. The log is emptied only by a publish,
    so a build whose tests failed is tested again, whole, by the next. dbt wraps a tested model
    in `get_where_subquery` (its `where` config); this project's version adds the scope. As a dbt
    package (not the root project) dbt's own version is used: every row, as before. -#}

{% macro get_where_subquery(relation) -%}
    {%- set conditions = [] -%}
    {%- set where = config.get('where', '') -%}
    {%- if where -%}{%- do conditions.append('(' ~ where ~ ')') -%}{%- endif -%}
    {%- set scope = metricsync.changed_scope(relation) -%}
    {%- if scope -%}{%- do conditions.append('(' ~ scope ~ ')') -%}{%- endif -%}
    {%- if conditions -%}
        {{ return('(select * from ' ~ relation ~ ' where ' ~ (conditions | join(' and ')) ~ ') dbt_subquery') }}
    {%- endif -%}
    {{ return(relation) }}
{%- endmacro %}

{% macro scoped_models() -%}
    {#- the incremental mart, and the views whose rows are its rows (a period of theirs changes only
        with a load, which the change log names) -#}
    {{ return(['fct_metric_values', 'int_metric_values', 'stg_whop__metric_results', 'stg_whop__wallet_time_series',
               'stg_stripe_analytics__metric_results', 'stg_statsig__metric_values']) }}
{%- endmacro %}

{% macro changed_scope(relation) -%}
    {#- '' (every row) or the condition of a scoped model's rows the nightly tests (`changed_rows`) -#}
    {%- if not execute or relation.identifier not in metricsync.scoped_models() -%}{{ return('') }}{%- endif -%}
    {{ return(metricsync.changed_rows(relation=relation)) }}
{%- endmacro %}

{% macro changed_rows(alias=none, relation=none) -%}
    {#- '' (every row), or a condition on `period_start` (of `alias`, when given): the days the change
        log names and the days of `relation`'s rows from the loads the mart has not taken yet (a
        staging view's tests run before the mart's build logs them); every row on a full build,
        with no log yet, or when the days or loads are more than `scope_limit` -#}
    {%- set mart = graph.nodes.get('model.metricsync.fct_metric_values') if execute else none -%}
    {%- if mart is none -%}{{ return('') }}{%- endif -%}
    {%- set found = adapter.get_relation(database=mart.database, schema=mart.schema, identifier=mart.alias) -%}
    {%- if found is none -%}{{ return('') }}{%- endif -%}
    {%- set log, seen = metricsync.change_log(found), metricsync.seen_loads(found) -%}
    {%- for table in [log, seen] -%}
        {%- if adapter.get_relation(database=table.database, schema=table.schema, identifier=table.identifier) is none -%}
            {{ return('') }}
        {%- endif -%}
    {%- endfor -%}
    {%- set limit = metricsync.scope_limit() -%}
    {%- set days = run_query("select distinct cast(period_start as text), rebuilt_in_full from " ~ log
        ~ " order by 2 desc, 1 limit " ~ (limit + 1)) -%}
    {%- if days.rows | length > limit or (days.rows and days.rows[0][1]) -%}{{ return('') }}{%- endif -%}
    {%- set pending = run_query("select distinct l.load_id from (" ~ metricsync.all_loads() ~ ") as l where "
        ~ "l.load_id is not null and not exists (select 1 from " ~ seen ~ " as s where s.load_id = l.load_id) limit "
        ~ (limit + 1)) -%}
    {%- if pending.rows | length > limit -%}{{ return('') }}{%- endif -%}
    {%- set listed = days.rows | list -%}
    {%- if pending.rows and relation is none -%}{{ return('') }}{%- endif -%}
    {%- if pending.rows -%}
        {%- set new_days = run_query("select distinct cast(period_start as text) from " ~ relation
            ~ " where load_id in (" ~ metricsync.literals(pending.rows) ~ ") limit " ~ (limit + 1)) -%}
        {%- do listed.extend(new_days.rows) -%}
    {%- endif -%}
    {%- if listed | length > limit -%}{{ return('') }}{%- endif -%}
    {%- if not listed -%}{{ return('false') }}{%- endif -%}
    {{ return((alias ~ '.' if alias else '') ~ 'period_start in (' ~ metricsync.literals(listed) ~ ')') }}
{%- endmacro %}

{% macro literals(rows) -%}
    {#- the first column of `rows` as SQL text literals, comma-separated -#}
    {%- set quoted = [] -%}
    {%- for row in rows %}{% do quoted.append("'" ~ (row[0] | string | replace("'", "''")) ~ "'") %}{% endfor -%}
    {{ return(quoted | join(', ')) }}
{%- endmacro %}

{% macro scope_limit() -%}{{ return(1000) }}{%- endmacro %}
