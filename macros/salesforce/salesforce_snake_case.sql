{#- A Salesforce API name as a column name: StageName → stage_name, Custom_Field__c → custom_field__c. -#}
{% macro salesforce_snake_case(name) -%}
    {%- set re = modules.re -%}
    {%- set s = re.sub('([A-Z]+)([A-Z][a-z])', '\\1_\\2', name) -%}
    {%- set s = re.sub('([a-z0-9])([A-Z])', '\\1_\\2', s) -%}
    {{ return(s | lower) }}
{%- endmacro %}
