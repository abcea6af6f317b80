{#-
    The current-org view (semantics §5): every team mapped to its surviving successor under the
    current merges, followed transitively. Active, split or never-merged teams map to themselves,
    and so does every team whose chain of current merges runs into a cycle.
-#}

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

    select chain.team_id, current_merges.merged_into_team_id, chain.hops + 1
    from chain
    inner join current_merges on current_merges.team_id = chain.successor_team_id
    where chain.hops < 64

),

final as (

    select
        team_id,
        -- In a cycle no team survives: each keeps its own id (and the cycle is reported).
        case when hops >= 64 then team_id else successor_team_id end as team_id_restated,
        hops as merge_hops,
        -- 64 hops means the current merges form a cycle: reported by a data test.
        hops >= 64 as is_merge_cycle
    from chain
    qualify row_number() over (partition by team_id order by hops desc) = 1

)

select * from final
