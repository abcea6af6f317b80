"""Timestamps outside the documented valid range are rejections, never history (issue 12).

Raw is append-only: an event the warehouse cannot represent (at or after the open-window marker
9999-12-31, or before the headcount calendar) must be rejected in staging with a reason, or
every later build — incremental and full — fails on it for good. The range is
[event_timestamp_min, event_timestamp_max): by default the headcount calendar
[calendar_start_date, calendar_end_date) of dbt_project.yml, which ends well before the marker.
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import duckdb
import pytest
import yaml

from ingest.dbt_runner import build
from ingest.file_source import ingest_files
from ingest.settings import PROJECT_DIR, Settings
from tests.python.reference.membership import (
    OPEN_END,
    TIMESTAMP_MAX,
    TIMESTAMP_MIN,
    rejection_reason,
)

ADMIN = "admin.membership.v1"

# The three lines of issue 12: a secondary membership effective at the open-window marker.
ISSUE_12 = [
    {
        "event_id": "i12-c1",
        "event_type": "TEAM_CREATED",
        "team_id": "i12_t1",
        "team_name": "Issue 12",
        "effective_at": "2026-01-01T00:00:00Z",
        "emitted_at": "2026-01-01T00:00:00Z",
    },
    {
        "event_id": "i12-a1",
        "event_type": "MEMBERSHIP_ADDED",
        "repl_id": "i12_r1",
        "team_id": "i12_t1",
        "effective_at": "2026-01-02T00:00:00Z",
        "emitted_at": "2026-01-02T00:00:00Z",
    },
    {
        "event_id": "i12-a2",
        "event_type": "MEMBERSHIP_ADDED",
        "repl_id": "i12_r1",
        "team_id": "i12_t1",
        "role": "secondary",
        "effective_at": "9999-12-31T23:59:59Z",
        "emitted_at": "2026-01-03T00:00:00Z",
    },
]
# Boundary rows around both ends, each with the verdict the documented range gives.
BOUNDARIES = [
    ("i12-b1", "effective_at", "2050-12-31T23:59:59.999999Z", None),
    ("i12-b2", "effective_at", "2051-01-01T00:00:00Z", "effective_at out of range: {}"),
    ("i12-b3", "effective_at", "2050-12-31T23:00:00-14:00", "effective_at out of range: {}"),
    ("i12-b4", "effective_at", "2000-01-01T00:00:00Z", None),
    ("i12-b5", "effective_at", "2000-01-01T05:00:00+14:00", "effective_at out of range: {}"),
    ("i12-b6", "effective_at", "0001-01-01T00:00:00Z", "effective_at out of range: {}"),
    ("i12-b7", "effective_at", "1900-01-01", "effective_at out of range: {}"),
    ("i12-b8", "emitted_at", "9999-12-31T00:00:00Z", "emitted_at out of range: {}"),
]


def _boundary_event(event_id: str, field: str, value: str) -> dict:
    return {**ISSUE_12[1], "event_id": event_id, "repl_id": f"{event_id}_r", field: value}


def test_documented_range_is_the_headcount_calendar_and_ends_before_the_open_marker() -> None:
    project = yaml.safe_load((PROJECT_DIR / "dbt_project.yml").read_text())["vars"]
    assert datetime.fromisoformat(project["calendar_start_date"]) == TIMESTAMP_MIN
    assert datetime.fromisoformat(project["calendar_end_date"]) == TIMESTAMP_MAX
    assert project.get("event_timestamp_min") is None  # null: the calendar's first day
    assert project.get("event_timestamp_max") is None  # null: the calendar's end
    assert TIMESTAMP_MIN < TIMESTAMP_MAX < OPEN_END


def test_reference_rejects_the_boundaries_with_the_documented_reason() -> None:
    assert rejection_reason(ISSUE_12[2]) == "effective_at out of range: 9999-12-31T23:59:59Z"
    for event_id, field, value, reason in BOUNDARIES:
        expected = reason.format(value) if reason else None
        assert rejection_reason(_boundary_event(event_id, field, value)) == expected, value


def _rejected(warehouse: Path) -> dict[str, str]:
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        rows = con.execute(
            "select event_id, rejection_reason from marts.dq_rejected_events"
            " where source_system = 'admin_service'"
        ).fetchall()
    finally:
        con.close()
    return dict(rows)


@pytest.mark.dbt
def test_an_event_at_the_open_marker_is_rejected_and_builds_stay_green(
    tmp_path: Path, warehouse_settings: Settings
) -> None:
    settings = warehouse_settings
    first = tmp_path / "issue12.jsonl"
    first.write_text("".join(json.dumps(e) + "\n" for e in ISSUE_12), encoding="utf-8")
    ingest_files([first], ADMIN, settings)

    result = build(settings, full_refresh=True, quiet=True, check=False)
    assert result.returncode == 0, result.counts()
    assert _rejected(settings.warehouse_path) == {
        "i12-a2": "effective_at out of range: 9999-12-31T23:59:59Z"
    }

    # The next batch (boundary rows) builds incrementally, green, with the same verdicts as the
    # reference; a full rebuild from the same raw says the same.
    second = tmp_path / "boundaries.jsonl"
    events = [_boundary_event(eid, field, value) for eid, field, value, _ in BOUNDARIES]
    second.write_text("".join(json.dumps(e) + "\n" for e in events), encoding="utf-8")
    ingest_files([second], ADMIN, settings)
    want = {"i12-a2": "effective_at out of range: 9999-12-31T23:59:59Z"}
    want |= {e["event_id"]: rejection_reason(e) for e in events if rejection_reason(e)}
    for full_refresh in (False, True):
        result = build(settings, full_refresh=full_refresh, quiet=True, check=False)
        assert result.returncode == 0, (full_refresh, result.counts())
        assert _rejected(settings.warehouse_path) == want
