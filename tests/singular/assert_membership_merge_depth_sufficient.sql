{#-
    Merge chains are followed for at most var membership_max_merge_depth merges: a membership
    carried through more merges, or a current-org restatement whose chain of current merges is
    longer (and no cycle), would be cut short. History would be wrong, so this is an error.
    Raise the var if it ever fires (int_team_merge_closure and assert_team_merge_closure_is_closed
    follow it too).
-#}
with

carries as (

    select
        'membership carry' as merge_chain,
        team_id,
        repl_id,
        role,
        open_event_id,
        carry_depth as merges_followed
    from {{ ref('int_membership_intervals') }}
    where needs_deeper_carry

),

restatements as (

    select
        'current-org restatement' as merge_chain,
        team_id,
        cast(null as {{ dbt.type_string() }}) as repl_id,
        cast(null as {{ dbt.type_string() }}) as role,
        cast(null as {{ dbt.type_string() }}) as open_event_id,
        merge_hops as merges_followed
    from {{ ref('int_teams_restated') }}
    where needs_deeper_merge_chain

),

final as (

    select * from carries
    union all
    select * from restatements

)

select * from final
