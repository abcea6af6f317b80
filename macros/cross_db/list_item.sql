{#- The n-th (1-based) element of a list built by json_text_fields, as text. -#}
{% macro list_item(list_expr, n) -%}
    {{ return(adapter.dispatch('list_item', 'revops')(list_expr, n)) }}
{%- endmacro %}

{% macro default__list_item(list_expr, n) -%}
    {{ exceptions.raise_compiler_error("list_item is not implemented for adapter " ~ adapter.type()) }}
{%- endmacro %}

{% macro duckdb__list_item(list_expr, n) -%}
    {{ list_expr }}[{{ n }}]
{%- endmacro %}

{% macro snowflake__list_item(list_expr, n) -%}
    {{ list_expr }}[{{ n - 1 }}]::varchar
{%- endmacro %}
