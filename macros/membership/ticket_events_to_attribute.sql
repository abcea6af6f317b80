{#-
    The ticket event ids an incremental run of fct_ticket_attribution (re)computes: events whose
    raw rows arrived since `tickets_since`, and events of Okta users touched by Admin Service
    events loaded since `admin_since`, at or after the instant their attribution may have changed.
-#}
{% macro ticket_events_to_attribute(admin_since, tickets_since) -%}
    select fresh.ticket_event_id
    from {{ ref('stg_zendesk__ticket_events') }} as fresh
    where fresh._loaded_at > cast('{{ tickets_since }}' as timestamp)
      and fresh.is_valid

    union

    select ticket_events.ticket_event_id
    from {{ ref('stg_zendesk__ticket_events') }} as ticket_events
    inner join ({{ ticket_touched_okta_users(admin_since) }}) as touched_users
        on touched_users.okta_user_id = ticket_events.okta_user_id
        and ticket_events.event_at >= touched_users.affected_from
    where ticket_events.is_valid
{%- endmacro %}
