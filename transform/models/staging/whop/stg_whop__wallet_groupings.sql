{#- The current version of each whop.wallet_groupings definition. -#}
{{ metricsync.scd2_current(ref('stg_whop__wallet_groupings_history')) }}
