{#- One row per loaded series with what the mart does not repeat on every row: a Whop wallet
    query's reporting category and a Statsig metric's type. The semantic layer joins it on
    `series_key` (provider|account|series|metric_id: a Statsig name may stand for metrics of several
    types) to filter `net_revenue` and the additive Statsig metrics. `is_additive`: the Statsig
    metrics whose daily values add up over days, as declared in var
    `metricsync_statsig_additive_metrics` (a name, or `name::type` for one type; none by default). -#}
{{ config(materialized='table', schema='metrics') }}
{%- set additive = var('metricsync_statsig_additive_metrics', []) %}
{%- set listed = [] %}
{%- for item in additive %}{% do listed.append("'" ~ (item | replace("'", "''")) ~ "'") %}{% endfor %}
{%- set is_additive = "metric_name in (" ~ (listed | join(', ')) ~ ") or metric_name || '::' || metric_type in ("
    ~ (listed | join(', ')) ~ ")" if listed else "false" %}

with attributes as (
    select
        'whop' as provider,
        wallet.account,
        wallet.query_name as series,
        measures.metric_id,
        coalesce(wallet.reporting_category, '') as reporting_category,
        '' as statsig_metric_type,
        false as is_additive
    from {{ ref('stg_whop__wallet_time_series') }} as wallet
    cross join (values ('amount'), ('line_count')) as measures (metric_id)  -- as fct_metric_values names them
    union all
    select
        'statsig' as provider,
        account,
        metric_name as series,
        metric_name || '::' || metric_type as metric_id,
        '' as reporting_category,
        metric_type as statsig_metric_type,
        {{ is_additive }} as is_additive
    from {{ ref('stg_statsig__metric_values') }}
)

select distinct
    cast(provider || '|' || account || '|' || series || '|' || metric_id as text) as series_key,
    cast(provider as text) as provider,
    cast(account as text) as account,
    cast(series as text) as series,
    cast(reporting_category as text) as reporting_category,
    cast(statsig_metric_type as text) as statsig_metric_type,
    cast(is_additive as boolean) as is_additive
from attributes
