"""An independent reference implementation of docs/membership_semantics.md.

The warehouse computes membership history set-based (intervals per open, merge carries level by
level). This module does the obvious thing instead: validate, deduplicate, sort by position and
fold the events one by one over a dictionary of open slots, then sample the state per instant.
The two share no code and no algorithm, so agreement on many random event sets is evidence that
both implement the specification.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

OPEN_END = datetime(9999, 12, 31)
# The documented valid range of every event timestamp, [TIMESTAMP_MIN, TIMESTAMP_MAX) in UTC
# (docs/contracts.md, "Timestamps"): the headcount calendar of dbt_project.yml, which ends long
# before OPEN_END, so every accepted event has a representable window and calendar day.
TIMESTAMP_MIN = datetime(2000, 1, 1)
TIMESTAMP_MAX = datetime(2051, 1, 1)
REPL_TYPES = {"MEMBERSHIP_ADDED", "MEMBERSHIP_REMOVED", "REPL_IDENTITY_LINKED"}
TEAM_TYPES = {"TEAM_CREATED", "TEAM_RENAMED", "TEAM_PARENT_CHANGED", "TEAM_MERGED", "TEAM_SPLIT"}
ROLES = ("primary", "secondary")
# What staging trims off an id: the Unicode space separators (Zs), as the schemas' id pattern says.
SPACES = "".join(map(chr, (0x20, 0xA0, 0x1680, *range(0x2000, 0x200B), 0x202F, 0x205F, 0x3000)))


# The ISO-8601 shapes the contract accepts (docs/contracts.md, "Timestamps"), written exactly as
# the macro iso_timestamp_pattern — the single source of truth, which tests/python/
# test_timestamp_pattern.py compares this copy with. Full match; ASCII digits only.
ISO_TIMESTAMP = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}([T ][0-9]{2}:[0-9]{2}(:[0-9]{2}([.][0-9]+)?)?"
    r"(Z|[+-][0-9]{2}(:?[0-9]{2})?)?)?",
    re.ASCII,
)


def parse_ts(text: object) -> datetime | None:
    """The instant (naive UTC) an ISO-8601 text names, or None when it is not one."""
    if not isinstance(text, str) or not ISO_TIMESTAMP.fullmatch(text):
        return None
    try:
        ts = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    try:
        return ts.astimezone(UTC).replace(tzinfo=None) if ts.tzinfo else ts
    except OverflowError:  # 0001-01-01T00:00+01:00 or 9999-12-31T23:00-14:00 in UTC: out of range
        return datetime.min if ts.year == 1 else datetime.max


def in_range(ts: datetime) -> bool:
    return TIMESTAMP_MIN <= ts < TIMESTAMP_MAX


def as_text(value: object) -> str | None:
    """A JSON value as staging reads it (every field as text; JSON null is null)."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def _timestamp_reason(name: str, value: object) -> str | None:
    text = as_text(value)
    if text is None:
        return f"missing {name}"
    ts = parse_ts(text)
    if ts is None:
        return f"invalid {name}: {text}"
    if not in_range(ts):
        return f"{name} out of range: {text}"
    return None


def rejection_reason(payload: object) -> str | None:
    """Why the event violates the contract (docs/contracts.md), first that applies; else None."""
    if not isinstance(payload, dict):
        return "not a JSON object"  # never reaches staging: quarantined at ingestion
    f = {k: as_text(v) for k, v in payload.items()}
    event_id = (f.get("event_id") or "").strip(SPACES) or None
    event_type = f.get("event_type")
    if event_id is None:
        return "missing event_id"
    if event_type is None:
        return "missing event_type"
    if event_type not in REPL_TYPES | TEAM_TYPES:
        return f"unknown event_type: {event_type}"
    for name in ("effective_at", "emitted_at"):
        reason = _timestamp_reason(name, payload.get(name))
        if reason:
            return reason
    role = f.get("role")
    checks = (
        (event_type in REPL_TYPES and f.get("repl_id") is None, "missing repl_id"),
        (event_type != "REPL_IDENTITY_LINKED" and f.get("team_id") is None, "missing team_id"),
        (
            event_type in ("MEMBERSHIP_ADDED", "MEMBERSHIP_REMOVED")
            and role is not None
            and role not in ROLES,
            f"invalid role: {role}",
        ),
        (
            event_type in ("TEAM_CREATED", "TEAM_RENAMED") and f.get("team_name") is None,
            "missing team_name",
        ),
        (
            event_type == "TEAM_MERGED" and f.get("merged_into_team_id") is None,
            "missing merged_into_team_id",
        ),
        (
            event_type == "TEAM_MERGED" and f.get("merged_into_team_id") == f.get("team_id"),
            "team merged into itself",
        ),
        (
            event_type == "REPL_IDENTITY_LINKED" and f.get("okta_user_id") is None,
            "missing okta_user_id",
        ),
    )
    return next((reason for failed, reason in checks if failed), None)


