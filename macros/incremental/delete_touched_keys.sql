{#-
    Pre-hook of a key-recomputing incremental model: delete every row of the keys the run will
    recompute, including keys that end up with no rows at all (which a plain delete+insert on the
    new rows' keys would leave behind). The delete and the model's insert are one transaction:
    on DuckDB the hook runs in the model's transaction; on Snowflake see below.
-#}
{% macro delete_touched_keys(key_column, keys_sql, extra_condition=none) -%}
    {{ return(adapter.dispatch('delete_touched_keys', 'revops')(key_column, keys_sql, extra_condition)) }}
{%- endmacro %}

{% macro default__delete_touched_keys(key_column, keys_sql, extra_condition=none) -%}
    {{ return(delete_touched_keys_sql(key_column, keys_sql, extra_condition)) }}
{%- endmacro %}

{#- Snowflake autocommits every statement, and the DDL dbt runs between a pre-hook and the insert
    (the tmp view) would commit a transaction opened here. So the hook does nothing there, and
    snowflake__get_incremental_append_sql renders the same call as delete_touched_keys_sql inside
    `begin … commit` with the insert. -#}
{% macro snowflake__delete_touched_keys(key_column, keys_sql, extra_condition=none) -%}
{%- endmacro %}
