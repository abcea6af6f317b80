"""The three analyst questions, as the one short query each that the README documents.

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


def last_full_quarter(today: date) -> tuple[date, date]:
    """The calendar quarter before the one containing `today`."""
    first_of_this = date(today.year, 3 * ((today.month - 1) // 3) + 1, 1)
    last_of_previous = first_of_this - timedelta(days=1)
    first_of_previous = date(last_of_previous.year, 3 * ((last_of_previous.month - 1) // 3) + 1, 1)
    return first_of_previous, last_of_previous
