{#- The model has exactly `value` rows (dbt-expectations name); used at warn level on DQ models. -#}
{% test expect_table_row_count_to_equal(model, value) %}

select count(*) as row_count
from {{ model }}
having count(*) <> {{ value }}

{% endtest %}
