{#- The field values of a version as hash input (null and '' distinct). -#}
{% macro salesforce_hash_parts(fields) -%}
    {%- for f in fields %} || '|' || coalesce('=' || {{ f.column }}__text, '-'){% endfor -%}
{%- endmacro %}
