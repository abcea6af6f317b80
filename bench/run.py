"""`make bench`: performance numbers at a scaled-down tier. Prints; never fails on time.

1. file landing (stage + raw) rows/s for every topic;
2. full rebuild: membership events/s through the bridge, ticket events attributed/s, each
   side by side with a baseline on the same staging data in the same run — the naive bridge a
   user would write (`row_number` dedup on event_id + `lead()` per repl/team/role) and DuckDB's
   own ASOF JOIN for attribution — and the peak RSS of dbt;
3. an incremental run after the busiest 15 minutes of the reorganisation waves arrives last:
   seconds, and the ratio to the full rebuild;
4. Kafka consumer msg/s into the stage + raw (mock cluster over TCP, lz4 batches).
"""

from __future__ import annotations

import argparse
import resource
import shutil
import time
from collections import Counter
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path

import duckdb
import orjson

from ingest.dbt_runner import build
from ingest.file_source import ingest_files
from ingest.generator import SCALES, generate
from ingest.settings import Settings
from ingest.warehouse import set_memory_limit

PEAK_WINDOW_MINUTES = 15
RECENT_DAYS = 180


def _model_seconds(run_results: dict | None) -> dict[str, float]:
    out: dict[str, float] = {}
    for r in (run_results or {}).get("results", []):
        if r["unique_id"].startswith("model."):
            out[r["unique_id"].split(".")[-1]] = float(r["execution_time"])
    return out


NAIVE_BRIDGE = """
create or replace temp table bench_naive_bridge as
with deduplicated as (
    select *
    from staging.stg_admin_service__membership_events
    where is_valid and event_type in ('MEMBERSHIP_ADDED', 'MEMBERSHIP_REMOVED')
    qualify row_number() over (partition by event_id order by _loaded_at, source_position) = 1
),
windows as (
    select
        repl_id, team_id, role, event_type, effective_at as valid_from,
        lead(effective_at) over (
            partition by repl_id, team_id, role order by effective_at, emitted_at, event_id
        ) as valid_to
    from deduplicated
)
select repl_id, team_id, role, valid_from, coalesce(valid_to, timestamp '9999-12-31') as valid_to
from windows
where event_type = 'MEMBERSHIP_ADDED'
"""

ASOF_ATTRIBUTION = """
create or replace temp table bench_asof_attribution as
with identified as (
    select t.ticket_event_id, t.event_at, i.repl_id
    from staging.stg_zendesk__ticket_events as t
    asof left join intermediate.int_identity_windows as i
        on i.okta_user_id = t.okta_user_id and t.event_at >= i.valid_from
    where t.is_valid
),
primaries as (
    select * from intermediate.int_membership_windows where role = 'primary'
)
select identified.ticket_event_id, identified.repl_id, primaries.team_id
from identified
asof left join primaries
    on primaries.repl_id = identified.repl_id and identified.event_at >= primaries.valid_from
"""


def baseline_seconds(settings: Settings, sql: str) -> tuple[float, int]:
    """Run a baseline query on the built warehouse: seconds and rows produced, under the same
    memory limit as dbt's (DuckDB's default is 80% of RAM)."""
    con = duckdb.connect(str(settings.warehouse_path))
    set_memory_limit(con, settings.duckdb_memory_limit)
    try:
        t0 = time.monotonic()
        con.execute(sql)
        secs = time.monotonic() - t0
        table = sql.split("temp table ", 1)[1].split()[0]
        (rows,) = con.execute(f"select count(*) from {table}").fetchone()
    finally:
        con.close()
    return secs, rows


def peak_child_rss_gb() -> float:
    """Largest resident set of any finished child (dbt and its DuckDB), in GB."""
    return resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024 / 1024


