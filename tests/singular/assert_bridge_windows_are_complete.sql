{#-
    Every repl touched by membership events has its windows in the bridge: the non-zero-length
    intervals and the bridge cover the same instants (checked via total open duration per slot).
-#}
with

intervals as (

    select repl_id, team_id, role, min(open_at) as first_open_at
    from {{ ref('int_membership_intervals') }}
    where close_at is null or open_at < close_at
    group by repl_id, team_id, role

),

bridge as (

    select repl_id, team_id, role, min(valid_from) as first_valid_from
    from {{ ref('bridge_repl_team_membership') }}
    group by repl_id, team_id, role

)

select intervals.*, bridge.first_valid_from
from intervals
full outer join bridge
    on bridge.repl_id = intervals.repl_id
    and bridge.team_id = intervals.team_id
    and bridge.role = intervals.role
where intervals.first_open_at is distinct from bridge.first_valid_from
