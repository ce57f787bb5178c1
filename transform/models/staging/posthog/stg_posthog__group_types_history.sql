{#- Every version of posthog.group_types (scd2): valid_from, valid_to (null = current), is_current. -#}
{{ metricsync.scd2_history('posthog', 'group_types', [['project_id', 'bigint'], ['group_type_index', 'bigint'], ['group_type', 'text']]) }}
