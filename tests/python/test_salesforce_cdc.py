"""`revops ingest salesforce --cdc`: the emulator over HTTPS, CDC through the Kafka mock cluster
over TCP, raw in a DuckDB under tmp_path. Gaps and overflows are re-fetched over REST."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson
import pytest

from ingest.cli import build_parser
from ingest.file_source import ingest_files
from ingest.kafka.mock_cluster import MockCluster
from ingest.salesforce import records as rec
from ingest.salesforce.client import SalesforceClient
from ingest.salesforce.emulator.command import cdc_publisher
from ingest.salesforce.emulator.org import Org
from ingest.salesforce.emulator.server import Emulator
from ingest.salesforce.sync import Syncer
from ingest.settings import Settings
from ingest.warehouse import DuckDBWarehouse

OBJECTS = ["Opportunity", "Account"]
TABLES = {"Opportunity": "salesforce_opportunity", "Account": "salesforce_account"}
TOPICS = {f"salesforce.cdc.{o}" for o in OBJECTS}


@pytest.fixture
def emu():
    # Always an explicit clock (the default one has a known bug), after every seeded stamp.
    with Emulator(Org("tiny", 7, now=datetime(2027, 6, 1, tzinfo=UTC))) as e:
        yield e


@pytest.fixture
def kafka():
    with MockCluster(num_brokers=1) as cluster:
        for topic in sorted(TOPICS):
            cluster.create_topic(topic, partitions=1)
        yield cluster.bootstrap_servers


@pytest.fixture
def settings(emu, tmp_path: Path) -> Settings:
    sfs = emu.client_settings()
    return Settings(
        warehouse_path=tmp_path / "w.duckdb",
        stage_dir=tmp_path / "stage",
        salesforce=sfs,
        consumer_group="revops-cdc-test",
        batch_max_seconds=1.0,
        # The mock cluster ignores LeaveGroup: a short session lets the next run join quickly.
        extra_kafka_config={"session.timeout.ms": "6000", "heartbeat.interval.ms": "500"},
    )


def _backfill(settings: Settings) -> None:
    client = SalesforceClient.connect(settings.salesforce)
    with DuckDBWarehouse(settings.warehouse_path) as wh:
        Syncer(settings, wh, client, out=lambda _: None, chunk_days=100_000).run(
            OBJECTS, backfill=True, since=datetime(2024, 1, 1, tzinfo=UTC)
        )


def _publish(emu, bootstrap: str) -> list[tuple[str, bytes, bytes]]:
    events = [e for e in emu.org.drain_cdc() if e[0] in TOPICS]
    cdc_publisher(bootstrap)(events)
    return events


def _cdc(settings: Settings, bootstrap: str, capsys) -> dict[str, str]:
    """One `revops ingest salesforce --cdc --until-idle` run: its summary line per object."""
    argv = ["ingest", "salesforce", "--objects", ",".join(OBJECTS), "--cdc", "--until-idle"]
    args = build_parser().parse_args([*argv, "--bootstrap", bootstrap])
    assert args.func(args, settings) == 0
    lines = capsys.readouterr().out.splitlines()
    return {o: next(line for line in lines if line.startswith(f"{o}: cdc ")) for o in OBJECTS}


def _rows(settings: Settings, table: str, topic: str | None = None) -> list[tuple[str, dict]]:
    with DuckDBWarehouse(settings.warehouse_path) as wh:
        return [(p, orjson.loads(t)) for p, t in wh.fetch_payloads(table, topic)]


def _log(settings: Settings, kind: str) -> list[dict]:
    return [p for _, p in _rows(settings, "salesforce_sync_log") if p["kind"] == kind]


def _snapshots(settings: Settings, sobject: str, source: str) -> dict[str, dict]:
    """The latest record per Id of one snapshot source in raw."""
    out: dict[str, dict] = {}
    for _, p in _rows(settings, TABLES[sobject], f"salesforce.records.{sobject}"):
        r = p["record"]
        if p["source"] == source and (
            r["Id"] not in out or r["SystemModstamp"] >= out[r["Id"]]["SystemModstamp"]
        ):
            out[r["Id"]] = r
    return out


def _assert_equals_org(emu, sobject: str, got: dict[str, dict], ids: set[str]) -> None:
    """Each record in `got` is the org's current record, field by field (calculated fields,
    which the extractor does not read, aside)."""
    types = {f["name"]: f["type"] for f in emu.org.describe(sobject)["fields"]}
    calculated = {f["name"] for f in emu.org.describe(sobject)["fields"] if f.get("calculated")}
    truth = {r["Id"]: r for r in emu.org.current_records(sobject, include_deleted=True)}
    assert ids and ids <= set(got), (ids, set(got))
    for rid in ids:
        want = {k: v for k, v in truth[rid].items() if k not in calculated and k != "attributes"}
        assert set(got[rid]) == set(want), (rid, set(got[rid]) ^ set(want))
        for name, value in want.items():
            if value is not None and types.get(name) == "datetime":
                value = rec.normalise_datetime(value)
            if isinstance(value, int | float) and not isinstance(value, bool):
                assert float(got[rid][name]) == float(value), (rid, name)
            else:
                assert got[rid][name] == value, (rid, name, got[rid][name], value)


def _gap_positions(settings: Settings, sobject: str) -> dict[str, dict]:
    """Raw position → header of the GAP_* events raw holds for the object."""
    out = {}
    for position, p in _rows(settings, TABLES[sobject], f"salesforce.cdc.{sobject}"):
        header = p["payload"]["ChangeEventHeader"]
        if header["changeType"].startswith("GAP_"):
            out[position] = header
    return out


def test_cdc_lands_every_event_once_and_commits_offsets(emu, kafka, settings, capsys) -> None:
    _backfill(settings)
    emu.org.advance(40)
    events = _publish(emu, kafka)
    per_object = Counter(topic.rsplit(".", 1)[1] for topic, _, _ in events)
    assert per_object["Opportunity"] and per_object["Account"]

    summary = _cdc(settings, kafka, capsys)
    for sobject in OBJECTS:
        assert f"cdc {per_object[sobject]} events landed" in summary[sobject]
        landed = [
            (p, orjson.dumps(v, option=orjson.OPT_SORT_KEYS))
            for p, v in _rows(settings, TABLES[sobject], f"salesforce.cdc.{sobject}")
        ]
        assert all(p.startswith("kafka:") for p, _ in landed)
        drained = [
            orjson.dumps(orjson.loads(value), option=orjson.OPT_SORT_KEYS)
            for topic, _, value in events
            if topic == f"salesforce.cdc.{sobject}"
        ]
        assert sorted(v for _, v in landed) == sorted(drained)
    # The backfill snapshot plus the CDC versions: every changed record has an event in raw.
    ids = {
        i
        for _, p in _rows(settings, "salesforce_opportunity", "salesforce.cdc.Opportunity")
        for i in p["payload"]["ChangeEventHeader"]["recordIds"]
    }
    bulk = _snapshots(settings, "Opportunity", "bulk")
    changed = {
        r["Id"]
        for r in emu.org.current_records("Opportunity", include_deleted=True)
        if r["Id"] not in bulk
        or rec.normalise_datetime(r["SystemModstamp"]) != bulk[r["Id"]]["SystemModstamp"]
    }
    assert changed and changed <= ids

    # Offsets were committed after the load: a second run consumes nothing, raw does not grow.
    before = {o: len(_rows(settings, TABLES[o])) for o in OBJECTS}
    summary = _cdc(settings, kafka, capsys)
    for sobject in OBJECTS:
        assert "cdc 0 events landed" in summary[sobject]
        assert len(_rows(settings, TABLES[sobject])) == before[sobject]
    assert not _log(settings, "gap") and not _log(settings, "overflow")


def test_gaps_and_overflow_are_repaired_once(emu, kafka, settings, capsys) -> None:
    _backfill(settings)
    org = emu.org
    before = {r["Id"]: r["SystemModstamp"] for r in org.current_records("Opportunity")}
    org.update_record("Opportunity")  # an ordinary event next to the gaps
    org.inject_gap("Opportunity", "GAP_UPDATE", count=2)
    org.inject_gap("Account", "GAP_CREATE", count=1)
    # ... and a record it names goes to the recycle bin: queryAll still returns it, deleted.
    (account,) = orjson.loads(org.cdc_log[-1][2])["payload"]["ChangeEventHeader"]["recordIds"]
    org.soft_delete("Account", account)
    org.inject_gap("Opportunity", "GAP_DELETE", count=1)
    events = _publish(emu, kafka)
    # The GAP_DELETE names a record that is purged before the extractor re-fetches it.
    purged = orjson.loads(events[-1][2])["payload"]["ChangeEventHeader"]["recordIds"][0]
    org.hard_delete("Opportunity", purged)
    org.inject_gap("Opportunity", "GAP_OVERFLOW", count=3)
    _publish(emu, kafka)

    summary = _cdc(settings, kafka, capsys)
    assert "2 gaps re-fetched (2 records, 1 missing)" in summary["Opportunity"]
    assert "1 gaps re-fetched (1 records, 0 missing)" in summary["Account"]
    assert "1 overflows" in summary["Opportunity"] and "0 overflows" in summary["Account"]
    entries = {e["replay_position"]: e for e in _log(settings, "gap")}
    overflow_position = None
    for sobject in OBJECTS:
        gaps = _gap_positions(settings, sobject)
        named = set()
        for position, header in gaps.items():
            if header["changeType"] == "GAP_OVERFLOW":
                overflow_position = position
                continue
            entry = entries.pop(position)
            assert entry["sobject"] == sobject
            assert entry["change_type"] == header["changeType"]
            assert entry["record_ids"] == header["recordIds"]
            assert set(entry["refetched"]) | set(entry["missing"]) == set(header["recordIds"])
            if header["changeType"] == "GAP_DELETE":
                assert entry["missing"] == [purged] and entry["refetched"] == []
            named |= set(entry["refetched"])
        _assert_equals_org(emu, sobject, _snapshots(settings, sobject, "refetch"), named)
    assert not entries  # one gap entry per GAP event, nothing else
    assert _snapshots(settings, "Account", "refetch")[account]["IsDeleted"] is True
    assert purged not in _snapshots(settings, "Opportunity", "refetch")

    # The overflow re-synced the object from the backfill's watermark minus the look-back
    # (earlier than the overflow's commit) to the newest SystemModstamp it read.
    (overflow,) = _log(settings, "overflow")
    assert overflow["replay_position"] == overflow_position
    (backfill,) = [
        c
        for c in _log(settings, "checkpoint")
        if c["sobject"] == "Opportunity" and c["mode"] == "backfill"
    ]
    lookback = timedelta(seconds=settings.salesforce.lookback_seconds)
    watermark = rec.parse_datetime(backfill["watermark"])
    assert overflow["window_start"] == rec.iso_utc(watermark - lookback)
    now = org.current_records("Opportunity")
    changed = {r["Id"] for r in now if before.get(r["Id"]) != r["SystemModstamp"]}
    assert len(changed) >= 3 + 2  # the overflow's records, the gaps', the ordinary update
    assert overflow["window_end"] == max(rec.normalise_datetime(r["SystemModstamp"]) for r in now)
    _assert_equals_org(emu, "Opportunity", _snapshots(settings, "Opportunity", "rest"), changed)

    # Everything is handled: the second run re-fetches nothing and makes no API call.
    calls = sum(v for k, v in emu.stats.items() if k != "oauth")
    rows = {o: len(_rows(settings, TABLES[o])) for o in OBJECTS}
    summary = _cdc(settings, kafka, capsys)
    assert all("0 gaps re-fetched" in line for line in summary.values())
    assert all("0 overflows" in line for line in summary.values())
    assert sum(v for k, v in emu.stats.items() if k != "oauth") == calls
    assert {o: len(_rows(settings, TABLES[o])) for o in OBJECTS} == rows
    assert len(_log(settings, "gap")) == 3 and len(_log(settings, "overflow")) == 1
    with DuckDBWarehouse(settings.warehouse_path) as wh:
        assert wh.con.execute("select count(*) from raw.ingest_quarantine").fetchone()[0] == 0


def test_gap_from_a_replayed_file_is_handled(emu, kafka, settings, capsys, tmp_path) -> None:
    emu.org.inject_gap("Opportunity", "GAP_UPDATE", count=1)
    counts = emu.org.write_cdc_jsonl(tmp_path / "cdc")
    assert counts == {"salesforce.cdc.Opportunity": 1}
    ingest_files(
        [tmp_path / "cdc" / "salesforce.cdc.Opportunity.jsonl"],
        "salesforce.cdc.Opportunity",
        settings,
    )
    summary = _cdc(settings, kafka, capsys)  # the topics are empty: nothing from Kafka
    assert "cdc 0 events landed" in summary["Opportunity"]
    assert "1 gaps re-fetched (1 records, 0 missing)" in summary["Opportunity"]
    ((position, header),) = _gap_positions(settings, "Opportunity").items()
    assert position.startswith("file:")
    (entry,) = _log(settings, "gap")
    assert entry["replay_position"] == position and entry["refetched"] == header["recordIds"]
    got = _snapshots(settings, "Opportunity", "refetch")
    _assert_equals_org(emu, "Opportunity", got, set(header["recordIds"]))


def test_budget_stop_then_throttled_refetch_loses_nothing(
    emu, kafka, settings, capsys, monkeypatch
) -> None:
    emu.org.inject_gap("Opportunity", "GAP_UPDATE", count=2)
    _publish(emu, kafka)
    emu.set_daily_limit(1000, remaining=400)  # 60 % used, the share is 50 %
    summary = _cdc(settings, kafka, capsys)
    assert "cdc 1 events landed" in summary["Opportunity"]
    assert "1 gaps left for the next run" in summary["Opportunity"]
    assert "STOPPED" in summary["Opportunity"]
    assert _log(settings, "budget_stop") and not _log(settings, "gap")

    # The limit resets; the refetch query itself is throttled (503) twice and retried.
    emu.set_daily_limit(100_000)
    original = SalesforceClient.query_all_page
    throttled = []

    def query_all_page(self, soql=None, next_url=None):
        if soql and " WHERE Id IN (" in soql and not throttled:
            throttled.append(soql)
            emu.throttle(calls=2, status=503)
        return original(self, soql, next_url)

    monkeypatch.setattr(SalesforceClient, "query_all_page", query_all_page)
    summary = _cdc(settings, kafka, capsys)
    assert throttled and "cdc 0 events landed" in summary["Opportunity"]
    assert "1 gaps re-fetched (2 records, 0 missing)" in summary["Opportunity"]
    assert [e["status"] for e in _log(settings, "throttled")] == [503, 503]
    ((position, header),) = _gap_positions(settings, "Opportunity").items()
    (entry,) = _log(settings, "gap")
    assert entry["replay_position"] == position
    got = _snapshots(settings, "Opportunity", "refetch")
    _assert_equals_org(emu, "Opportunity", got, set(header["recordIds"]))
