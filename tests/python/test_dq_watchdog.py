"""The data-quality watchdog's parts: dq_volume_anomalies, `ingest.ops dq-check`, run summaries.

Real DuckDB files and real dbt builds. The volume history is written straight into the raw tables
(28 days of `_loaded_at`: a loader stamps the current time, and the rule needs days of history);
the Salesforce rows land through the file replay path (stage → raw) like production.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from datetime import date, timedelta
from pathlib import Path

import duckdb
import pytest

from ingest.dbt_runner import build, run_dbt
from ingest.file_source import ingest_files
from ingest.settings import PROJECT_DIR, Settings
from ingest.warehouse import DuckDBWarehouse

pytestmark = pytest.mark.dbt

FIRST_DAY = date(2026, 3, 1)
DAYS = 28  # 2026-03-01 .. 2026-03-28
DROP_DAY, SPIKE_DAY, ZERO_DAY = date(2026, 3, 20), date(2026, 3, 22), date(2026, 3, 24)
QUARANTINE_SPIKE_DAY = date(2026, 3, 27)


def daily_counts() -> dict[str, dict[date, int]]:
    """Rows per raw table and day: regular sources with one injected drop, spike and empty day,
    a constant source one row above its habit (no anomaly), and a rare quarantine."""
    counts: dict[str, dict[date, int]] = {}
    for i in range(DAYS):
        day = FIRST_DAY + timedelta(days=i)
        counts.setdefault("admin_membership_events", {})[day] = (
            30 if day == DROP_DAY else 100 + i % 5
        )
        counts.setdefault("okta_system_log", {})[day] = 400 if day == SPIKE_DAY else 50 + i % 3
        if day != ZERO_DAY:
            counts.setdefault("zendesk_ticket_events", {})[day] = 40 + i % 4
        counts.setdefault("salesforce_opportunity", {})[day] = 21 if i == 25 else 20
    counts["ingest_quarantine"] = {FIRST_DAY: 1, date(2026, 3, 25): 2, QUARANTINE_SPIKE_DAY: 10}
    return counts


def insert_raw(path: Path, counts: dict[str, dict[date, int]]) -> None:
    DuckDBWarehouse(path).close()  # creates the raw schema exactly as a load does
    con = duckdb.connect(str(path))
    try:
        for table, per_day in counts.items():
            extra = ", 'malformed json', '{', null" if table == "ingest_quarantine" else ", '{}'"
            for day, n in per_day.items():
                con.execute(
                    f"""
                    insert into raw.{table}
                    select 'test:{table}/' || '{day}' || '/' || i, 'test', 0, i, null, null,
                           cast('{day} 12:00:00' as timestamp) + to_microseconds(i),
                           'batch-{day}', 'stage/{table}/{day}.jsonl'{extra}
                    from range({n}) as r(i)
                    """
                )
    finally:
        con.close()


def ops(settings: Settings, *args: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ)
    env["REVOPS_WAREHOUSE"] = str(settings.warehouse_path)
    env["REVOPS_STAGE"] = str(settings.stage_dir)
    return subprocess.run(
        [sys.executable, "-m", "ingest.ops", *args],
        cwd=PROJECT_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def query(settings: Settings, sql: str) -> list[tuple]:
    con = duckdb.connect(str(settings.warehouse_path), read_only=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


@pytest.fixture(scope="module")
def volume(tmp_path_factory: pytest.TempPathFactory, dbt_target_path: Path) -> Settings:
    tmp = tmp_path_factory.mktemp("dq-volume")
    settings = Settings(
        warehouse_path=tmp / "w.duckdb", stage_dir=tmp / "stage", dbt_target_path=dbt_target_path
    )
    insert_raw(settings.warehouse_path, daily_counts())
    result = build(
        settings,
        select="+dq_volume_anomalies",
        # The singular tests over int_calendar_days read models this build does not make.
        exclude="test_type:unit test_type:singular",
        quiet=True,
        check=False,
    )
    assert result.returncode == 0, result.counts()
    failed = [
        r["unique_id"]
        for r in result.run_results["results"]
        if r["status"] not in ("pass", "success")
    ]
    assert not failed, failed
    return settings


def test_volume_anomalies_flag_the_injected_days_only(volume: Settings) -> None:
    flagged = query(
        volume,
        "select table_name, load_date, anomaly from marts.dq_volume_anomalies where is_anomaly",
    )
    assert sorted(flagged) == [
        ("admin_membership_events", DROP_DAY, "drop"),
        ("ingest_quarantine", QUARANTINE_SPIKE_DAY, "spike"),
        ("okta_system_log", SPIKE_DAY, "spike"),
        ("zendesk_ticket_events", ZERO_DAY, "zero"),
    ]
    # Every source from its first load day to the last day any source loaded, empty days as 0.
    got = {
        (table, day): (count, baseline_days)
        for table, day, count, baseline_days in query(
            volume,
            "select table_name, load_date, row_count, baseline_days from marts.dq_volume_anomalies",
        )
    }
    assert len(got) == 5 * DAYS  # every source (the quarantine too) loaded on the first day
    assert got[("zendesk_ticket_events", ZERO_DAY)] == (0, 14)
    assert got[("ingest_quarantine", date(2026, 3, 2))] == (0, 1)
    # A constant source one row above its habit, and the first days (no history): not judged.
    assert ("salesforce_opportunity", FIRST_DAY + timedelta(days=25)) not in {
        (t, d) for t, d, _ in flagged
    }
    assert got[("admin_membership_events", FIRST_DAY)] == (100, 0)


def test_volume_bounds_follow_the_documented_rule(volume: Settings) -> None:
    (mean, stddev, low, high, count) = query(
        volume,
        f"""
        select baseline_mean, baseline_stddev, lower_bound, upper_bound, row_count
        from marts.dq_volume_anomalies
        where table_name = 'admin_membership_events' and load_date = '{DROP_DAY}'
        """,
    )[0]
    history = [100 + i % 5 for i in range(5, 19)]  # the 14 days before DROP_DAY (day index 19)
    expected_mean = sum(history) / 14
    spread = max(
        (sum((x - expected_mean) ** 2 for x in history) / 13) ** 0.5, expected_mean**0.5, 1
    )
    assert mean == pytest.approx(expected_mean, abs=0.01)
    assert low == pytest.approx(expected_mean - 3 * spread, abs=0.01)
    assert high == pytest.approx(expected_mean + 3 * spread, abs=0.01)
    assert stddev is not None and count == 30 < low


def test_dq_check_volume_fails_with_the_anomalies_and_passes_a_clean_day(volume: Settings) -> None:
    failed = ops(volume, "dq-check", "volume", "--day", str(DROP_DAY))
    print(failed.stderr)
    assert failed.returncode == 2
    assert (
        "volume: 1 volume anomaly(ies) on 2026-03-20: admin_service.admin_membership_events drop "
        "on 2026-03-20: 30 rows" in failed.stderr
    )
    clean = ops(volume, "dq-check", "volume", "--day", "2026-03-21")
    assert (clean.returncode, clean.stdout.strip()) == (0, "volume: ok"), clean.stderr
    # A day after the last load day: nothing landed anywhere.
    silent = ops(volume, "dq-check", "volume", "--day", "2026-03-29")
    assert silent.returncode == 2
    assert "no source loaded any row on 2026-03-29 (last load day 2026-03-28)" in silent.stderr


def test_dq_check_freshness_reads_dbt_sources_json(tmp_path: Path) -> None:
    results = {
        "results": [
            {
                "unique_id": "source.revops.admin_service.admin_membership_events",
                "status": "warn",
                "max_loaded_at_time_ago_in_s": 42 * 60.0,
                "criteria": {"warn_after": {"count": 15, "period": "minute"}},
            },
            {
                "unique_id": "source.revops.salesforce.salesforce_opportunity",
                "status": "pass",
                "max_loaded_at_time_ago_in_s": 60.0,
                "criteria": {"warn_after": {"count": 10, "period": "minute"}},
            },
        ]
    }
    path = tmp_path / "sources.json"
    path.write_text(json.dumps(results))
    settings = Settings(warehouse_path=tmp_path / "w.duckdb", stage_dir=tmp_path / "stage")
    failed = ops(settings, "dq-check", "freshness", str(path))
    assert failed.returncode == 2
    assert (
        "freshness: 1 source(s) past their freshness SLA: admin_service.admin_membership_events "
        "warn: last load 42 min ago (SLA 15 minute)" in failed.stderr
    )
    results["results"] = results["results"][1:]
    path.write_text(json.dumps(results))
    clean = ops(settings, "dq-check", "freshness", str(path))
    assert (clean.returncode, clean.stdout.strip()) == (0, "freshness: ok"), clean.stderr


def freshness(settings: Settings, select: str, out: Path, vars: dict | None = None) -> int:
    """`dbt source freshness` as the watchdog runs it (its report to `out`); dbt's exit code."""
    args = ["source", "freshness", "--select", select, "--output", str(out)]
    return run_dbt(settings, args, vars=vars, quiet=True, check=False).returncode


