{#-
    How far behind its watermark an incremental model re-reads. The embedded DuckDB warehouse has a
    single writer (loads and builds never overlap), so nothing can commit "in the past". On
    Snowflake, COPY and dbt run concurrently and a load can commit rows stamped before a build's
    watermark; re-reading a few minutes is idempotent and closes that gap.
-#}
{% macro incremental_lookback_minutes() -%}
    {{ return(adapter.dispatch('incremental_lookback_minutes', 'revops')()) }}
{%- endmacro %}

{% macro default__incremental_lookback_minutes() -%}
    {{ return(var('incremental_lookback_minutes', 15)) }}
{%- endmacro %}

{% macro duckdb__incremental_lookback_minutes() -%}
    {{ return(var('incremental_lookback_minutes', 0)) }}
{%- endmacro %}
