{#- One row per data-quality measure: what the demo and the on-call dashboards print. -#}

with

measures as (

    select 'raw_messages_quarantined' as measure, count(*) as value
    from {{ ref('dq_quarantined_messages') }}
    union all
    select 'events_rejected_' || source_system, count(*)
    from {{ ref('dq_rejected_events') }}
    group by source_system
    union all
    select 'membership_event_copies_loaded', count(*)
    from {{ ref('stg_admin_service__membership_events') }}
    where is_valid
    union all
    select 'membership_events_after_dedup', count(*)
    from {{ ref('int_membership_events_deduplicated') }}
    union all
    select 'membership_orphan_removals', count(*)
    from {{ ref('dq_membership_orphan_removals') }}
    union all
    select 'membership_events_beyond_late_window', count(*)
    from {{ ref('dq_late_membership_events') }}
    union all
    select 'repls_without_primary_after_split', count(*)
    from {{ ref('dq_repls_without_primary_after_split') }}
    union all
    select 'ticket_events_unresolved_' || unresolved_reason, sum(ticket_events)
    from {{ ref('dq_unresolved_ticket_attributions') }}
    group by unresolved_reason
    union all
    select 'salesforce_objects_not_reconciled', count(*)
    from {{ ref('dq_salesforce_reconciliation') }}
    where not is_reconciled
    union all
    select 'salesforce_orphan_opportunities', count(*)
    from {{ ref('dq_salesforce_orphan_opportunities') }}
    union all
    select 'salesforce_cdc_gaps_unhandled', count(*)
    from {{ ref('dq_salesforce_cdc_gaps') }}
    where not handled
    union all
    select 'opportunities_unresolved_' || replace(unresolved_reason, ' ', '_'), count(*)
    from {{ ref('fct_opportunity_attribution') }}
    where unresolved_reason is not null
    group by unresolved_reason

)

select measure, cast(value as bigint) as value from measures
