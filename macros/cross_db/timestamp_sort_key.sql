{#-
    Fixed-width text that sorts like the timestamp (microsecond precision). Position keys are
    built from it so that "the next event after p" is a plain string comparison in range joins.
-#}
{% macro timestamp_sort_key(expr) -%}
    {{ return(adapter.dispatch('timestamp_sort_key', 'revops')(expr)) }}
{%- endmacro %}

{% macro default__timestamp_sort_key(expr) -%}
    {{ exceptions.raise_compiler_error("timestamp_sort_key is not implemented for adapter " ~ adapter.type()) }}
{%- endmacro %}

{% macro duckdb__timestamp_sort_key(expr) -%}
    strftime({{ expr }}, '%Y-%m-%dT%H:%M:%S.%f')
{%- endmacro %}

{#- The explicit NTZ cast: to_char of an untyped (or TZ) value would format in the session's time zone. -#}
{% macro snowflake__timestamp_sort_key(expr) -%}
    to_char(cast({{ expr }} as timestamp_ntz), 'YYYY-MM-DD"T"HH24:MI:SS.FF6')
{%- endmacro %}
