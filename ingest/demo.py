"""`revops demo`: the whole pipeline, end to end, on the embedded warehouse.

generate a company → start a local Kafka (librdkafka mock cluster) → publish the events with
their dirt → consume into the stage and raw → dbt build → answer the analyst questions, print the
data-quality summary and where the docs are. Every step prints as it goes.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import duckdb

from ingest import questions
from ingest.dbt_runner import build, run_dbt
from ingest.settings import Settings
from ingest.topics import EVENT_TOPICS


class _Clock:
    def __init__(self) -> None:
        self.start = time.monotonic()

    def step(self, title: str) -> None:
        print(f"\n==> [{time.monotonic() - self.start:6.1f}s] {title}", flush=True)


def start_mock_kafka(timeout_s: float = 30.0) -> tuple[subprocess.Popen, str]:
    """Start the mock cluster in a child process and read its bootstrap servers."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "ingest.kafka.mock_cluster"],
        stdout=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + timeout_s
    assert proc.stdout is not None
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        if line.startswith("REVOPS_KAFKA_BOOTSTRAP="):
            return proc, line.split("=", 1)[1].strip()
    proc.terminate()
    raise RuntimeError("the local Kafka mock cluster did not start")


def _print_rows(con: duckdb.DuckDBPyConnection, sql: str, params: dict, limit: int = 12) -> None:
    rel = con.execute(sql, params)
    cols = [d[0] for d in rel.description]
    rows = rel.fetchall()
    widths = [max([len(c), *(len(str(r[i])) for r in rows[:limit])]) for i, c in enumerate(cols)]
    print("    " + "  ".join(c.ljust(w) for c, w in zip(cols, widths, strict=True)))
    for r in rows[:limit]:
        print("    " + "  ".join(str(v).ljust(w) for v, w in zip(r, widths, strict=True)))
    if len(rows) > limit:
        print(f"    ... {len(rows) - limit} more rows")
    if not rows:
        print("    (no rows)")


def answer_questions(warehouse: Path, today: date) -> None:
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        # Repls with long histories (on the eve of their last move, and a year earlier), a team
        # with many members, a ticket that changed hands.
        samples = con.execute(
            """
            select repl_id, cast(max(valid_from) as date) - 1 as day
            from marts.bridge_repl_team_membership
            where role = 'primary'
            group by repl_id
            order by count(*) desc, repl_id
            limit 2
            """
        ).fetchall()
        samples += [(repl_id, day - timedelta(days=365)) for repl_id, day in samples[:1]]
        print("\n  (sql: ingest/questions.py — the README's queries)")
        for repl_id, day in samples:
            print(f"\n  Q1. Which team was repl {repl_id} in on {day}?")
            _print_rows(con, questions.TEAM_OF_REPL_ON_DATE, {"repl_id": repl_id, "day": day})

        first_day, last_day = questions.last_full_quarter(today)
        (team_id,) = con.execute(
            """
            select team_id from marts.fct_team_daily_headcount
            where date_day between $first_day and $last_day
            group by team_id order by max(primary_headcount) desc, team_id limit 1
            """,
            {"first_day": first_day, "last_day": last_day},
        ).fetchone() or (None,)
        print(f"\n  Q2. How many reps were in team {team_id} each day of {first_day}..{last_day}?")
        _print_rows(
            con,
            questions.TEAM_HEADCOUNT_BETWEEN,
            {"team_id": team_id, "first_day": first_day, "last_day": last_day},
            limit=8,
        )

        (ticket_id,) = con.execute(
            """
            select ticket_id from marts.fct_ticket_attribution
            group by ticket_id order by count(distinct team_id) desc, count(*) desc, ticket_id
            limit 1
            """
        ).fetchone() or (None,)
        print(f"\n  Q3. Which team gets each event of ticket {ticket_id}?")
        _print_rows(con, questions.TICKET_EVENT_TEAMS, {"ticket_id": ticket_id})

        (last_won,) = con.execute(
            "select max(close_date) from marts.fct_opportunity_attribution "
            "where is_won and close_date <= $today",
            {"today": today},
        ).fetchone() or (None,)
        won_first, won_last = questions.quarter_of(last_won or today)
        print(f"\n  Q4. Closed Won revenue per team as of each close date, {won_first}..{won_last}")
        _print_rows(
            con,
            questions.WON_REVENUE_BY_TEAM,
            {"first_day": won_first, "last_day": won_last},
            limit=8,
        )

        print("\n  Data quality (marts.dq_summary):")
        for measure, value in con.execute("select measure, value from marts.dq_summary").fetchall():
            print(f"    {measure:<45} {value:>10,}")
    finally:
        con.close()


