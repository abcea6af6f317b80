{#- The warehouse type of a describe field type. -#}
{% macro salesforce_sql_type(sf_type) -%}
    {%- set t = (sf_type or '') | lower -%}
    {%- if t in ('currency', 'double', 'percent') -%}{{ return('double') }}
    {%- elif t in ('int', 'long') -%}{{ return('bigint') }}
    {%- elif t == 'boolean' -%}{{ return('boolean') }}
    {%- elif t == 'date' -%}{{ return('date') }}
    {%- elif t == 'datetime' -%}{{ return('timestamp') }}
    {%- else -%}{{ return('varchar') }}
    {%- endif -%}
{%- endmacro %}
