{{ config(severity='warn') }}
-- A field added in Salesforce flows into the models by itself; the warning says it happened.
select
    sobject || ': field ' || field_name || ' added in schema version ' || schema_version as failure,
    *
from {{ ref('dq_salesforce_schema_drift') }}
where is_latest and drift_kind = 'added'
