{#-
    fct_team_daily_headcount lays team lives on int_calendar_days: a team event before the first
    calendar day (var calendar_start_date) would silently lose days. Widen the calendar instead.
-#}
select team_id, min(valid_from) as first_event_at
from {{ ref('int_team_versions') }}
group by team_id
having cast(min(valid_from) as date) < (select min(date_day) from {{ ref('int_calendar_days') }})
