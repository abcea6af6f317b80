{#- The per-schema table holding, per incremental model, the load time it has processed through. -#}
{% macro incremental_watermarks_relation() -%}
    {%- set rel = api.Relation.create(
        database=this.database, schema=this.schema, identifier='incremental_watermarks'
    ) -%}
    {%- do run_query(
        'create table if not exists ' ~ rel ~ ' (model_name varchar, loaded_through timestamp, updated_at timestamp)'
    ) -%}
    {{ return(rel) }}
{%- endmacro %}
