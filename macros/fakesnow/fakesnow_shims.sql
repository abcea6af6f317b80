{#-
    fakesnow shims: the only place that knows the CI target `fakesnow` (a local Snowflake-dialect
    server over DuckDB, `python -m fakesnow -s`) is not Snowflake. Each shim names the fakesnow gap
    it covers, applies only when target.name == 'fakesnow', and otherwise delegates unchanged to
    dbt-snowflake's own implementation (or to the project's Snowflake code). Nothing here changes
    what a model computes: the parity check in tests/python/fakesnow_suite.py compares the marts
    built through these shims with DuckDB's.
-#}

{#- Whether the target is the fakesnow CI server. -#}
{% macro is_fakesnow_target() -%}
    {{ return(target.name == 'fakesnow') }}
{%- endmacro %}

{#- Gap: TEMPORARY tables may only live in DuckDB's "temp" catalog ("TEMPORARY table names can
    only use the temp catalog"), and dbt-snowflake creates them database.schema-qualified (unit
    tests; the tmp table of `restate` incremental runs). A transient table instead: dbt drops it. -#}
{% macro snowflake__create_table_as(temporary, relation, compiled_code, language='sql') -%}
    {%- if temporary and language == 'sql' and is_fakesnow_target() -%}
        {{ snowflake__create_table_transient_sql(relation, compiled_code) }}
    {%- elif language == 'sql' and is_fakesnow_target() and config.get('cluster_by') -%}
        {{ fakesnow_create_clustered_table_sql(relation, compiled_code) }}
    {%- else -%}
        {{ dbt.snowflake__create_table_as(temporary, relation, compiled_code, language) }}
    {%- endif -%}
{%- endmacro %}

{#- Gap: a CTAS with a column list (an enforced contract) whose query is `select * from (…)`
    — dbt-snowflake's wrapper that sorts a clustered table by its keys — fails in fakesnow's
    DESCRIBE rewrite when the subquery aggregates with boolor_agg (HTTP 500, retried for
    minutes). The same table without the initial sort (a physical layout, not a result), then the
    clustering key as dbt-snowflake sets it. -#}
{% macro fakesnow_create_clustered_table_sql(relation, compiled_code) -%}
    {%- set catalog_relation = adapter.build_catalog_relation(config.model) -%}
    {%- set contract_config = config.get('contract') -%}
    {%- if contract_config.enforced -%}
        {{- get_assert_columns_equivalent(compiled_code) -}}
        {%- set compiled_code = get_select_subquery(compiled_code) -%}
    {%- endif %}
    create or replace {{ 'transient ' if catalog_relation.is_transient }}table {{ relation }}
    {%- if contract_config.enforced %}
    {{ get_table_columns_and_constraints() }}
    {%- endif %}
    as ({{ compiled_code }});
    alter table {{ relation }} cluster by ({{ catalog_relation.cluster_by }})
{%- endmacro %}

{#- Gap: the same temp-catalog limit for the TEMPORARY view dbt-snowflake uses as the tmp
    relation of append/merge incremental runs: a plain view instead (dbt drops it). -#}
{% macro snowflake__create_view_as_with_temp_flag(relation, sql, is_temporary=False) -%}
    {{ return(dbt.snowflake__create_view_as_with_temp_flag(
        relation, sql, is_temporary and not is_fakesnow_target())) }}
{%- endmacro %}

{#- Gap: `alter table t alter "A" comment $$…$$, "B" comment $$…$$` parses for one column only:
    one ALTER per column instead. -#}
{% macro snowflake__alter_column_comment(relation, column_dict) -%}
    {%- if not is_fakesnow_target() -%}
        {{ return(dbt.snowflake__alter_column_comment(relation, column_dict)) }}
    {%- endif -%}
    {%- set existing_columns = adapter.get_columns_in_relation(relation) | map(attribute="name") | list -%}
    {%- set filtered = validate_doc_columns(relation, column_dict, existing_columns) -%}
    {%- for column_name in existing_columns %}
    {%- set sql = get_column_comment_sql(column_name, filtered) | trim %}
    {%- if sql %}
    alter {{ relation.type }} {{ relation.render() }} alter {{ sql }};
    {%- endif %}
    {%- endfor %}
{%- endmacro %}

{#- Gap: a table comment is stored through an unescaped string literal, so an apostrophe in it is
    a DuckDB parser error (HTTP 500, which the connector retries for ~10 minutes): a typographic
    apostrophe instead. -#}
{% macro snowflake__alter_relation_comment(relation, relation_comment) -%}
    {%- if is_fakesnow_target() -%}
        {{ return(dbt.snowflake__alter_relation_comment(relation, relation_comment | replace("'", "’"))) }}
    {%- endif -%}
    {{ return(dbt.snowflake__alter_relation_comment(relation, relation_comment)) }}
{%- endmacro %}

{#- Gap: `alter session set query_tag` is not implemented. The tag is a cost-attribution label
    (no effect on results), so it is left unset there. -#}
{% macro snowflake__set_query_tag() -%}
    {%- if is_fakesnow_target() -%}
        {{ return(none) }}
    {%- endif -%}
    {{ return(dbt.snowflake__set_query_tag()) }}
{%- endmacro %}

{% macro snowflake__unset_query_tag(original_query_tag) -%}
    {%- if is_fakesnow_target() -%}
        {{ return(none) }}
    {%- endif -%}
    {{ return(dbt.snowflake__unset_query_tag(original_query_tag)) }}
{%- endmacro %}

{#- Gap: no MASKING POLICY / ROW ACCESS POLICY DDL (`create masking policy`, `alter … modify
    column … set masking policy` are parser errors) and no is_role_in_session(). The policy
    statements are compiled (and sqlglot-parsed by the CI suite) but not run there. -#}
{% macro fakesnow_lacks_policies() -%}
    {{ return(is_fakesnow_target()) }}
{%- endmacro %}

{#- Gap: Snowflake's `asof join … match_condition (…) on …` reaches DuckDB unchanged (a parser
    error): the same join in DuckDB's spelling, which fakesnow's translator passes through. -#}
{% macro fakesnow_asof_left_join(relation, alias, on, left_time, right_time) -%}
    asof left join {{ relation }} as {{ alias }}
        on {{ on }} and {{ left_time }} >= {{ right_time }}
{%- endmacro %}
