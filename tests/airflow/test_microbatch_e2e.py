"""`dag.test()` of load_events_microbatch end to end on the embedded default: a tiny company
published to the Kafka mock cluster, consumed by the DAG into stage/raw, built into the marts by
the Cosmos task group (LOCAL mode: dag.test runs one task at a time). About 12 minutes on 2 cores,
so opt-in: REVOPS_AIRFLOW_E2E=1 .venv-airflow/bin/python -m pytest tests/airflow -k e2e."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time

import pytest

from tests.airflow.conftest import DAGS_DIR, PROJECT_DIR, REVOPS_PYTHON

pytestmark = pytest.mark.skipif(
    not os.environ.get("REVOPS_AIRFLOW_E2E"), reason="opt-in: set REVOPS_AIRFLOW_E2E=1"
)


def _project_python(code: str, env: dict[str, str]) -> str:
    return subprocess.run(
        [str(REVOPS_PYTHON), "-c", textwrap.dedent(code)],
        check=True,
        capture_output=True,
        text=True,
        env=env,
        cwd=PROJECT_DIR,
    ).stdout


@pytest.fixture
def kafka(tmp_path):
    proc = subprocess.Popen(
        [str(REVOPS_PYTHON), "-m", "ingest.kafka.mock_cluster"],
        stdout=subprocess.PIPE,
        text=True,
        cwd=PROJECT_DIR,
    )
    try:
        assert proc.stdout is not None
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            line = proc.stdout.readline()
            if line.startswith("REVOPS_KAFKA_BOOTSTRAP="):
                yield line.split("=", 1)[1].strip()
                break
        else:
            pytest.fail("the Kafka mock cluster did not start")
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def test_microbatch_moves_kafka_events_into_the_marts(tmp_path, kafka, manifest):
    env = dict(os.environ)
    env.update(
        REVOPS_AIRFLOW_DEADLINES="0",  # dag.test() cannot run them (_compat.run_deadline)
        REVOPS_KAFKA_BOOTSTRAP=kafka,
        REVOPS_WAREHOUSE=str(tmp_path / "wh" / "revops.duckdb"),
        REVOPS_STAGE=str(tmp_path / "wh" / "stage"),
        REVOPS_COSMOS_EXECUTION_MODE="local",
        AIRFLOW_HOME=str(tmp_path / "airflow"),
    )
    data = tmp_path / "data"
    subprocess.run(
        [str(PROJECT_DIR / ".venv/bin/revops"), "generate", "--scale", "tiny", "--out", str(data)],
        check=True,
        env=env,
        capture_output=True,
    )
    published = _project_python(
        f"""
        from pathlib import Path
        from ingest.kafka.producer import publish_jsonl
        n = 0
        for topic in ("admin.membership.v1", "okta.system_log.v1", "zendesk.ticket_events.v1"):
            n += publish_jsonl({kafka!r}, topic, Path({str(data)!r}) / f"{{topic}}.jsonl")
        print(n)
        """,
        env,
    )
    assert int(published) > 0
    airflow = PROJECT_DIR / ".venv-airflow" / "bin" / "airflow"
    subprocess.run([str(airflow), "db", "migrate"], check=True, env=env, capture_output=True)
    run = subprocess.run(
        [
            sys.executable,
            "-c",
            textwrap.dedent(
                f"""
                import sys
                sys.path.insert(0, {str(PROJECT_DIR)!r})
                from pathlib import Path
                from tests.airflow._dagbag import load_dagbag
                dag = load_dagbag(Path({str(DAGS_DIR)!r})).dags["load_events_microbatch"]
                print("STATE", dag.test().state)
                """
            ),
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=1800,
    )
    assert "STATE success" in run.stdout, run.stdout[-3000:] + run.stderr[-3000:]
    counts = _project_python(
        """
        import os, duckdb
        con = duckdb.connect(os.environ["REVOPS_WAREHOUSE"], read_only=True)
        print(con.execute("select count(*) from raw.admin_membership_events").fetchone()[0],
              con.execute("select count(*) from marts.bridge_repl_team_membership").fetchone()[0])
        """,
        env,
    )
    raw_rows, bridge_rows = map(int, counts.split())
    assert raw_rows > 0 and bridge_rows > 0