@dataclass(frozen=True)
class Event:
    event_id: str
    event_type: str
    repl_id: str | None
    team_id: str | None
    role: str | None
    team_name: str | None
    parent_team_id: str | None
    merged_into_team_id: str | None
    successor_team_ids: str | None  # compact JSON text of the value, as the warehouse keeps it
    okta_user_id: str | None
    effective_at: datetime
    emitted_at: datetime

    @property
    def position(self) -> tuple[datetime, datetime, str]:
        return (self.effective_at, self.emitted_at, self.event_id)

    @property
    def key(self) -> str:
        return f"repl:{self.repl_id}" if self.event_type in REPL_TYPES else f"team:{self.team_id}"

    @property
    def semantic_identity(self) -> tuple:
        return (
            self.event_type,
            self.repl_id,
            self.team_id,
            self.role,
            self.effective_at,
            self.team_name,
            self.parent_team_id,
            self.merged_into_team_id,
            self.successor_team_ids,
            self.okta_user_id,
        )


def validate(payload: object) -> Event | None:
    """The event if it satisfies the contract (semantics §1), else None."""
    if rejection_reason(payload) is not None:
        return None
    assert isinstance(payload, dict)
    f = {k: as_text(v) for k, v in payload.items()}
    event_type = f["event_type"]
    effective_at, emitted_at = parse_ts(f["effective_at"]), parse_ts(f["emitted_at"])
    assert event_type and effective_at and emitted_at
    role = f.get("role")
    if event_type == "MEMBERSHIP_ADDED":
        role = role or "primary"
    elif event_type != "MEMBERSHIP_REMOVED":
        role = None

    def when(types: tuple[str, ...], name: str) -> str | None:
        return f.get(name) if event_type in types else None

    successors = payload.get("successor_team_ids") if event_type == "TEAM_SPLIT" else None
    return Event(
        event_id=str(f["event_id"]).strip(SPACES),
        event_type=event_type,
        repl_id=when(tuple(REPL_TYPES), "repl_id"),
        team_id=when(tuple((REPL_TYPES | TEAM_TYPES) - {"REPL_IDENTITY_LINKED"}), "team_id"),
        role=role,
        team_name=when(("TEAM_CREATED", "TEAM_RENAMED"), "team_name"),
        parent_team_id=when(("TEAM_CREATED", "TEAM_PARENT_CHANGED"), "parent_team_id"),
        merged_into_team_id=when(("TEAM_MERGED",), "merged_into_team_id"),
        successor_team_ids=None
        if successors is None
        else json.dumps(successors, separators=(",", ":"), ensure_ascii=False),
        okta_user_id=when(("REPL_IDENTITY_LINKED",), "okta_user_id"),
        effective_at=effective_at,
        emitted_at=emitted_at,
    )


def content_hash(e: Event) -> str:
    """md5 of the change an event carries, in the canonical text of semantics §1."""

    def text(value: object) -> str:
        if value is None:
            return "~"
        if isinstance(value, datetime):
            value = value.strftime("%Y-%m-%dT%H:%M:%S.%f")
        return f"{len(str(value))}:{value}"

    parts = (
        e.event_type,
        e.repl_id,
        e.team_id,
        e.role,
        e.effective_at,
        e.team_name,
        e.parent_team_id,
        e.merged_into_team_id,
        e.successor_team_ids,
        e.okta_user_id,
    )
    return hashlib.md5("|".join(map(text, parts)).encode()).hexdigest()


def deduplicate(events: Iterable[Event]) -> list[Event]:
    """Same event_id → one copy; same semantic change → the earliest emitted (§1)."""
    by_id: dict[str, list[Event]] = defaultdict(list)
    for e in events:
        by_id[e.event_id].append(e)
    chosen = [
        min(copies, key=lambda e: (e.emitted_at, content_hash(e))) for copies in by_id.values()
    ]
    by_change: dict[tuple, Event] = {}
    for e in sorted(chosen, key=lambda e: (e.emitted_at, e.event_id)):
        by_change.setdefault(e.semantic_identity, e)
    return sorted(by_change.values(), key=lambda e: e.position)


@dataclass(frozen=True)
class Window:
    repl_id: str
    team_id: str
    role: str
    valid_from: datetime
    valid_to: datetime
    opened_by_event_id: str
    closed_by_event_id: str | None


