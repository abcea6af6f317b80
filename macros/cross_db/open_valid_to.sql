{#- The valid_to of an open window: a real, far-future instant keeps range joins sargable. -#}
{% macro open_valid_to() -%}
    cast('9999-12-31 00:00:00' as timestamp)
{%- endmacro %}
