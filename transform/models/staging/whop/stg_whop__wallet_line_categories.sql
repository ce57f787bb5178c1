{#- The current version of each whop.wallet_line_categories definition. -#}
{{ metricsync.scd2_current(ref('stg_whop__wallet_line_categories_history')) }}