@dataclass
class History:
    events: list[Event]
    windows: list[Window] = field(default_factory=list)
    orphan_removals: list[str] = field(default_factory=list)
    team_versions: list[tuple] = field(default_factory=list)
    restated: dict[str, str] = field(default_factory=dict)
    identity_windows: list[tuple] = field(default_factory=list)


def membership_windows(events: list[Event]) -> tuple[list[Window], list[str]]:
    """Fold events in position order over the set of open slots; sample per instant (§2–§4)."""
    open_slots: set[tuple[str, str, str]] = set()
    # Per slot: list of (effective_at, "open"/"close", event_id) state changes in position order.
    changes: dict[tuple[str, str, str], list[tuple[datetime, str, str]]] = defaultdict(list)
    orphans: list[str] = []

    def open_slot(slot: tuple[str, str, str], e: Event) -> None:
        if slot not in open_slots:
            open_slots.add(slot)
            changes[slot].append((e.effective_at, "open", e.event_id))

    def close_slot(slot: tuple[str, str, str], e: Event) -> bool:
        if slot in open_slots:
            open_slots.remove(slot)
            changes[slot].append((e.effective_at, "close", e.event_id))
            return True
        return False

    for e in events:
        if e.event_type == "MEMBERSHIP_ADDED":
            assert e.repl_id and e.team_id and e.role
            if e.role == "primary":
                for slot in sorted(open_slots):
                    if slot[0] == e.repl_id and slot[2] == "primary" and slot[1] != e.team_id:
                        close_slot(slot, e)
            open_slot((e.repl_id, e.team_id, e.role), e)
        elif e.event_type == "MEMBERSHIP_REMOVED":
            assert e.repl_id and e.team_id
            roles = (e.role,) if e.role else ROLES
            closed = [close_slot((e.repl_id, e.team_id, role), e) for role in roles]
            if not any(closed):
                orphans.append(e.event_id)
        elif e.event_type == "TEAM_MERGED":
            moved = sorted(s for s in open_slots if s[1] == e.team_id)
            for slot in moved:
                close_slot(slot, e)
            for repl_id, _, role in moved:
                assert e.merged_into_team_id
                open_slot((repl_id, e.merged_into_team_id, role), e)
        elif e.event_type == "TEAM_SPLIT":
            for slot in sorted(s for s in open_slots if s[1] == e.team_id):
                close_slot(slot, e)

    windows: list[Window] = []
    for slot, log in changes.items():
        by_instant: dict[datetime, list[tuple[str, str]]] = defaultdict(list)
        for at, kind, event_id in log:
            by_instant[at].append((kind, event_id))
        state = False
        start: tuple[datetime, str] | None = None
        for at in sorted(by_instant):
            steps = by_instant[at]
            final = steps[-1][0] == "open"
            if not state and final:
                start = (at, [eid for kind, eid in steps if kind == "open"][-1])
            elif state and not final:
                assert start is not None
                closer = next(eid for kind, eid in steps if kind == "close")
                windows.append(Window(*slot, start[0], at, start[1], closer))
                start = None
            state = final
        if state and start is not None:
            windows.append(Window(*slot, start[0], OPEN_END, start[1], None))
    return sorted(windows, key=lambda w: (w.repl_id, w.team_id, w.role, w.valid_from)), orphans


def team_versions(events: list[Event]) -> list[tuple]:
    """(team_id, name, parent, is_active, merged_into, valid_from, valid_to) per version (§6)."""
    per_team: dict[str, list[Event]] = defaultdict(list)
    for e in events:
        if e.event_type in TEAM_TYPES:
            assert e.team_id
            per_team[e.team_id].append(e)
    versions: list[tuple] = []
    for team_id, team_events in per_team.items():
        name = parent = merged = None
        active = False
        states: list[tuple[datetime, tuple]] = []
        for e in team_events:  # already in position order
            if e.event_type in ("TEAM_CREATED", "TEAM_RENAMED"):
                name = e.team_name
            if e.event_type in ("TEAM_CREATED", "TEAM_PARENT_CHANGED"):
                parent = e.parent_team_id
            if e.event_type == "TEAM_CREATED":
                active, merged = True, None
            elif e.event_type == "TEAM_MERGED":
                active, merged = False, e.merged_into_team_id
            elif e.event_type == "TEAM_SPLIT":
                active, merged = False, None
            state = (name, parent, active, merged)
            if states and states[-1][0] == e.effective_at:
                states[-1] = (e.effective_at, state)
            else:
                states.append((e.effective_at, state))
        collapsed: list[tuple[datetime, tuple]] = []
        for at, state in states:
            if not collapsed or collapsed[-1][1] != state:
                collapsed.append((at, state))
        for i, (at, state) in enumerate(collapsed):
            until = collapsed[i + 1][0] if i + 1 < len(collapsed) else OPEN_END
            versions.append((team_id, *state, at, until))
    return sorted(versions, key=lambda v: (v[0], v[5]))  # (team_id, valid_from) is unique


