{#-
    Snowflake's `append` strategy (dbt dispatches to the root project first). Unchanged for a model
    without a delete_touched_keys pre-hook. For one with it, the hook's delete runs here instead,
    in one transaction with the insert: a reader never sees the touched keys missing, and a
    failure rolls both back (the profile sets TRANSACTION_ABORT_ON_ERROR and does not reuse a
    connection whose transaction failed). The insert reads the tmp view, i.e. the model's SQL,
    after the delete, as on DuckDB where the hook runs before the model's SQL.
-#}
{% macro snowflake__get_incremental_append_sql(arg_dict) -%}
    {%- set deletes = [] -%}
    {%- for hook in pre_hooks if 'delete_touched_keys(' in hook.get('sql', '') -%}
        {%- set sql = render(hook.get('sql') | replace('delete_touched_keys(', 'delete_touched_keys_sql(')) | trim -%}
        {%- if sql -%}{%- do deletes.append(sql) -%}{%- endif -%}
    {%- endfor -%}
    {%- set insert_sql = get_insert_into_sql(arg_dict['target_relation'], arg_dict['temp_relation'], arg_dict['dest_columns']) -%}
    {%- if deletes -%}
    begin;
    {% for sql in deletes -%}
    {{ sql }};
    {% endfor -%}
    {{ insert_sql }};
    commit
    {%- else -%}
    {{ insert_sql }}
    {%- endif -%}
{%- endmacro %}
