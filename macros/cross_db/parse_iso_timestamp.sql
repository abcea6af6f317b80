{#-
    ISO-8601 text → naive UTC timestamp, or null when it is not one (the caller turns that into a
    rejection reason). Offsets are honoured; text without one is read as UTC. The shape is checked
    before the cast: engines also cast keywords ('infinity', 'epoch'), time-zone names and loose
    spellings that are not instants a producer may send (docs/contracts.md, "Timestamps").
    Whether the instant is in the valid range is a separate check (event_timestamp_in_range), so
    that the rejection says which rule failed.
-#}
{% macro parse_iso_timestamp(expr) -%}
    {{ return(adapter.dispatch('parse_iso_timestamp', 'revops')(expr)) }}
{%- endmacro %}

{% macro default__parse_iso_timestamp(expr) -%}
    {{ exceptions.raise_compiler_error("parse_iso_timestamp is not implemented for adapter " ~ adapter.type()) }}
{%- endmacro %}

{% macro duckdb__parse_iso_timestamp(expr) -%}
    case
        when regexp_full_match({{ expr }}, '{{ iso_timestamp_pattern() }}')
            then (try_cast({{ expr }} as timestamptz) at time zone 'UTC')
    end
{%- endmacro %}

{#- try_cast(… as timestamp_tz) is try_to_timestamp_tz(…) with the AUTO input format; the pattern
    above already fixed the shape, and the local fakesnow server reads this spelling too. -#}
{% macro snowflake__parse_iso_timestamp(expr) -%}
    case
        when regexp_like({{ expr }}, '{{ iso_timestamp_pattern() }}')
            then convert_timezone('UTC', try_cast({{ expr }} as timestamp_tz))::timestamp_ntz
    end
{%- endmacro %}
