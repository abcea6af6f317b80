{#-
    PII outside the raw layer. On DuckDB (no masking policies) the value becomes a stable
    pseudonym: joins and distinct counts still work, the address is gone. On Snowflake the column
    passes through and the masking policy attached from the column's `meta.pii` tag applies.
    Another adapter must choose one of the two deliberately, so there is no default.
-#}
{% macro mask_pii(expr) -%}
    {{ return(adapter.dispatch('mask_pii', 'revops')(expr)) }}
{%- endmacro %}

{% macro default__mask_pii(expr) -%}
    {{ exceptions.raise_compiler_error("mask_pii is not implemented for adapter " ~ adapter.type()) }}
{%- endmacro %}

{% macro duckdb__mask_pii(expr) -%}
    case when {{ expr }} is not null then 'pii_' || substr(md5(lower(cast({{ expr }} as varchar))), 1, 16) end
{%- endmacro %}

{% macro snowflake__mask_pii(expr) -%}
    {{ expr }}
{%- endmacro %}
