{#- A JSON sub-document (object or array) serialised as text, e.g. an id list. -#}
{% macro json_fragment(column, path) -%}
    {{ return(adapter.dispatch('json_fragment', 'revops')(column, path)) }}
{%- endmacro %}

{% macro default__json_fragment(column, path) -%}
    {{ exceptions.raise_compiler_error("json_fragment is not implemented for adapter " ~ adapter.type()) }}
{%- endmacro %}

{% macro duckdb__json_fragment(column, path) -%}
    cast(json_extract({{ column }}, '$.{{ path }}') as varchar)
{%- endmacro %}

{% macro snowflake__json_fragment(column, path) -%}
    to_json({{ column }}:{{ path }})
{%- endmacro %}
