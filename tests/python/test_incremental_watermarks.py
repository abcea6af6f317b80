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

ADMIN = "admin.membership.v1"
ZENDESK = "zendesk.ticket_events.v1"
DBT_VARS = {"headcount_through_date": "2026-01-12"}
# Every watermark-driven incremental model (each has a set_incremental_watermark post-hook), and
# the columns that say what it computed.
INCREMENTAL_MODELS = {
    "intermediate.int_membership_intervals": """repl_id, team_id, role, carry_depth,
        open_event_id, open_at, close_event_id, close_at, close_reason""",
    "intermediate.int_membership_windows": """repl_id, team_id, role, valid_from, valid_to,
        opened_by_event_id, closed_by_event_id""",
    "marts.fct_team_daily_headcount": "team_id, date_day, primary_headcount, secondary_headcount",
    "intermediate.int_ticket_events_attributed": "ticket_event_id, repl_id, team_id",
}


def event(event_id: str, event_type: str, effective_at: str, **fields: str | None) -> dict:
    return {
        "event_id": event_id,
        "event_type": event_type,
        "effective_at": effective_at,
        "emitted_at": effective_at,
        "actor": "admin@example.com",
        **fields,
    }


def ticket(ticket_event_id: str, created_at: str, okta_user_id: str) -> dict:
    return {
        "id": ticket_event_id,
        "ticket_id": "k",
        "type": "ticket.assignee_changed",
        "created_at": created_at,
        "assignee": {"id": 1, "external_id": okta_user_id, "email": "x@example.com"},
        "status": "open",
        "priority": "normal",
    }


def write_jsonl(path: Path, events: list[dict]) -> Path:
    path.write_text("".join(json.dumps(e) + "\n" for e in events))
    return path


def snapshot(settings: Settings) -> dict[str, list[tuple]]:
    con = duckdb.connect(str(settings.warehouse_path), read_only=True)
    try:
        return {
            model: con.execute(f"select {columns} from {model} order by all").fetchall()
            for model, columns in INCREMENTAL_MODELS.items()
        }
    finally:
        con.close()


def test_a_run_of_the_incremental_models_with_stale_staging_does_not_lose_events(
    tmp_path: Path, warehouse_settings: Settings
) -> None:
    settings = warehouse_settings

    def run(**kwargs: object) -> None:
        build(settings, quiet=True, exclude="test_type:data", vars=DBT_VARS, **kwargs)

    first = [
        event("c1", "TEAM_CREATED", "2026-01-01T00:00:00Z", team_id="t1", team_name="One"),
        event("c2", "TEAM_CREATED", "2026-01-01T00:00:00Z", team_id="t2", team_name="Two"),
        event(
            "l1", "REPL_IDENTITY_LINKED", "2026-01-01T00:00:00Z", repl_id="r1", okta_user_id="u1"
        ),
        event("a1", "MEMBERSHIP_ADDED", "2026-01-02T00:00:00Z", repl_id="r1", team_id="t1"),
    ]
    ingest_files([write_jsonl(tmp_path / "1.jsonl", first)], ADMIN, settings)
    tickets = [ticket("k1", "2026-01-06T00:00:00Z", "u1")]
    ingest_files([write_jsonl(tmp_path / "1.zendesk.jsonl", tickets)], ZENDESK, settings)
    run(full_refresh=True)
    before = snapshot(settings)
    assert before["intermediate.int_ticket_events_attributed"] == [("k1", "r1", "t1")]

    # A late primary move, a merge and a new ticket event arrive; an operator rebuilds only the
    # incremental models first, while staging (and everything between) still lacks the new rows.
    second = [
        event("a2", "MEMBERSHIP_ADDED", "2026-01-05T00:00:00Z", repl_id="r1", team_id="t2"),
        event("m1", "TEAM_MERGED", "2026-01-09T00:00:00Z", team_id="t2", merged_into_team_id="t1"),
    ]
    ingest_files([write_jsonl(tmp_path / "2.jsonl", second)], ADMIN, settings)
    tickets = [ticket("k2", "2026-01-10T00:00:00Z", "u1")]
    ingest_files([write_jsonl(tmp_path / "2.zendesk.jsonl", tickets)], ZENDESK, settings)
    run(select=" ".join(model.split(".")[1] for model in INCREMENTAL_MODELS))
    assert snapshot(settings) == before

    # The next ordinary run must pick the new events up, and agree with a full rebuild.
    run()
    incremental = snapshot(settings)
    run(full_refresh=True)
    assert incremental == snapshot(settings)
    assert [row[5:] for row in incremental["intermediate.int_membership_windows"]] == [
        ("a1", "a2"),  # displaced by the primary move
        ("m1", None),  # carried back by the merge
        ("a2", "m1"),
    ]
    assert incremental["intermediate.int_ticket_events_attributed"] == [
        ("k1", "r1", "t2"),  # restated: the late move put r1 in t2 by then
        ("k2", "r1", "t1"),
    ]
    t2_days = [row for row in incremental["marts.fct_team_daily_headcount"] if row[0] == "t2"]
    assert [row[2] for row in t2_days if row[2]] == [1] * 4  # 2026-01-05 .. 2026-01-08
