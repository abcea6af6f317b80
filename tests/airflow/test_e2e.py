"""`dag.test()` of the DAGs end to end on the embedded default (DuckDB), in CI.

Real parts throughout: Airflow 3's `dag.test()` on SQLite metadata in a temporary AIRFLOW_HOME,
librdkafka's mock cluster speaking Kafka on loopback, a tiny generated company, a DuckDB
warehouse and stage in a temporary directory, the project's dbt through Cosmos, an HTTP receiver
for the alerts.

The Cosmos task group runs in WATCHER mode, as in production: one `dbt build` (the producer)
whose per-node results the per-model sensors read. `REVOPS_COSMOS_PRODUCER_FIRST=1` puts the
producer upstream of the root sensors, because `dag.test()` runs one task at a time inline and
a sensor deferred before its producer ran would wait forever (see `_common.dbt_task_group`).

What is shortened here, and why: Airflow's retry delay (30 s doubling in DEFAULT_ARGS) is set to
1 s on the loaded DAG objects, so a retry costs a second, not half a minute; the retry itself is
Airflow's, decided by `dag.test()`'s scheduling loop.
"""

from __future__ import annotations

import datetime
import json
import os
import shutil
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.airflow.conftest import DAGS_DIR, PROJECT_DIR, REVOPS_PYTHON

REVOPS_BIN = PROJECT_DIR / ".venv" / "bin" / "revops"
AIRFLOW_BIN = Path(sys.executable).parent / "airflow"
TOPICS = ("admin.membership.v1", "okta.system_log.v1", "zendesk.ticket_events.v1")
ADMIN_TOPIC = TOPICS[0]

# The mock cluster, plus one control the test needs and `python -m ingest.kafka.mock_cluster`
# has no reason to offer: `fail-commits N` on stdin makes the next N OffsetCommit requests fail
# (librdkafka's mock error injection), which is a consumer dying after its raw load and before
# its offset commit, as far as the consumer can tell.
_MOCK_CLUSTER = """
import ctypes, sys
from ingest.kafka.mock_cluster import MockCluster

OFFSET_COMMIT_API = 8
INVALID_COMMIT_OFFSET_SIZE = 28  # not retried by the client: the commit call raises
cluster = MockCluster()
print("REVOPS_KAFKA_BOOTSTRAP=" + cluster.start(), flush=True)
push = cluster._lib.rd_kafka_mock_push_request_errors_array
push.argtypes = [ctypes.c_void_p, ctypes.c_int16, ctypes.c_size_t, ctypes.POINTER(ctypes.c_int)]
push.restype = None
for line in sys.stdin:
    n = int(line.split()[1])
    errors = (ctypes.c_int * n)(*[INVALID_COMMIT_OFFSET_SIZE] * n)
    push(cluster._cluster, OFFSET_COMMIT_API, n, errors)
    print("armed", flush=True)
cluster.close()
"""

# Runs in a fresh interpreter of the Airflow venv (Airflow's config is read at import, from the
# environment this test builds), prints one RESULT line: the run's state and every task's.
_DAG_TEST = """
import json, sys
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, {project!r})
from tests.airflow._dagbag import load_dagbag

bag = load_dagbag(Path({dags!r}))
assert not bag.import_errors, bag.import_errors
dag = bag.dags[{dag_id!r}]
for task in dag.tasks:
    task.retry_delay = timedelta(seconds=1)
    task.max_retry_delay = timedelta(seconds=2)
dr = dag.test(run_conf={conf!r})

from airflow.models import TaskInstance
from airflow.utils.session import create_session

with create_session() as session:
    tis = session.query(TaskInstance).filter_by(dag_id=dr.dag_id, run_id=dr.run_id).all()
    states = {{
        ti.task_id + (f"[{{ti.map_index}}]" if ti.map_index >= 0 else ""): [
            str(ti.state), ti.try_number
        ]
        for ti in tis
    }}
print("RESULT " + json.dumps({{"state": str(dr.state), "tis": states}}))
"""

_TIMINGS: dict[str, float] = {}


@pytest.fixture(scope="module", autouse=True)
def _print_timings(request) -> Iterator[None]:
    start = time.monotonic()
    yield
    reporter = request.config.pluginmanager.get_plugin("terminalreporter")
    lines = [f"  {name}: {seconds:.1f} s" for name, seconds in _TIMINGS.items()]
    lines.append(f"  test_e2e total: {time.monotonic() - start:.1f} s")
    if reporter is not None:
        reporter.write_line("\n".join(["", "e2e timings:", *lines]))


@pytest.fixture(autouse=True)
def _time_test(request) -> Iterator[None]:
    start = time.monotonic()
    yield
    _TIMINGS[request.node.name] = time.monotonic() - start


