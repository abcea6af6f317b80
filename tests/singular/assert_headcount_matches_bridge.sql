{#-
    The daily headcount equals a direct count of the bridge windows open at the end of the day.
    Checked on every 7th day (the delta/running-sum path and this range-join path share no code).
-#}
with

sampled_days as (

    select team_id, date_day, primary_headcount, secondary_headcount
    from {{ ref('fct_team_daily_headcount') }}
    where mod({{ dbt.datediff("cast('2000-01-01' as date)", 'date_day', 'day') }}, 7) = 0

),

direct_counts as (

    select
        sampled_days.team_id,
        sampled_days.date_day,
        sum(case when memberships.role = 'primary' then 1 else 0 end) as primary_headcount,
        sum(case when memberships.role = 'secondary' then 1 else 0 end) as secondary_headcount
    from sampled_days
    inner join {{ ref('bridge_repl_team_membership') }} as memberships
        on memberships.team_id = sampled_days.team_id
        and memberships.valid_from < {{ dbt.dateadd('day', 1, 'sampled_days.date_day') }}
        and memberships.valid_to >= {{ dbt.dateadd('day', 1, 'sampled_days.date_day') }}
    group by sampled_days.team_id, sampled_days.date_day

)

select
    sampled_days.*,
    coalesce(direct_counts.primary_headcount, 0) as expected_primary,
    coalesce(direct_counts.secondary_headcount, 0) as expected_secondary
from sampled_days
left join direct_counts
    on direct_counts.team_id = sampled_days.team_id
    and direct_counts.date_day = sampled_days.date_day
where sampled_days.primary_headcount <> coalesce(direct_counts.primary_headcount, 0)
    or sampled_days.secondary_headcount <> coalesce(direct_counts.secondary_headcount, 0)
