"""Random membership scenarios, dense in the cases that break naive implementations.

A scenario is a handful of repls and teams on a coarse time grid (whole hours over a few days,
emitted within a few seconds, sometimes half a second apart), so many events share an instant
and ordering ties are common. It mixes primary moves, coverage, removals with and without role,
orphans, merges (chains, cycles, into inactive teams), splits, identity links and relinks, and
ticket events. Timestamps come in every spelling the contract allows (Z, offsets, no offset,
fractions, a space for T, offsets up to +14:00 and -12:00) and, rarely, at the extremes: just
inside the valid range (its first instant, its last microsecond) or outside it (the open-window
marker, year 0001 or 1900, an offset that crosses a bound, a leap second), which staging must
reject. Ids carry characters that break naive keys and hashes: '|' and ':' (the hash's
separators), '~' (its null marker), quotes, spaces, non-ASCII letters, padding that is trimmed,
and very long ids; twin events whose fields differ only in where a '|' falls must stay two
changes. Events carry fields their type ignores and unknown fields. Delivery
adds exact duplicates, semantic retries, conflicting copies of an event_id (any field changed,
sometimes into an invalid event) and a shuffled order. Ids carry a scenario prefix so many
scenarios can share one warehouse.

`build_scenario(draw, n)` takes `draw(lo, hi) -> int`: hypothesis drives it directly
(`scenario_strategy`), or a seeded `random.Random` does (`scenario_from_seed`) when hundreds of
scenarios go into one warehouse and one dbt build.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from hypothesis import strategies as st

from tests.python.reference.membership import rejection_reason

Draw = Callable[[int, int], int]
BASE = datetime(2026, 3, 1)
EVENT_KINDS = (
    ["MEMBERSHIP_ADDED"] * 6
    + ["MEMBERSHIP_REMOVED"] * 3
    + ["TEAM_MERGED", "TEAM_SPLIT", "TEAM_RENAMED", "TEAM_PARENT_CHANGED", "TEAM_CREATED"]
    + ["REPL_IDENTITY_LINKED"] * 2
)


def _seconds(ts: datetime) -> str:
    return ts.strftime("%Y-%m-%dT%H:%M:%S") + (f".{ts.microsecond:06d}" if ts.microsecond else "")


def iso(ts: datetime) -> str:
    return _seconds(ts) + "Z"


def parse(text: str) -> datetime:
    """A timestamp this module wrote, in any spelling, as naive UTC."""
    ts = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return ts.astimezone(UTC).replace(tzinfo=None) if ts.tzinfo else ts


# Valid and at the edges of the range [2000-01-01, 2051-01-01) UTC: history like any other.
EDGE_INSTANTS = (
    "2000-01-01T00:00:00Z",
    "2000-01-01T14:00:00+14:00",
    "2050-12-31T23:59:59.999999Z",
    "2050-12-31T11:59:59-12:00",
)
# Parseable or nearly so, but not instants the warehouse can represent: always rejected.
OUT_OF_RANGE = (
    "9999-12-31T23:59:59Z",
    "9999-12-31T00:00:00Z",
    "9999-12-31",
    "2051-01-01T00:00:00Z",
    "2050-12-31T23:00:00-14:00",
    "1999-12-31T23:59:59.999999Z",
    "2000-01-01T05:00:00+14:00",
    "1900-01-01T00:00:00Z",
    "0001-01-01",
    "2026-06-30T23:59:60Z",  # a leap second: neither Python nor the warehouse reads it
)
# Suffixes that make ids hostile to text keys; every id keeps its scenario prefix.
ID_SUFFIXES = (
    "|",
    "|x|",
    ":3|",
    "~",
    " and ~",
    "'q\"",
    "é✓中",
    "\u00a0inner",
    "x" * 300,
)


def spell(ts: datetime, draw: Draw) -> str:
    """The same instant in one of the spellings the contract accepts."""
    form = draw(0, 11)
    if form == 0:
        return _seconds(ts + timedelta(hours=2)) + "+02:00"
    if form == 1:
        return _seconds(ts - timedelta(hours=5, minutes=30)) + "-0530"
    if form == 2:
        return ts.strftime("%Y-%m-%dT%H:%M:%S.%f")  # no offset: UTC
    if form == 3:
        return _seconds(ts).replace("T", " ") + "Z"
    if form == 4:
        return _seconds(ts + timedelta(hours=14)) + "+14:00"
    if form == 5:
        return _seconds(ts - timedelta(hours=12)) + "-12:00"
    return iso(ts)


def shift(text: str, delta: timedelta, draw: Draw) -> str:
    """The instant `delta` later, re-spelled; text beyond what datetime holds stays as it is."""
    try:
        return spell(parse(text) + delta, draw)
    except (OverflowError, ValueError):
        return text


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

    def pick(options: list | tuple) -> object:
        return options[draw(0, len(options) - 1)]

    def hostile(name: str) -> str:
        """Mostly the plain id; sometimes with a suffix that breaks naive text keys."""
        return name + str(pick(ID_SUFFIXES)) if draw(0, 5) == 0 else name

    teams = [hostile(f"{p}t{i}") for i in range(draw(2, 4))]
    repls = [hostile(f"{p}r{i}") for i in range(draw(1, 3))]
    # Okta users stay unpadded: tickets trim their assignee's id (a blank one is no assignee).
    users = [f"{p}u{i}" + ("" if draw(0, 5) else "|é 'x'") for i in range(draw(1, 3))]

    def instant() -> tuple[datetime, datetime]:
        effective = BASE + timedelta(days=draw(0, 3), hours=draw(0, 3))
        if draw(0, 9) == 0:  # backdated: emitted days later
            return effective, effective + timedelta(days=draw(1, 40))
        return effective, effective + timedelta(seconds=draw(0, 3), milliseconds=500 * draw(0, 1))

    def event(kind: str, key: int, **fields: object) -> dict:
        effective, emitted = instant()
        event_id = f"{p}e{key:02d}"
        if draw(0, 9) == 0:  # hostile characters; trailing spaces are trimmed off by both sides
            event_id += pick([*ID_SUFFIXES, " ", "\u3000\u00a0"])
        payload = {
            "event_id": event_id,
            "event_type": kind,
            "repl_id": None,
            "team_id": None,
            "effective_at": spell(effective, draw),
            "emitted_at": spell(emitted, draw),
            "actor": "admin@example.com",
            **fields,
        }
        extreme = draw(0, 29)
        if extreme == 0:  # valid at the range's edges
            payload[str(pick(["effective_at", "emitted_at"]))] = pick(EDGE_INSTANTS)
        elif extreme == 1:  # outside the range: rejected, never history
            payload[str(pick(["effective_at", "emitted_at"]))] = pick(OUT_OF_RANGE)
        stray = draw(0, 9)
        if stray == 0:  # fields the type does not define are ignored
            payload.update(repl_id=pick(repls), role="secondary", team_name="ignored")
        elif stray == 1:
            payload["team_id"] = payload["team_id"] or pick(teams)
        elif stray == 2:  # unknown fields are kept in raw and change nothing
            payload["source_system"] = {"name": "workday", "batch": [1, 2]}
        return payload

    for team in teams:
        if draw(0, 4):  # most teams exist from the start; some only appear in events
            sc.events.append(
                {
                    "event_id": f"{p}c{teams.index(team)}",
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
            fields = {"team_id": pick(teams)}
            successors = draw(0, 4)
            if successors == 1:
                fields["successor_team_ids"] = None
            elif successors > 1:
                fields["successor_team_ids"] = [pick(teams) for _ in range(successors - 2)]
        elif kind == "TEAM_RENAMED":
            # Names that look like separators or null markers must stay ordinary values.
            name = pick([f"Renamed {key}", f"Renamed {key}", "~", "-", f"={key}|true|"])
            fields = {"team_id": pick(teams), "team_name": name}
        elif kind == "TEAM_PARENT_CHANGED":
            # A parent that is not a team is legal; '~' and '|' must not read as null or a cut.
            fields = {"team_id": pick(teams), "parent_team_id": pick([None, *teams, "~", "|"])}
        elif kind == "TEAM_CREATED":
            fields = {"team_id": pick(teams), "team_name": f"Recreated {key}"}
            if draw(0, 3) == 0:
                # A twin at the same instant whose name holds what the other's parent is: the
                # two fields joined with '|' read alike, yet they are two different changes.
                parent = pick(teams)
                twin = event(kind, 100 + key, **fields, parent_team_id=parent)
                twin["team_name"] = f"Recreated {key}|{parent}"
                twin["parent_team_id"] = None
                fields["parent_team_id"] = parent
                created = event(kind, key, **fields)
                twin["effective_at"] = created["effective_at"]
                sc.events += [created, twin]
                continue
        else:
            fields = {"repl_id": pick(repls), "okta_user_id": pick(users)}
        sc.events.append(event(kind, key, **fields))

    def conflicting_copy(e: dict) -> dict:
        copy = dict(e)
        change = draw(0, 8)
        if change == 0 and e.get("team_id"):
            copy["team_id"] = pick(teams)
        elif change == 1 and e.get("repl_id"):
            copy["repl_id"] = pick(repls)
        elif change == 2 and e["event_type"] in ("MEMBERSHIP_ADDED", "MEMBERSHIP_REMOVED"):
            swap = {
                "MEMBERSHIP_ADDED": "MEMBERSHIP_REMOVED",
                "MEMBERSHIP_REMOVED": "MEMBERSHIP_ADDED",
            }
            copy["event_type"] = swap[e["event_type"]]
        elif change == 3 and e.get("merged_into_team_id"):
            copy["merged_into_team_id"] = pick([t for t in teams if t != e["team_id"]])
        elif change == 4 and e.get("okta_user_id"):
            copy["okta_user_id"] = pick(users)
        elif change == 5 and e["event_type"] in ("MEMBERSHIP_ADDED", "MEMBERSHIP_REMOVED"):
            copy["role"] = pick([None, "primary", "secondary"])
        elif change == 6:
            copy["event_type"] = "TEAM_ARCHIVED"  # invalid: rejected, never applied
        else:
            copy["effective_at"] = shift(e["effective_at"], timedelta(hours=draw(-1, 1)), draw)
        copy["emitted_at"] = shift(e["emitted_at"], timedelta(seconds=draw(-1, 1)), draw)
        return copy

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
            retry["emitted_at"] = shift(e["emitted_at"], timedelta(seconds=draw(0, 2)), draw)
            # A retry of a rejected event whose later emitted_at is back in range would be a new
            # valid event, not noise: only retries that keep the original's verdict are dirt.
            if (rejection_reason(retry) is None) == (rejection_reason(e) is None):
                delivered.append(retry)
        elif roll in (2, 3):
            # The same event_id with other content (a producer bug), emitted at the same second
            # or around it; sometimes twice, sometimes into an invalid event (which is ignored).
            for _ in range(draw(1, 2)):
                sc.conflicting.append(conflicting_copy(e))
    for i in range(len(delivered) - 1, 0, -1):  # Fisher-Yates with the scenario's own draws
        j = draw(0, i)
        delivered[i], delivered[j] = delivered[j], delivered[i]
    sc.delivered = delivered

    for t in range(draw(0, 8)):
        at = BASE + timedelta(days=draw(0, 4), hours=draw(0, 4), minutes=draw(0, 1) * 30)
        user = pick([*users, None, "", f"{p}ghost"])
        ticket = {
            "id": f"{p}k{t}",
            "ticket_id": f"{p}ticket{t % 2}",
            "type": "ticket.assignee_changed",
            "created_at": spell(at, draw),
            "assignee": None if user is None else {"id": 1, "external_id": user, "email": "x"},
            "status": "open",
            "priority": "normal",
        }
        sc.tickets.append(ticket)
        if draw(0, 5) == 0:
            sc.tickets.append(dict(ticket))  # Zendesk re-delivers
    return sc


def scenario_from_seed(seed: int, number: int) -> Scenario:
    rnd = random.Random(seed)
    return build_scenario(rnd.randint, number)


@st.composite
def scenario_strategy(draw: st.DrawFn, number: int = 0) -> Scenario:
    return build_scenario(lambda lo, hi: draw(st.integers(lo, hi)), number)
