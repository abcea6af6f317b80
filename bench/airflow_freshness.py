"""`make bench-airflow`: end-to-end freshness of the micro-batch loop on a running Airflow.

What it measures (printed, never asserted): an Admin Service event produced to Kafka → visible in
`marts.bridge_repl_team_membership`, with `load_events_microbatch` on its schedule in a real
`airflow standalone` (scheduler, dag-processor, triggerer, api-server; SQLite metadata, the
LocalExecutor), and where the time goes: the wait for the next run, the run itself, and the
scheduler's own overhead (task start latency), read from Airflow's metadata database.

1. A tiny company is published to the Kafka mock cluster (over TCP) and built once with the CLI
   (`revops ingest kafka --until-idle`, `revops build`), so the measured runs are the steady
   state: incremental micro-batches on top of a built warehouse.
2. `airflow standalone` starts with `REVOPS_MICROBATCH_MINUTES` (default 1) and only
   `load_events_microbatch` unpaused (REST API).
3. After the first scheduled run succeeded, `--events` MEMBERSHIP_ADDED events (a new repl each,
   into a team with current members) are produced one at a time every `--interval` seconds
   (deliberately not a divisor of the cadence, so they land at every phase of it).
4. A poller reads the bridge every `--poll` seconds through the warehouse lock (DuckDB allows
   no reader beside a writer process: the lock is what the DAG's writers queue on too) and notes
   when each event's repl first appears. Freshness = seen − produced.

Run: `make bench-airflow` (about 15 minutes), or
`.venv/bin/python -m bench.airflow_freshness --events 24 --interval 31 --minutes 1`.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import duckdb
from confluent_kafka import Producer

from ingest.generator import kafka_key
from ingest.kafka.mock_cluster import MockCluster
from ingest.kafka.producer import producer_config, publish_jsonl
from ingest.locking import warehouse_lock

PROJECT_DIR = Path(__file__).resolve().parent.parent
AIRFLOW_BIN = PROJECT_DIR / ".venv-airflow" / "bin" / "airflow"
REVOPS_BIN = PROJECT_DIR / ".venv" / "bin" / "revops"
DAG_ID = "load_events_microbatch"
ADMIN_TOPIC = "admin.membership.v1"
TOPICS = (ADMIN_TOPIC, "okta.system_log.v1", "zendesk.ticket_events.v1")
BRIDGE = "marts.bridge_repl_team_membership"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _pct(values: list[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100) of a non-empty list."""
    ordered = sorted(values)
    rank = max(1, min(len(ordered), round(q / 100 * len(ordered) + 0.5)))
    return ordered[rank - 1]


def _summary(values: list[float]) -> str:
    if not values:
        return "n=0"
    return (
        f"n={len(values)} p50={_pct(values, 50):.1f} s p95={_pct(values, 95):.1f} s "
        f"min={min(values):.1f} s max={max(values):.1f} s"
    )


@dataclass
class Paths:
    root: Path

    @property
    def home(self) -> Path:
        return self.root / "airflow"

    @property
    def warehouse(self) -> Path:
        return self.root / "wh" / "revops.duckdb"

    @property
    def stage(self) -> Path:
        return self.root / "wh" / "stage"


def _revops_env(paths: Paths, bootstrap: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW__")}
    env.update(
        REVOPS_WAREHOUSE=str(paths.warehouse),
        REVOPS_STAGE=str(paths.stage),
        REVOPS_KAFKA_BOOTSTRAP=bootstrap,
    )
    return env


def _airflow_env(paths: Paths, bootstrap: str, port: int, minutes: int) -> dict[str, str]:
    env = _revops_env(paths, bootstrap)
    env.update(
        AIRFLOW_HOME=str(paths.home),
        AIRFLOW__CORE__DAGS_FOLDER=str(PROJECT_DIR / "dags"),
        AIRFLOW__CORE__LOAD_EXAMPLES="false",
        AIRFLOW__API__HOST="127.0.0.1",
        AIRFLOW__API__PORT=str(port),
        # Task processes report to the api-server's execution API (default: port 8080).
        AIRFLOW__CORE__EXECUTION_API_SERVER_URL=f"http://127.0.0.1:{port}/execution/",
        AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT=str(_free_port()),
        AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT=str(_free_port()),
        AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS="admin:admin",
        AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE=str(paths.home / "passwords.json"),
        AIRFLOW__COSMOS__ENABLE_TELEMETRY="False",
        AIRFLOW__USAGE_DATA_COLLECTION__ENABLED="False",
        AIRFLOW__OPENLINEAGE__DISABLED="true",
        DO_NOT_TRACK="1",
        SCARF_NO_ANALYTICS="true",
        REVOPS_MICROBATCH_MINUTES=str(minutes),
        REVOPS_DBT_MANIFEST=str(PROJECT_DIR / "target" / "cosmos" / "manifest.json"),
        PATH=f"{AIRFLOW_BIN.parent}:{os.environ.get('PATH', '')}",
    )
    return env


class Api:
    def __init__(self, url: str, password: str) -> None:
        self.url = url
        self.password = password
        self._token: str | None = None

    def call(self, path: str, body: dict | None = None, method: str | None = None) -> dict:
        headers = {"Content-Type": "application/json"}
        if self._token:
            headers["Authorization"] = f"Bearer {self._token}"
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.url + path, data=data, headers=headers, method=method)
        with urllib.request.urlopen(req, timeout=10) as resp:
            return json.loads(resp.read())

    def login(self) -> None:
        body = {"username": "admin", "password": self.password}
        self._token = self.call("/auth/token", body=body)["access_token"]


