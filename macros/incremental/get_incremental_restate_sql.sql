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
      incremental_predicates  (Snowflake) extra conditions on the delete, for pruning only: they
                           must be implied by the scope condition (the target is `{{ this }}`)
-#}
{% macro get_incremental_restate_sql(arg_dict) -%}
    {{ return(adapter.dispatch('get_incremental_restate_sql', 'revops')(arg_dict)) }}
{%- endmacro %}

{#- DuckDB runs the model's statements in one transaction already. -#}
{% macro default__get_incremental_restate_sql(arg_dict) -%}
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

{#-
    Snowflake autocommits each statement: the delete and the insert get an explicit transaction
    (DML only inside it; the tmp table was created before). The delete also gets the earliest
    affected instant as a literal bound on the end column, which Snowflake can prune
    micro-partitions with (a join condition cannot): with the table clustered on that column
    (fct_team_daily_headcount: date_day) a one-day restatement scans the last partitions only.
    The scope is small (the touched keys) and evaluated once more for the bound.
-#}
{% macro snowflake__get_incremental_restate_sql(arg_dict) -%}
    {%- set target = arg_dict['target_relation'] -%}
    {%- set source = arg_dict['temp_relation'] -%}
    {%- set key = config.require('restate_key') -%}
    {%- set end_column = config.require('restate_end_column') -%}
    {%- set columns = get_quoted_csv(arg_dict['dest_columns'] | map(attribute='name')) -%}
    {%- set scope_sql = render(config.require('restate_scope')) -%}
    {%- set bound = none -%}
    {%- if execute -%}
        {%- set bound = run_query('select min(affected_from) from (' ~ scope_sql ~ ') as restate_scope').columns[0].values()[0] -%}
    {%- endif -%}
    begin;

    delete from {{ target }}
    using ({{ scope_sql }}) as restate_scope
    where restate_scope.{{ key }} = {{ target }}.{{ key }}
      and coalesce({{ target }}.{{ end_column }}, {{ open_valid_to() }}) >= restate_scope.affected_from
      {%- if bound is not none %}
      and ({{ target }}.{{ end_column }} >= cast('{{ bound }}' as timestamp) or {{ target }}.{{ end_column }} is null)
      {%- endif %}
      {%- for predicate in arg_dict.get('incremental_predicates') or [] %}
      and ({{ predicate }})
      {%- endfor %};

    insert into {{ target }} ({{ columns }})
    select {{ columns }} from {{ source }};

    commit
{%- endmacro %}
