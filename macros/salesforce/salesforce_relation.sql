{#-
    The relation of a declared Salesforce source table, or none when the warehouse does not hold
    it: compile-time metadata for the field list, read without making the calling model a
    consumer of the source (only staging selects from raw).
-#}
{% macro salesforce_relation(table_name) -%}
    {%- for node in (graph.get('sources') or {}).values() if node.source_name == 'salesforce' and node.name == table_name -%}
        {{ return(adapter.get_relation(database=node.database, schema=node.schema, identifier=node.identifier)) }}
    {%- endfor -%}
    {{ return(none) }}
{%- endmacro %}
