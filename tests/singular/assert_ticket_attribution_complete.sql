{#-
    Every valid ticket event has exactly one attribution row (none lost or doubled by incremental
    restatement), and no other ticket event has one.
-#}
with

valid_events as (

    select distinct ticket_event_id
    from {{ ref('stg_zendesk__ticket_events') }}
    where is_valid

),

attribution_rows as (

    select ticket_event_id, count(*) as attribution_rows
    from {{ ref('fct_ticket_attribution') }}
    group by ticket_event_id

),

final as (

    select
        coalesce(valid_events.ticket_event_id, attribution_rows.ticket_event_id)
            as ticket_event_id,
        valid_events.ticket_event_id is not null as is_valid_event,
        coalesce(attribution_rows.attribution_rows, 0) as attribution_rows
    from valid_events
    full outer join attribution_rows
        on attribution_rows.ticket_event_id = valid_events.ticket_event_id

)

select * from final
where not is_valid_event or attribution_rows <> 1
