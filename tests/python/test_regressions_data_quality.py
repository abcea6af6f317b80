"""The data-quality marts count distinct events and messages, not the copies a replay loads."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import pytest

from ingest.dbt_runner import build
from ingest.file_source import ingest_files
from ingest.settings import Settings

pytestmark = pytest.mark.dbt


def admin_lines(team_name: str) -> list[str]:
    valid = {
        "event_id": "c1",
        "event_type": "TEAM_CREATED",
        "team_id": "t1",
        "team_name": team_name,
        "effective_at": "2026-01-01T00:00:00Z",
        "emitted_at": "2026-01-01T00:00:00Z",
    }
    rejected = {
        "event_id": "x1",
        "event_type": "TEAM_ARCHIVED",
        "team_id": "t1",
        "effective_at": "2026-01-02T00:00:00Z",
        "emitted_at": "2026-01-02T00:00:00Z",
    }
    return [json.dumps(valid), json.dumps(rejected), '{"event_id": "broken"']


def zendesk_lines(status: str) -> list[str]:
    valid = {
        "id": "k1",
        "ticket_id": "k",
        "type": "ticket.status_changed",
        "created_at": "2026-01-03T00:00:00Z",
        "assignee": None,
        "status": status,
        "priority": "normal",
    }
    rejected = {**valid, "id": "k2", "created_at": "yesterday", "status": "open"}
    return [json.dumps(valid), json.dumps(rejected), "[1, 2]"]


def test_a_replayed_file_with_one_changed_line_does_not_double_the_dq_counts(
    tmp_path: Path, warehouse_settings: Settings
) -> None:
    settings = warehouse_settings
    # The corrected file changes one valid line; the rejected and the malformed line are the same
    # bytes again, at new positions (a new file checksum).
    for n, (name, status) in enumerate([("One", "open"), ("One (renamed)", "pending")]):
        admin = tmp_path / f"admin.{n}.jsonl"
        admin.write_text("\n".join(admin_lines(name)) + "\n")
        ingest_files([admin], "admin.membership.v1", settings)
        zendesk = tmp_path / f"zendesk.{n}.jsonl"
        zendesk.write_text("\n".join(zendesk_lines(status)) + "\n")
        ingest_files([zendesk], "zendesk.ticket_events.v1", settings)
    result = build(settings, full_refresh=True, quiet=True, check=False, exclude="test_type:unit")
    assert result.returncode == 0, result.counts()

    con = duckdb.connect(str(settings.warehouse_path), read_only=True)
    try:
        (raw_copies,) = con.execute("select count(*) from raw.ingest_quarantine").fetchone()
        assert raw_copies == 4  # the copies are all in raw, as loaded
        rejected = con.execute(
            """select source_system, event_id, copies_loaded from marts.dq_rejected_events
               order by all"""
        ).fetchall()
        assert rejected == [("admin_service", "x1", 2), ("zendesk", "k2", 2)]
        quarantined = con.execute(
            "select topic, raw_text, copies_loaded from marts.dq_quarantined_messages order by all"
        ).fetchall()
        assert quarantined == [
            ("admin.membership.v1", '{"event_id": "broken"', 2),
            ("zendesk.ticket_events.v1", "[1, 2]", 2),
        ]
        summary = dict(con.execute("select measure, value from marts.dq_summary").fetchall())
        assert summary["raw_messages_quarantined"] == 2
        assert summary["events_rejected_admin_service"] == 1
        assert summary["events_rejected_zendesk"] == 1
    finally:
        con.close()
