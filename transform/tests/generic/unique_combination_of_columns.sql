{#- Fails with every combination of `combination_of_columns` that occurs more than once
    (dbt_utils' test of the same name, written here so the project downloads nothing). With
    `changed_periods_of: ref(<mart>)` (an incremental mart, macros/incremental.sql): only in the
    periods holding rows of the loads this build took - every period on a full build. -#}
{% test unique_combination_of_columns(model, combination_of_columns, changed_periods_of=none) %}
select {{ combination_of_columns | join(", ") }}, count(*) as occurrences
from {{ model }}
{%- if changed_periods_of is not none %} as checked
where exists (
    select 1 from {{ model }} as taken
    where taken.load_id in (select load_id from {{ metricsync.batch_loads(changed_periods_of) }})
        {{- metricsync.same_period('taken', 'checked') }}
)
{%- endif %}
group by {{ combination_of_columns | join(", ") }}
having count(*) > 1
{% endtest %}
