{#- Reconciliation (time zones): every Stripe bucket is dated on the day its start falls on in
    the query's own time zone, and that day starts a period of the query's interval. A Tokyo
    January bucket (2025-12-31 15:00 UTC) must be 2026-01-01, never December. The rows of the
    periods this build changed (every row on a full build: macros/test_scope.sql). -#}
{%- set scope = metricsync.changed_rows() %}
select
    query_name,
    bucket_at,
    timezone,
    grain,
    period_start
from {{ ref('stg_stripe_analytics__metric_results') }}
where {{ '(' ~ scope ~ ') and ' if scope }}(
        period_start <> {{ metricsync.local_day('bucket_at', 'timezone') }}
        or period_start <> {{ metricsync.period_start('period_start', 'grain') }}
    )
