{#-
    Repls whose membership history may change because raw rows were loaded after `since`, with
    the earliest instant from which it may change (`affected_from`). A repl's history is always
    recomputed whole; affected_from lets downstream facts restate only the instants after it.

    - membership events of the repl (any copy of a fresh event_id) change it from their
      effective instant;
    - a team event (created, merged, split) of team T changes everyone who ever had a direct
      ADDED in T or in a team merged into T (transitively): their windows may be closed or carried,
      and their current-org restatement (team_id_restated) may change for all of history, so
      affected_from is the beginning of time.
-#}
{% macro membership_touched_repls(since) -%}
    select touched.repl_id, min(touched.affected_from) as affected_from
    from (
        select copies.repl_id, copies.effective_at as affected_from
        from {{ ref('stg_admin_service__membership_events') }} as copies
        where copies.is_valid
          and copies.event_type in ('MEMBERSHIP_ADDED', 'MEMBERSHIP_REMOVED')
          and copies.event_id in (
              select fresh.event_id
              from {{ ref('stg_admin_service__membership_events') }} as fresh
              where fresh._loaded_at > cast('{{ since }}' as timestamp)
                and fresh.is_valid
          )

        union all

        select members.repl_id, cast('1900-01-01' as timestamp) as affected_from
        from {{ ref('int_membership_events_deduplicated') }} as members
        inner join {{ ref('int_team_merge_closure') }} as closure
            on closure.predecessor_team_id = members.team_id
        where members.event_type = 'MEMBERSHIP_ADDED'
          and closure.team_id in (
              select fresh.team_id
              from {{ ref('stg_admin_service__membership_events') }} as fresh
              where fresh._loaded_at > cast('{{ since }}' as timestamp)
                and fresh.is_valid
                and fresh.event_type in ('TEAM_CREATED', 'TEAM_MERGED', 'TEAM_SPLIT')
          )
    ) as touched
    group by touched.repl_id
{%- endmacro %}
