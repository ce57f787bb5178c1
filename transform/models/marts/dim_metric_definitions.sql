{#- Every definition the providers describe, every version: PostHog group-type metrics, Statsig
    metrics and metric-source metrics, Whop wallet line categories, groupings and reporting
    categories, and the Stripe metrics seen in results. `attributes` holds the raw columns as JSON. -#}
{%- set json = metricsync.json_type() -%}


{{ metricsync.definition_versions('posthog', 'group_type_metric', 'stg_posthog__group_type_metrics_history', 'project_id', 'id', 'name') }}
union all
{{ metricsync.definition_versions('statsig', 'metric', 'stg_statsig__metrics_history', "''", 'id', 'name') }}
union all
{{ metricsync.definition_versions('statsig', 'metric_source_metric', 'stg_statsig__metric_source_metrics_history', 'metric_source_name', 'id', 'name') }}
union all
{{ metricsync.definition_versions('whop', 'wallet_line_category', 'stg_whop__wallet_line_categories_history', "''", 'key', 'name') }}
union all
{{ metricsync.definition_versions('whop', 'wallet_grouping', 'stg_whop__wallet_groupings_history', "''", 'key', 'name') }}
union all
{{ metricsync.definition_versions('whop', 'wallet_reporting_category', 'stg_whop__wallet_reporting_categories_history', "''", 'key', 'name') }}
union all
select
    cast('stripe_analytics' as text) as provider,
    cast('metric' as text) as kind,
    cast('' as text) as scope,
    metric_id as definition_id,
    result_name as name,
    true as is_current,
    min(loaded_at) as valid_from,
    cast(null as timestamptz) as valid_to,
    cast({{ metricsync.json_object([['id', 'metric_id'], ['name', 'result_name']]) }} as {{ json }}) as attributes
from {{ ref('stg_stripe_analytics__metric_results') }}
group by metric_id, result_name
