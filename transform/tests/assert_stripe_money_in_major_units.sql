{#- Reconciliation (units): every Stripe money value in the mart, scaled back by its currency's
    Stripe exponent, equals the minor units loaded, and non-money values are unchanged. The rows
    of the periods this build changed (every row on a full build: macros/test_scope.sql). -#}
{%- set scope = metricsync.changed_rows() %}
with facts as (
    select * from {{ ref('fct_metric_values') }}{{ ' where ' ~ scope if scope }}
)

select
    stg.query_name,
    stg.period_start,
    stg.metric,
    stg.currency,
    stg.value_minor,
    fct.value
from {{ ref('stg_stripe_analytics__metric_results') }} as stg
left join facts as fct
    on fct.provider = 'stripe_analytics' and stg.account = fct.account and stg.query_name = fct.series
        and stg.metric_id = fct.metric_id and stg.metric = fct.metric and stg.dimension_name = fct.dimension_name
        and stg.grain = fct.grain and stg.period_start = fct.period_start and stg.dimension_value = fct.dimension_value
        and coalesce(fct.currency, '') = coalesce(stg.currency, '')
where {{ '(' ~ metricsync.changed_rows('stg') ~ ') and ' if scope }}(
        fct.value is null
        or fct.value
        * cast(case when stg.currency is null then 1 else power(10, stg.currency_exponent) end as numeric(38, 0))
        <> cast(stg.value_minor as numeric(38, 0))
    )