def test_real_freshness_breach_of_the_membership_sla(volume: Settings, tmp_path: Path) -> None:
    """Membership rows loaded in March: past the 15-minute SLA and past error_after (6 h), so
    dbt itself exits 1, and the check names the source with its SLA."""
    report = tmp_path / "sources.json"
    assert freshness(volume, "source:admin_service", report) == 1
    failed = ops(volume, "dq-check", "freshness", str(report))
    assert failed.returncode == 2
    assert "freshness: 1 source(s) past their freshness SLA: " in failed.stderr
    assert "admin_service.admin_membership_events error: last load " in failed.stderr
    assert "(SLA 15 minute)" in failed.stderr


def _write(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def _opportunity(oid: str, amount: float) -> dict:
    return {
        "sobject": "Opportunity",
        "source": "bulk",
        "schema_version": "000000000001",
        "extracted_at": "2026-11-30T10:05:00.000Z",
        "job_id": None,
        "record": {
            "Id": oid,
            "Amount": amount,
            "CloseDate": "2026-11-30",
            "SystemModstamp": "2026-11-30T10:00:00.000Z",
            "IsDeleted": False,
        },
    }


def _aggregate(seq: int, sobject: str, count: int, sum_amount: float | None) -> dict:
    at = f"2026-11-30T11:{seq:02d}:00.000Z"
    return {
        "entry_id": f"run1/{seq}",
        "kind": "source_aggregate",
        "sobject": sobject,
        "run_id": "run1",
        "at": at,
        "count": count,
        "sum_amount": sum_amount,
        "as_of": at,
    }


RECONCILIATION = "stg_salesforce__sync_log dq_salesforce_reconciliation"


def test_dq_check_reconciliation_and_run_summaries(tmp_path: Path, dbt_target_path: Path) -> None:
    settings = Settings(
        warehouse_path=tmp_path / "w.duckdb",
        stage_dir=tmp_path / "stage",
        dbt_target_path=dbt_target_path,
    )
    opps = [_opportunity("006000000000001", 100.0), _opportunity("006000000000002", 200.0)]
    ingest_files(
        [_write(tmp_path / "opps.jsonl", opps)], "salesforce.records.Opportunity", settings
    )
    sync = [_aggregate(1, "Opportunity", 2, 300.0)]
    ingest_files([_write(tmp_path / "sync1.jsonl", sync)], "salesforce.sync", settings)
    result = build(
        settings,
        select="+dq_salesforce_reconciliation",
        exclude="test_type:unit",
        quiet=True,
        check=False,
    )
    assert result.returncode == 0, result.counts()
    clean = ops(settings, "dq-check", "reconciliation")
    assert (clean.returncode, clean.stdout.strip()) == (0, "reconciliation: ok"), clean.stderr

    # Salesforce now reports three accounts the warehouse never received.
    sync = [_aggregate(2, "Account", 3, None)]
    ingest_files([_write(tmp_path / "sync2.jsonl", sync)], "salesforce.sync", settings)
    result = build(settings, select=RECONCILIATION, quiet=True, check=False)
    assert result.returncode == 0, result.counts()
    failed = ops(settings, "dq-check", "reconciliation")
    print(failed.stderr)
    assert failed.returncode == 2
    assert (
        "reconciliation: 1 Salesforce object(s) not reconciled: Account: warehouse 0 vs "
        "Salesforce 3 (diff -3; aggregate as of 2026-11-30 11:02:00)" in failed.stderr
    )

    # Freshness of the Opportunity rows just landed: within the 10-minute SLA; with the SLA var
    # at 0 minutes the same rows are a warn, which dbt passes and the watchdog check fails.
    report = tmp_path / "sources.json"
    opportunity = "source:salesforce.salesforce_opportunity"
    assert freshness(settings, opportunity, report) == 0
    assert ops(settings, "dq-check", "freshness", str(report)).returncode == 0
    sla_zero = {"salesforce_freshness_sla_minutes": {"Opportunity": 0}}
    assert freshness(settings, opportunity, report, vars=sla_zero) == 0
    late = ops(settings, "dq-check", "freshness", str(report))
    assert late.returncode == 2
    # The age is whole minutes since the load, so a slow machine may read 1 or 2.
    assert re.search(
        r"salesforce\.salesforce_opportunity warn: last load \d+ min ago \(SLA 0 minute\)",
        late.stderr,
    ), late.stderr

    # Run summaries: a rerun of the same DAG run replaces its row.
    loaded = query(settings, "select sum(rows_in_file), sum(rows_inserted) from raw.load_history")
    for status in ("failed", "success"):
        summary = {
            "dag_id": "sync_salesforce",
            "run_id": "manual__1",
            "status": status,
            "started_at": "2000-01-01T00:00:00+00:00",
            "tasks": [{"task_id": "sync_object", "state": status}],
        }
        recorded = ops(settings, "record-run-summary", json.dumps(summary))
        assert recorded.returncode == 0, recorded.stderr
    assert "ops.run_summaries: sync_salesforce manual__1 success; 4 rows in" in recorded.stdout
    rows = query(settings, "select dag_id, run_id, status, summary from ops.run_summaries")
    assert [row[:3] for row in rows] == [("sync_salesforce", "manual__1", "success")]
    stored = json.loads(rows[0][3])
    assert stored["tasks"] == [{"task_id": "sync_object", "state": "success"}]
    counts = stored["warehouse"]
    assert (counts["rows_in"], counts["rows_inserted"]) == tuple(int(v) for v in loaded[0])
    assert counts["quarantined"] == 0
    assert counts["loads"]["salesforce_sync_log"]["stage_files"] == 2
    assert "rejected" not in counts  # marts.dq_rejected_events was not built here


def test_record_run_summary_refuses_a_summary_without_its_run(tmp_path: Path) -> None:
    settings = Settings(warehouse_path=tmp_path / "w.duckdb", stage_dir=tmp_path / "stage")
    result = ops(settings, "record-run-summary", json.dumps({"dag_id": "x"}))
    assert result.returncode == 2
    assert "run summary without 'run_id'" in result.stderr
