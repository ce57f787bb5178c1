{#- Deprecated: the old name of `dim_metric_series`, kept as a view for one
    release; removed in metricsync 0.2.0. -#}
{{ config(materialized='view') }}

select * from {{ ref('dim_metric_series') }}
