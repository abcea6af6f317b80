"""Salesforce edge cases end to end: the emulator over HTTPS, the extractor, raw, dbt.

- ties on SystemModstamp across a REST page boundary, a Bulk result page and a Bulk chunk edge,
  and records changed mid-run at the watermark instant: no record lost, a re-run adds nothing;
- a CDC UPDATE naming two fields after a snapshot keeps the other fields in the mart;
- an owner change before the close is in the history;
- schema drift: an added field flows into raw, staging and the mart and is reported; a picklist
  change is reported; a removed and a retyped field fail the drift error test by name.
"""

from __future__ import annotations

import functools
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb
import orjson
import pytest

from ingest.dbt_runner import build
from ingest.file_source import ingest_files
from ingest.salesforce import records as rec
from ingest.salesforce.client import SalesforceClient
from ingest.salesforce.emulator import server as emulator
from ingest.salesforce.emulator.org import Org, ts
from ingest.salesforce.sync import Syncer
from ingest.settings import Settings
from ingest.warehouse import DuckDBWarehouse

NOW = datetime(2027, 6, 1, tzinfo=UTC)
SINCE = datetime(2024, 1, 1, tzinfo=UTC)
MODELS = (
    "stg_salesforce__opportunity_versions int_salesforce__opportunity_history "
    "sfdc_opportunities stg_salesforce__describe_fields dq_salesforce_schema_drift "
    "assert_salesforce_latest_schema_adds_no_field "
    "assert_salesforce_latest_schema_removes_or_retypes_no_field"
)
ADDS_NO_FIELD = "assert_salesforce_latest_schema_adds_no_field"
REMOVES_OR_RETYPES = "assert_salesforce_latest_schema_removes_or_retypes_no_field"


def _settings(emu: emulator.Emulator, root: Path, dbt_target_path: Path | None = None) -> Settings:
    sfs = emu.client_settings()
    return Settings(
        warehouse_path=root / "w.duckdb",
        stage_dir=root / "stage",
        salesforce=sfs,
        dbt_target_path=dbt_target_path,
    )


def _syncer(settings: Settings, wh: DuckDBWarehouse, **kw) -> Syncer:
    client = SalesforceClient.connect(settings.salesforce)
    client.sleep = lambda s: None
    return Syncer(settings, wh, client, out=lambda line: None, **kw)


def _raw_versions(wh: DuckDBWarehouse) -> dict[str, str]:
    """Record id -> the newest SystemModstamp raw holds from snapshots."""
    latest: dict[str, str] = {}
    for _, text in wh.fetch_payloads("salesforce_opportunity", "salesforce.records.Opportunity"):
        p = orjson.loads(text)
        if p["source"] in ("bulk", "rest", "refetch"):
            r = p["record"]
            latest[r["Id"]] = max(latest.get(r["Id"], ""), r["SystemModstamp"])
    return latest


def _raw_rows(wh: DuckDBWarehouse) -> int:
    return wh.con.execute(
        "select count(*) from raw.salesforce_opportunity where _topic like 'salesforce.records.%'"
    ).fetchone()[0]


def _assert_raw_matches_org(org: Org, wh: DuckDBWarehouse) -> None:
    truth = {
        r["Id"]: rec.normalise_datetime(r["SystemModstamp"])
        for r in org.current_records("Opportunity", include_deleted=True)
    }
    got = _raw_versions(wh)
    assert set(got) - set(org.hard_deleted_ids("Opportunity")) == set(truth)
    stale = {i: (got[i], m) for i, m in truth.items() if got[i] != m}
    assert not stale, f"raw misses the latest version of {stale}"


