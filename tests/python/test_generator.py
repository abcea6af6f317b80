"""The synthetic company: deterministic, and its dirt never changes the truth it simulated.

The generator keeps the org in memory (who is in which team, team names and parents, each rep's
current Okta user) while it emits events with duplicates, retries under new ids, backdating and
out-of-order delivery. Folding those events with the reference implementation must give back the
generator's own final state, and the only orphan removals must be the ones it put in on purpose:
otherwise the demo's data-quality numbers would be artefacts of the generator.
"""

from __future__ import annotations

import bisect
import contextlib
import hashlib
import json
from datetime import datetime
from pathlib import Path

import pytest

from ingest.file_source import open_source
from ingest.generator import generate, simulate
from ingest.generator.bulk import TOPICS
from ingest.generator.company import BULK_TEST, HISTORY_END
from tests.python.reference.membership import OPEN_END, build_history

ADMIN = "admin.membership.v1"


def _payloads(path: Path) -> list[object]:
    out: list[object] = []
    for line in path.read_bytes().splitlines():
        with contextlib.suppress(ValueError):  # malformed on purpose: the consumer quarantines it
            out.append(json.loads(line))
    return out


def _digest(out_dir: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(out_dir.iterdir())}


def test_same_seed_same_bytes_other_seed_other_bytes(tmp_path: Path) -> None:
    generate("tiny", 7, tmp_path / "a")
    generate("tiny", 7, tmp_path / "b")
    generate("tiny", 8, tmp_path / "c")
    assert _digest(tmp_path / "a") == _digest(tmp_path / "b")
    assert _digest(tmp_path / "a")[f"{ADMIN}.jsonl"] != _digest(tmp_path / "c")[f"{ADMIN}.jsonl"]


@pytest.mark.parametrize(("scale", "seed"), [("tiny", s) for s in range(6)] + [("small", 42)])
def test_events_fold_back_to_the_simulated_org(tmp_path: Path, scale: str, seed: int) -> None:
    company, stats = simulate(scale, seed, tmp_path)
    history = build_history(_payloads(tmp_path / f"{ADMIN}.jsonl"))
    admin = stats[ADMIN]
    assert admin["exact_duplicates"] + admin["semantic_duplicates"] > 0  # there was dirt

    open_slots = {(w.repl_id, w.team_id, w.role) for w in history.windows if w.valid_to == OPEN_END}
    simulated = {(r.repl_id, r.primary, "primary") for r in company.reps.values() if r.primary}
    simulated |= {(r.repl_id, t, "secondary") for r in company.reps.values() for t in r.secondary}
    assert open_slots == simulated

    teams_now = {v[0]: (v[1], v[2], v[3]) for v in history.team_versions if v[6] == OPEN_END}
    assert teams_now == {t.team_id: (t.name, t.parent_id, t.active) for t in company.teams.values()}

    user_now = {u: r for u, r, _, until in history.identity_windows if until == OPEN_END}
    assert all(user_now.get(r.okta_id) == r.repl_id for r in company.reps.values())

    assert len(history.orphan_removals) == admin.get("orphan_removals", 0)


# -- the bulk engine (`large`): coverage and tickets generated in DuckDB, at a foldable size --


def _bulk_lines(path: Path) -> list[bytes]:
    with open_source(path) as fh:
        return fh.read().splitlines()


