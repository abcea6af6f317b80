{#-
    ISO-8601 text → naive UTC timestamp, or null when it does not parse (the caller turns that
    into a rejection reason). Offsets are honoured; text without one is read as UTC.
-#}
{% macro parse_iso_timestamp(expr) -%}
    {{ return(adapter.dispatch('parse_iso_timestamp', 'revops')(expr)) }}
{%- endmacro %}

{% macro default__parse_iso_timestamp(expr) -%}
    (try_cast({{ expr }} as timestamptz) at time zone 'UTC')
{%- endmacro %}

{% macro snowflake__parse_iso_timestamp(expr) -%}
    convert_timezone('UTC', try_to_timestamp_tz({{ expr }}))::timestamp_ntz
{%- endmacro %}