@pytest.fixture(scope="module")
def tiny_data(tmp_path_factory) -> Path:
    """One tiny company (`revops generate --scale tiny`), one JSONL file per topic."""
    out = tmp_path_factory.mktemp("tiny")
    subprocess.run(
        [str(REVOPS_BIN), "generate", "--scale", "tiny", "--out", str(out)],
        check=True,
        capture_output=True,
        cwd=PROJECT_DIR,
    )
    return out


@pytest.fixture(scope="module")
def airflow_db(tmp_path_factory, manifest) -> Path:
    """A migrated Airflow metadata database, migrated once and copied into each test's home."""
    home = tmp_path_factory.mktemp("airflow-template")
    env = _airflow_env(home)
    subprocess.run([str(AIRFLOW_BIN), "db", "migrate"], check=True, env=env, capture_output=True)
    return home / "airflow.db"


@pytest.fixture
def env(tmp_path, airflow_db) -> dict[str, str]:
    """The environment of one test's DAG runs: its own Airflow home, warehouse and stage."""
    home = tmp_path / "airflow"
    home.mkdir()
    shutil.copy(airflow_db, home / "airflow.db")
    env = _airflow_env(home)
    env.update(
        REVOPS_WAREHOUSE=str(tmp_path / "wh" / "revops.duckdb"),
        REVOPS_STAGE=str(tmp_path / "wh" / "stage"),
        REVOPS_COSMOS_EXECUTION_MODE="watcher",
        REVOPS_COSMOS_PRODUCER_FIRST="1",
        REVOPS_AIRFLOW_DEADLINES="0",  # dag.test() cannot run them (_compat.run_deadline)
    )
    env.pop("AIRFLOW_CONN_REVOPS_ALERTS", None)
    env.pop("REVOPS_KAFKA_BOOTSTRAP", None)
    return env


class Kafka:
    def __init__(self, proc: subprocess.Popen, bootstrap: str) -> None:
        self.proc = proc
        self.bootstrap = bootstrap

    def fail_next_commits(self, n: int) -> None:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write(f"fail-commits {n}\n")
        self.proc.stdin.flush()
        assert self.proc.stdout.readline().strip() == "armed"


@pytest.fixture
def kafka() -> Iterator[Kafka]:
    proc = subprocess.Popen(
        [str(REVOPS_PYTHON), "-c", _MOCK_CLUSTER],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        cwd=PROJECT_DIR,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        if not line.startswith("REVOPS_KAFKA_BOOTSTRAP="):
            pytest.fail(f"the Kafka mock cluster did not start: {line!r}")
        yield Kafka(proc, line.split("=", 1)[1].strip())
    finally:
        assert proc.stdin is not None
        proc.stdin.close()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _airflow_env(home: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        AIRFLOW_HOME=str(home),
        AIRFLOW__CORE__DAGS_FOLDER=str(DAGS_DIR),
        AIRFLOW__CORE__LOAD_EXAMPLES="false",
        AIRFLOW__COSMOS__ENABLE_TELEMETRY="False",
        AIRFLOW__USAGE_DATA_COLLECTION__ENABLED="False",
        DO_NOT_TRACK="1",
        SCARF_NO_ANALYTICS="true",
    )
    return env


def _run_dag(dag_id: str, env: dict[str, str], conf: dict | None = None) -> dict:
    """`dag.test()` of `dag_id` in a fresh interpreter; its RESULT (run state, task states)."""
    code = _DAG_TEST.format(project=str(PROJECT_DIR), dags=str(DAGS_DIR), dag_id=dag_id, conf=conf)
    start = time.monotonic()
    run = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
        cwd=PROJECT_DIR,
    )
    print(f"dag.test({dag_id}): {time.monotonic() - start:.1f} s")
    results = [line for line in run.stdout.splitlines() if line.startswith("RESULT ")]
    assert results, (
        f"dag.test({dag_id}) did not finish:\n{run.stdout[-4000:]}\n{run.stderr[-4000:]}"
    )
    result = json.loads(results[-1].removeprefix("RESULT "))
    result["log"] = run.stdout + run.stderr
    return result


def _failed(result: dict) -> dict:
    return {k: v for k, v in result["tis"].items() if v[0] not in ("success", "skipped")}


