{#-
    The retired daily-CSV table of an object (legacy.sf_<object>), rebuilt over the current-state
    mart: the columns the CSV COPY made (API names upper-cased), the records the daily export held
    (not deleted). docs/salesforce_migration.md maps each to its replacement.
-#}
{% macro salesforce_legacy(sobject) -%}
{%- set obj = salesforce_objects()[sobject] -%}
{%- set plural = 'opportunities' if sobject == 'Opportunity' else obj['snake'] ~ 's' -%}
with

current_state as (

    select * from {{ ref('sfdc_' ~ plural) }}

),

final as (

    select
        {{ obj['snake'] }}_id as ID,
        {%- for f in salesforce_fields(sobject) %}
        {{ f.column }} as {{ f.name | upper }},
        {%- endfor %}
        {%- if sobject != 'User' %}
        is_deleted as ISDELETED,
        {%- endif %}
        system_modstamp as SYSTEMMODSTAMP
    from current_state
    where not is_deleted

)

select * from final
{%- endmacro %}
