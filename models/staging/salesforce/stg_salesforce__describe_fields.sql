-- One row per field of each describe result (schema version) raw holds.
with

source as (

    select *
    from {{ source('salesforce', 'salesforce_describe') }}
    where {{ loaded_as_known_at('_loaded_at') }}

),

fields as (

    {{ salesforce_describe_fields_sql('source') }}

),

final as (

    select
        sobject,
        schema_version,
        {{ parse_iso_timestamp('described_at') }} as described_at,
        field_name,
        field_type,
        picklist_values
    from fields

)

select * from final
