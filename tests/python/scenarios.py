"""Random membership scenarios, dense in the cases that break naive implementations.

A scenario is a handful of repls and teams on a coarse time grid (whole hours over a few days,
emitted within a few seconds), so many events share an instant and ordering ties are common.
It mixes primary moves, coverage, removals with and without role, orphans, merges (chains, into
inactive teams), splits, identity links and relinks, and ticket events; then delivers them with
exact duplicates, semantic retries and a shuffled order. Ids carry a scenario prefix so many
scenarios can share one warehouse.

`build_scenario(draw, n)` takes `draw(lo, hi) -> int`: hypothesis drives it directly
(`scenario_strategy`), or a seeded `random.Random` does (`scenario_from_seed`) when hundreds of
scenarios go into one warehouse and one dbt build.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from hypothesis import strategies as st

Draw = Callable[[int, int], int]
BASE = datetime(2026, 3, 1)
EVENT_KINDS = (
    ["MEMBERSHIP_ADDED"] * 6
    + ["MEMBERSHIP_REMOVED"] * 3
    + ["TEAM_MERGED", "TEAM_SPLIT", "TEAM_RENAMED", "TEAM_PARENT_CHANGED", "TEAM_CREATED"]
    + ["REPL_IDENTITY_LINKED"] * 2
)


def iso(ts: datetime) -> str:
    return ts.strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class Scenario:
    number: int
    prefix: str
    events: list[dict] = field(default_factory=list)  # the true event set
    delivered: list[dict] = field(default_factory=list)  # the true set, with duplicates, shuffled
    # Producer bugs: an event_id re-sent with different content. The copy kept is chosen by
    # content (§1), so these change the history; they are part of what the warehouse receives.
    conflicting: list[dict] = field(default_factory=list)
    tickets: list[dict] = field(default_factory=list)

    @property
    def received(self) -> list[dict]:
        """Everything the consumer receives."""
        return self.delivered + self.conflicting


def build_scenario(draw: Draw, number: int) -> Scenario:
    p = f"s{number}_"
    sc = Scenario(number, p)
    teams = [f"{p}t{i}" for i in range(draw(2, 4))]
    repls = [f"{p}r{i}" for i in range(draw(1, 3))]
    users = [f"{p}u{i}" for i in range(draw(1, 3))]

    def pick(options: list) -> object:
        return options[draw(0, len(options) - 1)]

    def instant() -> tuple[datetime, datetime]:
        effective = BASE + timedelta(days=draw(0, 3), hours=draw(0, 3))
        if draw(0, 9) == 0:  # backdated: emitted days later
            return effective, effective + timedelta(days=draw(1, 40))
        return effective, effective + timedelta(seconds=draw(0, 3))

    def event(kind: str, key: int, **fields: object) -> dict:
        effective, emitted = instant()
        return {
            "event_id": f"{p}e{key:02d}",
            "event_type": kind,
            "repl_id": None,
            "team_id": None,
            "effective_at": iso(effective),
            "emitted_at": iso(emitted),
            "actor": "admin@example.com",
            **fields,
        }

    for team in teams:
        if draw(0, 4):  # most teams exist from the start; some only appear in events
            sc.events.append(
                {
                    "event_id": f"{p}c{team[-1]}",
                    "event_type": "TEAM_CREATED",
                    "team_id": team,
                    "team_name": f"Team {team}",
                    "parent_team_id": None,
                    "effective_at": iso(BASE - timedelta(days=1)),
                    "emitted_at": iso(BASE - timedelta(days=1)),
                }
            )
    for key in range(1, draw(5, 22) + 1):
        kind = str(pick(EVENT_KINDS))
        if kind == "MEMBERSHIP_ADDED":
            fields = {"repl_id": pick(repls), "team_id": pick(teams)}
            role = pick([None, "primary", "primary", "secondary"])
            if role:
                fields["role"] = role
        elif kind == "MEMBERSHIP_REMOVED":
            fields = {"repl_id": pick(repls), "team_id": pick(teams)}
            role = pick([None, "primary", "secondary"])
            if role:
                fields["role"] = role
        elif kind == "TEAM_MERGED":
            a = draw(0, len(teams) - 1)
            b = (a + draw(1, len(teams) - 1)) % len(teams)
            fields = {"team_id": teams[a], "merged_into_team_id": teams[b]}
        elif kind == "TEAM_SPLIT":
            fields = {"team_id": pick(teams), "successor_team_ids": [pick(teams)]}
        elif kind == "TEAM_RENAMED":
            fields = {"team_id": pick(teams), "team_name": f"Renamed {key}"}
        elif kind == "TEAM_PARENT_CHANGED":
            fields = {"team_id": pick(teams), "parent_team_id": pick([None, *teams])}
        elif kind == "TEAM_CREATED":
            fields = {"team_id": pick(teams), "team_name": f"Recreated {key}"}
        else:
            fields = {"repl_id": pick(repls), "okta_user_id": pick(users)}
        sc.events.append(event(kind, key, **fields))

    delivered = list(sc.events)
    for e in sc.events:
        roll = draw(0, 19)
        if roll == 0:
            delivered.append(dict(e))  # exact duplicate (a retry of the same message)
        elif roll == 1:
            # A semantic duplicate: the producer retried under a new event_id, no earlier than the
            # original, so the original stays the copy kept (§1) and the true set is unchanged.
            # Semantic duplicates emitted *earlier* occur inside `events` itself (same change
            # drawn twice), where the reference and the warehouse must pick the same one.
            retry = dict(e, event_id=e["event_id"] + "r")
            emitted = datetime.fromisoformat(e["emitted_at"].replace("Z", ""))
            retry["emitted_at"] = iso(emitted + timedelta(seconds=draw(0, 2)))
            delivered.append(retry)
        elif roll == 2:
            # The same event_id with other content, emitted at the same second or around it.
            conflict = dict(e)
            effective = datetime.fromisoformat(e["effective_at"].replace("Z", ""))
            emitted = datetime.fromisoformat(e["emitted_at"].replace("Z", ""))
            if e.get("team_id") and draw(0, 1):
                conflict["team_id"] = pick(teams)
            else:
                conflict["effective_at"] = iso(effective + timedelta(hours=draw(-1, 1)))
            conflict["emitted_at"] = iso(emitted + timedelta(seconds=draw(-1, 1)))
            sc.conflicting.append(conflict)
    for i in range(len(delivered) - 1, 0, -1):  # Fisher-Yates with the scenario's own draws
        j = draw(0, i)
        delivered[i], delivered[j] = delivered[j], delivered[i]
    sc.delivered = delivered

    for t in range(draw(0, 8)):
        at = BASE + timedelta(days=draw(0, 4), hours=draw(0, 4), minutes=draw(0, 1) * 30)
        user = pick([*users, None, f"{p}ghost"])
        sc.tickets.append(
            {
                "id": f"{p}k{t}",
                "ticket_id": f"{p}ticket{t % 2}",
                "type": "ticket.assignee_changed",
                "created_at": iso(at),
                "assignee": None if user is None else {"id": 1, "external_id": user, "email": "x"},
                "status": "open",
                "priority": "normal",
            }
        )
    return sc


def scenario_from_seed(seed: int, number: int) -> Scenario:
    rnd = random.Random(seed)
    return build_scenario(rnd.randint, number)


@st.composite
def scenario_strategy(draw: st.DrawFn, number: int = 0) -> Scenario:
    return build_scenario(lambda lo, hi: draw(st.integers(lo, hi)), number)
