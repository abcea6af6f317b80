{#- A JSON array of strings as comma-joined text ('' when absent), e.g. CDC's changedFields. -#}
{% macro json_array_csv(column, path) -%}
    {{ return(adapter.dispatch('json_array_csv', 'revops')(column, path)) }}
{%- endmacro %}

{% macro default__json_array_csv(column, path) -%}
    {{ exceptions.raise_compiler_error("json_array_csv is not implemented for adapter " ~ adapter.type()) }}
{%- endmacro %}

{% macro duckdb__json_array_csv(column, path) -%}
    coalesce(array_to_string(json_extract_string({{ column }}, '$.{{ path }}[*]'), ','), '')
{%- endmacro %}

{#- Through the JSON text (field names hold no quote, comma or bracket): one spelling that the
    local fakesnow server also runs, where array_to_string of a VARIANT path does not bind. -#}
{% macro snowflake__json_array_csv(column, path) -%}
    coalesce(replace(replace(replace(to_json({{ column }}:{{ path }}), '[', ''), ']', ''), '"', ''), '')
{%- endmacro %}
