"""The synthetic company: deterministic, and its dirt never changes the truth it simulated.

The generator keeps the org in memory (who is in which team, team names and parents, each rep's
current Okta user) while it emits events with duplicates, retries under new ids, backdating and
out-of-order delivery. Folding those events with the reference implementation must give back the
generator's own final state, and the only orphan removals must be the ones it put in on purpose:
otherwise the demo's data-quality numbers would be artefacts of the generator.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
from pathlib import Path

import pytest

from ingest.generator import generate, simulate
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
