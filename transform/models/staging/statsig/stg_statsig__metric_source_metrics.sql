{#- The current version of each statsig.metric_source_metrics definition. -#}
{{ metricsync.scd2_current(ref('stg_statsig__metric_source_metrics_history')) }}
