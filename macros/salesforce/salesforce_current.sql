{#- Current state of one object: the latest merged version of each record, tombstones kept. -#}
{% macro salesforce_current(sobject) -%}
{%- set obj = salesforce_objects()[sobject] -%}
{%- set fields = salesforce_fields(sobject) -%}
{%- set id_column = obj['snake'] ~ '_id' -%}
with

history as (

    select * from {{ ref('int_salesforce__' ~ obj['snake'] ~ '_history') }}

),

final as (

    select
        {{ id_column }},
        {%- for f in fields %}
        {{ f.column }},
        {%- endfor %}
        is_deleted,
        deleted_at,
        is_hard_deleted,
        system_modstamp
    from history
    where is_current

)

select * from final
{%- endmacro %}
