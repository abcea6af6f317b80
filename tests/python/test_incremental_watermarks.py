"""Incremental models never skip events, whatever subset of the project a run selected."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import pytest

from ingest.dbt_runner import build
from ingest.file_source import ingest_files
from ingest.settings import Settings

pytestmark = pytest.mark.dbt

TOPIC = "admin.membership.v1"


def event(event_id: str, event_type: str, effective_at: str, **fields: str | None) -> dict:
    return {
        "event_id": event_id,
        "event_type": event_type,
        "effective_at": effective_at,
        "emitted_at": effective_at,
        "actor": "admin@example.com",
        **fields,
    }


def write_jsonl(path: Path, events: list[dict]) -> Path:
    path.write_text("".join(json.dumps(e) + "\n" for e in events))
    return path


def bridge(settings: Settings) -> list[tuple]:
    con = duckdb.connect(str(settings.warehouse_path), read_only=True)
    try:
        return con.execute(
            """
            select repl_id, team_id, role, valid_from, valid_to, team_id_restated,
                   opened_by_event_id, closed_by_event_id
            from marts.bridge_repl_team_membership
            order by all
            """
        ).fetchall()
    finally:
        con.close()


def test_a_run_of_one_model_with_stale_staging_does_not_lose_events(
    tmp_path: Path, dbt_target_path: Path
) -> None:
    settings = Settings(
        warehouse_path=tmp_path / "w.duckdb",
        stage_dir=tmp_path / "stage",
        dbt_target_path=dbt_target_path,
    )
    first = [
        event("c1", "TEAM_CREATED", "2026-01-01T00:00:00Z", team_id="t1", team_name="One"),
        event("c2", "TEAM_CREATED", "2026-01-01T00:00:00Z", team_id="t2", team_name="Two"),
        event("a1", "MEMBERSHIP_ADDED", "2026-01-02T00:00:00Z", repl_id="r1", team_id="t1"),
    ]
    ingest_files([write_jsonl(tmp_path / "1.jsonl", first)], TOPIC, settings)
    build(settings, full_refresh=True, quiet=True, exclude="test_type:data")
    assert [row[:2] for row in bridge(settings)] == [("r1", "t1")]

    # A late primary move and a merge arrive; an operator rebuilds only the bridge first, while
    # staging (and everything between) still lacks the new raw rows.
    second = [
        event("a2", "MEMBERSHIP_ADDED", "2026-01-05T00:00:00Z", repl_id="r1", team_id="t2"),
        event("m1", "TEAM_MERGED", "2026-01-09T00:00:00Z", team_id="t2", merged_into_team_id="t1"),
    ]
    ingest_files([write_jsonl(tmp_path / "2.jsonl", second)], TOPIC, settings)
    build(settings, select="bridge_repl_team_membership", quiet=True, exclude="test_type:data")
    assert [row[:2] for row in bridge(settings)] == [("r1", "t1")]

    # The next ordinary run must pick the new events up, and agree with a full rebuild.
    build(settings, quiet=True, exclude="test_type:data")
    incremental = bridge(settings)
    build(settings, full_refresh=True, quiet=True, exclude="test_type:data")
    assert incremental == bridge(settings)
    assert [(r[1], r[6], r[7]) for r in incremental] == [
        ("t1", "a1", "a2"),  # displaced by the primary move
        ("t1", "m1", None),  # carried back by the merge
        ("t2", "a2", "m1"),
    ]
