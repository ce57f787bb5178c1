{#- Fails with every combination of `combination_of_columns` that occurs more than once
    (dbt_utils' test of the same name, written here so the project downloads nothing). On a nightly,
    a model whose tests read the changed periods only (macros/test_scope.sql) is checked in those. -#}
{% test unique_combination_of_columns(model, combination_of_columns) %}
select {{ combination_of_columns | join(", ") }}, count(*) as occurrences
from {{ model }}
group by {{ combination_of_columns | join(", ") }}
having count(*) > 1
{% endtest %}
