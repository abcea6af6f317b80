{#- The keys of a JSON object, sorted, as comma-joined text ('' when absent): the fields a snapshot
    carries. Sorted, so the same record read with its keys in another order hashes the same. -#}
{% macro json_object_keys_csv(column, path) -%}
    {{ return(adapter.dispatch('json_object_keys_csv', 'revops')(column, path)) }}
{%- endmacro %}

{% macro default__json_object_keys_csv(column, path) -%}
    {{ exceptions.raise_compiler_error("json_object_keys_csv is not implemented for adapter " ~ adapter.type()) }}
{%- endmacro %}

{% macro duckdb__json_object_keys_csv(column, path) -%}
    coalesce(array_to_string(list_sort(json_keys({{ column }}, '$.{{ path }}')), ','), '')
{%- endmacro %}

{#- Through the JSON text of the key list (API names hold no quote, comma or bracket): one
    spelling that the local fakesnow server also runs. -#}
{% macro snowflake__json_object_keys_csv(column, path) -%}
    coalesce(replace(replace(replace(to_json(array_sort(object_keys({{ column }}:{{ path }}))), '[', ''), ']', ''), '"', ''), '')
{%- endmacro %}
