{#- column_A > column_B (or >=) on every row (dbt-expectations name and arguments). -#}
{% test expect_column_pair_values_A_to_be_greater_than_B(model, column_A, column_B, or_equal=false) %}

select *
from {{ model }}
where not ({{ column_A }} {{ '>=' if or_equal else '>' }} {{ column_B }})

{% endtest %}
