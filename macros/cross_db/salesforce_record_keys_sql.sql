{#- A query giving the distinct keys the snapshot records of a raw Salesforce table carry (`key`). -#}
{% macro salesforce_record_keys_sql(relation) -%}
    {{ return(adapter.dispatch('salesforce_record_keys_sql', 'revops')(relation)) }}
{%- endmacro %}

{% macro default__salesforce_record_keys_sql(relation) -%}
    {{ exceptions.raise_compiler_error("salesforce_record_keys_sql is not implemented for adapter " ~ adapter.type()) }}
{%- endmacro %}

{% macro duckdb__salesforce_record_keys_sql(relation) -%}
    select distinct k.key
    from {{ relation }} as r
    cross join unnest(json_keys(r.payload, '$.record')) as k(key)
    where json_extract_string(r.payload, '$.source') in ('bulk', 'rest', 'refetch')
{%- endmacro %}

{% macro snowflake__salesforce_record_keys_sql(relation) -%}
    select distinct k.value::varchar as key
    from {{ relation }} as r,
        lateral flatten(input => object_keys(r.payload:record)) as k
    where r.payload:source::varchar in ('bulk', 'rest', 'refetch')
{%- endmacro %}