def test_bulk_engine_same_seed_same_bytes_other_seed_other_bytes(tmp_path: Path) -> None:
    for name, seed in (("a", 11), ("b", 11), ("c", 12)):
        simulate(BULK_TEST, seed, tmp_path / name)
    assert _digest(tmp_path / "a") == _digest(tmp_path / "b")
    assert sorted(_digest(tmp_path / "a")) == [f"{t}.jsonl.zst" for t in sorted(TOPICS)]
    assert _digest(tmp_path / "a") != _digest(tmp_path / "c")


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_bulk_engine_events_fold_back_to_the_simulated_org(tmp_path: Path, seed: int) -> None:
    company, stats = simulate(BULK_TEST, seed, tmp_path)
    admin = stats[ADMIN]
    lines = _bulk_lines(admin["path"])
    assert len(lines) == admin["messages"]
    payloads = []
    for line in lines:
        with contextlib.suppress(ValueError):
            payloads.append(json.loads(line))
    coverage = [p for p in payloads if isinstance(p, dict) and p.get("role") == "secondary"]
    assert len(coverage) > 10 * len(company.reps)  # the bulk is most of the stream
    assert admin["exact_duplicates"] > 0 and admin["semantic_duplicates"] > 0
    assert admin["backdated"] > 0 and admin["extra_field"] > 0

    history = build_history(payloads)
    open_slots = {(w.repl_id, w.team_id, w.role) for w in history.windows if w.valid_to == OPEN_END}
    simulated = {(r.repl_id, r.primary, "primary") for r in company.reps.values() if r.primary}
    assert open_slots == simulated  # every stint closed; the primaries are the simulation's
    teams_now = {v[0]: (v[1], v[2], v[3]) for v in history.team_versions if v[6] == OPEN_END}
    assert teams_now == {t.team_id: (t.name, t.parent_id, t.active) for t in company.teams.values()}
    # No stint outlives its rep or its team, and none removes what is not there.
    assert len(history.orphan_removals) == admin.get("orphan_removals", 0)
    for w in history.windows:
        rep = company.reps[w.repl_id]
        if w.role == "secondary":  # the reference's instants are naive UTC
            assert rep.hired_at.replace(tzinfo=None) < w.valid_from
            assert rep.left_at is None or w.valid_to < rep.left_at.replace(tzinfo=None)


def test_bulk_engine_tickets_go_to_reps_employed_then(tmp_path: Path) -> None:
    company, stats = simulate(BULK_TEST, 5, tmp_path)
    zendesk = stats["zendesk.ticket_events.v1"]
    lines = _bulk_lines(zendesk["path"])
    assert len(lines) == zendesk["messages"]
    events = [json.loads(line) for line in lines[:-1]]  # the last line is malformed on purpose
    assert len({e["id"] for e in events}) == zendesk["events"]
    by_login = {r.login: r for r in company.reps.values()}
    okta_users = {o: r for r in company.reps.values() for _, o in r.okta_history}
    primaries: dict[str, list[tuple[datetime, str | None]]] = {}
    for repl_id, since, team_id in company.primary_log:
        primaries.setdefault(repl_id, []).append((since, team_id))
    created = {}
    groups_checked = 0
    for e in events:
        at = datetime.fromisoformat(e["created_at"].replace("Z", "+00:00"))
        assert at < HISTORY_END
        if e["type"] == "ticket.created":
            created[e["ticket_id"]] = at
            person = e["assignee"]
            if person is not None and person["external_id"] in okta_users:
                rep = by_login[person["email"]]
                assert okta_users[person["external_id"]] is rep
                assert rep.hired_at < at and (rep.left_at is None or at < rep.left_at)
                # the group is the creating rep's primary team at that instant
                log = primaries[rep.repl_id]
                team = log[bisect.bisect_right(log, at, key=lambda entry: entry[0]) - 1][1]
                assert e["group_id"] == 20_000 + (int(team[2:]) if team else 0)
                groups_checked += 1
    assert groups_checked > 1000
    unassigned = sum(e["assignee"] is None for e in events)
    assert 0 < unassigned < len(events) * 0.03
    assert all(created[e["ticket_id"]] <= _at(e) for e in events if e["ticket_id"] in created)
    assert {e["type"] for e in events} >= {"ticket.assignee_changed", "ticket.solved"}


def _at(event: dict) -> datetime:
    return datetime.fromisoformat(event["created_at"].replace("Z", "+00:00"))
