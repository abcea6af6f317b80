{#- Ticket events that could not be attributed to a repl or team, grouped by Okta user and reason. -#}

select
    unresolved_reason,
    okta_user_id,
    count(*) as ticket_events,
    min(event_at) as first_event_at,
    max(event_at) as last_event_at
from {{ ref('fct_ticket_attribution') }}
where unresolved_reason is not null
group by unresolved_reason, okta_user_id
