{#-
    Every repl touched by membership events has its windows in the bridge: per (repl, team, role)
    slot, the non-zero-length intervals and the bridge windows cover the same instants, so their
    total open durations are equal. Intervals of a slot may overlap (a no-op ADDED, a carry into a
    slot already open) and the bridge merges them, so both sides are measured as a union: one
    sweep over the boundaries of both, counting the time covered by either side and the time
    covered by one side only (which must be zero). An open interval and an open window both end
    at the open marker, open_valid_to().
-#}
with

intervals as (

    select
        repl_id,
        team_id,
        role,
        open_at,
        coalesce(close_at, {{ open_valid_to() }}) as close_at
    from {{ ref('int_membership_intervals') }}
    where close_at is null or open_at < close_at

),

bridge as (

    select repl_id, team_id, role, valid_from, valid_to
    from {{ ref('bridge_repl_team_membership') }}

),

boundaries as (

    select repl_id, team_id, role, open_at as instant, 1 as interval_delta, 0 as window_delta
    from intervals
    union all
    select repl_id, team_id, role, close_at, -1, 0
    from intervals
    union all
    select repl_id, team_id, role, valid_from, 0, 1
    from bridge
    union all
    select repl_id, team_id, role, valid_to, 0, -1
    from bridge

),

instants as (

    select
        repl_id,
        team_id,
        role,
        instant,
        sum(interval_delta) as interval_delta,
        sum(window_delta) as window_delta
    from boundaries
    group by repl_id, team_id, role, instant

),

segments as (

    -- From each boundary to the next: how many intervals and windows are open over it.
    {%- set slot_so_far = 'partition by repl_id, team_id, role order by instant rows between unbounded preceding and current row' %}
    select
        repl_id,
        team_id,
        role,
        instant,
        lead(instant) over (partition by repl_id, team_id, role order by instant) as next_instant,
        sum(interval_delta) over ({{ slot_so_far }}) as open_intervals,
        sum(window_delta) over ({{ slot_so_far }}) as open_windows
    from instants

),

durations as (

    select
        repl_id,
        team_id,
        role,
        open_intervals,
        open_windows,
        {{ dbt.datediff('instant', 'next_instant', 'microsecond') }} as duration
    from segments
    where next_instant is not null

),

final as (

    select
        repl_id,
        team_id,
        role,
        sum(case when open_intervals > 0 then duration else 0 end) as interval_open_duration,
        sum(case when open_windows > 0 then duration else 0 end) as bridge_open_duration,
        sum(
            case when (open_intervals > 0) <> (open_windows > 0) then duration else 0 end
        ) as one_side_only_duration
    from durations
    group by repl_id, team_id, role

)

select * from final
where interval_open_duration <> bridge_open_duration or one_side_only_duration <> 0
