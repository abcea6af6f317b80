{#- A boolean SQL expression holds on every row. -#}
{% test expect_expression_is_true(model, expression) %}

select *
from {{ model }}
where not ({{ expression }})

{% endtest %}
