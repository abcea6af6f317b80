{#-
    The ticket event ids an incremental run of fct_ticket_attribution (re)computes: events whose
    raw rows arrived since `since`, and events of touched Okta users at or after the instant their
    attribution may have changed.
-#}
{% macro ticket_events_to_attribute(since) -%}
    select fresh.ticket_event_id
    from {{ ref('stg_zendesk__ticket_events') }} as fresh
    where fresh._loaded_at > cast('{{ since }}' as timestamp)
      and fresh.is_valid

    union

    select ticket_events.ticket_event_id
    from {{ ref('stg_zendesk__ticket_events') }} as ticket_events
    inner join ({{ ticket_touched_okta_users(since) }}) as touched_users
        on touched_users.okta_user_id = ticket_events.okta_user_id
        and ticket_events.event_at >= touched_users.affected_from
    where ticket_events.is_valid
{%- endmacro %}
