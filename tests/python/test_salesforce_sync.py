"""The Salesforce extractor against the emulator over HTTPS, and its pure record functions."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import orjson
import pytest

from ingest.salesforce import records as rec
from ingest.salesforce.client import SalesforceClient
from ingest.salesforce.sync import Syncer
from ingest.settings import Settings, SettingsError
from ingest.warehouse import DuckDBWarehouse

SINCE = datetime(2024, 1, 1, tzinfo=UTC)
UNTIL = datetime(2027, 6, 1, tzinfo=UTC)
OBJECTS = ["Opportunity", "Account"]


# -- pure functions ---------------------------------------------------------------------------


def test_csv_rows_are_typed_by_describe() -> None:
    types = {
        "Id": "id",
        "Amount": "currency",
        "IsDeleted": "boolean",
        "CloseDate": "date",
        "SystemModstamp": "datetime",
        "NumberOfEmployees": "int",
        "Name": "string",
    }
    text = (
        "Id,Amount,IsDeleted,CloseDate,SystemModstamp,NumberOfEmployees,Name\n"
        '006A,12000,false,2026-03-31,2026-01-01T00:00:00.000+0000,12,"Acme, Inc"\n'
        "006B,,true,,2026-01-01T01:02:03Z,,\n"
    )
    rows = list(rec.csv_records(text, types))
    assert rows[0] == {
        "Id": "006A",
        "Amount": 12000.0,
        "IsDeleted": False,
        "CloseDate": "2026-03-31",
        "SystemModstamp": "2026-01-01T00:00:00.000Z",
        "NumberOfEmployees": 12,
        "Name": "Acme, Inc",
    }
    assert rows[1]["Amount"] is None and rows[1]["IsDeleted"] is True
    assert rows[1]["SystemModstamp"] == "2026-01-01T01:02:03.000Z"
    rest = rec.type_record({"attributes": {"type": "X"}, "Id": "006A", "Amount": 5}, types)
    assert rest == {"Id": "006A", "Amount": 5.0}


def test_positions_and_schema_version() -> None:
    fields = rec.trim_describe({"fields": [{"name": "B", "type": "string"}, {"name": "A"}]})
    assert [f["name"] for f in fields] == ["A", "B"]
    version = rec.schema_version(fields)
    assert len(version) == 12 and version == rec.schema_version(
        rec.trim_describe({"fields": [{"name": "A"}, {"name": "B", "type": "string"}]})
    )
    record = {"Id": "006A", "SystemModstamp": "2026-01-01T00:00:00.000Z"}
    (msg,) = rec.record_messages(
        "Opportunity", "bulk", version, [record], "2026-12-02T00:00:00.000Z"
    )
    assert msg.source_position == f"salesforce:bulk/Opportunity/{version}/006A/1767225600000"
    assert msg.offset == 1767225600000 and msg.topic == "salesforce.records.Opportunity"
    entry = rec.sync_message("r1", 3, "checkpoint", "Account", "2026-12-02T00:00:00.000Z")
    assert entry.source_position == "salesforce:sync/r1/3"
    old = [{"name": "A", "type": "string", "picklistValues": []}]
    new = [{"name": "A", "type": "double", "picklistValues": []}, {"name": "C", "type": "string"}]
    assert rec.describe_drift(old, new) == {"added": ["C"], "retyped": ["A: string -> double"]}


def test_settings_validate_and_redact() -> None:
    s = Settings.from_env(
        {
            "REVOPS_SALESFORCE_INSTANCE_URL": "https://example.my.salesforce.com",
            "REVOPS_SALESFORCE_PASSWORD": "hunter2",
            "REVOPS_SALESFORCE_CLIENT_SECRET": "s3cret",
        }
    )
    assert "hunter2" not in repr(s) and "s3cret" not in repr(s)
    assert s.salesforce.api_budget_share == 0.5 and s.salesforce.max_concurrency == 2
    with pytest.raises(SettingsError, match="REVOPS_SALESFORCE_API_BUDGET_SHARE"):
        Settings.from_env({"REVOPS_SALESFORCE_API_BUDGET_SHARE": "2"})


# -- against the emulator ---------------------------------------------------------------------

from ingest.salesforce.emulator import server as emulator  # noqa: E402
from ingest.salesforce.emulator.org import Org  # noqa: E402


@pytest.fixture
def emu():
    # The org's clock after every seeded SystemModstamp, as in a real org.
    with emulator.Emulator(Org("tiny", 7, now=datetime(2027, 6, 1, tzinfo=UTC))) as e:
        yield e


def _settings(emu, tmp_path: Path) -> Settings:
    sfs = emu.client_settings()
    return Settings(
        warehouse_path=tmp_path / "w.duckdb", stage_dir=tmp_path / "stage", salesforce=sfs
    )


def _sync(settings: Settings, wh: DuckDBWarehouse, **kw) -> Syncer:
    client = SalesforceClient.connect(settings.salesforce)
    client.sleep = lambda s: None
    syncer = Syncer(settings, wh, client, out=lambda line: None)
    syncer.run(kw.pop("objects", OBJECTS), **kw)
    return syncer


def _latest(wh: DuckDBWarehouse, sobject: str) -> dict[str, dict]:
    table = f"salesforce_{'opportunity' if sobject == 'Opportunity' else 'account'}"
    latest: dict[str, dict] = {}
    for _, text in wh.fetch_payloads(table, f"salesforce.records.{sobject}"):
        p = orjson.loads(text)
        if p["source"] not in ("bulk", "rest", "refetch"):
            continue
        r = p["record"]
        if r["Id"] not in latest or r["SystemModstamp"] >= latest[r["Id"]]["SystemModstamp"]:
            latest[r["Id"]] = r
    return latest


def _raw_rows(wh: DuckDBWarehouse) -> int:
    return wh.con.execute(
        "select count(*) from raw.salesforce_opportunity where _topic like 'salesforce.records.%'"
    ).fetchone()[0]


def test_backfill_then_incremental_matches_org_and_replay_is_idempotent(emu, tmp_path) -> None:
    settings = _settings(emu, tmp_path)
    with DuckDBWarehouse(settings.warehouse_path) as wh:
        _sync(settings, wh, backfill=True, since=SINCE)
        emu.org.advance(20)
        _sync(settings, wh)
        for sobject in OBJECTS:
            truth = {r["Id"]: r for r in emu.org.current_records(sobject, include_deleted=True)}
            got = _latest(wh, sobject)
            hard_deleted = set(emu.org.hard_deleted_ids(sobject))
            assert set(got) - hard_deleted == set(truth), sobject
            for rid, r in truth.items():
                assert got[rid]["SystemModstamp"] == rec.normalise_datetime(r["SystemModstamp"])
        before = _raw_rows(wh)
        _sync(settings, wh)  # replay: look-back re-reads, positions dedupe
        _sync(settings, wh, backfill=True, since=SINCE)
        assert _raw_rows(wh) == before
        # A re-read version is skipped, not a position conflict in quarantine.
        assert wh.con.execute("select count(*) from raw.ingest_quarantine").fetchone()[0] == 0
        log = [orjson.loads(t) for _, t in wh.fetch_payloads("salesforce_sync_log")]
        aggregates = [
            e for e in log if e["kind"] == "source_aggregate" and e["sobject"] == "Opportunity"
        ]
        assert aggregates and aggregates[-1]["count"] == emu.org.count("Opportunity")


def test_throttling_retried_without_loss(emu, tmp_path) -> None:
    settings = _settings(emu, tmp_path)
    with DuckDBWarehouse(settings.warehouse_path) as wh:
        emu.throttle(calls=2, status=503)
        syncer = _sync(
            settings, wh, objects=["Opportunity"], backfill=True, since=SINCE, until=UNTIL
        )
        assert syncer.client.throttles
        truth = {r["Id"] for r in emu.org.current_records("Opportunity", include_deleted=True)}
        assert set(_latest(wh, "Opportunity")) == truth


def test_budget_stop_is_clean(emu, tmp_path) -> None:
    settings = _settings(emu, tmp_path)
    with DuckDBWarehouse(settings.warehouse_path) as wh:
        emu.set_daily_limit(1000, remaining=400)  # 60 % used, share 50 %
        syncer = _sync(settings, wh, objects=["Opportunity"], backfill=True, since=SINCE)
        assert syncer.budget_stopped is None  # refused before starting
        log = [orjson.loads(t) for _, t in wh.fetch_payloads("salesforce_sync_log")]
        assert [e["kind"] for e in log] == ["budget_stop"]
        assert _raw_rows(wh) == 0


def test_reconcile_tombstones_hard_deleted(emu, tmp_path) -> None:
    settings = _settings(emu, tmp_path)
    with DuckDBWarehouse(settings.warehouse_path) as wh:
        _sync(settings, wh, objects=["Opportunity"], backfill=True, since=SINCE)
        gone = emu.org.hard_delete("Opportunity").split()[-1]
        _sync(settings, wh, objects=["Opportunity"], reconcile=True)
        tombstones = [
            orjson.loads(t)["record"]["Id"]
            for p, t in wh.fetch_payloads("salesforce_opportunity")
            if p.startswith("salesforce:reconcile/")
        ]
        assert gone in tombstones


def test_budget_stop_mid_run_keeps_checkpoints_behind_landed_data(emu, tmp_path) -> None:
    settings = _settings(emu, tmp_path)
    with DuckDBWarehouse(settings.warehouse_path) as wh:
        emu.set_daily_limit(1000, remaining=540)  # 40 calls left before the 50 % share
        syncer = _sync(settings, wh, objects=["Opportunity"], backfill=True, since=SINCE)
        assert syncer.budget_stopped is not None
        log = [orjson.loads(t) for _, t in wh.fetch_payloads("salesforce_sync_log")]
        checkpoints = [e for e in log if e["kind"] == "checkpoint" and e["mode"] == "backfill"]
        assert checkpoints and log[-1]["kind"] == "budget_stop"
        assert _raw_rows(wh) >= sum(c["records"] for c in checkpoints)
        emu.set_daily_limit(100_000)
        _sync(settings, wh, objects=["Opportunity"], backfill=True, since=SINCE, until=UNTIL)
        truth = {r["Id"] for r in emu.org.current_records("Opportunity", include_deleted=True)}
        assert set(_latest(wh, "Opportunity")) == truth