def _wait(what: str, check, timeout_s: float, proc: subprocess.Popen, log: Path) -> float:
    t0 = time.monotonic()
    while time.monotonic() < t0 + timeout_s:
        if proc.poll() is not None:
            sys.exit(f"airflow standalone exited {proc.returncode}; see {log}")
        with contextlib.suppress(urllib.error.URLError, ConnectionError, TimeoutError, ValueError):
            if check():
                return time.monotonic() - t0
        time.sleep(1)
    sys.exit(f"timed out after {timeout_s:.0f} s waiting for {what}; see {log}")


@dataclass
class Poller:
    """Notes when each watched repl first appears in the bridge."""

    warehouse: Path
    interval_s: float
    watched: dict[str, float] = field(default_factory=dict)  # repl_id -> produced (epoch s)
    seen: dict[str, float] = field(default_factory=dict)
    reads: int = 0
    lock_wait_s: float = 0.0
    stop: threading.Event = field(default_factory=threading.Event)

    def run(self) -> None:
        while not self.stop.is_set():
            pending = [r for r in list(self.watched) if r not in self.seen]
            if pending:
                self._read(pending)
            self.stop.wait(self.interval_s)

    def _read(self, pending: list[str]) -> None:
        t0 = time.monotonic()
        with warehouse_lock(self.warehouse, wait_s=600, poll_s=0.05):
            self.lock_wait_s += time.monotonic() - t0
            con = duckdb.connect(str(self.warehouse), read_only=True)
            try:
                listed = ", ".join(f"'{r}'" for r in pending)
                found = con.execute(
                    f"select distinct repl_id from {BRIDGE} where repl_id in ({listed})"
                ).fetchall()
            finally:
                con.close()
        now = time.time()
        self.reads += 1
        for (repl_id,) in found:
            self.seen.setdefault(repl_id, now)


def _produce_one(producer: Producer, repl_id: str, team_id: str) -> float:
    now = datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    payload = {
        "event_id": str(uuid.uuid4()),
        "event_type": "MEMBERSHIP_ADDED",
        "repl_id": repl_id,
        "team_id": team_id,
        "effective_at": now,
        "emitted_at": now,
        "actor": "bench@clouddesk.example",
        "role": "primary",
    }
    producer.produce(ADMIN_TOPIC, json.dumps(payload).encode(), key=kafka_key(ADMIN_TOPIC, payload))
    if producer.flush(30):
        sys.exit("the Kafka mock cluster did not acknowledge a bench event within 30 s")
    return time.time()


def _ts(value: str | None) -> float | None:
    if not value:
        return None
    parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.timestamp()


# The micro-batch's chain of work, in order (the Cosmos sensors run beside the producer); the
# two leaves run side by side after the group.
CHAIN = ("consume_kafka", "snapshot_attributions", "dbt_build.dbt_producer_watcher")
LEAVES = ("publish_marts", "report_restatements")


