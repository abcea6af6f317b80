{#-
    (team_id, from_date) pairs an incremental run of fct_team_daily_headcount recomputes:
    - every team a touched repl has or had a window in — teams of its ADDED events (every copy
      ever loaded: a conflicting copy can move an event, and its window, to another team) and,
      through merges, their successors — from the repl's first affected day;
    - every team with a new team event (any copy of its event_id), from the start: any team event
      can move the first or last day of the team's life (a backdated rename is its first
      version; a rename after a merge moves the day it is last seen);
    - every team from the day after the last day already built (days pass).
-#}
{% macro headcount_affected_teams(since) -%}
    select affected.team_id, min(affected.from_date) as from_date
    from (
        select closure.team_id, cast(touched_repls.affected_from as date) as from_date
        from ({{ membership_touched_repls(since) }}) as touched_repls
        inner join {{ ref('stg_admin_service__membership_events') }} as adds
            on adds.repl_id = touched_repls.repl_id
            and adds.is_valid
            and adds.event_type = 'MEMBERSHIP_ADDED'
        inner join {{ ref('int_team_merge_closure') }} as closure
            on closure.predecessor_team_id = adds.team_id

        union all

        select copies.team_id, cast('1900-01-01' as date) as from_date
        from {{ ref('stg_admin_service__membership_events') }} as copies
        where copies.is_valid
          and copies.event_key like 'team:%'
          and copies.event_id in (
              select fresh.event_id
              from {{ ref('stg_admin_service__membership_events') }} as fresh
              where fresh._loaded_at > cast('{{ since }}' as timestamp)
                and fresh.is_valid
          )

        union all

        {%- set last_built_day = headcount_last_built_day() %}
        {%- if last_built_day %}
        select teams.team_id, cast({{ dbt.dateadd('day', 1, "cast('" ~ last_built_day ~ "' as date)") }} as date) as from_date
        from (select distinct team_id from {{ ref('int_team_versions') }}) as teams
        {%- else %}
        select team_id, cast('1900-01-01' as date) as from_date
        from {{ ref('int_team_versions') }}
        {%- endif %}
    ) as affected
    where affected.from_date is not null
    group by affected.team_id
{%- endmacro %}
