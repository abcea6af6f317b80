{#-
    Repls whose membership history may change because raw rows were loaded after `since`, with
    the earliest instant from which it may change (`affected_from`). History before that instant
    is a function of events before it, which did not change, so a run recomputes each touched
    repl from `affected_from` on.

    - a membership event of the repl (every copy of a fresh event_id, old copies included: a
      conflicting copy can move an event between repls or instants) changes it from the event's
      effective instant;
    - a merge or split of team T at instant e closes the slots open in T at e: it changes, from
      e, everyone who ever had an ADDED in T or in a team merged into T (transitively — carried
      slots come from there). Everyone else is untouched by it. Names, parents and creations
      change no slot, and the current-org restatement is joined at query time (the marts are
      views over it), so they touch no history at all.

    A superset is always safe: recomputing more, or from earlier, gives the same rows.
-#}
{% macro membership_touched_repls(since) -%}
    select touched.repl_id, min(touched.affected_from) as affected_from
    from (
        select copies.repl_id, copies.effective_at as affected_from
        from {{ ref('stg_admin_service__membership_events') }} as copies
        where copies.is_valid
          and copies.event_type in ('MEMBERSHIP_ADDED', 'MEMBERSHIP_REMOVED')
          and copies.event_id in ({{ membership_fresh_event_ids(since) }})

        union all

        select members.repl_id, team_changes.effective_at as affected_from
        from (
            select copies.team_id, min(copies.effective_at) as effective_at
            from {{ ref('stg_admin_service__membership_events') }} as copies
            where copies.is_valid
              and copies.event_type in ('TEAM_MERGED', 'TEAM_SPLIT')
              and copies.event_id in ({{ membership_fresh_event_ids(since) }})
            group by copies.team_id
        ) as team_changes
        inner join {{ ref('int_team_merge_closure') }} as closure
            on closure.team_id = team_changes.team_id
        inner join {{ ref('int_membership_events_deduplicated') }} as members
            on members.team_id = closure.predecessor_team_id
            and members.event_type = 'MEMBERSHIP_ADDED'
    ) as touched
    group by touched.repl_id
{%- endmacro %}
