{#- SCD2 sanity: every key has exactly one row with is_current = true. -#}
{% test expect_one_current_row_per_key(model, key_column, current_column='is_current') %}

select {{ key_column }}, sum(case when {{ current_column }} then 1 else 0 end) as current_rows
from {{ model }}
group by {{ key_column }}
having sum(case when {{ current_column }} then 1 else 0 end) <> 1

{% endtest %}
