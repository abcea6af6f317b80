{#- Every valid ticket event has exactly one attribution row (none lost by incremental restatement). -#}
with

valid_events as (

    select distinct ticket_event_id
    from {{ ref('stg_zendesk__ticket_events') }}
    where is_valid

)

select valid_events.ticket_event_id
from valid_events
left join {{ ref('fct_ticket_attribution') }} as attributed
    on attributed.ticket_event_id = valid_events.ticket_event_id
where attributed.ticket_event_id is null
