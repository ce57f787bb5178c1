{#- The current version of each posthog.group_types definition. -#}
{{ metricsync.scd2_current(ref('stg_posthog__group_types_history')) }}
