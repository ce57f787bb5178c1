{#- Deprecated: the old name of `fct_whop_wallet_net_revenue_monthly`, kept as a view for one
    release; removed in metricsync 0.2.0. -#}
{{ config(materialized='view') }}

select * from {{ ref('fct_whop_wallet_net_revenue_monthly') }}