def _scheduler_report(db: Path, since: float) -> list[str]:
    """Per scheduled run after `since`: the run's timings, the work on its critical path and the
    gaps between (the scheduler's, executor's and triggerer's own time), from Airflow's
    metadata database."""
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        runs = con.execute(
            "select run_id, run_after, start_date, end_date, state from dag_run "
            "where dag_id = ? order by run_after",
            (DAG_ID,),
        ).fetchall()
        tis = con.execute(
            "select run_id, task_id, queued_dttm, start_date, end_date "
            "from task_instance where dag_id = ?",
            (DAG_ID,),
        ).fetchall()
    finally:
        con.close()
    by_run: dict[str, dict[str, tuple]] = {}
    for run_id, task_id, queued, start, end in tis:
        by_run.setdefault(run_id, {})[task_id] = (_ts(queued), _ts(start), _ts(end))
    m: dict[str, list[float]] = {}

    def add(name: str, value: float) -> None:
        m.setdefault(name, []).append(value)

    states: dict[str, int] = {}
    for run_id, run_after, start, end, state in runs:
        start_t, end_t, after_t = _ts(start), _ts(end), _ts(run_after)
        if start_t is None or start_t < since:
            continue
        states[state] = states.get(state, 0) + 1
        tasks = by_run.get(run_id, {})
        needed = (*CHAIN, *LEAVES)
        if (
            state != "success"
            or end_t is None
            or any(tasks.get(t) is None or None in tasks[t][1:] for t in needed)
        ):
            continue
        if after_t is not None:
            add("start_delay", start_t - after_t)
        add("duration", end_t - start_t)
        work = 0.0
        previous_end = start_t
        for task_id in CHAIN:
            queued_t, started_t, ended_t = tasks[task_id]
            add(f"gap:{task_id}", started_t - previous_end)
            if queued_t is not None:
                add("pickup", started_t - queued_t)
            add(task_id, ended_t - started_t)
            work += ended_t - started_t
            previous_end = ended_t
        group_end = max(
            v[2] for k, v in tasks.items() if k.startswith("dbt_build.") and v[2] is not None
        )
        add("sensor_tail", group_end - previous_end)
        leaves_start = min(tasks[t][1] for t in LEAVES)
        leaves_end = max(tasks[t][2] for t in LEAVES)
        add("gap:leaves", leaves_start - group_end)
        for task_id in LEAVES:
            add(task_id, tasks[task_id][2] - tasks[task_id][1])
        work += leaves_end - leaves_start
        last_end = leaves_end
        summary = tasks.get("run_summary")
        if summary is not None and None not in summary[1:]:
            add("gap:run_summary", summary[1] - leaves_end)
            add("run_summary", summary[2] - summary[1])
            work += summary[2] - summary[1]
            last_end = summary[2]
        add("gap:run_end", end_t - last_end)
        add("overhead", (end_t - start_t) - work)
    get = lambda name: _summary(m.get(name, []))  # noqa: E731
    return [
        f"runs since the warm-up: {states}",
        f"  run start after its scheduled time (run_after → start): {get('start_delay')}",
        f"  run duration (start → end):                             {get('duration')}",
        "  its critical path, work:",
        f"    consume_kafka:                                        {get('consume_kafka')}",
        f"    snapshot_attributions:                                {get('snapshot_attributions')}",
        f"    dbt build (the Cosmos producer):                      "
        f"{get('dbt_build.dbt_producer_watcher')}",
        f"    publish_marts / report_restatements:                  "
        f"{get('publish_marts')} / {get('report_restatements')}",
        f"    run_summary (ops.run_summaries):                      {get('run_summary')}",
        "  and the orchestration between (task start latency):",
        f"    run start → consume_kafka start:                      {get('gap:consume_kafka')}",
        f"    consume_kafka end → snapshot start:                   "
        f"{get('gap:snapshot_attributions')}",
        f"    snapshot end → producer start:                        "
        f"{get('gap:dbt_build.dbt_producer_watcher')}",
        f"    producer end → last per-model sensor done:            {get('sensor_tail')}",
        f"    last sensor done → publish/report start:              {get('gap:leaves')}",
        f"    publish/report end → run_summary start:               {get('gap:run_summary')}",
        f"    last task end → run marked done:                      {get('gap:run_end')}",
        f"    queued → running, chain tasks (executor pickup):      {get('pickup')}",
        f"  orchestration overhead per run (duration − work):       {get('overhead')}",
    ]


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=30)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=10)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.airflow_freshness")
    parser.add_argument("--events", type=int, default=24, help="events to time (default 24)")
    parser.add_argument("--interval", type=float, default=31.0, help="seconds between events")
    parser.add_argument("--minutes", type=int, default=1, help="REVOPS_MICROBATCH_MINUTES")
    parser.add_argument("--poll", type=float, default=2.0, help="seconds between bridge reads")
    parser.add_argument("--out", type=Path, default=PROJECT_DIR / "target" / "bench-airflow")
    args = parser.parse_args(argv)
    if not AIRFLOW_BIN.exists():
        sys.exit(f"{AIRFLOW_BIN} is missing: make airflow-install")

    paths = Paths(args.out)
    shutil.rmtree(paths.root, ignore_errors=True)
    paths.home.mkdir(parents=True)
    cluster = MockCluster()
    bootstrap = cluster.start()
    for topic in TOPICS:
        cluster.create_topic(topic)
    env = _revops_env(paths, bootstrap)
    t0 = time.monotonic()
    data = paths.root / "tiny"
    subprocess.run(
        [str(REVOPS_BIN), "generate", "--scale", "tiny", "--out", str(data)],
        check=True,
        capture_output=True,
    )
    for topic in TOPICS:
        publish_jsonl(bootstrap, topic, data / f"{topic}.jsonl")
    ingest = [str(REVOPS_BIN), "ingest", "kafka", "--until-idle"]
    for topic in TOPICS:
        ingest += ["--topic", topic]
    subprocess.run(ingest, check=True, env=env, capture_output=True, cwd=PROJECT_DIR)
    subprocess.run(
        [str(REVOPS_BIN), "build"], check=True, env=env, capture_output=True, cwd=PROJECT_DIR
    )
    con = duckdb.connect(str(paths.warehouse), read_only=True)
    team_id = con.execute(
        f"select team_id from {BRIDGE} where is_current group by team_id "
        "order by count(*) desc, team_id limit 1"
    ).fetchone()[0]
    con.close()
    print(f"tiny company published, consumed and built in {time.monotonic() - t0:.0f} s")

    port = _free_port()
    password = "bench-" + os.urandom(6).hex()
    (paths.home / "passwords.json").write_text(json.dumps({"admin": password}))
    aenv = _airflow_env(paths, bootstrap, port, args.minutes)
    airflow = str(AIRFLOW_BIN)
    subprocess.run([airflow, "db", "migrate"], check=True, env=aenv, capture_output=True)
    for pool, slots in (("revops_warehouse", "1"), ("salesforce_api", "2")):
        subprocess.run(
            [airflow, "pools", "set", pool, slots, "bench"],
            check=True,
            env=aenv,
            capture_output=True,
        )
    log = paths.root / "standalone.log"
    with log.open("w") as fh:
        proc = subprocess.Popen(
            [airflow, "standalone"],
            cwd=PROJECT_DIR,
            env=aenv,
            stdout=fh,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    poller = Poller(paths.warehouse, args.poll)
    thread = threading.Thread(target=poller.run, daemon=True)
    try:
        api = Api(f"http://127.0.0.1:{port}", password)

        def healthy() -> bool:
            health = api.call("/api/v2/monitor/health")
            return bool(health) and all(p.get("status") == "healthy" for p in health.values())

        up_s = _wait("a healthy Airflow", healthy, 180, proc, log)
        api.login()
        parsed_s = _wait(
            f"{DAG_ID} to be parsed",
            lambda: api.call(f"/api/v2/dags/{DAG_ID}").get("dag_id") == DAG_ID,
            120,
            proc,
            log,
        )
        api.call(f"/api/v2/dags/{DAG_ID}", body={"is_paused": False}, method="PATCH")
        print(f"airflow standalone healthy in {up_s:.0f} s, {DAG_ID} parsed {parsed_s:.0f} s later")

        def first_success() -> bool:
            runs = api.call(f"/api/v2/dags/{DAG_ID}/dagRuns?state=success&limit=1")
            return runs.get("total_entries", 0) > 0

        warm_s = _wait("the first scheduled run to succeed", first_success, 600, proc, log)
        print(f"first scheduled run succeeded {warm_s:.0f} s after unpausing")
        measure_from = time.time()
        thread.start()
        producer = Producer(producer_config(bootstrap))
        for i in range(args.events):
            repl_id = f"r_9{i:05d}"
            poller.watched[repl_id] = _produce_one(producer, repl_id, team_id)
            time.sleep(args.interval)
        deadline = time.monotonic() + 600
        while len(poller.seen) < args.events and time.monotonic() < deadline:
            if proc.poll() is not None:
                sys.exit(f"airflow standalone exited {proc.returncode}; see {log}")
            time.sleep(1)
        poller.stop.set()
        thread.join(timeout=60)
        measured_to = time.time()
    finally:
        _stop(proc)
        cluster.close()

    freshness = [poller.seen[r] - poller.watched[r] for r in poller.watched if r in poller.seen]
    missing = sorted(set(poller.watched) - set(poller.seen))
    lines = [
        "",
        f"== micro-batch freshness, REVOPS_MICROBATCH_MINUTES={args.minutes}, tiny company, "
        f"{os.cpu_count()} cores ==",
        f"events produced: {len(poller.watched)} (one every {args.interval:g} s); "
        f"visible in {BRIDGE}: {len(freshness)}; never seen: {missing or 'none'}",
        f"produced → visible in the bridge: {_summary(freshness)}",
        f"  (bridge read every {args.poll:g} s through the warehouse lock: {poller.reads} reads, "
        f"{poller.lock_wait_s:.0f} s spent waiting for the DAG's writers)",
        *_scheduler_report(paths.home / "airflow.db", measure_from),
        f"measured over {(measured_to - measure_from) / 60:.1f} min; Airflow log: {log}",
    ]
    print("\n".join(lines))
    (paths.root / "report.txt").write_text("\n".join(lines) + "\n")
    return 0 if not missing else 1


if __name__ == "__main__":
    sys.exit(main())
