"""Salesforce data-quality marts: reconciliation, orphan opportunities, CDC gaps, freshness.

Records, change events and sync-log entries land through the file replay path (stage → raw),
and only the Salesforce DQ models and what they read are built, once for the module.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb
import pytest

from ingest.dbt_runner import build, run_dbt
from ingest.file_source import file_sha256, ingest_files
from ingest.settings import Settings
from tests.python.salesforce_records import bulk_record
from tests.python.salesforce_records import sf_iso as _iso
from tests.python.salesforce_records import write_jsonl as _write

pytestmark = pytest.mark.dbt

DQ_MODELS = (
    "dq_salesforce_reconciliation",
    "dq_salesforce_orphan_opportunities",
    "dq_salesforce_cdc_gaps",
    "dq_salesforce_freshness",
)
# Every unhandled gap is overdue; Account's SLA is 0 minutes (stale by the time dbt runs).
VARS = {"salesforce_cdc_gap_grace_minutes": -1, "salesforce_freshness_sla_minutes": {"Account": 0}}
NOW = datetime.now(UTC).replace(tzinfo=None, microsecond=0)


def _record(sobject: str, fields: dict, modstamp: datetime) -> dict:
    return bulk_record(sobject, {"IsDeleted": False, **fields}, modstamp)


def _cdc(sobject: str, change_type: str, ids: list[str], at: datetime, replay: int) -> dict:
    header = {
        "entityName": sobject,
        "recordIds": ids,
        "changeType": change_type,
        "changeOrigin": "com/salesforce/api/rest/60.0",
        "transactionKey": f"tx{replay}",
        "sequenceNumber": 1,
        "commitTimestamp": int(at.replace(tzinfo=UTC).timestamp() * 1000),
        "commitNumber": 1000 + replay,
        "commitUser": "005000000000ANN",
        "changedFields": [],
        "nulledFields": [],
        "diffFields": [],
    }
    return {"schema": "s1", "payload": {"ChangeEventHeader": header}, "event": {"replayId": replay}}


def _sync(seq: int, kind: str, sobject: str | None, at: datetime, **extra) -> dict:
    entry = {"entry_id": f"run1/{seq}", "kind": kind, "sobject": sobject, "run_id": "run1"}
    return entry | {"at": _iso(at)} | extra


@dataclass
class Warehouse:
    settings: Settings
    statuses: dict[str, tuple[str, int | None]]
    gap_file_sha: str

    def query(self, sql: str) -> list[tuple]:
        con = duckdb.connect(str(self.settings.warehouse_path), read_only=True)
        try:
            return con.execute(sql).fetchall()
        finally:
            con.close()

    def test_status(self, name_part: str) -> tuple[str, int | None]:
        hits = [v for k, v in self.statuses.items() if name_part in k]
        assert len(hits) == 1, (name_part, sorted(self.statuses))
        return hits[0]


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory: pytest.TempPathFactory, dbt_target_path: Path) -> Warehouse:
    tmp = tmp_path_factory.mktemp("sfdc-marts")
    settings = Settings(
        warehouse_path=tmp / "w.duckdb", stage_dir=tmp / "stage", dbt_target_path=dbt_target_path
    )
    day = NOW - timedelta(days=1)
    accounts = [
        _record("Account", {"Id": "001000000000001", "Name": "Live"}, day),
        _record("Account", {"Id": "001000000000002", "Name": "Gone"}, day),
        _record("Account", {"Id": "001000000000002", "Name": "Gone", "IsDeleted": True}, NOW),
    ]

    def opp(oid, account, amount, **extra):
        fields = {"Id": oid, "AccountId": account, "Amount": amount, "CloseDate": "2026-11-30"}
        return _record("Opportunity", fields | extra, day)

    opps = [
        opp("006000000000001", "001000000000001", 100.0),
        opp("006000000000002", None, 200.0),
        opp("006000000000003", "001000000000002", 300.0),
        opp("006000000000004", "001999999999999", 400.0),
        # Deleted: neither counted nor an orphan.
        opp("006000000000005", None, 500.0, IsDeleted=True),
    ]
    cdc = [
        _cdc("Opportunity", "GAP_UPDATE", ["006000000000001"], day, 1),
        _cdc("Opportunity", "GAP_CREATE", ["006000000000002", "006000000000003"], day, 2),
        _cdc("Opportunity", "GAP_OVERFLOW", ["006000000000004"], day, 3),
        # An ordinary change event: not a gap.
        _cdc("Opportunity", "DELETE", ["006000000000009"], day, 4),
    ]
    gap_file = _write(tmp / "cdc.jsonl", cdc)
    sha = file_sha256(gap_file)
    sync = [
        # An older aggregate that no longer holds: the latest one per object counts.
        _sync(1, "source_aggregate", "Opportunity", day, count=9, sum_amount=1.0, as_of=_iso(day)),
        _sync(2, "source_aggregate", "Opportunity", NOW, count=4, sum_amount=1e3, as_of=_iso(NOW)),
        _sync(3, "source_aggregate", "Account", NOW, count=3, sum_amount=None, as_of=_iso(NOW)),
        # Line 1 of the CDC file re-fetched (the ids), line 3 re-synced (a count of records).
        _sync(4, "gap", "Opportunity", NOW, change_type="GAP_UPDATE",
              record_ids=["006000000000001"], replay_position=f"file:{sha}/1",
              refetched=["006000000000001"], missing=["006000000000777", "006000000000778"]),
        _sync(5, "overflow", "Opportunity", NOW, replay_position=f"file:{sha}/3",
              window_start=_iso(day), window_end=_iso(NOW), refetched=3),
    ]  # fmt: skip
    for name, topic, rows in (
        ("accounts", "salesforce.records.Account", accounts),
        ("opps", "salesforce.records.Opportunity", opps),
        ("sync", "salesforce.sync", sync),
    ):
        ingest_files([_write(tmp / f"{name}.jsonl", rows)], topic, settings)
    ingest_files([gap_file], "salesforce.cdc.Opportunity", settings)

    result = build(
        settings,
        select=" ".join(f"+{m}" for m in DQ_MODELS),
        exclude="test_type:unit",
        vars=VARS,
        quiet=True,
        check=False,
    )
    assert result.returncode == 0, result.counts()
    statuses = {
        r["unique_id"]: (r["status"], r.get("failures"))
        for r in result.run_results["results"]
        if r["unique_id"].startswith("test.")
    }
    return Warehouse(settings, statuses, sha)


def test_reconciliation_compares_the_latest_aggregate_with_the_mart(warehouse: Warehouse) -> None:
    got = {
        row[0]: row[1:]
        for row in warehouse.query(
            """
            select object, source_count, warehouse_count, count_diff, source_sum_amount,
                   warehouse_sum_amount, amount_diff, is_reconciled
            from marts.dq_salesforce_reconciliation
            """
        )
    }
    assert got == {
        "Opportunity": (4, 4, 0, 1000.0, 1000.0, 0.0, True),
        "Account": (3, 1, -2, None, None, None, False),
    }
    assert warehouse.test_status("expect_expression_is_true_dq_salesforce_reconciliation") == (
        "warn",
        1,
    )


def test_orphan_opportunities(warehouse: Warehouse) -> None:
    got = dict(
        warehouse.query(
            "select opportunity_id, orphan_reason from marts.dq_salesforce_orphan_opportunities"
        )
    )
    assert got == {
        "006000000000002": "no account",
        "006000000000003": "account deleted",
        "006000000000004": "account unknown",
    }
    status, _ = warehouse.test_status("expect_table_row_count_to_equal_dq_salesforce_orphan")
    assert status == "warn"


def test_cdc_gaps_are_joined_to_their_handling(warehouse: Warehouse) -> None:
    sha = warehouse.gap_file_sha
    got = {
        row[0]: row[1:]
        for row in warehouse.query(
            """
            select source_position, change_type, record_ids, handled, handling_kind,
                   refetched_count, missing_count, handled_at is not null,
                   minutes_unhandled is not null
            from marts.dq_salesforce_cdc_gaps
            """
        )
    }
    assert got == {
        f"file:{sha}/1": ("GAP_UPDATE", "006000000000001", True, "gap", 1, 2, True, False),
        f"file:{sha}/2": (
            "GAP_CREATE",
            "006000000000002,006000000000003",
            False,
            None,
            None,
            None,
            False,
            True,
        ),
        f"file:{sha}/3": (
            "GAP_OVERFLOW",
            "006000000000004",
            True,
            "overflow",
            3,
            None,
            True,
            False,
        ),
    }
    (commit,) = warehouse.query(
        f"select commit_timestamp from marts.dq_salesforce_cdc_gaps "
        f"where source_position = 'file:{sha}/1'"
    )[0]
    assert commit == NOW - timedelta(days=1)
    # With a grace of -1 minutes the one unhandled gap is overdue: the warn test flags it alone.
    assert warehouse.test_status("assert_salesforce_cdc_gaps_are_handled") == ("warn", 1)


def test_freshness_per_object_against_its_sla(warehouse: Warehouse) -> None:
    got = {
        row[0]: row[1:]
        for row in warehouse.query(
            """
            select object, sla_minutes, is_fresh, latest_loaded_at is not null,
                   latest_system_modstamp, age_minutes
            from marts.dq_salesforce_freshness
            """
        )
    }
    assert set(got) == {
        "Account",
        "Contact",
        "Lead",
        "Opportunity",
        "OpportunityLineItem",
        "User",
        "Task",
        "Event",
    }
    sla, fresh, loaded, modstamp, age = got["Opportunity"]
    assert (sla, fresh, loaded) == (10, True, True)
    assert 0 <= age < 10
    assert modstamp == NOW - timedelta(days=1)
    # The SLA var overrides Account's 60 minutes with 0: loaded seconds ago, already stale.
    assert got["Account"][:3] == (0, False, True)
    assert got["Account"][3] == NOW
    # Nothing landed for Task: not fresh; its default SLA is 60 minutes.
    assert got["Task"][:3] == (60, False, False)
    assert got["OpportunityLineItem"][0] == 10
    assert warehouse.test_status("expect_expression_is_true_dq_salesforce_freshness")[0] == "warn"


def test_dbt_source_freshness_reports_the_slas(warehouse: Warehouse) -> None:
    result = run_dbt(
        warehouse.settings,
        [
            "source",
            "freshness",
            "--select",
            "source:salesforce.salesforce_opportunity source:salesforce.salesforce_account",
        ],
        vars=VARS,  # the build's vars: dbt keeps its partial parse
        quiet=True,
        check=False,
    )
    assert result.returncode == 0
    # `dbt source freshness` writes sources.json, not run_results.json.
    sources = json.loads((Path(warehouse.settings.dbt_target_path) / "sources.json").read_text())
    got = {
        r["unique_id"].rsplit(".", 1)[-1]: (r["status"], r["criteria"]["warn_after"])
        for r in sources["results"]
    }
    assert got == {
        "salesforce_opportunity": ("pass", {"count": 10, "period": "minute"}),
        "salesforce_account": ("pass", {"count": 60, "period": "minute"}),
    }
