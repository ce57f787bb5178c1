{#- One row per (provider, account, series, metric_id, metric, grain, period_start, dimension_name,
    dimension_value, currency) across Whop, Stripe Analytics and Statsig. Contract (enforced) and
    meaning of each column: _marts.yml.

    Incremental: a nightly build takes only the rows of loads it has not seen. Before it, the
    pre-hooks (macros/incremental.sql) log the periods those loads replaced and the periods a load
    emptied (a period whose rows a later load deleted), and delete them here; then the new loads'
    rows and the logged periods' rows are appended. `transform --full-refresh` (or the first build)
    rebuilds every row. On Postgres the mart is indexed (day, provider, series; created with the
    table, by a full build), so that what reads a few days (the nightly's data tests,
    macros/test_scope.sql), one provider or one series does not read it all. -#}
{{ config(
    materialized='incremental',
    incremental_strategy='append',
    on_schema_change='append_new_columns',
    contract={'enforced': true},
    pre_hook="{{ metricsync.incremental_pre_hooks('int_metric_values') }}",
    post_hook="{{ metricsync.incremental_post_hooks() }}",
    indexes=[{'columns': ['period_start']}, {'columns': ['provider', 'metric']}, {'columns': ['series']}]
        if target.type == 'postgres' else [],
) }}

{{ metricsync.incremental_select(ref('int_metric_values')) }}