def _query(env: dict[str, str], sql: str) -> list[tuple]:
    """Rows of `sql` on the test's warehouse, read by the project venv's DuckDB."""
    code = textwrap.dedent(
        """
        import json, os, sys, duckdb
        con = duckdb.connect(os.environ["REVOPS_WAREHOUSE"], read_only=True)
        print(json.dumps(con.execute(sys.argv[1]).fetchall(), default=str))
        """
    )
    out = subprocess.run(
        [str(REVOPS_PYTHON), "-c", code, sql],
        env=env,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return [tuple(row) for row in json.loads(out)]


def _mart_hashes(env: dict[str, str]) -> dict[str, tuple[int, str]]:
    """Per relation of schema `marts`: (row count, sum of row hashes) — independent of row
    order, sensitive to every value and to duplicates."""
    code = textwrap.dedent(
        """
        import json, os, duckdb
        con = duckdb.connect(os.environ["REVOPS_WAREHOUSE"], read_only=True)
        # model_watermarks is the incremental models' bookkeeping (when each last ran), not a
        # mart: a rebuild is meant to move it.
        names = [n for (n,) in con.execute(
            "select table_name from information_schema.tables where table_schema = 'marts' "
            "and table_name <> 'model_watermarks' order by 1").fetchall()]
        out = {}
        for name in names:
            count, digest = con.execute(
                f"select count(*), coalesce(sum(hash(t)::hugeint), 0)::varchar "
                f"from marts.{name} t").fetchone()
            out[name] = [count, digest]
        print(json.dumps(out))
        """
    )
    out = subprocess.run(
        [str(REVOPS_PYTHON), "-c", code], env=env, check=True, capture_output=True, text=True
    ).stdout
    return {name: tuple(value) for name, value in json.loads(out).items()}


def _publish(kafka: Kafka, env: dict[str, str], files: dict[str, Path]) -> int:
    code = textwrap.dedent(
        """
        import sys
        from pathlib import Path
        from ingest.kafka.producer import publish_jsonl
        n = 0
        for topic, path in zip(sys.argv[2::2], sys.argv[3::2]):
            n += publish_jsonl(sys.argv[1], topic, Path(path))
        print(n)
        """
    )
    args = [arg for topic, path in files.items() for arg in (topic, str(path))]
    out = subprocess.run(
        [str(REVOPS_PYTHON), "-c", code, kafka.bootstrap, *args],
        env=env,
        check=True,
        capture_output=True,
        text=True,
        cwd=PROJECT_DIR,
    ).stdout
    return int(out)


def _lines(path: Path) -> list[str]:
    return [line for line in path.read_text().splitlines() if line.strip()]


def _raw_admin(env: dict[str, str]) -> tuple[int, int, int]:
    """raw.admin_membership_events: rows, distinct source positions, distinct event ids."""
    ((rows, positions, events),) = _query(
        env,
        "select count(*), count(distinct _source_position), "
        "count(distinct payload->>'event_id') from raw.admin_membership_events",
    )
    return rows, positions, events


def _bridge_duplicates(env: dict[str, str]) -> tuple[int, int]:
    """marts.bridge_repl_team_membership: rows, rows beyond one per (repl, team, role, from)."""
    ((rows, distinct),) = _query(
        env,
        "select count(*), count(distinct (repl_id, team_id, role, valid_from)) "
        "from marts.bridge_repl_team_membership",
    )
    return rows, rows - distinct


def test_microbatch_moves_fresh_kafka_events_into_the_marts(env, kafka, tiny_data):
    """(a) Events published to Kafka reach marts.bridge_repl_team_membership through one
    scheduled-shape run of load_events_microbatch: consume → stage/raw → Cosmos watcher build."""
    env["REVOPS_KAFKA_BOOTSTRAP"] = kafka.bootstrap
    published = _publish(kafka, env, {t: tiny_data / f"{t}.jsonl" for t in TOPICS})
    assert published == sum(len(_lines(tiny_data / f"{t}.jsonl")) for t in TOPICS)

    result = _run_dag("load_events_microbatch", env)

    assert result["state"] == "success", (_failed(result), result["log"][-4000:])
    assert result["tis"]["dbt_build.dbt_producer_watcher"][0] == "success"
    sensors = [k for k in result["tis"] if k.endswith((".run", ".test"))]
    assert len(sensors) > 50 and all(result["tis"][k][0] == "success" for k in sensors)
    rows, positions, _ = _raw_admin(env)
    quarantined = _query(env, "select count(*) from raw.ingest_quarantine")[0][0]
    assert rows == positions and rows + quarantined >= len(
        _lines(tiny_data / f"{ADMIN_TOPIC}.jsonl")
    )
    published_repls = {
        json.loads(line)["repl_id"]
        for line in _lines(tiny_data / f"{ADMIN_TOPIC}.jsonl")
        if line.startswith("{") and '"repl_id":"' in line
    }
    bridged = {
        r for (r,) in _query(env, "select distinct repl_id from marts.bridge_repl_team_membership")
    }
    assert bridged and bridged <= published_repls
    bridge_rows, duplicates = _bridge_duplicates(env)
    assert bridge_rows > 0 and duplicates == 0


def _replay_files(tiny_data: Path, replay: Path, days: int) -> tuple[str, str, int]:
    """The admin topic's first `days` days as the backfill's per-day replay files
    (`<replay>/<topic>/<YYYY-MM-DD>.jsonl`, by `emitted_at`); a line that is not JSON goes with
    the first day, so the replay carries the source's dirt too. Returns start, end, lines."""
    by_day: dict[str, list[str]] = {}
    first = None
    for line in _lines(tiny_data / f"{ADMIN_TOPIC}.jsonl"):
        try:
            day = str(json.loads(line).get("emitted_at") or "")[:10]
        except ValueError:
            day = ""
        first = first or day
        by_day.setdefault(day or first, []).append(line)
    start = min(d for d in by_day if d)
    end = (datetime.date.fromisoformat(start) + datetime.timedelta(days=days)).isoformat()
    folder = replay / ADMIN_TOPIC
    folder.mkdir(parents=True)
    written = 0
    for day, lines in by_day.items():
        if start <= day < end:
            (folder / f"{day}.jsonl").write_text("\n".join(lines) + "\n")
            written += len(lines)
    return start, end, written


def test_backfill_twice_leaves_raw_and_the_marts_identical(env, tiny_data, tmp_path):
    """(b) The backfill DAG over three weekly chunks of replay files, into an empty warehouse,
    lands every line of every day once and builds the marts; the same trigger again changes no
    raw row and no mart."""
    env["REVOPS_REPLAY_DIR"] = str(tmp_path / "replay")
    start, end, lines = _replay_files(tiny_data, tmp_path / "replay", days=21)
    conf = {"source": f"kafka:{ADMIN_TOPIC}", "start": start, "end": end, "chunk": "week"}

    first = _run_dag("backfill", env, conf)
    assert first["state"] == "success", (_failed(first), first["log"][-4000:])
    chunks = [k for k in first["tis"] if k.startswith("run_chunk[")]
    assert len(chunks) == 3
    rows, positions, _ = _raw_admin(env)
    quarantined = _query(env, "select count(*) from raw.ingest_quarantine")[0][0]
    assert rows == positions and rows + quarantined == lines
    marts = _mart_hashes(env)
    assert marts["bridge_repl_team_membership"][0] > 0

    second = _run_dag("backfill", env, conf)
    assert second["state"] == "success", (_failed(second), second["log"][-4000:])
    assert _raw_admin(env)[:2] == (rows, positions)
    assert _query(env, "select count(*) from raw.ingest_quarantine")[0][0] == quarantined
    assert _mart_hashes(env) == marts


def test_a_retried_consume_creates_no_duplicate_rows(env, kafka, tiny_data):
    """(c) The consumer's offset commit fails after its raw load (a crash between the two, as far
    as it can tell): Airflow retries consume_kafka, which reads the same messages again; raw
    holds each source position once and the bridge has no duplicate interval."""
    env["REVOPS_KAFKA_BOOTSTRAP"] = kafka.bootstrap
    _publish(kafka, env, {ADMIN_TOPIC: tiny_data / f"{ADMIN_TOPIC}.jsonl"})
    kafka.fail_next_commits(1)

    result = _run_dag("load_events_microbatch", env)

    assert result["state"] == "success", (_failed(result), result["log"][-4000:])
    state, tries = result["tis"]["consume_kafka"]
    assert (state, tries) == ("success", 2), result["log"][-4000:]
    rows, positions, _ = _raw_admin(env)
    quarantined = _query(env, "select count(*) from raw.ingest_quarantine")[0][0]
    assert rows == positions and rows + quarantined == len(
        _lines(tiny_data / f"{ADMIN_TOPIC}.jsonl")
    )
    bridge_rows, duplicates = _bridge_duplicates(env)
    assert bridge_rows > 0 and duplicates == 0


def test_a_failing_task_posts_the_alert(env, receiver):
    """(d) A task that fails (bad backfill params: `validate_params` fails at once, no retry)
    posts Slack's webhook JSON to the `revops_alerts` connection: a local HTTP receiver."""
    base, received = receiver
    url = f"{base}/hooks/revops"
    env["AIRFLOW_CONN_REVOPS_ALERTS"] = json.dumps({"conn_type": "http", "host": url})
    conf = {"source": "kafka:no.such.topic", "start": "2026-01-01", "end": "2026-01-02"}

    result = _run_dag("backfill", env, conf)

    assert result["state"] == "failed"
    assert result["tis"]["validate_params"] == ["failed", 1]
    assert len(received) == 1, result["log"][-4000:]
    alert = received[0]
    assert alert["path"] == "/hooks/revops"
    assert "backfill.validate_params failed" in alert["json"]["text"]
    assert "no.such.topic" in alert["json"]["text"]
