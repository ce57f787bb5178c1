{#- Reconciliation (Whop): per query, period and currency, the mart's `amount` equals the wallet
    amount loaded (no currency or period lost or duplicated in the unpivot). The rows of the loads
    this build took (every load on a full build: macros/incremental.sql). -#}
select
    stg.account,
    stg.query_name,
    stg.period_start,
    stg.currency,
    stg.amount,
    fct.value
from {{ ref('stg_whop__wallet_time_series') }} as stg
left join {{ ref('fct_metric_values') }} as fct
    on fct.provider = 'whop' and stg.account = fct.account and stg.query_name = fct.series and fct.metric = 'amount'
        and stg.period_start = fct.period_start and stg.currency = fct.dimension_value
where stg.load_id in (select batch.load_id from {{ metricsync.batch_loads(ref('fct_metric_values')) }} as batch)
    and (fct.value is null or fct.value <> stg.amount)
