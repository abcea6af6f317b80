{#-
    int_team_merge_closure covers merge chains up to var membership_max_merge_depth (at least).
    One more merge step must add no pair; if it does, history has a longer chain than the model
    unrolls: raise the var.
-#}
select closure.team_id, merges.team_id as predecessor_team_id
from {{ ref('int_team_merge_closure') }} as closure
inner join {{ ref('int_membership_events_deduplicated') }} as merges
    on merges.merged_into_team_id = closure.predecessor_team_id
    and merges.event_type = 'TEAM_MERGED'
left join {{ ref('int_team_merge_closure') }} as known
    on known.team_id = closure.team_id
    and known.predecessor_team_id = merges.team_id
where known.team_id is null
