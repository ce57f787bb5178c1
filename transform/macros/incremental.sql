{#- An incremental mart that costs what changed (fct_metric_values). Rows are replaced a period at
    a time - a period is (provider, account, series, grain, period_start), and a load writes all the
    rows of each period it holds (the loader's delete-insert merge) - so a build:

    1. takes the loads it has not seen: those of the providers' `_dlt_loads` not in `<mart>__loads`
       (the loads every earlier build saw), kept in `<mart>__batch_loads`;
    2. counts, for each raw table one of them loaded, its rows per load and day (the table's period
       column) and compares them with the counts the last build kept (`<mart>__raw_days`): a load
       that lost rows on a day lost them to a later load's merge (replaced or emptied periods);
    3. logs in `<mart>__changes` the periods of the new loads and the mart's periods of the (load,
       day) pairs that lost rows, tagged with this run's invocation id;
    4. deletes this run's logged periods from the mart, then appends the staged rows of the new
       loads, and the rows a shrunken load still holds in the logged periods (a day's periods are
       logged whole, though a later load may have replaced only some of them).

    Nothing reads the whole mart or the whole staged view: a raw table is read once (a count), and
    only when one of its provider's loads is new. A full build logs `rebuilt_in_full` instead, keeps
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

{% macro count_raw_days(provider, relation, day, name, only_new) -%}
    {#- rows per load and day of one raw table (`only_new`: none unless a load of its provider is new) -#}
    select '{{ name }}', src._dlt_load_id, {{ 'cast(src.' ~ adapter.quote(day) ~ ' as date)' if day else 'cast(null as date)' }}, count(*)
    from {{ relation }} as src
    {%- if only_new %}
    where {{ metricsync.provider_has_new_load(provider) }}
    {%- endif %}
    group by 1, 2, 3
{%- endmacro %}

{% macro provider_has_new_load(provider) -%}
    exists (select 1 from {{ metricsync.batch_loads(this) }} as b
            where b.load_id in (select pl.load_id from {{ metricsync.loads(provider) }} as pl))
{%- endmacro %}

{% macro incremental_pre_hooks(staged_model) -%}
    {%- set log, batch = metricsync.change_log(this), metricsync.batch_loads(this) -%}
    {%- set hooks = [
        "create table if not exists " ~ log ~ " (provider text, account text, series text, grain text,"
            ~ " period_start date, rebuilt_in_full boolean, invocation text)",
        "create table if not exists " ~ batch ~ " (load_id text)",
        "create table if not exists " ~ metricsync.seen_loads(this) ~ " (load_id text)",
        "create table if not exists " ~ metricsync.raw_days(this) ~ " (source text, load_id text, day date, row_count bigint)",
        "create table if not exists " ~ metricsync.raw_days(this, '_now') ~ " (source text, load_id text, day date, row_count bigint)",
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

{% macro log_changed_periods(mart, staged, log, batch) -%}
    {%- set days, now, lost = metricsync.raw_days(mart), metricsync.raw_days(mart, '_now'), metricsync.raw_days(mart, '_lost') -%}
    {%- set sources = metricsync.raw_sources() -%}
    insert into {{ batch }} (load_id)
    select new_loads.load_id from ({{ metricsync.all_loads() }}) as new_loads
    where new_loads.load_id is not null
        and not exists (select 1 from {{ metricsync.seen_loads(mart) }} as s where s.load_id = new_loads.load_id);

    delete from {{ now }};
    {%- for provider, relation, day, name in sources %}
    insert into {{ now }} (source, load_id, day, row_count) {{ metricsync.count_raw_days(provider, relation, day, name, true) }};
    {%- endfor %}

    delete from {{ lost }};
    insert into {{ lost }} (load_id, day)
    {%- for provider, relation, day, name in sources %}
    select kept.load_id, kept.day
    from {{ days }} as kept
    left join {{ now }} as counted
        on counted.source = kept.source and counted.load_id = kept.load_id
            and coalesce(counted.day, date '1900-01-01') = coalesce(kept.day, date '1900-01-01')
    where kept.source = '{{ name }}' and coalesce(counted.row_count, 0) < kept.row_count
        and {{ metricsync.provider_has_new_load(provider) }}
    union all
    {%- endfor %}
    select cast(null as text) as load_id, cast(null as date) as day where 1 = 0;

    insert into {{ log }} (provider, account, series, grain, period_start, rebuilt_in_full, invocation)
    with changed as (
        select {{ metricsync.period_key() }} from {{ staged }}
        where load_id in (select load_id from {{ batch }})
        union
        select {{ metricsync.period_key() }} from {{ mart }} as m
        where m.period_start in (select day from {{ lost }})
            and exists (select 1 from {{ lost }} as s where s.load_id = m.load_id and s.day = m.period_start)
        union
        select {{ metricsync.period_key() }} from {{ mart }} as m
        where m.load_id in (select load_id from {{ lost }} where day is null)
    )

    select {{ metricsync.period_key() }}, false, '{{ invocation_id }}' from changed;

    {%- for provider, relation, day, name in sources %}
    delete from {{ days }} where source = '{{ name }}' and {{ metricsync.provider_has_new_load(provider) }};
    insert into {{ days }} (source, load_id, day, row_count)
    select source, load_id, day, row_count from {{ now }} where source = '{{ name }}';
    {%- endfor %}

    insert into {{ metricsync.seen_loads(mart) }} (load_id) select load_id from {{ batch }}
{%- endmacro %}

{% macro incremental_select(staged) -%}
    {#- the staged rows a build appends: every row on a full build; on a nightly the new loads' rows,
        and the rows left in the periods logged for a load that lost rows on their day -#}
    select * from {{ staged }} as staged
    {%- if is_incremental() %}
    where staged.load_id in (select load_id from {{ metricsync.batch_loads(this) }})
    union all
    select * from {{ staged }} as staged
    where staged.load_id in (select load_id from {{ metricsync.raw_days(this, '_lost') }})
        and staged.load_id not in (select load_id from {{ metricsync.batch_loads(this) }})
        and exists (
            select 1 from {{ metricsync.change_log(this) }} as c
            where c.invocation = '{{ invocation_id }}'{{ metricsync.same_period('c', 'staged') }}
        )
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
    insert into {{ days }} (source, load_id, day, row_count) {{ metricsync.count_raw_days(provider, relation, day, name, false) }}
    {%- endfor -%}
{%- endmacro %}
