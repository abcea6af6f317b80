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

    -- Each attribute carries forward from the last event that set it. A set value is carried as
    -- '=' || value and "set to null" as '-' (a team can become a root, a re-created team is no
    -- longer merged), so no team id can be mistaken for the marker.
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
            "case when event_type in ('TEAM_CREATED', 'TEAM_PARENT_CHANGED') then coalesce('=' || parent_team_id, '-') end",
            running
        ) }} as parent_marker,
        {{ last_value_ignore_nulls(
            "case when event_type = 'TEAM_CREATED' then 'active' when event_type in ('TEAM_MERGED', 'TEAM_SPLIT') then 'inactive' end",
            running
        ) }} as activity_marker,
        {{ last_value_ignore_nulls(
            "case when event_type = 'TEAM_MERGED' then '=' || merged_into_team_id when event_type in ('TEAM_CREATED', 'TEAM_SPLIT') then '-' end",
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
        case when parent_marker <> '-' then substr(parent_marker, 2) end as parent_team_id,
        coalesce(activity_marker = 'active', false) as is_active,
        case when merged_marker <> '-' then substr(merged_marker, 2) end as merged_into_team_id
    from carried
    where reverse_rank_in_instant = 1

),

changes as (

    {%- set previous = 'over (partition by team_id order by valid_from)' %}
    select
        *,
        row_number() {{ previous }} = 1
        or team_name is distinct from lag(team_name) {{ previous }}
        or parent_team_id is distinct from lag(parent_team_id) {{ previous }}
        or is_active is distinct from lag(is_active) {{ previous }}
        or merged_into_team_id is distinct from lag(merged_into_team_id) {{ previous }}
            as is_change
    from states

),

versions as (

    select * from changes
    where is_change

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
