{#-
    The current instant as a naive UTC timestamp (the type of _loaded_at), for ages and SLAs. In
    an audit rebuild (var as_known_at) it is that instant: the warehouse as it was known then.
-#}
{% macro utc_now() -%}
    {%- set ts = var('as_known_at', none) -%}
    {%- if ts -%}
        cast('{{ ts }}' as timestamp)
    {%- else -%}
        {{ return(adapter.dispatch('utc_now', 'revops')()) }}
    {%- endif -%}
{%- endmacro %}

{% macro default__utc_now() -%}
    {{ exceptions.raise_compiler_error("utc_now is not implemented for adapter " ~ adapter.type()) }}
{%- endmacro %}

{% macro duckdb__utc_now() -%}
    cast(now() at time zone 'UTC' as timestamp)
{%- endmacro %}

{#- sysdate(): the current instant in UTC as TIMESTAMP_NTZ, whatever the session's time zone. -#}
{% macro snowflake__utc_now() -%}
    sysdate()
{%- endmacro %}
