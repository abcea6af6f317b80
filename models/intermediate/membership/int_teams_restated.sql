{#-
    The current-org view (semantics §5): every team mapped to its surviving successor under the
    current merges, followed transitively. Active, split or never-merged teams map to themselves,
    and so does every team whose chain of current merges runs into a cycle.

    Chains are followed for at most var membership_max_merge_depth merges, the limit every merge
    chain in the project shares. A chain that revisits a team is a cycle (reported by
    assert_no_merge_cycles); one that is still going after the limit without a revisit would be
    cut short, so it is marked needs_deeper_merge_chain and assert_membership_merge_depth_sufficient
    fails.
-#}

{%- set max_depth = var('membership_max_merge_depth') | int %}

with recursive

current_merges as (

    select team_id, merged_into_team_id
    from {{ ref('int_team_versions') }}
    where is_current and merged_into_team_id is not null

),

teams as (

    select team_id from {{ ref('int_team_merge_closure') }}
    group by team_id

),

chain (team_id, successor_team_id, hops) as (

    select team_id, team_id, 0 from teams

    union all

    -- One hop past the limit, to tell a chain that ends within it from one that does not.
    select chain.team_id, current_merges.merged_into_team_id, chain.hops + 1
    from chain
    inner join current_merges on current_merges.team_id = chain.successor_team_id
    where chain.hops <= {{ max_depth }}

),

cycles as (

    -- A successor seen twice on a team's chain: the chain runs into a cycle.
    select distinct later.team_id
    from chain as later
    inner join chain as earlier
        on earlier.team_id = later.team_id
        and earlier.successor_team_id = later.successor_team_id
        and earlier.hops < later.hops

),

chain_ends as (

    select team_id, successor_team_id, hops
    from chain
    qualify row_number() over (partition by team_id order by hops desc) = 1

),

final as (

    select
        chain_ends.team_id,
        -- In a cycle no team survives: each keeps its own id (and the cycle is reported).
        case
            when cycles.team_id is not null then chain_ends.team_id
            else chain_ends.successor_team_id
        end as team_id_restated,
        chain_ends.hops as merge_hops,
        cycles.team_id is not null as is_merge_cycle,
        cycles.team_id is null and chain_ends.hops > {{ max_depth }} as needs_deeper_merge_chain
    from chain_ends
    left join cycles on cycles.team_id = chain_ends.team_id

)

select * from final
