{#-
    A membership carried through more merges than var membership_max_merge_depth would be cut
    short: history would be wrong, so this is an error. Raise the var if it ever fires.
-#}
select repl_id, team_id, role, open_event_id, carry_depth
from {{ ref('int_membership_intervals') }}
where needs_deeper_carry
