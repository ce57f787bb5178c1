{#- Every version of whop.wallet_groupings (scd2): valid_from, valid_to (null = current), is_current. -#}
{{ metricsync.scd2_history('whop', 'wallet_groupings', [['key', 'text'], ['name', 'text']]) }}
