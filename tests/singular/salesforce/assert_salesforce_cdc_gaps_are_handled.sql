{{ config(severity='warn') }}
-- Every CDC gap the stream reported is handled (its records re-fetched, or the object re-synced)
-- within var salesforce_cdc_gap_grace_minutes (default 60) of being loaded.
select *
from {{ ref('dq_salesforce_cdc_gaps') }}
where not handled
    and minutes_unhandled > {{ var('salesforce_cdc_gap_grace_minutes', 60) }}
