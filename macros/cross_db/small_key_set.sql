{#-
    The keys of `select_sql` (one column), as the right side of `key in (...)` where the set is
    expected to be small — the keys an incremental run touches — and the left side is a whole
    history table.

    DuckDB estimates a filtered subquery at a fixed share of its table, so against a history
    table it often builds the hash table on the history side (9M rows, seconds) and probes it with
    the few keys. Collected into one list and unnested, the keys are estimated as the handful
    they are: the hash table is built on them, and when there are none the history table is not
    read at all. Snowflake gets the subquery as it is.
-#}
{% macro small_key_set(select_sql) -%}
    {{ return(adapter.dispatch('small_key_set', 'revops')(select_sql)) }}
{%- endmacro %}

{% macro default__small_key_set(select_sql) -%}
    {{ exceptions.raise_compiler_error("small_key_set is not implemented for adapter " ~ adapter.type()) }}
{%- endmacro %}

{% macro snowflake__small_key_set(select_sql) -%}
    {{ select_sql }}
{%- endmacro %}

{% macro duckdb__small_key_set(select_sql) -%}
    select unnest(list(small_keys.key_value))
    from ({{ select_sql }}) as small_keys(key_value)
{%- endmacro %}
