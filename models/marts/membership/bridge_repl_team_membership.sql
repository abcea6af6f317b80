{{ config(materialized='view') }}

{#-
    repl ↔ team membership in valid time (semantics §2–§5), with each team's current-org
    successor. The windows are materialized incrementally in int_membership_windows; the
    restatement is joined here, at query time, so a merge today restates all of history without
    rewriting a row of it.
-#}

with

windows as (

    select * from {{ ref('int_membership_windows') }}

),

restated as (

    select * from {{ ref('int_teams_restated') }}

),

final as (

    select
        windows.repl_id,
        windows.team_id,
        windows.role,
        windows.valid_from,
        windows.valid_to,
        windows.is_current,
        coalesce(restated.team_id_restated, windows.team_id) as team_id_restated,
        windows.opened_by_event_id,
        windows.closed_by_event_id,
        windows.close_reason,
        windows.recorded_at
    from windows
    left join restated on restated.team_id = windows.team_id

)

select * from final
