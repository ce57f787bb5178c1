{#- Every version of statsig.metric_sources (scd2): valid_from, valid_to (null = current), is_current. -#}
{{ metricsync.scd2_history('statsig', 'metric_sources', [['name', 'text']]) }}
