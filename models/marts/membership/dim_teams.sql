{#-
    Teams over valid time (SCD2), with the current-org successor of each team. A version's
    changed_by_loaded_at is the load time of the one event that produced it — not a transaction
    time like the bridge's recorded_at: an earlier event that shaped the version (the CREATED that
    named the team) may have been loaded later.
-#}

with

versions as (

    select * from {{ ref('int_team_versions') }}

),

restated as (

    select * from {{ ref('int_teams_restated') }}

),

final as (

    select
        versions.team_id,
        versions.team_name,
        versions.parent_team_id,
        versions.is_active,
        versions.merged_into_team_id,
        coalesce(restated.team_id_restated, versions.team_id) as team_id_restated,
        versions.valid_from,
        versions.valid_to,
        versions.is_current,
        versions.changed_by_event_id,
        versions.recorded_at as changed_by_loaded_at
    from versions
    left join restated on restated.team_id = versions.team_id

)

select * from final
