{#- Deprecated: the old name of `fct_mrr_monthly`, kept as a view for one
    release; removed in metricsync 0.2.0. -#}
{{ config(materialized='view') }}

select * from {{ ref('fct_mrr_monthly') }}
