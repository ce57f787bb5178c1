{#- MetricFlow's time spine (dbt 1.11 format: `time_spine` in _semantic.yml): one row per day,
    2000-01-01 to 2049-12-31, that metrics join to when they fill gaps. -#}
{{ config(materialized='table', schema='metrics') }}

select cast(date_day as date) as date_day
from ({{ dbt.date_spine('day', "cast('2000-01-01' as date)", "cast('2050-01-01' as date)") }}) as days
