{#- Values lie within [min_value, max_value]; either bound may be omitted (dbt-expectations name). -#}
{% test expect_column_values_to_be_between(model, column_name, min_value=none, max_value=none) %}

select *
from {{ model }}
where
    {%- if min_value is not none %} {{ column_name }} < {{ min_value }}{% endif %}
    {%- if min_value is not none and max_value is not none %} or{% endif %}
    {%- if max_value is not none %} {{ column_name }} > {{ max_value }}{% endif %}

{% endtest %}
