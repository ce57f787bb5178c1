{#- The current version of each statsig.metrics definition. -#}
{{ metricsync.scd2_current(ref('stg_statsig__metrics_history')) }}
