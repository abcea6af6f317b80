"""OpenLineage: one run of load_events_microbatch is one lineage graph, Kafka → raw → marts.

A real `dag.test()` of part of the DAG under the OpenLineage provider with the file transport:
consume_kafka over events published to the Kafka mock cluster, then the Cosmos tasks (LOCAL
mode, one dbt run each) of one chain: stg_admin_service__membership_events →
int_membership_events_deduplicated → dq_late_membership_events (a mart). The events written to
the file must name the topics as consume_kafka's inputs and its raw tables as outputs, and each
dbt task's inputs must be spelled exactly like the outputs before it, which is what makes a
backend (Marquez, ...) draw one graph instead of islands.

Cosmos emits dbt lineage from the artifacts of the dbt command a task ran (LOCAL mode: one model
per task; WATCHER mode: the producer's whole build in one event, the per-model sensors run no dbt
and report none), so LOCAL is what this exercises per model.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

from tests.airflow.conftest import DAGS_DIR, PROJECT_DIR, REVOPS_PYTHON, dag_test

sys.path.insert(0, str(DAGS_DIR))
import _lineage

CHAIN = (
    "stg_admin_service__membership_events",
    "int_membership_events_deduplicated",
    "dq_late_membership_events",
)
TASKS = ["consume_kafka", *(f"dbt_build.{model}.run" for model in CHAIN)]
TOPICS = ("admin.membership.v1", "okta.system_log.v1", "zendesk.ticket_events.v1")


def _project_python(code: str, env: dict[str, str]) -> str:
    return subprocess.run(
        [str(REVOPS_PYTHON), "-c", textwrap.dedent(code)],
        check=True,
        capture_output=True,
        text=True,
        env=env,
        cwd=PROJECT_DIR,
    ).stdout


def test_landing_map_mirrors_ingest_topics():
    """_lineage's topic → (stage folder, raw table) is ingest.topics' (no `ingest` import in the
    Airflow venv, so it is a copy; this is what keeps it one)."""
    out = _project_python(
        """
        import json
        from ingest.topics import EVENT_TOPICS, QUARANTINE_TABLE, TOPICS
        print(json.dumps({
            "landing": {t: [TOPICS[t].source, TOPICS[t].raw_table] for t in EVENT_TOPICS},
            "quarantine": QUARANTINE_TABLE,
        }))
        """,
        dict(os.environ),
    )
    truth = json.loads(out)
    assert {t: list(v) for t, v in _lineage.TOPIC_LANDING.items()} == truth["landing"]
    assert truth["quarantine"] in _lineage.INGEST_TABLES


def _events(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def _complete(events: list[dict], job_suffix: str) -> dict:
    done = [
        e for e in events if e["eventType"] == "COMPLETE" and e["job"]["name"].endswith(job_suffix)
    ]
    assert done, (
        f"no COMPLETE event for *{job_suffix}: {sorted({e['job']['name'] for e in events})}"
    )
    return done[-1]


def _names(datasets: list[dict]) -> set[tuple[str, str]]:
    return {(d["namespace"], d["name"]) for d in datasets}


def test_one_run_is_one_lineage_graph(tmp_path, kafka, manifest):
    wh = tmp_path / "wh"
    events_file = tmp_path / "openlineage" / "events.jsonl"
    events_file.parent.mkdir()
    env = dict(os.environ)
    env.update(
        REVOPS_KAFKA_BOOTSTRAP=kafka.bootstrap,
        REVOPS_WAREHOUSE=str(wh / "revops.duckdb"),
        REVOPS_STAGE=str(wh / "stage"),
        REVOPS_COSMOS_EXECUTION_MODE="local",
        REVOPS_AIRFLOW_DEADLINES="0",  # dag.test() cannot run them (_compat.run_deadline)
        AIRFLOW_HOME=str(tmp_path / "airflow"),
        AIRFLOW__OPENLINEAGE__NAMESPACE="revops",
        AIRFLOW__OPENLINEAGE__TRANSPORT=json.dumps(
            {"type": "file", "log_file_path": str(events_file), "append": True}
        ),
    )
    t0 = time.monotonic()
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
        for topic in {TOPICS!r}:
            n += publish_jsonl({kafka.bootstrap!r}, topic, Path({str(data)!r}) / f"{{topic}}.jsonl")
        print(n)
        """,
        env,
    )
    assert int(published) > 0
    airflow = PROJECT_DIR / ".venv-airflow" / "bin" / "airflow"
    subprocess.run([str(airflow), "db", "migrate"], check=True, env=env, capture_output=True)
    t_setup = time.monotonic() - t0
    run = dag_test(
        env,
        "load_events_microbatch",
        body=f"""
        part = dag.partial_subset(task_ids={TASKS!r}, include_upstream=False)
        print("TASKS", sorted(part.task_ids))
        print("STATE", part.test().state)
        """,
        timeout=600,
    )
    t_run = time.monotonic() - t0 - t_setup
    print(f"\nsetup (data, Kafka, db migrate) {t_setup:.1f} s; dag.test {t_run:.1f} s")
    out = run.stdout[-3000:] + run.stderr[-3000:]
    assert f"TASKS {sorted(TASKS)}" in run.stdout, out
    assert "STATE success" in run.stdout, out
    assert events_file.exists(), f"no OpenLineage events written\n{out}"
    events = _events(events_file)
    print(f"{len(events)} OpenLineage events in {events_file}")

    # consume_kafka: the topics in, their stage folders and raw tables out
    ingest = _complete(events, ".consume_kafka")
    assert ingest["job"]["namespace"] == "revops"
    kafka_ns = f"kafka://{kafka.bootstrap.split(',')[0]}"
    assert _names(ingest["inputs"]) == {(kafka_ns, t) for t in TOPICS}
    outputs = _names(ingest["outputs"])
    for source, raw_table in _lineage.TOPIC_LANDING.values():
        assert ("duckdb://:memory:", f"revops.raw.{raw_table}") in outputs
        assert ("file", str((wh / "stage" / source).resolve())) in outputs

    # each dbt task reads what the one before it wrote, under the same spelling
    previous = outputs
    for model in CHAIN:
        dbt_event = _complete(events, f".{model}.run")
        inputs, written = _names(dbt_event["inputs"]), _names(dbt_event["outputs"])
        assert inputs & previous, f"{model} reads {inputs}, nothing of {previous}"
        assert len(written) == 1, written
        previous = written
    staging = _names(_complete(events, f".{CHAIN[0]}.run")["outputs"])
    assert staging == {("duckdb://:memory:", f"revops.staging.{CHAIN[0]}")}
    assert previous == {("duckdb://:memory:", f"revops.marts.{CHAIN[-1]}")}
