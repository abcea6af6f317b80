{#-
    The knowledge-time filter every staging model applies to its source: with the var
    `as_known_at` set, only raw rows loaded up to that instant exist.
-#}
{% macro loaded_as_known_at(column) -%}
    {%- set ts = var('as_known_at', none) -%}
    {%- if ts -%}
        {{ column }} <= cast('{{ ts }}' as timestamp)
    {%- else -%}
        1 = 1
    {%- endif -%}
{%- endmacro %}
