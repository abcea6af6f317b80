{#- A JSON text value as its describe type (null when it does not read as one). -#}
{% macro salesforce_cast(expr, sql_type) -%}
    {%- if sql_type == 'timestamp' -%}
        {{ parse_iso_timestamp(expr) }}
    {%- elif sql_type == 'varchar' -%}
        {{ expr }}
    {%- else -%}
        try_cast({{ expr }} as {{ sql_type }})
    {%- endif -%}
{%- endmacro %}
