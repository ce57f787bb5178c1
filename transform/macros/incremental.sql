{#- An incremental mart that costs what changed (fct_metric_values). Rows are replaced a period at
    a time - a period is (provider, account, series, grain, period_start), and a load writes all the
    rows of each period it holds (the loader's delete-insert merge) - so a build:

    1. finds the loads it has not seen (in the staged rows, not in the mart) and the loads that
       lost rows since (fewer staged rows than in the mart: a later load replaced or emptied
       some of their periods), and keeps the former in `<mart>__batch_loads`;
    2. logs in `<mart>__changes` the periods of the new loads and the periods a shrunken load no
       longer holds (emptied or replaced), tagged with this run's invocation id;
    3. deletes this run's logged periods from the mart, then appends the new loads' rows.

    A full build logs `rebuilt_in_full` instead and keeps every load id in the batch. The change
    log accumulates until `transform` publishes it (pipelines/warehouse/publish.py copies only
    those periods, then empties the log), so an unpublished build is caught up by the next. -#}

{% macro period_key() -%}provider, account, series, grain, period_start{%- endmacro %}

{% macro sibling(relation, suffix) -%}
    {#- while parsing, a ref is a placeholder named after the node asking (too long to extend) -#}
    {%- if not execute -%}{{ return(relation) }}{%- endif -%}
    {{- return(api.Relation.create(database=relation.database, schema=relation.schema,
                                   identifier=relation.identifier ~ suffix, type='table')) -}}
{%- endmacro %}

{% macro change_log(relation) -%}{{ return(metricsync.sibling(relation, '__changes')) }}{%- endmacro %}

{% macro batch_loads(relation) -%}{{ return(metricsync.sibling(relation, '__batch_loads')) }}{%- endmacro %}

{% macro incremental_pre_hooks(staged_model) -%}
    {%- set log, batch = metricsync.change_log(this), metricsync.batch_loads(this) -%}
    {%- set hooks = [
        "create table if not exists " ~ log ~ " (provider text, account text, series text, grain text,"
            ~ " period_start date, rebuilt_in_full boolean, invocation text)",
        "create table if not exists " ~ batch ~ " (load_id text)",
        "delete from " ~ batch,
    ] -%}
    {%- if is_incremental() -%}
        {%- do hooks.append(metricsync.log_changed_periods(this, ref(staged_model), log, batch)) -%}
        {%- do hooks.append("delete from " ~ this ~ " where exists (select 1 from " ~ log ~ " as c where c.invocation = '"
            ~ invocation_id ~ "'" ~ metricsync.same_period('c', this) ~ ")") -%}
    {%- endif -%}
    {{- hooks | join(';\n') -}}
{%- endmacro %}

{% macro same_period(left, right) -%}
    {%- for column in ['provider', 'account', 'series', 'grain', 'period_start'] %} and {{ left }}.{{ column }} = {{ right }}.{{ column }}{% endfor -%}
{%- endmacro %}

{% macro log_changed_periods(mart, staged, log, batch) -%}
    insert into {{ batch }} (load_id)
    select staged_loads.load_id
    from (select distinct load_id from {{ staged }}) as staged_loads
    where staged_loads.load_id is not null
        and not exists (select 1 from {{ mart }} as m where m.load_id = staged_loads.load_id);

    insert into {{ log }} (provider, account, series, grain, period_start, rebuilt_in_full, invocation)
    with mart_loads as (
        select load_id, count(*) as row_count from {{ mart }} group by load_id
    ),

    staged_loads as (
        select load_id, count(*) as row_count from {{ staged }} group by load_id
    ),

    shrunken_loads as (
        select mart_loads.load_id
        from mart_loads
        left join staged_loads on staged_loads.load_id = mart_loads.load_id
        where coalesce(staged_loads.row_count, 0) <> mart_loads.row_count or mart_loads.load_id is null
    ),

    changed as (
        select {{ metricsync.period_key() }} from {{ staged }}
        where load_id in (select load_id from {{ batch }})
        union
        (
            select {{ metricsync.period_key() }} from {{ mart }}
            where load_id in (select load_id from shrunken_loads) or load_id is null
            except
            select {{ metricsync.period_key() }} from {{ staged }}
            where load_id in (select load_id from shrunken_loads)
        )
    )

    select {{ metricsync.period_key() }}, false, '{{ invocation_id }}' from changed
{%- endmacro %}

{% macro incremental_post_hooks() -%}
    {%- if is_incremental() -%}select 1{%- else -%}
    {%- set log, batch = metricsync.change_log(this), metricsync.batch_loads(this) -%}
    delete from {{ log }};
    insert into {{ log }} (rebuilt_in_full, invocation) values (true, '{{ invocation_id }}');
    insert into {{ batch }} (load_id) select distinct load_id from {{ this }}
    {%- endif -%}
{%- endmacro %}
