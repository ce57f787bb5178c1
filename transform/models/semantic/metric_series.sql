{#- One row per loaded series with what the mart does not repeat on every row: a Whop wallet
    query's reporting category and a Statsig metric's type. The semantic layer joins it on
    `series_key` (provider|account|series|metric_id: a Statsig name may stand for metrics of several
    types) to filter `net_revenue` and the additive Statsig metrics. -#}
{{ config(materialized='table', schema='metrics') }}

with attributes as (
    select 'whop' as provider, account, query_name as series, measures.metric_id,
           coalesce(reporting_category, '') as reporting_category, '' as statsig_metric_type
    from {{ ref('stg_whop__wallet_time_series') }}
    cross join (values ('amount'), ('line_count')) as measures (metric_id)  -- as fct_metric_values names them
    union all
    select 'statsig', account, metric_name, metric_name || '::' || metric_type, '', metric_type
    from {{ ref('stg_statsig__metric_values') }}
)

select distinct
    cast(provider || '|' || account || '|' || series || '|' || metric_id as text) as series_key,
    cast(provider as text) as provider,
    cast(account as text) as account,
    cast(series as text) as series,
    cast(reporting_category as text) as reporting_category,
    cast(statsig_metric_type as text) as statsig_metric_type
from attributes
