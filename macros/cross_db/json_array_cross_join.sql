{#-
    `cross join` one row per element of a JSON array (`alias.value`, text through
    json_array_element_text): a change event names several recordIds and applies to each.
-#}
{% macro json_array_cross_join(column, path, alias) -%}
    {{ return(adapter.dispatch('json_array_cross_join', 'revops')(column, path, alias)) }}
{%- endmacro %}

{% macro default__json_array_cross_join(column, path, alias) -%}
    {{ exceptions.raise_compiler_error("json_array_cross_join is not implemented for adapter " ~ adapter.type()) }}
{%- endmacro %}

{% macro duckdb__json_array_cross_join(column, path, alias) -%}
    cross join unnest(json_extract_string({{ column }}, '$.{{ path }}[*]')) as {{ alias }}(value)
{%- endmacro %}

{% macro snowflake__json_array_cross_join(column, path, alias) -%}
    cross join lateral flatten(input => {{ column }}:{{ path }}) as {{ alias }}
{%- endmacro %}