def _freeze(org: Org, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every following change happens at the org's current instant (a tie on SystemModstamp)."""
    monkeypatch.setattr(org, "_tick", lambda: ts(org.now))


def test_ties_on_page_and_chunk_boundaries_and_mid_run_changes_lose_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    org = Org("tiny", 7, now=NOW)
    with emulator.Emulator(org, page_size=7) as emu:
        settings = _settings(emu, tmp_path)
        _freeze(org, monkeypatch)
        # 40 records at one instant T: spans several REST pages of 7 and Bulk pages of 5.
        org.mass_reassign("Opportunity", count=60)
        tie = org.now
        with DuckDBWarehouse(settings.warehouse_path) as wh:
            # Backfill in chunks of 6 hours whose edge is exactly T.
            syncer = _syncer(settings, wh, chunk_days=0.25)
            syncer.client.bulk_query_all = functools.partial(
                syncer.client.bulk_query_all, max_records=5
            )
            syncer.run(
                ["Opportunity"],
                backfill=True,
                since=tie - timedelta(days=1),
                until=tie + timedelta(hours=1),
            )
            # The chunk before T must not hold T's records, the chunk from T must hold them all.
            log = [orjson.loads(t) for _, t in wh.fetch_payloads("salesforce_sync_log")]
            edges = {c["chunk_start"] for c in log if c.get("mode") == "backfill"}
            assert rec.iso_utc(tie) in edges, "no chunk starts exactly at the tie instant"
            # The records before the backfill window: by REST (SystemModstamp >= SINCE).
            _syncer(settings, wh).incremental("Opportunity", since=SINCE)
            _assert_raw_matches_org(org, wh)

            # Incremental run; after its first page, more records change at the watermark
            # instant (ids on both sides of the page's last id).
            org.mass_reassign("Opportunity", count=30)
            syncer = _syncer(settings, wh)
            original = syncer.client.query_all_page
            calls = []

            def page_then_change(*args, **kwargs):
                out = original(*args, **kwargs)
                calls.append(1)
                if len(calls) == 2:
                    org.mass_reassign("Opportunity", count=30)
                    org.update_record("Opportunity", out["records"][0]["Id"], {"Amount": 1.5})
                return out

            syncer.client.query_all_page = page_then_change
            syncer.run(["Opportunity"])
            assert len(calls) > 2, "the incremental run fit in one page: no boundary tested"
            _syncer(settings, wh).run(["Opportunity"])  # the next run picks up the mid-run changes
            _assert_raw_matches_org(org, wh)
            before = _raw_rows(wh)
            _syncer(settings, wh).run(["Opportunity"])
            assert _raw_rows(wh) == before, "a re-run with no change added raw rows"


def _query(settings: Settings, sql: str) -> list[tuple]:
    con = duckdb.connect(str(settings.warehouse_path), read_only=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def _failing(result) -> dict[str, str]:
    return {
        r["unique_id"].split(".")[2]: r["status"]
        for r in (result.run_results or {}).get("results", [])
        if r["status"] in ("fail", "error", "warn")
    }


@pytest.mark.dbt
def test_merge_owner_history_and_schema_drift_end_to_end(
    tmp_path: Path, dbt_target_path: Path
) -> None:
    org = Org("tiny", 7, now=NOW)
    with emulator.Emulator(org) as emu:
        settings = _settings(emu, tmp_path, dbt_target_path)
        with DuckDBWarehouse(settings.warehouse_path) as wh:
            _syncer(settings, wh).run(["Opportunity"], backfill=True, since=SINCE, until=NOW)
        org.drain_cdc()
        live = [
            r
            for r in org.current_records("Opportunity", include_deleted=False)
            if r["StageName"] != "Closed Won"
        ]
        merged, owned = live[0], live[1]
        # A CDC UPDATE naming 2 fields after the snapshot: the other fields are kept.
        org.update_record(
            "Opportunity", merged["Id"], {"StageName": "Negotiation", "Amount": 4321.0}
        )
        # An owner change, then the close.
        old_owner = owned["OwnerId"]
        new_owner = next(
            u["Id"] for u in org.current_records("User") if u["Id"] != old_owner and u["IsActive"]
        )
        org.update_record("Opportunity", owned["Id"], {"OwnerId": new_owner})
        org.update_record(
            "Opportunity", owned["Id"], {"StageName": "Closed Won", "IsClosed": True, "IsWon": True}
        )
        # Drift: a new picklist field with values, a picklist change.
        org.add_field("Opportunity", "Region__c", "picklist", ["EMEA", "AMER"])
        org.set_picklist("Opportunity", "Type", ["New Business", "Partner Resell"])
        org.update_record("Opportunity", live[2]["Id"], {"Region__c": "EMEA"})
        cdc = tmp_path / "cdc"
        org.write_cdc_jsonl(cdc)
        # The CDC events land; the extractor's incremental run reads only the records it has
        # not seen (the merged record's snapshot would hide the merge, so it is excluded).
        ingest_files(
            [cdc / "salesforce.cdc.Opportunity.jsonl"], "salesforce.cdc.Opportunity", settings
        )
        with DuckDBWarehouse(settings.warehouse_path) as wh:
            syncer = _syncer(settings, wh)
            original = syncer.client.query_all_page

            def without_merged(*args, **kwargs):
                page = original(*args, **kwargs)
                page["records"] = [r for r in page["records"] if r["Id"] != merged["Id"]]
                return page

            syncer.client.query_all_page = without_merged
            syncer.run(["Opportunity"])
            region = [
                orjson.loads(t)["record"].get("Region__c")
                for _, t in wh.fetch_payloads(
                    "salesforce_opportunity", "salesforce.records.Opportunity"
                )
            ]
            assert "EMEA" in region, "the added field's value did not reach raw"

        result = build(settings, select=MODELS, exclude="test_type:unit", quiet=True, check=False)
        assert result.returncode == 0, _failing(result)
        assert _failing(result) == {ADDS_NO_FIELD: "warn"}
        (row,) = _query(
            settings,
            f"""select stage_name, amount, name, close_date, owner_id, account_id
                from marts.sfdc_opportunities where opportunity_id = '{merged["Id"]}'""",
        )
        assert row[:2] == ("Negotiation", 4321.0)
        assert row[2:] == (
            merged["Name"],
            datetime.fromisoformat(merged["CloseDate"]).date(),
            merged["OwnerId"],
            merged["AccountId"],
        ), "a partial update lost fields it did not name"
        history = _query(
            settings,
            f"""select owner_id, stage_name, valid_from, valid_to from
                intermediate.int_salesforce__opportunity_history
                where opportunity_id = '{owned["Id"]}' order by version_seq""",
        )
        owners = [(o, s) for o, s, _, _ in history]
        assert (old_owner, owned["StageName"]) in owners
        i = owners.index((new_owner, owned["StageName"]))  # the owner change, before the close
        assert owners[i + 1 :] and owners[-1] == (new_owner, "Closed Won")
        assert history[i - 1][1] == owned["StageName"] and history[i - 1][0] == old_owner
        assert history[i - 1][3] == history[i][2]  # the old owner's version ends at the change
        (regions,) = _query(
            settings,
            f"""select region__c from marts.sfdc_opportunities
                where opportunity_id = '{live[2]["Id"]}'""",
        )
        assert regions == ("EMEA",)
        drift = set(
            _query(
                settings,
                """select field_name, drift_kind from marts.dq_salesforce_schema_drift
                   where is_latest""",
            )
        )
        assert drift == {("Region__c", "added"), ("Type", "picklist_changed")}

        # Drift that breaks readers: a field removed, a field retyped. Never silent.
        org.remove_field("Opportunity", "LeadSource")
        org.retype_field("Opportunity", "Name", "double")
        org.update_record("Opportunity", live[3]["Id"], {"Amount": 99.0})
        with DuckDBWarehouse(settings.warehouse_path) as wh:
            _syncer(settings, wh).run(["Opportunity"])
        result = build(settings, select=MODELS, exclude="test_type:unit", quiet=True, check=False)
        assert result.returncode != 0
        assert _failing(result) == {REMOVES_OR_RETYPES: "fail"}
        failures = {
            r["unique_id"].split(".")[2]: r["failures"] for r in result.run_results["results"]
        }
        assert failures[REMOVES_OR_RETYPES] == 2
        drift = set(
            _query(
                settings,
                """select field_name, drift_kind, previous_field_type, field_type
                   from marts.dq_salesforce_schema_drift where is_latest""",
            )
        )
        assert drift == {
            ("LeadSource", "removed", "picklist", None),
            ("Name", "retyped", "string", "double"),
        }
        # The removed field keeps its column and its values (history still holds them).
        (kept,) = _query(
            settings,
            "select count(lead_source) from marts.sfdc_opportunities",
        )
        assert kept[0] > 0


@pytest.mark.dbt
def test_the_same_version_with_another_key_order_is_one_version(
    tmp_path: Path, dbt_target_path: Path
) -> None:
    """docs/salesforce.md: versions are deduplicated on their content; a re-read (Bulk, then
    REST) whose JSON lists the same fields in another order is the same version."""
    settings = Settings(
        warehouse_path=tmp_path / "w.duckdb",
        stage_dir=tmp_path / "stage",
        dbt_target_path=dbt_target_path,
    )
    fields = {
        "Id": "006K",
        "SystemModstamp": "2026-01-01T00:00:00.000Z",
        "IsDeleted": False,
        "Amount": 100.0,
        "StageName": "Prospecting",
    }
    lines = [
        {"source": "bulk", "record": fields},
        {"source": "rest", "record": dict(reversed(list(fields.items())))},
    ]
    path = tmp_path / "records.jsonl"
    path.write_bytes(
        b"".join(
            orjson.dumps(
                {
                    "sobject": "Opportunity",
                    "schema_version": "000000000001",
                    "extracted_at": "2026-01-02T00:00:00.000Z",
                    **line,
                }
            )
            + b"\n"
            for line in lines
        )
    )
    ingest_files([path], "salesforce.records.Opportunity", settings)
    result = build(
        settings,
        select="stg_salesforce__opportunity_versions int_salesforce__opportunity_history",
        exclude="test_type:unit",
        quiet=True,
        check=False,
    )
    assert result.returncode == 0, _failing(result)
    versions = _query(
        settings,
        """select version_seq, valid_from, valid_to
           from intermediate.int_salesforce__opportunity_history where opportunity_id = '006K'""",
    )
    assert versions == [(1, datetime(2026, 1, 1), None)]
