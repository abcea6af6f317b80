"""The Salesforce part of `make bench`: an emulated org whose users are the company's reps.

Measured on the warehouse the main bench built (identity and membership are needed by the
attribution):
- Bulk API 2.0 backfill of every object into raw: records/s and API calls per 10K records;
- current-state rebuild (staging → history → `sfdc_*`, full refresh): history rows/s;
- opportunity attribution (`fct_opportunity_attribution`) rows/s;
- commit-to-queryable latency of a CDC change of an Opportunity: while a loop of
  `CDC consume + gap repair → incremental build of the Salesforce models` runs, a second thread
  commits Amount changes in the org at random moments; each change's latency is the time from
  its commit to the first moment its new amount is visible in `fct_opportunity_attribution`.
"""

from __future__ import annotations

import random
import statistics
import threading
import time
from dataclasses import replace
from pathlib import Path

import duckdb

from bench.run import _model_seconds
from ingest.dbt_runner import build
from ingest.settings import Settings

SALESFORCE_MODELS = (
    "path:models/staging/salesforce path:models/intermediate/salesforce "
    "path:models/marts/salesforce"
)


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def run(
    settings: Settings,
    company_dir: Path,
    bootstrap: str,
    *,
    scale: str,
    seed: int,
    latency_samples: int = 20,
) -> dict[str, str]:
    from ingest.salesforce.cdc import run_cdc
    from ingest.salesforce.client import SalesforceClient
    from ingest.salesforce.emulator.command import cdc_publisher
    from ingest.salesforce.emulator.org import Org, okta_users_from_company
    from ingest.salesforce.emulator.server import Emulator
    from ingest.salesforce.sync import Syncer
    from ingest.topics import SALESFORCE_OBJECTS
    from ingest.warehouse import open_warehouse

    report: dict[str, str] = {}
    t0 = time.monotonic()
    org = Org(scale, seed, okta_users_from_company(company_dir))
    total = sum(org.count(o, include_deleted=True) for o in SALESFORCE_OBJECTS)
    report["salesforce org"] = f"{scale}: {total:,} records in {time.monotonic() - t0:.1f} s"
    with Emulator(org) as emu:
        sf = emu.client_settings(settings.salesforce)
        # The mock cluster ignores LeaveGroup: a short session lets each loop cycle's consumer
        # rejoin in seconds, as a real broker would at once.
        s = replace(
            settings,
            salesforce=sf,
            extra_kafka_config={"session.timeout.ms": "6000", "heartbeat.interval.ms": "500"},
        )
        t0 = time.monotonic()
        with open_warehouse(s) as warehouse:
            results = Syncer(
                s, warehouse, SalesforceClient.connect(sf), out=lambda _: None, chunk_days=90.0
            ).run(list(SALESFORCE_OBJECTS), backfill=True)
        secs = time.monotonic() - t0
        read = sum(r.records for r in results)
        calls = sum(emu.stats.values())
        report["bulk backfill into raw"] = (
            f"{read:,} records in {secs:.1f} s = {read / max(secs, 1e-9):,.0f} records/s"
        )
        report["API calls per 10K records (backfill)"] = (
            f"{calls * 10_000 / max(read, 1):.1f} ({calls:,} calls)"
        )

        t0 = time.monotonic()
        full = build(
            s, full_refresh=True, select=SALESFORCE_MODELS, quiet=True, exclude="test_type:data"
        )
        secs = time.monotonic() - t0
        times = _model_seconds(full.run_results)
        con = duckdb.connect(str(s.warehouse_path), read_only=True)
        history = sum(
            con.execute(
                f"select count(*) from intermediate.int_salesforce__{o}_history"
            ).fetchone()[0]
            for o in (
                "account",
                "contact",
                "lead",
                "opportunity",
                "opportunity_line_item",
                "user",
                "task",
                "event",
            )
        )
        attributed = con.execute(
            "select count(*) from marts.fct_opportunity_attribution"
        ).fetchone()[0]
        con.close()
        current_secs = sum(
            v
            for k, v in times.items()
            if k.startswith(("stg_salesforce__", "int_salesforce__", "sfdc_"))
        )
        report["current-state rebuild (full)"] = (
            f"{history:,} history rows in {current_secs:.1f} s of model time = "
            f"{history / max(current_secs, 1e-9):,.0f} rows/s (build wall {secs:.1f} s)"
        )
        fct = times.get("fct_opportunity_attribution", 0.0)
        report["opportunity attribution"] = (
            f"{attributed:,} rows in {fct:.1f} s = {attributed / max(fct, 1e-9):,.0f} rows/s"
        )

        # Commit-to-queryable: changes committed at random moments while the loop runs.
        publish = cdc_publisher(bootstrap, settings)
        opp_ids = [r["Id"] for r in org.current_records("Opportunity", include_deleted=False)][
            : latency_samples * 4
        ]
        rnd = random.Random(seed)
        committed: dict[str, tuple[float, float]] = {}  # id -> (amount, commit time)
        done = threading.Event()

        def committer() -> None:
            for opp_id in rnd.sample(opp_ids, latency_samples):
                time.sleep(rnd.uniform(1.0, 6.0))
                amount = float(rnd.randrange(1_000, 900_000))
                org.update_record("Opportunity", opp_id, {"Amount": amount})
                publish(org.drain_cdc())
                committed[opp_id] = (amount, time.monotonic())
            done.set()

        latencies: list[float] = []
        seen: set[str] = set()
        thread = threading.Thread(target=committer, daemon=True)
        thread.start()
        cycles = 0
        while not (done.is_set() and seen == set(committed)):
            with open_warehouse(s) as warehouse:
                run_cdc(
                    s,
                    warehouse,
                    SalesforceClient.connect(sf),
                    ["Opportunity"],
                    bootstrap,
                    until_idle=True,
                    out=lambda _: None,
                )
            build(s, select=SALESFORCE_MODELS, quiet=True, exclude="test_type:data")
            cycles += 1
            con = duckdb.connect(str(s.warehouse_path), read_only=True)
            now = time.monotonic()
            for opp_id, (amount, at) in list(committed.items()):
                if opp_id in seen:
                    continue
                row = con.execute(
                    "select amount from marts.fct_opportunity_attribution where opportunity_id = ?",
                    [opp_id],
                ).fetchone()
                if row and row[0] == amount:
                    seen.add(opp_id)
                    latencies.append(now - at)
            con.close()
        thread.join()
        report["CDC commit-to-queryable (Opportunity)"] = (
            f"p50 {statistics.median(latencies):.1f} s, p95 {_percentile(latencies, 0.95):.1f} s "
            f"over {len(latencies)} changes, {cycles} loop cycles"
        )
    return report
