{#- The element of a json_array_cross_join row as text. -#}
{% macro json_array_element_text(alias) -%}
    {{ return(adapter.dispatch('json_array_element_text', 'revops')(alias)) }}
{%- endmacro %}

{% macro default__json_array_element_text(alias) -%}
    {{ exceptions.raise_compiler_error("json_array_element_text is not implemented for adapter " ~ adapter.type()) }}
{%- endmacro %}

{% macro duckdb__json_array_element_text(alias) -%}
    {{ alias }}.value
{%- endmacro %}

{% macro snowflake__json_array_element_text(alias) -%}
    {{ alias }}.value::varchar
{%- endmacro %}
