{{ config(materialized='view') }}

{#-
    Zendesk ticket events attributed to the repl and primary team at the instant of the event
    (materialized incrementally in int_ticket_events_attributed), with the team's current-org
    successor joined at query time: a merge restates every ticket without rewriting one.
-#}

with

attributed as (

    select * from {{ ref('int_ticket_events_attributed') }}

),

restated as (

    select * from {{ ref('int_teams_restated') }}

),

final as (

    select
        attributed.ticket_event_id,
        attributed.ticket_id,
        attributed.event_type,
        attributed.event_at,
        attributed.event_date,
        attributed.okta_user_id,
        attributed.repl_id,
        attributed.team_id,
        attributed.unresolved_reason,
        case
            when attributed.team_id is not null
                then coalesce(restated.team_id_restated, attributed.team_id)
        end as team_id_restated,
        attributed.status,
        attributed.priority,
        attributed.identity_linked_by_event_id,
        attributed.membership_opened_by_event_id,
        attributed.source_position,
        attributed.loaded_at
    from attributed
    left join restated on restated.team_id = attributed.team_id

)

select * from final
