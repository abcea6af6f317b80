{{
    config(
        materialized='incremental',
        incremental_strategy='append',
        pre_hook="{{ delete_touched_keys('team_id', 'select team_id as key_value from (' ~ headcount_affected_teams(incremental_watermark()) ~ ') as t', 'date_day >= (select a.from_date from (' ~ headcount_affected_teams(incremental_watermark()) ~ ') as a where a.team_id = ' ~ this ~ '.team_id)') }}",
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

    Incremental: only the affected days of the affected teams are recomputed.
-#}

{%- set since = incremental_watermark() %}
{%- set through = var('headcount_through_date', none) %}

with

{% if since %}
affected_teams as (

    {{ headcount_affected_teams(since) }}

),

{% endif %}
team_versions as (

    select * from {{ ref('int_team_versions') }}

),

team_lives as (

    select
        team_id,
        cast(min(valid_from) as date) as first_day,
        coalesce(
            cast(max(case when is_current and not is_active then valid_from end) as date),
            {% if through %}cast('{{ through }}' as date){% else %}current_date{% endif %}
        ) as last_day
    from team_versions
    group by team_id

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
        and calendar.date_day >= affected_teams.from_date
    {% endif %}

),

windows as (

    {% if since %}
    -- Only the days from from_date are rebuilt: windows that ended by then cancel out, and one
    -- that began earlier counts from from_date on.
    select
        memberships.team_id,
        memberships.role,
        case
            when cast(memberships.valid_from as date) < affected_teams.from_date
                then affected_teams.from_date
            else cast(memberships.valid_from as date)
        end as first_day,
        cast(memberships.valid_to as date) as end_day
    from {{ ref('int_membership_windows') }} as memberships
    inner join affected_teams on affected_teams.team_id = memberships.team_id
    where cast(memberships.valid_to as date) > affected_teams.from_date
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
        sum(primary_delta) over running_total as primary_headcount,
        sum(secondary_delta) over running_total as secondary_headcount
    from timeline
    window running_total as (
        partition by team_id
        order by date_day, is_output
        rows between unbounded preceding and current row
    )

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
