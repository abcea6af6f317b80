{#-
    The ISO-8601 shapes an event timestamp may take (docs/contracts.md, "Timestamps"): a calendar
    date, optionally a time (T or space) with an optional offset (Z, ±hh, ±hhmm, ±hh:mm). A full
    match, in syntax both RE2 (DuckDB) and POSIX ERE (Snowflake) read the same way.
-#}
{% macro iso_timestamp_pattern() -%}
    [0-9]{4}-[0-9]{2}-[0-9]{2}([T ][0-9]{2}:[0-9]{2}(:[0-9]{2}([.][0-9]+)?)?(Z|[+-][0-9]{2}(:?[0-9]{2})?)?)?
{%- endmacro %}
