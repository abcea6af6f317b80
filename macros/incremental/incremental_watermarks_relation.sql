{#- The per-schema table holding, per incremental model and upstream, the load time processed through. -#}
{% macro incremental_watermarks_relation() -%}
    {%- set rel = api.Relation.create(
        database=this.database, schema=this.schema, identifier='model_watermarks'
    ) -%}
    {%- do run_query(
        'create table if not exists ' ~ rel
        ~ ' (model_name varchar, upstream_name varchar, loaded_through timestamp, updated_at timestamp)'
    ) -%}
    {{ return(rel) }}
{%- endmacro %}