def peak_own_rss_gb() -> float:
    """Largest resident set of this process so far (landing, baselines, the Salesforce org)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 / 1024


class Report(dict[str, str]):
    """The bench's lines, each printed as soon as it is measured (a long run shows where it
    is), then all together at the end."""

    def __setitem__(self, key: str, value: str) -> None:
        super().__setitem__(key, value)
        print(f"  {key:<42} {value}  [own peak RSS {peak_own_rss_gb():.1f} GB]", flush=True)

    def update(self, other: dict[str, str]) -> None:  # type: ignore[override]
        for key, value in other.items():
            self[key] = value

    def finish(self, args: argparse.Namespace) -> None:
        print(f"\nrevops bench — scale {args.scale}, seed {args.seed}")
        for key, value in self.items():
            print(f"  {key:<42} {value}")


SOURCE_TOPICS = ("admin.membership.v1", "okta.system_log.v1", "zendesk.ticket_events.v1")


def _generated_file(events: Path, topic: str) -> Path:
    """The topic's file in a generated company: `.jsonl`, or `.jsonl.zst` at a bulk scale."""
    for suffix in (".jsonl", ".jsonl.zst"):
        if (events / f"{topic}{suffix}").is_file():
            return events / f"{topic}{suffix}"
    raise SystemExit(f"{events} holds no {topic}.jsonl or {topic}.jsonl.zst")


def _disk_gb(root: Path) -> float:
    return sum(p.stat().st_size for p in root.rglob("*") if p.is_file()) / 1e9


def _emitted_at(line: bytes) -> datetime | None:
    try:
        emitted = orjson.loads(line)["emitted_at"]
        return datetime.fromisoformat(emitted.replace("Z", "+00:00"))
    except (orjson.JSONDecodeError, KeyError, TypeError, ValueError, AttributeError):
        return None


def _window(ts: datetime) -> str:
    return ts.strftime("%Y-%m-%dT%H:") + f"{ts.minute // PEAK_WINDOW_MINUTES * 15:02d}"


def split_peak_window(admin_file: Path, rest: Path, peak: Path) -> tuple[int, str]:
    """Move the events emitted in the busiest recent 15-minute window into their own file.

    "Recent" is the last RECENT_DAYS of emitted time: the peak of a live micro-batch is a
    reorganisation wave landing now (merges, splits, mass transfers), not the company's founding
    burst of hires at the start of history. Three streaming passes (latest emission, busiest
    window, split), so memory stays flat at any scale.
    """
    with open(admin_file, "rb") as fh:
        latest = max(ts for ts in map(_emitted_at, fh) if ts)
    recent_from = latest - timedelta(days=RECENT_DAYS)
    buckets: Counter[str] = Counter()
    with open(admin_file, "rb") as fh:
        for ts in map(_emitted_at, fh):
            if ts and ts >= recent_from:
                buckets[_window(ts)] += 1
    busiest, count = buckets.most_common(1)[0]
    with open(admin_file, "rb") as fh, open(rest, "wb") as out_rest, open(peak, "wb") as out_peak:
        for line in fh:
            ts = _emitted_at(line)
            in_peak = ts is not None and ts >= recent_from and _window(ts) == busiest
            (out_peak if in_peak else out_rest).write(line)
    return count, busiest


