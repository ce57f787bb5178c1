{#- Every version of statsig.metrics (scd2): valid_from, valid_to (null = current), is_current. -#}
{{ metricsync.scd2_history('statsig', 'metrics', [['id', 'text'], ['name', 'text'], ['type', 'text']]) }}
