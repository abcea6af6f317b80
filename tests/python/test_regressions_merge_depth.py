"""A merge chain longer than membership_max_merge_depth fails the build loudly, never silently
cutting history short: the carries, the current-org restatement and the merge closure all follow
the one var."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import pytest

from ingest.dbt_runner import DbtResult, build, run_dbt
from ingest.file_source import ingest_files
from ingest.settings import Settings

pytestmark = pytest.mark.dbt


def event(event_id: str, event_type: str, effective_at: str, **fields: str) -> dict:
    return {
        "event_id": event_id,
        "event_type": event_type,
        "effective_at": effective_at,
        "emitted_at": effective_at,
        **fields,
    }


def failed_tests(result: DbtResult) -> set[str]:
    return {
        r["unique_id"].split(".")[2]
        for r in (result.run_results or {}).get("results", [])
        if r["unique_id"].startswith("test.") and r["status"] in ("fail", "error")
    }


def test_a_chain_longer_than_the_merge_depth_fails_the_build(
    tmp_path: Path, warehouse_settings: Settings
) -> None:
    settings = warehouse_settings
    # r1 is carried t0 → t1 → t2 → t3 (three merges); u0 → u1 → u2 → u3 is a chain of current
    # merges nobody was carried through (only the restatement and the closure follow it).
    events = [event("a1", "MEMBERSHIP_ADDED", "2026-01-01T00:00:00Z", repl_id="r1", team_id="t0")]
    for prefix in ("t", "u"):
        for i in range(4):
            team = f"{prefix}{i}"
            events.append(
                event(
                    f"c{team}", "TEAM_CREATED", "2026-01-01T00:00:00Z", team_id=team, team_name=team
                )
            )
        for i in range(3):
            into = {"team_id": f"{prefix}{i}", "merged_into_team_id": f"{prefix}{i + 1}"}
            events.append(
                event(f"m{prefix}{i}", "TEAM_MERGED", f"2026-01-0{i + 2}T00:00:00Z", **into)
            )
    path = tmp_path / "admin.jsonl"
    path.write_text("".join(json.dumps(e) + "\n" for e in events))
    ingest_files([path], "admin.membership.v1", settings)

    # The closure's test fails first (the closure is upstream of everything membership), so it is
    # left out of the build and run on its own: both must fail.
    closure_test = "assert_team_merge_closure_is_closed"
    too_short = build(
        settings,
        full_refresh=True,
        quiet=True,
        check=False,
        exclude=f"test_type:unit {closure_test}",
        vars={"membership_max_merge_depth": 2},
    )
    assert too_short.returncode != 0
    assert failed_tests(too_short) == {"assert_membership_merge_depth_sufficient"}
    closure = run_dbt(
        settings,
        ["test", "--select", closure_test],
        vars={"membership_max_merge_depth": 2},
        check=False,
        quiet=True,
    )
    assert failed_tests(closure) == {closure_test}
    con = duckdb.connect(str(settings.warehouse_path), read_only=True)
    try:
        cut_short = con.execute(
            """select team_id from intermediate.int_teams_restated
               where needs_deeper_merge_chain order by all"""
        ).fetchall()
    finally:
        con.close()
    assert cut_short == [("t0",), ("u0",)]

    enough = build(
        settings,
        full_refresh=True,
        quiet=True,
        check=False,
        exclude="test_type:unit",
        vars={"membership_max_merge_depth": 3},
    )
    assert enough.returncode == 0, failed_tests(enough)
    con = duckdb.connect(str(settings.warehouse_path), read_only=True)
    try:
        bridge = con.execute(
            """select team_id, team_id_restated, opened_by_event_id
               from marts.bridge_repl_team_membership order by valid_from"""
        ).fetchall()
        restated = con.execute(
            "select team_id, team_id_restated, merge_hops from intermediate.int_teams_restated"
            " where team_id in ('t0', 'u0') order by all"
        ).fetchall()
    finally:
        con.close()
    assert bridge == [
        ("t0", "t3", "a1"),
        ("t1", "t3", "mt0"),
        ("t2", "t3", "mt1"),
        ("t3", "t3", "mt2"),
    ]
    assert restated == [("t0", "t3", 3), ("u0", "u3", 3)]
