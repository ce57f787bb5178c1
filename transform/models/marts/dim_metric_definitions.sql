{#- Every definition the providers describe, every version: PostHog group-type metrics, Statsig
    metrics and metric-source metrics, Whop wallet line categories, groupings and reporting
    categories, and the Stripe metrics seen in results (a new version when a metric id's result
    name changes, from when the new name was first loaded). `attributes` holds the raw columns as JSON. -#}
{%- set json = metricsync.json_type() -%}


{{ metricsync.definition_versions(
    'posthog', 'group_type_metric', 'stg_posthog__group_type_metrics_history', 'project_id', 'id', 'name'
) }}
union all
{{ metricsync.definition_versions(
    'statsig', 'metric', 'stg_statsig__metrics_history', "''", 'id', 'name'
) }}
union all
{{ metricsync.definition_versions(
    'statsig', 'metric_source_metric', 'stg_statsig__metric_source_metrics_history', 'metric_source_name', 'id', 'name'
) }}
union all
{{ metricsync.definition_versions(
    'whop', 'wallet_line_category', 'stg_whop__wallet_line_categories_history', "''", 'key', 'name'
) }}
union all
{{ metricsync.definition_versions(
    'whop', 'wallet_grouping', 'stg_whop__wallet_groupings_history', "''", 'key', 'name'
) }}
union all
{{ metricsync.definition_versions(
    'whop', 'wallet_reporting_category', 'stg_whop__wallet_reporting_categories_history', "''", 'key', 'name'
) }}
union all
select
    cast('stripe_analytics' as text) as provider,
    cast('metric' as text) as kind,
    account,
    cast('' as text) as scope,
    metric_id as definition_id,
    result_name as name,
    valid_to is null as is_current,
    valid_from,
    valid_to,
    cast({{ metricsync.json_object([['id', 'metric_id'], ['name', 'result_name']]) }} as {{ json }}) as attributes
from (
    select
        account,
        metric_id,
        result_name,
        first_seen as valid_from,
        lead(first_seen) over (
            partition by account, metric_id
            order by first_seen
        ) as valid_to
    from (
        select
            account,
            metric_id,
            result_name,
            min(loaded_at) as first_seen
        from {{ ref('stg_stripe_analytics__metric_results') }}
        group by account, metric_id, result_name
    ) as names
) as versions
