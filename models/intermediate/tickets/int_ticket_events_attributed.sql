{{
    config(
        materialized='incremental',
        incremental_strategy='append',
        pre_hook="{{ delete_touched_keys('ticket_event_id', 'select ticket_event_id as key_value from (' ~ ticket_events_to_attribute(incremental_watermark('stg_admin_service__membership_events'), incremental_watermark('stg_zendesk__ticket_events')) ~ ') as t') }}",
        post_hook="{{ set_incremental_watermark([ref('stg_admin_service__membership_events'), ref('stg_zendesk__ticket_events')]) }}",
    )
}}

-- depends_on: {{ ref('stg_admin_service__membership_events') }}
-- depends_on: {{ ref('int_membership_events_deduplicated') }}
-- depends_on: {{ ref('int_team_merge_closure') }}

{#-
    One row per Zendesk ticket event, attributed to the repl and the primary team at the instant
    of the event (semantics §8): Okta user → repl through the identity window valid then, repl →
    team through the primary membership window valid then. Unresolvable rows stay, with a reason.
    Everything in a row depends only on history up to the event's instant, so restating from the
    instant history changed is exact. fct_ticket_attribution adds the current-org restatement.

    Incremental: new ticket events, plus restatement of the events of every Okta user whose
    identity or membership history changed, from the instant it changed.
-#}

{%- set since = incremental_watermark('stg_admin_service__membership_events') %}
{%- set tickets_since = incremental_watermark('stg_zendesk__ticket_events') %}

with

ticket_events as (

    select ticket_events.*
    from {{ ref('stg_zendesk__ticket_events') }} as ticket_events
    {% if since %}
    inner join ({{ ticket_events_to_attribute(since, tickets_since) }}) as scope
        on scope.ticket_event_id = ticket_events.ticket_event_id
    {% endif %}
    where ticket_events.is_valid
    qualify row_number() over (
        partition by ticket_events.ticket_event_id
        order by ticket_events._loaded_at, ticket_events.source_position
    ) = 1

),

identities as (

    select * from {{ ref('int_identity_windows') }}

),

primary_memberships as (

    select * from {{ ref('int_membership_windows') }}
    where role = 'primary'

),

attributed as (

    select
        ticket_events.ticket_event_id,
        ticket_events.ticket_id,
        ticket_events.event_type,
        ticket_events.event_at,
        ticket_events.okta_user_id,
        identities.repl_id,
        primary_memberships.team_id,
        case
            when ticket_events.okta_user_id is null then 'no_assignee'
            when identities.repl_id is null then 'unknown_okta_user'
            when primary_memberships.team_id is null then 'no_primary_team'
        end as unresolved_reason,
        ticket_events.status,
        ticket_events.priority,
        identities.linked_by_event_id as identity_linked_by_event_id,
        primary_memberships.opened_by_event_id as membership_opened_by_event_id,
        ticket_events.source_position,
        ticket_events._loaded_at
    from ticket_events
    left join identities
        on identities.okta_user_id = ticket_events.okta_user_id
        and identities.valid_from <= ticket_events.event_at
        and ticket_events.event_at < identities.valid_to
    left join primary_memberships
        on primary_memberships.repl_id = identities.repl_id
        and primary_memberships.valid_from <= ticket_events.event_at
        and ticket_events.event_at < primary_memberships.valid_to

),

final as (

    select
        ticket_event_id,
        ticket_id,
        event_type,
        event_at,
        cast(event_at as date) as event_date,
        okta_user_id,
        repl_id,
        team_id,
        unresolved_reason,
        status,
        priority,
        identity_linked_by_event_id,
        membership_opened_by_event_id,
        source_position,
        _loaded_at as loaded_at
    from attributed

)

select * from final
