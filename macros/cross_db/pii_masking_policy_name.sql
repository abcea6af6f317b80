{#- The fully qualified name of the PII masking policy (Snowflake). -#}
{% macro pii_masking_policy_name() -%}
    {{ return(target.database ~ '.' ~ var('snowflake_governance_schema') ~ '.pii_pseudonym') }}
{%- endmacro %}