def sync_salesforce(
    settings: Settings, data_dir: Path, bootstrap: str, *, scale: str, seed: int, clock: _Clock
) -> None:
    """The Salesforce path: an emulated org whose users are the company's reps (by Okta id),
    a Bulk API 2.0 backfill over HTTPS, then live changes as CDC events on Kafka, consumed
    through the same stage → raw path, and a REST incremental for Task and Event (no CDC)."""
    from ingest.salesforce.cdc import run_cdc
    from ingest.salesforce.client import SalesforceClient
    from ingest.salesforce.emulator.command import cdc_publisher
    from ingest.salesforce.emulator.org import Org, okta_users_from_company
    from ingest.salesforce.emulator.server import Emulator
    from ingest.salesforce.sync import Syncer
    from ingest.topics import SALESFORCE_CDC_OBJECTS, SALESFORCE_OBJECTS
    from ingest.warehouse import open_warehouse

    clock.step("Salesforce: an emulated org over HTTPS (local CA), users = the company's reps")
    org = Org("tiny" if scale == "tiny" else "small", seed, okta_users_from_company(data_dir))
    print("  " + ", ".join(f"{o} {org.count(o):,}" for o in SALESFORCE_OBJECTS))
    with Emulator(org) as emu:
        sf = emu.client_settings(settings.salesforce)
        sf_settings = replace(settings, salesforce=sf)

        def sync(chunk_days: float = 30.0, **kwargs: object) -> None:
            client = SalesforceClient.connect(sf)
            with open_warehouse(sf_settings) as warehouse:
                Syncer(
                    sf_settings,
                    warehouse,
                    client,
                    out=lambda line: print(f"  {line}"),
                    chunk_days=chunk_days,
                ).run(**kwargs)

        clock.step("Salesforce: Bulk API 2.0 backfill of the eight objects into raw")
        t0 = time.monotonic()
        sync(objects=list(SALESFORCE_OBJECTS), backfill=True, chunk_days=365.0)
        calls = sum(emu.stats.values())
        print(f"  {calls:,} API calls in {time.monotonic() - t0:.1f}s")

        clock.step("Salesforce: 300 live changes → CDC events on Kafka → stage → raw")
        changes = org.advance(300)
        gap = org.inject_gap("Opportunity", "GAP_UPDATE", count=3)
        events = org.drain_cdc()
        cdc_publisher(bootstrap, settings)(events)
        print(f"  {len(changes)} changes and {gap}: {len(events)} change events published")
        with open_warehouse(sf_settings) as warehouse:
            run_cdc(
                sf_settings,
                warehouse,
                SalesforceClient.connect(sf),
                list(SALESFORCE_CDC_OBJECTS),
                bootstrap,
                until_idle=True,
                out=lambda line: print(f"  {line}"),
            )
        clock.step("Salesforce: REST incremental for Task and Event (no CDC), id reconciliation")
        sync(objects=["Task", "Event"], reconcile=True)


def run_demo(settings: Settings, *, scale: str = "small", seed: int = 7) -> int:
    from ingest.generator import generate
    from ingest.kafka.consumer import consume
    from ingest.kafka.producer import publish_jsonl

    clock = _Clock()
    warehouse = Path(settings.warehouse_path)
    stage = Path(settings.stage_dir)
    data_dir = warehouse.parent / "demo_events"
    print(f"revops demo — scale {scale}, seed {seed}")
    print(f"  warehouse {warehouse}   stage {stage}   events {data_dir}")

    clock.step("Resetting the demo warehouse and stage")
    for path in (warehouse, Path(f"{warehouse}.wal")):
        path.unlink(missing_ok=True)
    shutil.rmtree(stage, ignore_errors=True)
    shutil.rmtree(data_dir, ignore_errors=True)

    clock.step(f"Generating a synthetic company ({scale})")
    summary = generate(scale=scale, seed=seed, out_dir=data_dir)
    for topic, info in summary.items():
        print(f"  {topic:<28} {info['messages']:>10,} messages")

    clock.step("Starting a local Kafka (librdkafka mock cluster, 3 brokers)")
    kafka, bootstrap = start_mock_kafka()
    print(f"  bootstrap.servers={bootstrap}")
    try:
        clock.step("Publishing the events (lz4, keyed by repl/team/user/ticket)")
        for topic, info in summary.items():
            t0 = time.monotonic()
            n = publish_jsonl(bootstrap, topic, Path(info["path"]), settings=settings)
            rate = n / max(time.monotonic() - t0, 1e-9)
            print(f"  {topic:<28} {n:>10,} messages  {rate:>10,.0f} msg/s")

        clock.step("Consuming into the stage and raw (offsets committed after each load)")
        result = consume(
            settings,
            topics=list(EVENT_TOPICS),
            bootstrap=bootstrap,
            until_idle=True,
            progress=lambda msg: print(f"  {msg}", flush=True),
        )
        print(f"  {result.summary()}")

        sync_salesforce(settings, data_dir, bootstrap, scale=scale, seed=seed, clock=clock)
    finally:
        kafka.terminate()
        kafka.wait(timeout=10)

    clock.step("dbt build (staging → intermediate → marts, unit and data tests)")
    built = build(settings, full_refresh=True, quiet=False, check=False)
    counts = built.counts()

    clock.step("dbt docs generate --static")
    run_dbt(settings, ["docs", "generate", "--static"], quiet=True, check=False)
    target = settings.dbt_target_path or Path(settings.dbt_project_dir) / "target"
    docs = Path(target) / "static_index.html"

    clock.step("Answers")
    answer_questions(warehouse, datetime.now(UTC).date())
    print("\n  dbt build:", ", ".join(f"{k}={v}" for k, v in sorted(counts.items())))
    print(f"  dbt docs:  {docs if docs.exists() else 'not generated'}")
    print(f"  warehouse: {warehouse}  (schemas raw, staging, intermediate, marts)")
    clock.step("Done")
    return 0 if built.returncode == 0 else 2
