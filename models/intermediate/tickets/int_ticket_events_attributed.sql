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
    where ticket_events.is_valid
    {% if since %}
        and ticket_events.ticket_event_id in ({{ small_key_set(ticket_events_to_attribute(since, tickets_since)) }})
    {% endif %}
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
    {% if since %}
        -- An incremental run attributes few events: the windows of their repls only (the ASOF
        -- join sorts its whole right side).
        and repl_id in (
            select identities.repl_id
            from identities
            where identities.okta_user_id in (select okta_user_id from ticket_events)
        )
    {% endif %}

),

identified as (

    -- Okta user → repl through the identity window valid at the event's instant: the latest
    -- window that started at or before it, if it has not ended.
    select
        ticket_events.*,
        case when ticket_events.event_at < identities.valid_to then identities.repl_id end
            as repl_id,
        case when ticket_events.event_at < identities.valid_to then identities.linked_by_event_id end
            as identity_linked_by_event_id
    from ticket_events
    {{ asof_left_join(
        'identities', 'identities',
        'identities.okta_user_id = ticket_events.okta_user_id',
        'ticket_events.event_at', 'identities.valid_from',
    ) }}

),

attributed as (

    -- repl → primary team through the primary window valid then (one per repl at a time).
    select
        identified.ticket_event_id,
        identified.ticket_id,
        identified.event_type,
        identified.event_at,
        identified.okta_user_id,
        identified.repl_id,
        case when identified.event_at < primary_memberships.valid_to then primary_memberships.team_id end
            as team_id,
        case
            when identified.okta_user_id is null then 'no_assignee'
            when identified.repl_id is null then 'unknown_okta_user'
            when identified.event_at >= primary_memberships.valid_to
                or primary_memberships.team_id is null
                then 'no_primary_team'
        end as unresolved_reason,
        identified.status,
        identified.priority,
        identified.identity_linked_by_event_id,
        case when identified.event_at < primary_memberships.valid_to then primary_memberships.opened_by_event_id end
            as membership_opened_by_event_id,
        identified.source_position,
        identified._loaded_at
    from identified
    {{ asof_left_join(
        'primary_memberships', 'primary_memberships',
        'primary_memberships.repl_id = identified.repl_id',
        'identified.event_at', 'primary_memberships.valid_from',
    ) }}

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