def incremental_on_small_history(root: Path, seed: int, base: Settings) -> tuple[float, int]:
    """The incremental build after the same peak batch, on top of the `small` company's history
    instead: whether a micro-batch's cost depends on how much history lies under it. Returns
    seconds and the small history's deduplicated event count."""
    small = root / "small"
    settings = replace(
        base,
        warehouse_path=small / "bench.duckdb",
        stage_dir=small / "stage",
        dbt_target_path=small / "target",
    )
    company = generate(scale="small", seed=seed, out_dir=small / "events")
    for topic, info in company.items():
        ingest_files([Path(info["path"])], topic, settings)
    build(settings, full_refresh=True, quiet=True, exclude="test_type:data")
    con = duckdb.connect(str(settings.warehouse_path), read_only=True)
    (events,) = con.execute(
        "select count(*) from intermediate.int_membership_events_deduplicated"
    ).fetchone()
    con.close()
    ingest_files([root / "peak.jsonl"], "admin.membership.v1", settings)
    t0 = time.monotonic()
    build(settings, quiet=True, exclude="test_type:data")
    return time.monotonic() - t0, events


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--scale", default="medium", choices=list(SCALES))
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--dir", default="warehouse/bench")
    parser.add_argument("--kafka-messages", type=int, default=200_000)
    parser.add_argument("--events", help="reuse a generated company in this directory")
    parser.add_argument(
        "--salesforce-scale",
        default=None,
        choices=["none", "tiny", "small", "medium"],
        help="scale of the emulated Salesforce org (default: the company's scale, none at large)",
    )
    parser.add_argument(
        "--topics",
        nargs="+",
        default=list(SOURCE_TOPICS),
        choices=list(SOURCE_TOPICS),
        help="land only these topics (the full build still runs every model)",
    )
    args = parser.parse_args()
    # At large the bench lands and full-builds the company and measures the baselines; the
    # micro-batch, Kafka and Salesforce numbers come from the smaller tiers.
    large = SCALES[args.scale].bulk is not None

    root = Path(args.dir)
    shutil.rmtree(root, ignore_errors=True)
    root.mkdir(parents=True)
    settings = Settings(
        warehouse_path=root / "bench.duckdb",
        stage_dir=root / "stage",
        dbt_target_path=root / "target",
    )
    report = Report()

    t0 = time.monotonic()
    if args.events:
        summary = {
            topic: {"path": _generated_file(Path(args.events), topic)} for topic in SOURCE_TOPICS
        }
    else:
        summary = generate(scale=args.scale, seed=args.seed, out_dir=root / "events")
        report["generate"] = f"{time.monotonic() - t0:.1f} s"

    inputs = {topic: Path(info["path"]) for topic, info in summary.items() if topic in args.topics}
    if not large and "admin.membership.v1" in inputs:
        peak_count, peak_key = split_peak_window(
            inputs["admin.membership.v1"], root / "admin.rest.jsonl", root / "peak.jsonl"
        )
        inputs["admin.membership.v1"] = root / "admin.rest.jsonl"
    for topic, path in inputs.items():
        t0 = time.monotonic()
        landed = ingest_files([path], topic, settings)
        secs = time.monotonic() - t0
        report[f"land {topic}"] = (
            f"{landed.messages:,} msgs in {secs:.1f} s = {landed.messages / secs:,.0f} rows/s"
        )

    t0 = time.monotonic()
    full = build(settings, full_refresh=True, quiet=True, exclude="test_type:data", check=not large)
    full_secs = time.monotonic() - t0
    times = _model_seconds(full.run_results)
    if full.returncode != 0:
        # At large a failure is a measurement too (which model, after how long, at what RSS).
        slowest = sorted(times.items(), key=lambda kv: -kv[1])[:8]
        report["full build FAILED"] = f"after {full_secs:.1f} s: {full.counts()}"
        report["full build, slowest models"] = ", ".join(f"{m} {s:.1f}s" for m, s in slowest)
        report["peak RSS of dbt (full build)"] = f"{peak_child_rss_gb():.2f} GB"
        report["disk used by the bench directory"] = f"{_disk_gb(root):.1f} GB"
        report.finish(args)
        return
    con = duckdb.connect(str(settings.warehouse_path), read_only=True)
    events = con.execute(
        "select count(*) from intermediate.int_membership_events_deduplicated"
    ).fetchone()[0]
    windows = con.execute("select count(*) from marts.bridge_repl_team_membership").fetchone()[0]
    tickets = con.execute("select count(*) from marts.fct_ticket_attribution").fetchone()[0]
    payloads = con.execute(
        "select count(*) from staging.stg_admin_service__membership_events"
    ).fetchone()[0]
    con.close()
    bridge_secs = sum(
        times.get(m, 0.0)
        for m in (
            "int_membership_events_deduplicated",
            "int_membership_intervals",
            "int_membership_windows",
        )
    )
    report["full build (dbt build, no data tests)"] = f"{full_secs:.1f} s"
    report["bridge full rebuild"] = (
        f"{events:,} events -> {windows:,} windows in {bridge_secs:.1f} s "
        f"= {events / max(bridge_secs, 1e-9):,.0f} events/s"
    )
    parse_secs = times.get("stg_admin_service__membership_events", 0.0)
    report["staging parse (admin payloads)"] = (
        f"{payloads:,} payloads in {parse_secs:.1f} s = {payloads / max(parse_secs, 1e-9):,.0f}/s"
    )
    report["bridge models (full)"] = ", ".join(
        f"{m} {times.get(m, 0.0):.1f}s"
        for m in (
            "int_membership_events_deduplicated",
            "int_membership_intervals",
            "int_membership_windows",
        )
    )
    try:
        naive_secs, naive_rows = baseline_seconds(settings, NAIVE_BRIDGE)
        report["naive bridge (same staging, same run)"] = (
            f"{naive_rows:,} windows in {naive_secs:.1f} s = "
            f"{events / max(naive_secs, 1e-9):,.0f} events/s; "
            f"naive/ours = {naive_secs / max(bridge_secs, 1e-9):.2f}"
        )
    except duckdb.Error as exc:  # one statement over everything: at large it may not fit
        report["naive bridge (same staging, same run)"] = f"failed: {str(exc)[:200]}"
    fct_secs = times.get("int_ticket_events_attributed", 0.0)
    report["ticket attribution"] = (
        f"{tickets:,} ticket events in {fct_secs:.1f} s = {tickets / max(fct_secs, 1e-9):,.0f}/s"
    )
    asof_secs, asof_rows = baseline_seconds(settings, ASOF_ATTRIBUTION)
    report["ASOF JOIN attribution (same data)"] = (
        f"{asof_rows:,} rows in {asof_secs:.1f} s = {asof_rows / max(asof_secs, 1e-9):,.0f}/s; "
        f"asof/ours = {asof_secs / max(fct_secs, 1e-9):.2f}"
    )
    report["peak RSS of dbt (full build)"] = f"{peak_child_rss_gb():.2f} GB"
    report["peak RSS of the bench process"] = f"{peak_own_rss_gb():.2f} GB"
    report["disk used by the bench directory"] = f"{_disk_gb(root):.1f} GB"
    if large or "admin.membership.v1" not in inputs:
        report.finish(args)
        return

    ingest_files([root / "peak.jsonl"], "admin.membership.v1", settings)
    t0 = time.monotonic()
    incremental = build(settings, quiet=True, exclude="test_type:data")
    inc_secs = time.monotonic() - t0
    inc_times = _model_seconds(incremental.run_results)
    inc_bridge = sum(
        inc_times.get(m, 0.0)
        for m in (
            "int_membership_events_deduplicated",
            "int_membership_intervals",
            "int_membership_windows",
        )
    )
    report["peak 15-min batch"] = f"{peak_count:,} events emitted in window {peak_key}"
    report["incremental build after it"] = (
        f"{inc_secs:.1f} s (full {full_secs:.1f} s, ratio {inc_secs / full_secs:.2f}); "
        f"bridge models {inc_bridge:.1f} s vs {bridge_secs:.1f} s "
        f"(ratio {inc_bridge / max(bridge_secs, 1e-9):.2f})"
    )
    slowest = sorted(inc_times.items(), key=lambda kv: -kv[1])[:5]
    report["incremental slowest models"] = ", ".join(f"{m} {s:.1f}s" for m, s in slowest)
    if args.scale not in ("tiny", "small"):
        small_secs, small_events = incremental_on_small_history(root, args.seed, settings)
        report["same peak batch on the small history"] = (
            f"{small_secs:.1f} s on {small_events:,} events of history, against {inc_secs:.1f} s "
            f"on {events:,} ({events / max(small_events, 1):.0f}x the history): "
            f"ratio {inc_secs / max(small_secs, 1e-9):.2f}"
        )

    try:
        from bench.kafka_throughput import run as kafka_run

        k = kafka_run(messages=args.kafka_messages)
        report["kafka"] = ", ".join(f"{key}={value}" for key, value in k.items())
    except ImportError as exc:
        report["kafka"] = f"not measured ({exc})"

    sf_scale = args.salesforce_scale or args.scale
    if sf_scale != "none":
        from bench.salesforce import run as salesforce_run
        from ingest.demo import start_mock_kafka

        company = Path(args.events) if args.events else root / "events"
        kafka, bootstrap = start_mock_kafka()
        try:
            report.update(
                salesforce_run(settings, company, bootstrap, scale=sf_scale, seed=args.seed)
            )
        finally:
            kafka.terminate()
            kafka.wait(timeout=10)

    report["peak RSS of dbt (whole bench)"] = f"{peak_child_rss_gb():.2f} GB"
    report["peak RSS of the bench process (whole bench)"] = f"{peak_own_rss_gb():.2f} GB"
    report.finish(args)


if __name__ == "__main__":
    main()
