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

from tests.airflow.conftest import DAGS_DIR, PROJECT_DIR, REVOPS_PYTHON, Kafka

REVOPS_BIN = PROJECT_DIR / ".venv" / "bin" / "revops"
AIRFLOW_BIN = Path(sys.executable).parent / "airflow"
TOPICS = ("admin.membership.v1", "okta.system_log.v1", "zendesk.ticket_events.v1")
ADMIN_TOPIC = TOPICS[0]

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


def _mart_hashes(env: dict[str, str], monitoring: tuple[str, ...] = ()) -> dict[str, tuple]:
    """Per relation of schema `marts`: (row count, sum of row hashes) — independent of row
    order, sensitive to every value and to duplicates. `monitoring`: relations about the sync
    runs themselves (the latest run's checkpoint and counts, ages against now), left out."""
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
    hashes = {name: tuple(value) for name, value in json.loads(out).items()}
    return {name: value for name, value in hashes.items() if name not in monitoring}


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


def test_microbatch_moves_fresh_kafka_events_into_the_marts(env, kafka, tiny_data, tmp_path):
    """(a) Events published to Kafka reach marts.bridge_repl_team_membership through one
    scheduled-shape run of load_events_microbatch: consume → stage/raw → Cosmos watcher build.
    A backdated event in the next batch: that batch's restatement report holds exactly the
    ticket attributions its build changed."""
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
    assert result["tis"]["snapshot_attributions"][0] == "success"
    assert result["tis"]["report_restatements"][0] == "success"

    # A backdated removal in the next batch: that batch reports exactly the ticket attributions
    # its build changed (the fact table before and after, diffed here), under its own run id.
    repl_id, team_id, removed_at = _query(
        env,
        """
        select repl_id, team_id, quantile_disc(event_at, 0.5)
        from marts.fct_ticket_attribution where team_id is not null
        group by repl_id, team_id order by count(*) desc, repl_id limit 1
        """,
    )[0]
    ticket_sql = "select ticket_event_id, team_id from marts.fct_ticket_attribution"
    before = dict(_query(env, ticket_sql))
    late = tmp_path / "late.jsonl"
    late.write_text(
        json.dumps(
            {
                "event_id": "late-removal-e2e",
                "event_type": "MEMBERSHIP_REMOVED",
                "repl_id": repl_id,
                "team_id": team_id,
                "role": "primary",
                "effective_at": str(removed_at).replace(" ", "T") + "Z",
                "emitted_at": datetime.datetime.now(datetime.UTC).isoformat(),
                "actor": "hr.sync@clouddesk.example",
            }
        )
        + "\n"
    )
    assert _publish(kafka, env, {ADMIN_TOPIC: late}) == 1

    second = _run_dag("load_events_microbatch", env)

    assert second["state"] == "success", (_failed(second), second["log"][-4000:])
    after = dict(_query(env, ticket_sql))
    changed = {
        (k, before.get(k), after.get(k))
        for k in before.keys() | after.keys()
        if k in before and before.get(k) != after.get(k)
    }
    assert changed, "the backdated removal changes some attributions"
    runs = _query(
        env,
        "select run_id, ticket_restated from ops.restatement_runs where status = 'success' "
        "order by started_at",
    )
    assert len(runs) == 2 and runs[1][1] == len(changed)
    reported = set(
        _query(
            env,
            "select fact_key, old_team_id, new_team_id from ops.attribution_restatements "
            f"where run_id = '{runs[1][0]}' and fact = 'ticket'",
        )
    )
    assert reported == changed


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


@pytest.fixture
def salesforce_emulator(tmp_path) -> Iterator[dict[str, str]]:
    """`revops salesforce-emulator` (the tiny org, HTTPS with its own CA): the environment that
    reaches it (it accepts any credentials)."""
    proc = subprocess.Popen(
        [str(REVOPS_BIN), "salesforce-emulator", "--scale", "tiny", "--ca-dir", str(tmp_path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        cwd=PROJECT_DIR,
    )
    try:
        assert proc.stdout is not None
        found: dict[str, str] = {}
        deadline = time.monotonic() + 60
        while len(found) < 2 and time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line:
                pytest.fail(f"the Salesforce emulator exited {proc.wait()}")
            name, sep, value = line.strip().partition("=")
            if sep and name in ("REVOPS_SALESFORCE_INSTANCE_URL", "REVOPS_SALESFORCE_CA_BUNDLE"):
                found[name] = value
        assert len(found) == 2, f"the Salesforce emulator printed no endpoint: {found}"
        yield found | {
            "REVOPS_SALESFORCE_USERNAME": "dev@revops.example",
            "REVOPS_SALESFORCE_PASSWORD": "emulator",
            "REVOPS_SALESFORCE_CLIENT_ID": "revops-dev",
            "REVOPS_SALESFORCE_CLIENT_SECRET": "emulator",
        }
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def test_salesforce_backfill_into_an_empty_warehouse_twice(env, salesforce_emulator):
    """(b') The backfill of one Salesforce object (Bulk API, weekly chunks) into an empty
    warehouse builds its marts (`@source:salesforce`: the models' other parents too, here the
    membership models over empty sources); the same trigger again changes no raw row and no
    mart."""
    env.update(salesforce_emulator)
    conf = {
        "source": "salesforce:Opportunity",
        "start": "2026-10-11",
        "end": "2026-11-01",
        "chunk": "week",
    }
    count_sql = (
        "select count(*), count(distinct _source_position), "
        "count(distinct json_extract_string(payload, '$.record.Id')) "
        "from raw.salesforce_opportunity"
    )

    first = _run_dag("backfill", env, conf)
    assert first["state"] == "success", (_failed(first), first["log"][-4000:])
    assert len([k for k in first["tis"] if k.startswith("run_chunk[")]) == 3
    raw = _query(env, count_sql)[0]
    assert raw[0] > 0 and raw[0] == raw[1]
    # A second backfill is a second sync run: these two report on the latest run by design.
    monitoring = ("dq_salesforce_freshness", "dq_salesforce_reconciliation")
    marts = _mart_hashes(env, monitoring)
    assert marts["fct_opportunity_attribution"][0] == raw[2]

    second = _run_dag("backfill", env, conf)
    assert second["state"] == "success", (_failed(second), second["log"][-4000:])
    assert _query(env, count_sql)[0] == raw
    assert _mart_hashes(env, monitoring) == marts


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
    # The task's alert, then the run's (run_summary fails a run another task failed, naming it).
    task_alerts = [a for a in received if "backfill.validate_params failed" in a["json"]["text"]]
    assert len(task_alerts) == 1, (received, result["log"][-4000:])
    assert all(
        "run_summary" in a["json"]["text"] and "validate_params" in a["json"]["text"]
        for a in received
        if a not in task_alerts
    ), received
    alert = task_alerts[0]
    assert alert["path"] == "/hooks/revops"
    assert "backfill.validate_params failed" in alert["json"]["text"]
    assert "no.such.topic" in alert["json"]["text"]
