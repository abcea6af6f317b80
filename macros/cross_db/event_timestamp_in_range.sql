{#-
    Whether a parsed event timestamp (naive UTC) lies in the documented valid range
    [event_timestamp_min, event_timestamp_max) (docs/contracts.md, "Timestamps"). Outside it the
    event is a rejection, because the warehouse could not represent it: a valid_from at or after
    the open-window marker (open_valid_to) gives a window that ends before it starts, and a day
    outside the headcount calendar (calendar_start_date, calendar_end_date) is never counted.
    Raw is append-only, so such an event must never reach history. Both bounds default to the
    calendar's; a narrower range may be configured, a wider one is a compile error.
-#}
{% macro event_timestamp_in_range(expr) -%}
    {%- set dt = modules.datetime.datetime -%}
    {%- set calendar_start = dt.fromisoformat(var('calendar_start_date', '2000-01-01') ~ '') -%}
    {%- set calendar_end = dt.fromisoformat(var('calendar_end_date', '2051-01-01') ~ '') -%}
    {%- set low = dt.fromisoformat((var('event_timestamp_min', none) or calendar_start) ~ '') -%}
    {%- set high = dt.fromisoformat((var('event_timestamp_max', none) or calendar_end) ~ '') -%}
    {%- set open_marker = dt.fromisoformat(modules.re.search("'([^']+)'", open_valid_to()).group(1)) -%}
    {%- if not (calendar_start <= low and low < high and high <= calendar_end and calendar_end < open_marker) -%}
        {{ exceptions.raise_compiler_error(
            "event timestamp range [" ~ low ~ ", " ~ high ~ ") must lie in the headcount calendar ["
            ~ calendar_start ~ ", " ~ calendar_end ~ "), which must end before the open-window marker "
            ~ open_marker ~ " (vars event_timestamp_min/max, calendar_start_date/end_date)"
        ) }}
    {%- endif -%}
    ({{ expr }} >= cast('{{ low }}' as timestamp) and {{ expr }} < cast('{{ high }}' as timestamp))
{%- endmacro %}
