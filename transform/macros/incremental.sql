{#- An incremental mart that costs what changed (fct_metric_values). Rows are replaced a period at
    a time - a period is (provider, account, series, grain, period_start), and a load writes all the
    rows of each period it holds (the loader's delete-insert merge) - so a build:

    1. takes the loads it has not seen: those of the providers' `_dlt_loads` not in `<mart>__loads`
       (the loads every earlier build saw), kept in `<mart>__batch_loads`;
    2. counts, for each raw table one of them loaded, its rows per load and day (the table's period
       column) and compares them with the counts the last build kept (`<mart>__raw_days`): a load
       that lost rows on a day lost them to a later load's merge (replaced or emptied periods).
       Both are read when the model compiles (`nightly_plan`) and written into its select as
       literals, so the filters reach the raw tables' scans; the hooks read the plan back from the
       compiled select, so the lists the select used are the lists the ledger records;
    3. logs in `<mart>__changes` the periods of the new loads and the mart's periods of the (load,
       day) pairs that lost rows, tagged with this run's invocation id;
    4. deletes this run's logged periods from the mart, then appends the staged rows of the new
       loads, and the rows a shrunken load still holds in the logged periods (a day's periods are
       logged whole, though a later load may have replaced only some of them).

    Nothing reads the whole mart or the whole staged view: a raw table is read once whole (a count),
    and only when one of its provider's loads is new. A full build logs `rebuilt_in_full` instead, keeps
    every load id in the batch, and takes the ledger (`__loads`, `__raw_days`) afresh. The change
    log accumulates until `transform` publishes it (pipelines/warehouse/publish.py copies only those
    periods, then empties the log), so an unpublished build is caught up by the next, and its data
    tests read those periods again (macros/test_scope.sql). -#}

{% macro period_key() -%}provider, account, series, grain, period_start{%- endmacro %}

{% macro sibling(relation, suffix) -%}
    {#- while parsing, a ref is a placeholder named after the node asking (too long to extend) -#}
    {%- if not execute -%}{{ return(relation) }}{%- endif -%}
    {{- return(api.Relation.create(database=relation.database, schema=relation.schema,
                                   identifier=relation.identifier ~ suffix, type='table')) -}}
{%- endmacro %}

{% macro change_log(relation) -%}{{ return(metricsync.sibling(relation, '__changes')) }}{%- endmacro %}

{% macro batch_loads(relation) -%}{{ return(metricsync.sibling(relation, '__batch_loads')) }}{%- endmacro %}

{% macro seen_loads(relation) -%}{{ return(metricsync.sibling(relation, '__loads')) }}{%- endmacro %}

{% macro raw_days(relation, suffix='') -%}{{ return(metricsync.sibling(relation, '__raw_days' ~ suffix)) }}{%- endmacro %}

{% macro fact_providers() -%}{{ return(['whop', 'stripe_analytics', 'statsig']) }}{%- endmacro %}

{% macro all_loads() -%}
    {#- the load ids of the providers whose rows the facts hold (a select of `load_id`) -#}
    {%- for provider in metricsync.fact_providers() -%}
    select load_id from {{ metricsync.loads(provider) }} as l{{ loop.index }}{{ ' union all ' if not loop.last }}
    {%- endfor -%}
{%- endmacro %}

{% macro raw_sources() -%}
    {#- the raw tables the facts come from, each with its provider and the column its day is in
        (what `period_start` is made of): [(provider, relation, day column or none, name)], the
        name `provider.table` whatever the database is called; tables not
        loaded, or loaded before the loader kept load ids, are left out -#}
    {%- set found = [] -%}
    {%- for provider, table, day in [('whop', 'metric_results', 'period'), ('whop', 'wallet_time_series', 'period'),
                                      ('stripe_analytics', 'metric_results', 'period'),
                                      ('statsig', 'metric_values', 'date')] -%}
        {%- set relation = metricsync.raw_relation(provider, table) if execute else none -%}
        {%- set columns = metricsync.raw_columns(relation) -%}
        {%- if '_dlt_load_id' in columns -%}
            {%- do found.append((provider, relation, day if day in columns else none, provider ~ '.' ~ table)) -%}
        {%- endif -%}
    {%- endfor -%}
    {{ return(found) }}
{%- endmacro %}

{% macro count_raw_days(provider, relation, day, name, loads=none) -%}
    {#- rows per load and day of one raw table (of the `loads` given, or of every load) -#}
    select '{{ name }}', src._dlt_load_id, {{ 'cast(src.' ~ adapter.quote(day) ~ ' as date)' if day else 'cast(null as date)' }}, count(*)
    from {{ relation }} as src
    {%- if loads is not none %}
    where src._dlt_load_id in ({{ metricsync.quoted(loads) }})
    {%- endif %}
    group by 1, 2, 3
{%- endmacro %}

{% macro incremental_pre_hooks(staged_model) -%}
    {%- set log, batch = metricsync.change_log(this), metricsync.batch_loads(this) -%}
    {%- set hooks = [
        "create table if not exists " ~ log ~ " (provider text, account text, series text, grain text,"
            ~ " period_start date, rebuilt_in_full boolean, invocation text)",
        "create table if not exists " ~ batch ~ " (load_id text)",
        "create table if not exists " ~ metricsync.seen_loads(this) ~ " (load_id text)",
        "create table if not exists " ~ metricsync.raw_days(this) ~ " (source text, load_id text, day date, row_count bigint)",
        "create table if not exists " ~ metricsync.raw_days(this, '_lost') ~ " (load_id text, day date)",
        "delete from " ~ batch,
    ] -%}
    {%- if not is_incremental() -%}
        {%- do hooks.append(metricsync.count_all_raw_days()) -%}
    {%- else -%}
        {%- do hooks.append(metricsync.log_changed_periods(this, ref(staged_model), log, batch)) -%}
        {%- do hooks.append("delete from " ~ this ~ " where period_start in (select period_start from " ~ log
            ~ " where invocation = '" ~ invocation_id ~ "') and exists (select 1 from " ~ log ~ " as c where c.invocation = '"
            ~ invocation_id ~ "'" ~ metricsync.same_period('c', this) ~ ")") -%}
    {%- endif -%}
    {{- hooks | join(';\n') -}}
{%- endmacro %}

{% macro same_period(left, right) -%}
    {%- for column in ['provider', 'account', 'series', 'grain', 'period_start'] %} and {{ left }}.{{ column }} = {{ right }}.{{ column }}{% endfor -%}
{%- endmacro %}

{% macro quoted(values) -%}
    {#- SQL text literals, comma-separated, or a null that matches nothing -#}
    {%- set out = [] -%}
    {%- for value in values %}{% do out.append("'" ~ (value | string | replace("'", "''")) ~ "'") %}{% endfor -%}
    {{ return(out | join(', ') if out else 'null') }}
{%- endmacro %}

{% macro nightly_plan() -%}
    {#- Read when the model compiles (selects only): the loads not seen yet, the raw tables one of
        them wrote, and [table, load, day, rows now] for each (load, day) whose raw rows fell since
        the last build. The select and the hooks use these very lists (the hooks read them back from
        the compiled SQL), so a load that lands meanwhile waits for the next build whole. -#}
    {%- set pending = run_query("select distinct l.load_id from (" ~ metricsync.all_loads() ~ ") as l "
        ~ "where l.load_id is not null and not exists (select 1 from " ~ metricsync.seen_loads(this)
        ~ " as s where s.load_id = l.load_id) order by 1") -%}
    {%- set plan = {'new': [], 'scanned': [], 'lost': []} -%}
    {%- for row in pending.rows %}{% do plan.new.append(row[0] | string) %}{% endfor -%}
    {%- if not plan.new -%}{{ return(plan) }}{%- endif -%}
    {%- for provider, relation, day, name in metricsync.raw_sources() -%}
        {%- set ours = run_query("select count(*) from " ~ metricsync.loads(provider) ~ " as pl where pl.load_id in ("
            ~ metricsync.quoted(plan.new) ~ ")") -%}
        {%- if ours.rows[0][0] > 0 -%}
            {%- do plan.scanned.append(name) -%}
            {%- set now = {} -%}
            {%- for row in run_query(metricsync.count_raw_days(provider, relation, day, name)).rows -%}
                {%- do now.update({(row[1] | string) ~ '|' ~ (row[2] | string): row[3] | int}) -%}
            {%- endfor -%}
            {%- set kept = run_query("select load_id, day, row_count from " ~ metricsync.raw_days(this)
                ~ " where source = '" ~ name ~ "'") -%}
            {%- for row in kept.rows -%}
                {%- set counted = now.get((row[0] | string) ~ '|' ~ (row[1] | string), 0) -%}
                {%- if counted < row[2] | int -%}
                    {%- do plan.lost.append([name, row[0] | string, none if row[1] is none else row[1] | string, counted]) -%}
                {%- endif -%}
            {%- endfor -%}
        {%- endif -%}
    {%- endfor -%}
    {{ return(plan) }}
{%- endmacro %}

{% macro plan_of_compiled() -%}
    {#- the plan the compiled select was made with (none while dbt renders the hooks before compiling) -#}
    {%- if not model.compiled_code -%}{{ return(none) }}{%- endif -%}
    {%- set found = modules.re.search('metricsync nightly plan: (.*?) \*/', model.compiled_code) -%}
    {%- if found is none -%}
        {{ exceptions.raise_compiler_error('fct_metric_values: the nightly plan is not in the compiled select') }}
    {%- endif -%}
    {{ return(fromjson(found.group(1))) }}
{%- endmacro %}

{% macro log_changed_periods(mart, staged, log, batch) -%}
    {%- set plan = metricsync.plan_of_compiled() -%}
    {%- if plan is none -%}select 1{%- else -%}
    {%- set days, lost = metricsync.raw_days(mart), metricsync.raw_days(mart, '_lost') -%}
    {%- set lost_days = plan.lost | map(attribute=2) | reject('none') | unique | list -%}
    {%- set whole_loads = plan.lost | selectattr(2, 'none') | map(attribute=1) | list -%}
    {%- for load in plan.new %}
    insert into {{ batch }} (load_id) values ({{ metricsync.quoted([load]) }});
    {%- endfor %}
    delete from {{ lost }};
    {%- for name, load, day, rows in plan.lost %}
    insert into {{ lost }} (load_id, day) values ({{ metricsync.quoted([load]) }}, {{ "cast('" ~ day ~ "' as date)" if day else 'cast(null as date)' }});
    {%- endfor %}

    insert into {{ log }} (provider, account, series, grain, period_start, rebuilt_in_full, invocation)
    with changed as (
        select {{ metricsync.period_key() }} from {{ staged }}
        where load_id in ({{ metricsync.quoted(plan.new) }})
        union
        select {{ metricsync.period_key() }} from {{ mart }} as m
        where m.period_start in ({{ metricsync.quoted(lost_days) }})
            and exists (select 1 from {{ lost }} as s where s.load_id = m.load_id and s.day = m.period_start)
        union
        select {{ metricsync.period_key() }} from {{ mart }} as m
        where m.load_id in ({{ metricsync.quoted(whole_loads) }})
    )

    select {{ metricsync.period_key() }}, false, '{{ invocation_id }}' from changed;

    {%- for name, load, day, rows in plan.lost %}
    delete from {{ days }} where source = '{{ name }}' and load_id = {{ metricsync.quoted([load]) }}
        and {{ "day = cast('" ~ day ~ "' as date)" if day else 'day is null' }};
    {%- if rows > 0 %}
    insert into {{ days }} (source, load_id, day, row_count)
    values ('{{ name }}', {{ metricsync.quoted([load]) }}, {{ "cast('" ~ day ~ "' as date)" if day else 'cast(null as date)' }}, {{ rows }});
    {%- endif %}
    {%- endfor %}
    {%- for provider, relation, day, name in metricsync.raw_sources() if name in plan.scanned %}
    insert into {{ days }} (source, load_id, day, row_count)
    {{ metricsync.count_raw_days(provider, relation, day, name, plan.new) }};
    {%- endfor %}

    insert into {{ metricsync.seen_loads(mart) }} (load_id) select load_id from {{ batch }}
    {%- endif -%}
{%- endmacro %}

{% macro incremental_select(staged) -%}
    {#- the staged rows a build appends: every row on a full build; on a nightly the new loads' rows,
        and the rows a shrunken load keeps on the days it lost rows (a day's periods are logged
        whole), by literal load ids and days, so the filters reach the raw tables' scans -#}
    {%- if is_incremental() and execute -%}
    {%- set plan = metricsync.nightly_plan() -%}
    {%- set lost_days = plan.lost | map(attribute=2) | reject('none') | unique | list -%}
    /* metricsync nightly plan: {{ tojson(plan) }} */
    select * from {{ staged }} as staged
    where staged.load_id in ({{ metricsync.quoted(plan.new) }})
    {%- if plan.lost %}
    union all
    select * from {{ staged }} as staged
    where staged.load_id in ({{ metricsync.quoted(plan.lost | map(attribute=1) | unique | list) }})
        {%- if not plan.lost | selectattr(2, 'none') | list %}
        and staged.period_start in ({{ metricsync.quoted(lost_days) }})
        {%- endif %}
        and staged.load_id not in ({{ metricsync.quoted(plan.new + ['']) }})
        and exists (
            select 1 from {{ metricsync.change_log(this) }} as c
            where c.invocation = '{{ invocation_id }}'{{ metricsync.same_period('c', 'staged') }}
        )
    {%- endif %}
    {%- else %}
    select * from {{ staged }} as staged
    {%- endif %}
{%- endmacro %}

{% macro incremental_post_hooks() -%}
    {%- if is_incremental() -%}select 1{%- else -%}
    {%- set log, batch = metricsync.change_log(this), metricsync.batch_loads(this) -%}
    delete from {{ log }};
    insert into {{ log }} (rebuilt_in_full, invocation) values (true, '{{ invocation_id }}');
    insert into {{ batch }} (load_id) select distinct load_id from {{ this }};
    delete from {{ metricsync.seen_loads(this) }};
    insert into {{ metricsync.seen_loads(this) }} (load_id) select load_id from {{ batch }} where load_id is not null
    {%- endif -%}
{%- endmacro %}

{% macro count_all_raw_days() -%}
    {#- a full build's ledger of raw rows, counted before its select: a load that removes rows after
        it is seen as a shrinkage by the next build -#}
    {%- set days = metricsync.raw_days(this) -%}
    delete from {{ days }}
    {%- for provider, relation, day, name in metricsync.raw_sources() %};
    insert into {{ days }} (source, load_id, day, row_count) {{ metricsync.count_raw_days(provider, relation, day, name) }}
    {%- endfor -%}
{%- endmacro %}
