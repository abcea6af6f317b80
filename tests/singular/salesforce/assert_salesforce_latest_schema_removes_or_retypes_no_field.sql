{{ config(severity='error') }}
-- A field removed or retyped by the latest describe of an object breaks whatever reads its column
-- (history keeps the old column, new versions leave it null or uncastable): decide before it lands.
select
    sobject || ': field ' || field_name || ' ' || drift_kind
        || ' between schema versions ' || previous_schema_version || ' and ' || schema_version
        || coalesce(' (' || previous_field_type || ' -> ' || field_type || ')', '') as failure,
    *
from {{ ref('dq_salesforce_schema_drift') }}
where is_latest and drift_kind in ('removed', 'retyped')
