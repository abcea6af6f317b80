-- Added, removed and retyped fields and picklist changes between consecutive schema versions.
with

describe_fields as (

    select * from {{ ref('stg_salesforce__describe_fields') }}

),

schema_versions as (

    select
        sobject,
        schema_version,
        min(described_at) as described_at
    from describe_fields
    group by sobject, schema_version

),

sequenced as (

    select
        *,
        lag(schema_version) over (partition by sobject order by described_at, schema_version) as previous_schema_version,
        row_number() over (partition by sobject order by described_at desc, schema_version desc) = 1 as is_latest
    from schema_versions

),

pairs as (

    select * from sequenced where previous_schema_version is not null

),

pair_fields as (

    select
        pairs.sobject,
        pairs.previous_schema_version,
        pairs.schema_version,
        pairs.described_at,
        pairs.is_latest,
        f.field_name,
        max(case when f.schema_version = pairs.schema_version then 1 else 0 end) as in_current,
        max(case when f.schema_version = pairs.previous_schema_version then 1 else 0 end) as in_previous,
        max(case when f.schema_version = pairs.schema_version then f.field_type end) as field_type,
        max(case when f.schema_version = pairs.previous_schema_version then f.field_type end) as previous_field_type,
        max(case when f.schema_version = pairs.schema_version then f.picklist_values end) as picklist_values,
        max(case when f.schema_version = pairs.previous_schema_version then f.picklist_values end) as previous_picklist_values
    from pairs
    inner join describe_fields as f
        on f.sobject = pairs.sobject
        and f.schema_version in (pairs.schema_version, pairs.previous_schema_version)
    group by 1, 2, 3, 4, 5, 6

),

compared as (

    select
        *,
        case
            when in_previous = 0 then 'added'
            when in_current = 0 then 'removed'
            when previous_field_type <> field_type then 'retyped'
            when coalesce(previous_picklist_values, '') <> coalesce(picklist_values, '') then 'picklist_changed'
        end as drift_kind
    from pair_fields

),

final as (

    select
        sobject,
        previous_schema_version,
        schema_version,
        described_at,
        is_latest,
        field_name,
        drift_kind,
        previous_field_type,
        field_type,
        case when drift_kind in ('removed', 'retyped') then 'error' else 'warn' end as severity
    from compared
    where drift_kind is not null

)

select * from final
