{{
    config(
        materialized='incremental',
        incremental_strategy='restate',
        restate_key='team_id',
        restate_end_column='date_day',
        restate_scope="{{ headcount_affected_teams(incremental_watermark()) }}",
        post_hook="{{ set_incremental_watermark([ref('stg_admin_service__membership_events')]) }}",
    )
}}

-- depends_on: {{ ref('stg_admin_service__membership_events') }}
-- depends_on: {{ ref('int_membership_events_deduplicated') }}
-- depends_on: {{ ref('int_team_merge_closure') }}

{#-
    Reps per team at the end of every day of the team's life (semantics §8): a window counts on
    day D when valid_from < D + 1 day <= valid_to, i.e. on the days [date(valid_from),
    date(valid_to) - 1]. Counted as a running sum of +1/-1 deltas per team, so the cost is the
    number of windows plus the number of days, not their product.

    A team's life runs from the day of its first team event to the day it became inactive (the
    start of its final inactive stretch), or to headcount_through_date (default today) while it
    is active — never past headcount_through_date.

    Incremental (strategy `restate`): only the days from each affected team's affected_from on
    are recomputed (headcount_affected_teams).
-#}

{%- set since = incremental_watermark() %}

with

{% if since %}
affected_teams as (

    {{ headcount_affected_teams(since) }}

),

{% endif %}
team_versions as (

    select * from {{ ref('int_team_versions') }}

),

last_active as (

    select
        team_id,
        max(case when is_active then valid_from end) as last_active_from,
        {{ dbt.bool_or('is_current and is_active') }} as is_active_now
    from team_versions
    group by team_id

),

team_lives as (

    select
        team_versions.team_id,
        cast(min(team_versions.valid_from) as date) as first_day,
        case
            when last_active.is_active_now then {{ headcount_through_day() }}
            else least(
                -- the first version of the final inactive stretch: the day it became inactive
                cast(min(
                    case
                        when last_active.last_active_from is null
                            or team_versions.valid_from > last_active.last_active_from
                            then team_versions.valid_from
                    end
                ) as date),
                {{ headcount_through_day() }}
            )
        end as last_day
    from team_versions
    inner join last_active on last_active.team_id = team_versions.team_id
    group by team_versions.team_id, last_active.is_active_now

),

team_days as (

    select
        team_lives.team_id,
        calendar.date_day
    from team_lives
    inner join {{ ref('int_calendar_days') }} as calendar
        on calendar.date_day between team_lives.first_day and team_lives.last_day
    {% if since %}
    inner join affected_teams
        on affected_teams.team_id = team_lives.team_id
        and calendar.date_day >= affected_teams.affected_from
    {% endif %}

),

windows as (

    {% if since %}
    -- Only the days from affected_from are rebuilt: windows that ended by then cancel out, and
    -- one that began earlier counts from affected_from on.
    select
        memberships.team_id,
        memberships.role,
        case
            when cast(memberships.valid_from as date) < affected_teams.affected_from
                then affected_teams.affected_from
            else cast(memberships.valid_from as date)
        end as first_day,
        cast(memberships.valid_to as date) as end_day
    from {{ ref('int_membership_windows') }} as memberships
    inner join affected_teams on affected_teams.team_id = memberships.team_id
    where cast(memberships.valid_to as date) > affected_teams.affected_from
    {% else %}
    select
        memberships.team_id,
        memberships.role,
        cast(memberships.valid_from as date) as first_day,
        cast(memberships.valid_to as date) as end_day
    from {{ ref('int_membership_windows') }} as memberships
    {% endif %}

),

deltas as (

    select team_id, first_day as date_day, role, 1 as delta
    from windows
    where first_day < end_day

    union all

    select team_id, end_day as date_day, role, -1 as delta
    from windows
    where first_day < end_day

),

daily_deltas as (

    select
        team_id,
        date_day,
        sum(case when role = 'primary' then delta else 0 end) as primary_delta,
        sum(case when role = 'secondary' then delta else 0 end) as secondary_delta
    from deltas
    group by team_id, date_day

),

timeline as (

    select team_id, date_day, primary_delta, secondary_delta, 0 as is_output
    from daily_deltas

    union all

    select team_id, date_day, 0, 0, 1
    from team_days

),

running as (

    select
        team_id,
        date_day,
        is_output,
        {%- set running_total = 'partition by team_id order by date_day, is_output rows between unbounded preceding and current row' %}
        sum(primary_delta) over ({{ running_total }}) as primary_headcount,
        sum(secondary_delta) over ({{ running_total }}) as secondary_headcount
    from timeline

),

final as (

    select
        team_id,
        date_day,
        cast(primary_headcount as integer) as primary_headcount,
        cast(secondary_headcount as integer) as secondary_headcount
    from running
    where is_output = 1

)

select * from final
