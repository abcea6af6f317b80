{#-
    Repls whose primary team was split and who were left without a primary team (semantics §3):
    no primary window of theirs covers any instant from the split to the end of the grace period
    (var split_reassignment_grace_hours) — the reassignment ADDED is missing or came too late.
-#}

with

split_closes as (

    select distinct repl_id, team_id, close_event_id as split_event_id, close_at as split_at
    from {{ ref('int_membership_intervals') }}
    -- a window closed by the split (a slot opened and closed at that instant had none)
    where close_reason = 'split' and role = 'primary' and open_at < close_at

),

primary_windows as (

    select * from {{ ref('int_membership_windows') }}
    where role = 'primary'

),

next_primary as (

    select
        split_closes.repl_id,
        split_closes.split_event_id,
        min(primary_windows.valid_from) as next_primary_from
    from split_closes
    left join primary_windows
        on primary_windows.repl_id = split_closes.repl_id
        and primary_windows.valid_from > split_closes.split_at
    group by split_closes.repl_id, split_closes.split_event_id

),

final as (

    select
        split_closes.repl_id,
        split_closes.team_id as split_team_id,
        split_closes.split_event_id,
        split_closes.split_at,
        next_primary.next_primary_from
    from split_closes
    left join primary_windows as covering
        on covering.repl_id = split_closes.repl_id
        and covering.valid_from <= {{ dbt.dateadd(
            'hour', var('split_reassignment_grace_hours'), 'split_closes.split_at'
        ) }}
        and split_closes.split_at < covering.valid_to
    left join next_primary
        on next_primary.repl_id = split_closes.repl_id
        and next_primary.split_event_id = split_closes.split_event_id
    where covering.repl_id is null

)

select * from final
