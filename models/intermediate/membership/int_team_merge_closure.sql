{#-
    Every team paired with every team that was merged into it, directly or through a chain
    (a → b → c gives (c, b), (c, a), (b, a)), plus itself. Used to find whose history a merge or
    split touches. Time is ignored on purpose: a superset only costs a little recomputation.
-#}

with recursive

events as (

    select * from {{ ref('int_membership_events_deduplicated') }}

),

teams as (

    select distinct team_id from events where team_id is not null
    union
    select distinct merged_into_team_id from events where merged_into_team_id is not null

),

merge_edges as (

    select distinct team_id as absorbed_team_id, merged_into_team_id as surviving_team_id
    from events
    where event_type = 'TEAM_MERGED'

),

closure (team_id, predecessor_team_id, depth) as (

    select team_id, team_id, 0 from teams

    union all

    select closure.team_id, merge_edges.absorbed_team_id, closure.depth + 1
    from closure
    inner join merge_edges on merge_edges.surviving_team_id = closure.predecessor_team_id
    -- Cycles (a → b, later b → a) are legal history; the bound stops the walk.
    where closure.depth < 64

),

final as (

    select team_id, predecessor_team_id, min(depth) as merge_depth
    from closure
    group by team_id, predecessor_team_id

)

select * from final
