{#-
    Post-hook of every model: attach the PII masking policy to each column documented with
    `meta: {pii: true}`, and, where a model's config names a row-access column
    (`meta: {row_access_on: team_id}`) and the var `snowflake_row_access_policy` names a policy,
    that row access policy. dbt recreates tables and views on full builds (which drops the
    attachments), hence a hook on every run rather than a one-off script.
    On DuckDB there are no policies (mask_pii pseudonymises in SQL): nothing to do.
-#}
{% macro apply_access_policies() -%}
    {{ return(adapter.dispatch('apply_access_policies', 'revops')()) }}
{%- endmacro %}

{% macro default__apply_access_policies() -%}
    {{ exceptions.raise_compiler_error("apply_access_policies is not implemented for adapter " ~ adapter.type()) }}
{%- endmacro %}

{% macro duckdb__apply_access_policies() -%}
{%- endmacro %}

{% macro snowflake__apply_access_policies() -%}
    {%- if not execute or fakesnow_lacks_policies() -%}
        {{ return('') }}
    {%- endif -%}
    {%- set kind = 'view' if config.get('materialized') == 'view' else 'table' -%}
    {%- set statements = [] -%}
    {%- for name, column in model.columns.items() if (column.meta or {}).get('pii') -%}
        {%- do statements.append(
            'alter ' ~ kind ~ ' ' ~ this ~ ' modify column ' ~ adapter.quote(name | upper)
            ~ ' set masking policy ' ~ pii_masking_policy_name() ~ ' force'
        ) -%}
    {%- endfor -%}
    {%- set row_access_on = (config.get('meta') or {}).get('row_access_on') -%}
    {%- set row_access_policy = var('snowflake_row_access_policy') -%}
    {%- if row_access_on and row_access_policy -%}
        {%- do statements.append('alter ' ~ kind ~ ' ' ~ this ~ ' drop all row access policies') -%}
        {%- do statements.append(
            'alter ' ~ kind ~ ' ' ~ this ~ ' add row access policy ' ~ row_access_policy
            ~ ' on (' ~ row_access_on ~ ')'
        ) -%}
    {%- endif -%}
    {{ statements | join(';\n') }}
{%- endmacro %}
