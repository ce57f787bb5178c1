{#- Saved query `statsig_daily` as a table (export): each Statsig metric's value per complete day,
    metric type and unit type (`dimension_value`: userID, stableID...), accounts added up as the
    semantic layer's `statsig_value` by day does. `is_additive`: whether its days add up (var
    `metricsync_statsig_additive_metrics`); only complete days, as the semantic layer answers. -#}
select
    facts.period_start as day,
    facts.series,
    series.statsig_metric_type,
    facts.dimension_value,
    series.is_additive,
    sum(facts.value) as value
from {{ ref('fct_metric_values') }} as facts
inner join {{ ref('dim_metric_series') }} as series
    on series.series_key = facts.provider || '|' || facts.account || '|' || facts.series || '|' || facts.metric_id
where facts.provider = 'statsig' and facts.grain = 'day' and facts.is_complete
group by facts.period_start, facts.series, series.statsig_metric_type, facts.dimension_value, series.is_additive
