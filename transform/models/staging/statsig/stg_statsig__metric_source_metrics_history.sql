{#- Every version of statsig.metric_source_metrics (scd2): valid_from, valid_to (null = current), is_current. -#}
{{ metricsync.scd2_history('statsig', 'metric_source_metrics', [['id', 'text'], ['name', 'text'], ['metric_source_name', 'text']]) }}
