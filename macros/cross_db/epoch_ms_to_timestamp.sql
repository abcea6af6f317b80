{#- Epoch milliseconds (a number) → naive UTC timestamp, e.g. CDC's commitTimestamp. -#}
{% macro epoch_ms_to_timestamp(expr) -%}
    {{ return(adapter.dispatch('epoch_ms_to_timestamp', 'revops')(expr)) }}
{%- endmacro %}

{% macro default__epoch_ms_to_timestamp(expr) -%}
    {{ exceptions.raise_compiler_error("epoch_ms_to_timestamp is not implemented for adapter " ~ adapter.type()) }}
{%- endmacro %}

{% macro duckdb__epoch_ms_to_timestamp(expr) -%}
    epoch_ms(cast({{ expr }} as bigint))
{%- endmacro %}

{% macro snowflake__epoch_ms_to_timestamp(expr) -%}
    to_timestamp_ntz(cast({{ expr }} as bigint), 3)
{%- endmacro %}
