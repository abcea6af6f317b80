{#- MEMBERSHIP_REMOVED events that found nothing open to close (semantics §3): no effect, listed here. -#}

with

removals as (

    select *
    from {{ ref('int_membership_events_deduplicated') }}
    where event_type = 'MEMBERSHIP_REMOVED'

),

effective_closes as (

    select distinct close_event_id
    from {{ ref('int_membership_intervals') }}
    where close_reason = 'removed'

),

final as (

    select
        removals.event_id,
        removals.repl_id,
        removals.team_id,
        removals.role,
        removals.effective_at,
        removals.emitted_at,
        removals._loaded_at
    from removals
    left join effective_closes on effective_closes.close_event_id = removals.event_id
    where effective_closes.close_event_id is null

)

select * from final
