{#-
    A query over a describe relation giving one row per (sobject, schema_version, described_at,
    field name, field type, picklist values as JSON text): what the field list and the drift
    report read.
-#}
{% macro salesforce_describe_fields_sql(relation) -%}
    {{ return(adapter.dispatch('salesforce_describe_fields_sql', 'revops')(relation)) }}
{%- endmacro %}

{% macro default__salesforce_describe_fields_sql(relation) -%}
    {{ exceptions.raise_compiler_error("salesforce_describe_fields_sql is not implemented for adapter " ~ adapter.type()) }}
{%- endmacro %}

{% macro duckdb__salesforce_describe_fields_sql(relation) -%}
    select
        json_extract_string(d.payload, '$.sobject') as sobject,
        json_extract_string(d.payload, '$.schema_version') as schema_version,
        json_extract_string(d.payload, '$.described_at') as described_at,
        json_extract_string(f.value, '$.name') as field_name,
        json_extract_string(f.value, '$.type') as field_type,
        cast(json_extract(f.value, '$.picklistValues') as varchar) as picklist_values
    from {{ relation }} as d
    cross join unnest(cast(json_extract(d.payload, '$.fields') as json[])) as f(value)
{%- endmacro %}

{% macro snowflake__salesforce_describe_fields_sql(relation) -%}
    select
        d.payload:sobject::varchar as sobject,
        d.payload:schema_version::varchar as schema_version,
        d.payload:described_at::varchar as described_at,
        f.value:name::varchar as field_name,
        f.value:type::varchar as field_type,
        to_json(f.value:picklistValues) as picklist_values
    from {{ relation }} as d,
        lateral flatten(input => d.payload:fields) as f
{%- endmacro %}
