{#- The current version of each statsig.metric_sources definition. -#}
{{ metricsync.scd2_current(ref('stg_statsig__metric_sources_history')) }}
