{#- Reconciliation (Whop): per query, period and currency, the mart's `amount` equals the wallet
    amount loaded (no currency or period lost or duplicated in the unpivot). The rows of the days
    this build changed (every row on a full build: macros/test_scope.sql). -#}
{%- set scope = metricsync.changed_rows() %}
with facts as (
    select * from {{ ref('fct_metric_values') }}{{ ' where ' ~ scope if scope }}
)

select
    stg.account,
    stg.query_name,
    stg.period_start,
    stg.currency,
    stg.amount,
    fct.value
from {{ ref('stg_whop__wallet_time_series') }} as stg
left join facts as fct
    on fct.provider = 'whop' and stg.account = fct.account and stg.query_name = fct.series and fct.metric = 'amount'
        and stg.period_start = fct.period_start and stg.currency = fct.dimension_value
where {{ '(' ~ metricsync.changed_rows('stg') ~ ') and ' if scope }}(fct.value is null or fct.value <> stg.amount)
