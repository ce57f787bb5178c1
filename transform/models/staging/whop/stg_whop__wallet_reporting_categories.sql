{#- The current version of each whop.wallet_reporting_categories definition. -#}
{{ metricsync.scd2_current(ref('stg_whop__wallet_reporting_categories_history')) }}
