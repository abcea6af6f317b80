"""The four analyst questions, as the one short query each that the README documents.

The demo runs exactly these; keeping them here (not only in prose) means the README's queries
are exercised on every `make demo` and by the test suite.
"""

from __future__ import annotations

from datetime import date, timedelta

# "Which team was repl X in on D?" — the state at the end of day D (UTC).
TEAM_OF_REPL_ON_DATE = """
select team_id, role, team_id_restated, valid_from, valid_to
from marts.bridge_repl_team_membership
where repl_id = $repl_id
  and valid_from < $day + interval 1 day   -- open at the end of the day
  and valid_to >= $day + interval 1 day
order by role, team_id
"""

# "How many reps were in team Y each day last quarter?"
TEAM_HEADCOUNT_BETWEEN = """
select date_day, primary_headcount, secondary_headcount
from marts.fct_team_daily_headcount
where team_id = $team_id
  and date_day between $first_day and $last_day
order by date_day
"""

# "Which team gets each ticket event?"
TICKET_EVENT_TEAMS = """
select ticket_event_id, event_at, repl_id, team_id, team_id_restated, unresolved_reason
from marts.fct_ticket_attribution
where ticket_id = $ticket_id
order by event_at, ticket_event_id
"""

# "For each opportunity close date, which team gets the revenue?" — the owner at the end of the
# close date and that rep's primary team then; team_id is null where a link is missing.
WON_REVENUE_BY_TEAM = """
select team_id, count(*) as won_deals, sum(amount) as won_amount,
       min(unresolved_reason) as unresolved_reason
from marts.fct_opportunity_attribution
where is_won
  and close_date between $first_day and $last_day
group by team_id
order by won_amount desc, team_id
"""


def quarter_of(day: date) -> tuple[date, date]:
    """The first and last day of the calendar quarter containing `day`."""
    first = date(day.year, 3 * ((day.month - 1) // 3) + 1, 1)
    after = date(first.year + (first.month + 3 > 12), (first.month + 2) % 12 + 1, 1)
    return first, after - timedelta(days=1)


def last_full_quarter(today: date) -> tuple[date, date]:
    """The calendar quarter before the one containing `today`."""
    return quarter_of(quarter_of(today)[0] - timedelta(days=1))
