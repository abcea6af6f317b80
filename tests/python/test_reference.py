"""Hand-computed cases for the reference implementation (and a readable statement of the rules)."""

from __future__ import annotations

from datetime import date, datetime

from tests.python.reference.membership import OPEN_END, build_history, daily_headcount

T = "2026-01-{:02d}T{:02d}:00:00Z"


def ev(event_id: str, event_type: str, day: int, hour: int = 0, emitted_s: int = 0, **f) -> dict:
    return {
        "event_id": event_id,
        "event_type": event_type,
        "effective_at": T.format(day, hour),
        "emitted_at": f"2026-01-{day:02d}T{hour:02d}:00:{emitted_s:02d}Z",
        **f,
    }


def add(eid: str, day: int, repl: str, team: str, role: str | None = None, **kw) -> dict:
    extra = {"role": role} if role else {}
    return ev(eid, "MEMBERSHIP_ADDED", day, repl_id=repl, team_id=team, **extra, **kw)


def remove(eid: str, day: int, repl: str, team: str, role: str | None = None, **kw) -> dict:
    extra = {"role": role} if role else {}
    return ev(eid, "MEMBERSHIP_REMOVED", day, repl_id=repl, team_id=team, **extra, **kw)


def d(day: int, hour: int = 0) -> datetime:
    return datetime(2026, 1, day, hour)


def rows(history) -> list[tuple]:
    return [
        (w.repl_id, w.team_id, w.role, w.valid_from, w.valid_to, w.opened_by_event_id,
         w.closed_by_event_id)
        for w in history.windows
    ]  # fmt: skip


def test_primary_move_displaces_and_secondary_overlaps() -> None:
    h = build_history(
        [add("a1", 1, "r", "t1"), add("a2", 2, "r", "t3", "secondary"), add("a3", 3, "r", "t2")]
    )
    assert rows(h) == [
        ("r", "t1", "primary", d(1), d(3), "a1", "a3"),
        ("r", "t2", "primary", d(3), OPEN_END, "a3", None),
        ("r", "t3", "secondary", d(2), OPEN_END, "a2", None),
    ]


def test_duplicates_and_arrival_order_do_not_matter() -> None:
    events = [add("a1", 1, "r", "t1"), remove("d1", 4, "r", "t1")]
    retry = {**events[0], "event_id": "a1-retry", "emitted_at": "2026-01-01T00:00:30Z"}
    noisy = [events[1], retry, events[0], events[0]]
    assert rows(build_history(noisy)) == rows(build_history(events))
    assert rows(build_history(events)) == [("r", "t1", "primary", d(1), d(4), "a1", "d1")]


def test_roleless_removal_closes_both_roles_and_orphans_are_reported() -> None:
    h = build_history(
        [
            add("a1", 1, "r", "t1"),
            add("a2", 1, "r", "t1", "secondary", hour=1),
            remove("d1", 3, "r", "t1"),
            remove("d2", 4, "r", "t1", "primary"),
        ]
    )
    assert [(w.role, w.closed_by_event_id) for w in h.windows] == [
        ("primary", "d1"),
        ("secondary", "d1"),
    ]
    assert h.orphan_removals == ["d2"]


def test_merges_carry_transitively_and_restate() -> None:
    h = build_history(
        [
            ev("c1", "TEAM_CREATED", 1, team_id="t1", team_name="One"),
            ev("c2", "TEAM_CREATED", 1, team_id="t2", team_name="Two"),
            ev("c3", "TEAM_CREATED", 1, team_id="t3", team_name="Three"),
            add("a1", 2, "r", "t1"),
            ev("m1", "TEAM_MERGED", 5, team_id="t1", merged_into_team_id="t2"),
            ev("m2", "TEAM_MERGED", 8, team_id="t2", merged_into_team_id="t3"),
        ]
    )
    assert rows(h) == [
        ("r", "t1", "primary", d(2), d(5), "a1", "m1"),
        ("r", "t2", "primary", d(5), d(8), "m1", "m2"),
        ("r", "t3", "primary", d(8), OPEN_END, "m2", None),
    ]
    assert h.restated == {"t1": "t3", "t2": "t3", "t3": "t3"}


def test_same_instant_rules() -> None:
    h = build_history(
        [
            # opened and closed at one instant: no window
            add("a1", 1, "r1", "t1"),
            remove("d1", 1, "r1", "t1", emitted_s=5),
            # a removal emitted before the add at the same instant is an orphan
            remove("d2", 2, "r2", "t1", emitted_s=1),
            add("a2", 2, "r2", "t1", emitted_s=2),
            # closed and reopened at one instant: one continuous window
            add("a3", 3, "r3", "t1"),
            remove("d3", 5, "r3", "t1", emitted_s=1),
            add("a4", 5, "r3", "t1", emitted_s=2),
        ]
    )
    assert rows(h) == [
        ("r2", "t1", "primary", d(2), OPEN_END, "a2", None),
        ("r3", "t1", "primary", d(3), OPEN_END, "a3", None),
    ]
    assert h.orphan_removals == ["d2"]


def test_headcount_is_end_of_day_and_identity_resolves_by_instant() -> None:
    h = build_history(
        [
            ev("c1", "TEAM_CREATED", 1, team_id="t1", team_name="One"),
            add("a1", 2, "r", "t1"),
            remove("d1", 4, "r", "t1"),
            ev("l1", "REPL_IDENTITY_LINKED", 1, repl_id="r", okta_user_id="u1"),
            ev("l2", "REPL_IDENTITY_LINKED", 3, repl_id="r2", okta_user_id="u1"),
        ]
    )
    counts = daily_headcount(h, date(2026, 1, 5))
    assert [counts[("t1", date(2026, 1, day))][0] for day in range(1, 6)] == [0, 1, 1, 0, 0]
    assert h.identity_windows == [("u1", "r", d(1), d(3)), ("u1", "r2", d(3), OPEN_END)]
