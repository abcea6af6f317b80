{#-
    Schemas are named exactly raw / staging / intermediate / marts (no target prefix), so analysts
    and auditors find the same names in every warehouse. An audit rebuild
    (`revops build --as-known-at TS`) writes to `<schema>_as_of_<yyyymmddthhmmss>` instead, next to
    the live schemas, never over them.
-#}
{% macro generate_schema_name(custom_schema_name, node) -%}
    {%- set base = custom_schema_name if custom_schema_name is not none else target.schema -%}
    {{ base }}{{ as_known_at_schema_suffix() }}
{%- endmacro %}
