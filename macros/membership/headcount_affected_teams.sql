{#-
    (team_id, affected_from) pairs an incremental run of fct_team_daily_headcount recomputes, as
    dates:
    - every team a touched repl has or had a window in — teams of its ADDED events (every copy
      ever loaded: a conflicting copy can move an event, and its window, to another team) and,
      through merges, their successors — from the repl's first affected day;
    - every team with a new team event (any copy of its event_id), from the start: any team event
      can move the first or last day of the team's life; and the survivors of a new merge (any
      copy), from the merge day;
    - every team from the day after the last day it has (days pass; a team with none from the
      start).
    Reads the model's own rows: call it before they are replaced (strategy `restate`).
-#}
{% macro headcount_affected_teams(since) -%}
    select affected.team_id, min(affected.affected_from) as affected_from
    from (
        select closure.team_id, cast(touched_repls.affected_from as date) as affected_from
        from ({{ membership_touched_repls(since) }}) as touched_repls
        inner join {{ ref('stg_admin_service__membership_events') }} as adds
            on adds.repl_id = touched_repls.repl_id
            and adds.is_valid
            and adds.event_type = 'MEMBERSHIP_ADDED'
        inner join {{ ref('int_team_merge_closure') }} as closure
            on closure.predecessor_team_id = adds.team_id

        union all

        select copies.team_id, cast('1900-01-01' as date) as affected_from
        from {{ ref('stg_admin_service__membership_events') }} as copies
        where copies.is_valid
          and copies.event_key like 'team:%'
          and copies.event_id in ({{ membership_fresh_event_ids(since) }})

        union all

        -- A merge carries memberships into its survivor (and on, through later merges) from the
        -- merge day; a copy that no longer wins may have carried them somewhere else.
        select closure.team_id, cast(copies.effective_at as date) as affected_from
        from {{ ref('stg_admin_service__membership_events') }} as copies
        inner join {{ ref('int_team_merge_closure') }} as closure
            on closure.predecessor_team_id = copies.merged_into_team_id
        where copies.is_valid
          and copies.event_type = 'TEAM_MERGED'
          and copies.event_id in ({{ membership_fresh_event_ids(since) }})

        union all

        -- (and nothing past headcount_through_date stays, should it move back)
        select teams.team_id, least(
            coalesce(
                cast({{ dbt.dateadd('day', 1, 'built.last_day') }} as date),
                cast('1900-01-01' as date)
            ),
            cast({{ dbt.dateadd('day', 1, headcount_through_day()) }} as date)
        ) as affected_from
        from (select distinct team_id from {{ ref('int_team_versions') }}) as teams
        left join (
            select team_id, max(date_day) as last_day from {{ this }} group by team_id
        ) as built on built.team_id = teams.team_id
    ) as affected
    group by affected.team_id
{%- endmacro %}