def restated_teams(versions: list[tuple]) -> dict[str, str]:
    """Each team → surviving successor under the current merges, transitively (§5)."""
    current_merge = {v[0]: v[4] for v in versions if v[6] == OPEN_END and v[4] is not None}
    out: dict[str, str] = {}
    for team in {v[0] for v in versions}:
        seen, here = {team}, team
        while here in current_merge:
            here = current_merge[here]
            if here in seen:  # the chain runs into a cycle: no survivor, the team keeps its id
                here = team
                break
            seen.add(here)
        out[team] = here
    return out


def identity_windows(events: list[Event]) -> list[tuple]:
    """(okta_user_id, repl_id, valid_from, valid_to) — an Okta user is one repl at a time (§7)."""
    per_user: dict[str, list[Event]] = defaultdict(list)
    for e in events:
        if e.event_type == "REPL_IDENTITY_LINKED":
            assert e.okta_user_id
            per_user[e.okta_user_id].append(e)
    out: list[tuple] = []
    for user, links in per_user.items():
        at_instant: dict[datetime, str] = {}
        for e in links:
            assert e.repl_id
            at_instant[e.effective_at] = e.repl_id  # the last link of each instant wins
        runs: list[tuple[datetime, str]] = []
        for at in sorted(at_instant):
            if not runs or runs[-1][1] != at_instant[at]:
                runs.append((at, at_instant[at]))
        for i, (at, repl_id) in enumerate(runs):
            until = runs[i + 1][0] if i + 1 < len(runs) else OPEN_END
            out.append((user, repl_id, at, until))
    return sorted(out)


def build_history(payloads: Iterable[dict]) -> History:
    events = deduplicate(e for e in (validate(p) for p in payloads) if e is not None)
    history = History(events)
    history.windows, history.orphan_removals = membership_windows(events)
    history.team_versions = team_versions(events)
    history.restated = restated_teams(history.team_versions)
    history.identity_windows = identity_windows(events)
    return history


def daily_headcount(history: History, through: date) -> dict[tuple[str, date], tuple[int, int]]:
    """(team, day) → (primary, secondary) at the end of every day of each team's life (§8)."""
    out: dict[tuple[str, date], tuple[int, int]] = {}
    per_team: dict[str, list[tuple]] = defaultdict(list)
    for v in history.team_versions:
        per_team[v[0]].append(v)
    for team_id, versions in per_team.items():
        first = min(v[5] for v in versions).date()
        current = next(v for v in versions if v[6] == OPEN_END)
        if current[3]:  # active now: up to the through date
            last = through
        else:  # up to the day it became inactive for good (never past the through date)
            active_starts = [v[5] for v in versions if v[3]]
            final_inactive = [
                v[5]
                for v in versions
                if not v[3] and (not active_starts or v[5] > max(active_starts))
            ]
            last = min(min(final_inactive).date(), through)
        day = first
        while day <= last:
            end = datetime.combine(day + timedelta(days=1), datetime.min.time())
            counts = {"primary": 0, "secondary": 0}
            for w in history.windows:
                if w.team_id == team_id and w.valid_from < end <= w.valid_to:
                    counts[w.role] += 1
            out[(team_id, day)] = (counts["primary"], counts["secondary"])
            day += timedelta(days=1)
    return out


def attribute(
    history: History, okta_user_id: str | None, at: datetime
) -> tuple[str | None, str | None, str | None]:
    """(repl_id, team_id, unresolved_reason) for an event of this Okta user at instant `at`."""
    if okta_user_id is None:
        return None, None, "no_assignee"
    repl_id = next(
        (w[1] for w in history.identity_windows if w[0] == okta_user_id and w[2] <= at < w[3]),
        None,
    )
    if repl_id is None:
        return None, None, "unknown_okta_user"
    team_id = next(
        (
            w.team_id
            for w in history.windows
            if w.repl_id == repl_id and w.role == "primary" and w.valid_from <= at < w.valid_to
        ),
        None,
    )
    if team_id is None:
        return repl_id, None, "no_primary_team"
    return repl_id, team_id, None
