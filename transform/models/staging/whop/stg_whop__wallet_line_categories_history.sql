{#- Every version of whop.wallet_line_categories (scd2): valid_from, valid_to (null = current), is_current. -#}
{{ metricsync.scd2_history('whop', 'wallet_line_categories', [['key', 'text'], ['name', 'text']]) }}
