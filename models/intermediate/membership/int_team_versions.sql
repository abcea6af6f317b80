{#-
    Team attributes over valid time (semantics §6): one version per instant at which the team's
    state changed, consecutive identical states collapsed.
-#}

with

team_events as (

    select *
    from {{ ref('int_membership_events_deduplicated') }}
    where event_type in (
        'TEAM_CREATED', 'TEAM_RENAMED', 'TEAM_PARENT_CHANGED', 'TEAM_MERGED', 'TEAM_SPLIT'
    )

),

carried as (

    -- Each attribute carries forward from the last event that set it. Markers stand in for
    -- "set to null" (a team can become a root, a re-created team is no longer merged).
    {%- set running = 'partition by team_id order by order_key rows between unbounded preceding and current row' %}
    select
        team_id,
        event_id,
        effective_at,
        order_key,
        _loaded_at,
        {{ last_value_ignore_nulls(
            "case when event_type in ('TEAM_CREATED', 'TEAM_RENAMED') then team_name end", running
        ) }} as team_name,
        {{ last_value_ignore_nulls(
            "case when event_type in ('TEAM_CREATED', 'TEAM_PARENT_CHANGED') then coalesce(parent_team_id, '~root') end",
            running
        ) }} as parent_marker,
        {{ last_value_ignore_nulls(
            "case when event_type = 'TEAM_CREATED' then 'active' when event_type in ('TEAM_MERGED', 'TEAM_SPLIT') then 'inactive' end",
            running
        ) }} as activity_marker,
        {{ last_value_ignore_nulls(
            "case when event_type = 'TEAM_MERGED' then merged_into_team_id when event_type in ('TEAM_CREATED', 'TEAM_SPLIT') then '~none' end",
            running
        ) }} as merged_marker,
        row_number() over (partition by team_id, effective_at order by order_key desc)
            as reverse_rank_in_instant
    from team_events

),

states as (

    -- The state after the last event of each instant.
    select
        team_id,
        effective_at as valid_from,
        event_id as changed_by_event_id,
        _loaded_at as recorded_at,
        team_name,
        nullif(parent_marker, '~root') as parent_team_id,
        coalesce(activity_marker = 'active', false) as is_active,
        nullif(merged_marker, '~none') as merged_into_team_id
    from carried
    where reverse_rank_in_instant = 1

),

changes as (

    select
        *,
        lag(
            coalesce(team_name, '~') || '|' || coalesce(parent_team_id, '~') || '|'
            || cast(is_active as varchar) || '|' || coalesce(merged_into_team_id, '~')
        ) over (partition by team_id order by valid_from) as previous_state,
        coalesce(team_name, '~') || '|' || coalesce(parent_team_id, '~') || '|'
        || cast(is_active as varchar) || '|' || coalesce(merged_into_team_id, '~') as this_state
    from states

),

versions as (

    select * from changes
    where previous_state is null or previous_state <> this_state

),

final as (

    select
        team_id,
        team_name,
        parent_team_id,
        is_active,
        merged_into_team_id,
        valid_from,
        coalesce(
            lead(valid_from) over (partition by team_id order by valid_from), {{ open_valid_to() }}
        ) as valid_to,
        lead(valid_from) over (partition by team_id order by valid_from) is null as is_current,
        changed_by_event_id,
        recorded_at
    from versions

)

select * from final
