{#- The current version of each posthog.group_type_metrics definition. -#}
{{ metricsync.scd2_current(ref('stg_posthog__group_type_metrics_history')) }}
