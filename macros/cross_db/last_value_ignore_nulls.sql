{#- Carry the last non-null value forward over a window (the dialects place IGNORE NULLS differently). -#}
{% macro last_value_ignore_nulls(expr, window) -%}
    {{ return(adapter.dispatch('last_value_ignore_nulls', 'revops')(expr, window)) }}
{%- endmacro %}

{#- SQL:2011 puts the null treatment after the call; not every engine reads it (Postgres). -#}
{% macro default__last_value_ignore_nulls(expr, window) -%}
    {{ exceptions.raise_compiler_error("last_value_ignore_nulls is not implemented for adapter " ~ adapter.type()) }}
{%- endmacro %}

{% macro duckdb__last_value_ignore_nulls(expr, window) -%}
    last_value({{ expr }} ignore nulls) over ({{ window }})
{%- endmacro %}

{% macro snowflake__last_value_ignore_nulls(expr, window) -%}
    last_value({{ expr }}) ignore nulls over ({{ window }})
{%- endmacro %}
