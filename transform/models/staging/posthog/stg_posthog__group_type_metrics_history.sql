{#- Every version of posthog.group_type_metrics (scd2): valid_from, valid_to (null = current), is_current. -#}
{{ metricsync.scd2_history('posthog', 'group_type_metrics', [['id', 'text'], ['project_id', 'bigint'], ['name', 'text']]) }}
