{#-
    A JSON field as text (null when absent or JSON null). `path` is dotted with optional array
    indexes, e.g. 'assignee.external_id' or 'target[0].id'.
-#}
{% macro json_text(column, path) -%}
    {{ return(adapter.dispatch('json_text', 'revops')(column, path)) }}
{%- endmacro %}

{% macro default__json_text(column, path) -%}
    {{ exceptions.raise_compiler_error("json_text is not implemented for adapter " ~ adapter.type()) }}
{%- endmacro %}

{% macro duckdb__json_text(column, path) -%}
    json_extract_string({{ column }}, '$.{{ path }}')
{%- endmacro %}

{% macro snowflake__json_text(column, path) -%}
    {{ column }}:{{ path }}::varchar
{%- endmacro %}
