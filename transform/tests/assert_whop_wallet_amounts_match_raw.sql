{#- Reconciliation (Whop): per query, period and currency, the mart's `amount` equals the wallet
    amount loaded (no currency or period lost or duplicated in the unpivot). The rows of the loads
    this build took (every load on a full build: macros/incremental.sql). -#}
select stg.account, stg.query_name, stg.period_start, stg.currency, stg.amount, fct.value
from {{ ref('stg_whop__wallet_time_series') }} as stg
left join {{ ref('fct_metric_values') }} as fct
    on fct.provider = 'whop' and fct.account = stg.account and fct.series = stg.query_name and fct.metric = 'amount'
    and fct.period_start = stg.period_start and fct.dimension_value = stg.currency
where stg.load_id in (select load_id from {{ metricsync.batch_loads(ref('fct_metric_values')) }})
  and (fct.value is null or fct.value <> stg.amount)
