{#-
    on-run-start: the masking policy every column tagged `meta: {pii: true}` gets on Snowflake
    (apply_access_policies attaches it). Roles that may read PII see the value; everyone else the
    same stable pseudonym DuckDB stores (mask_pii), so joins and distinct counts agree across
    warehouses. Created once, and its body re-set on every run so it never drifts from this file
    (docs/snowflake_setup.sql grants the transformer role the right to own it).
    On DuckDB there are no policies: staging stores the pseudonym itself (duckdb__mask_pii).
-#}
{% macro create_pii_masking_policy() -%}
    {{ return(adapter.dispatch('create_pii_masking_policy', 'revops')()) }}
{%- endmacro %}

{% macro default__create_pii_masking_policy() -%}
    {{ exceptions.raise_compiler_error("create_pii_masking_policy is not implemented for adapter " ~ adapter.type()) }}
{%- endmacro %}

{% macro duckdb__create_pii_masking_policy() -%}
{%- endmacro %}

{% macro snowflake__create_pii_masking_policy() -%}
    {%- if fakesnow_lacks_policies() -%}
        {{ return('') }}
    {%- endif -%}
    {%- set policy = pii_masking_policy_name() -%}
    {%- set body -%}
    case
        when val is null then null
        when {% for role in var('snowflake_pii_reader_roles') %}is_role_in_session('{{ role }}'){% if not loop.last %} or {% endif %}{% endfor %} then val
        else 'pii_' || substr(md5(lower(val)), 1, 16)
    end
    {%- endset -%}
    create masking policy if not exists {{ policy }} as (val varchar) returns varchar -> {{ body }};
    alter masking policy {{ policy }} set body -> {{ body }}
{%- endmacro %}
