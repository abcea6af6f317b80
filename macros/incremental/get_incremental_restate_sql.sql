{#-
    Incremental strategy `restate`: replace the tail of history of the keys a run recomputes.

    The model's SQL computes the replacement rows into a temporary relation first — so it may
    read the rows it is about to replace (e.g. the intervals that reach the affected instant).
    Then, in one transaction, every row of a key in scope whose end is at or after that key's
    affected instant is deleted, and the replacement rows are appended. Rows of keys out of scope,
    and rows that ended before the affected instant, are never touched.

    Model config:
      restate_scope        SQL (rendered at run time, like a hook) returning one row per key:
                           <restate_key>, affected_from
      restate_key          the key column (e.g. repl_id)
      restate_end_column   the column compared with affected_from; null means "still open"
-#}
{% macro get_incremental_restate_sql(arg_dict) -%}
    {%- set target = arg_dict['target_relation'] -%}
    {%- set source = arg_dict['temp_relation'] -%}
    {%- set key = config.require('restate_key') -%}
    {%- set end_column = config.require('restate_end_column') -%}
    {%- set columns = get_quoted_csv(arg_dict['dest_columns'] | map(attribute='name')) -%}
    delete from {{ target }}
    using ({{ render(config.require('restate_scope')) }}) as restate_scope
    where restate_scope.{{ key }} = {{ target }}.{{ key }}
      and coalesce({{ target }}.{{ end_column }}, {{ open_valid_to() }}) >= restate_scope.affected_from;

    insert into {{ target }} ({{ columns }})
    select {{ columns }} from {{ source }}
{%- endmacro %}
