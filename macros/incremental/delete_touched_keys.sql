{#-
    Pre-hook of a key-recomputing incremental model: delete every row of the keys the run will
    recompute, including keys that end up with no rows at all (which a plain delete+insert on the
    new rows' keys would leave behind). Runs in the model's transaction on DuckDB.
-#}
{% macro delete_touched_keys(key_column, keys_sql, extra_condition=none) -%}
    {%- if execute and this is not none and is_incremental() -%}
        delete from {{ this }}
        where {{ key_column }} in (select touched_keys.key_value from ({{ keys_sql }}) as touched_keys)
        {%- if extra_condition %} and {{ extra_condition }}{% endif %}
    {%- endif -%}
{%- endmacro %}
