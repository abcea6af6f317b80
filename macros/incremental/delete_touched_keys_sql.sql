{#- The delete statement of delete_touched_keys (empty on a full build and at parse time). -#}
{% macro delete_touched_keys_sql(key_column, keys_sql, extra_condition=none) -%}
    {%- if execute and this is not none and is_incremental() -%}
        delete from {{ this }}
        where {{ key_column }} in ({{ small_key_set('select touched_keys.key_value from (' ~ keys_sql ~ ') as touched_keys') }})
        {%- if extra_condition %} and {{ extra_condition }}{% endif %}
    {%- endif -%}
{%- endmacro %}
