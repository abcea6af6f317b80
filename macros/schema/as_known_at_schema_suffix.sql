{#- `_as_of_20251115t120000` when building as known at an instant, else nothing. -#}
{% macro as_known_at_schema_suffix() -%}
    {%- set ts = var('as_known_at', none) -%}
    {%- if ts -%}
        _as_of_{{ ts | string | replace('-', '') | replace(':', '') | replace(' ', 't') | replace('T', 't') | replace('.', '_') | lower }}
    {%- endif -%}
{%- endmacro %}
