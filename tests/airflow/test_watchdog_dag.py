"""The run summary in a real `dag.test()`: a small DAG ending with `run_summary_task()` whose
tasks succeed and fail, run by Airflow on SQLite metadata in a temporary AIRFLOW_HOME; the row it
writes to `ops.run_summaries` is read back with the project venv's DuckDB. Also the watchdog
DAG's shape (its checks, the summary downstream of every task)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tests.airflow.conftest import DAGS_DIR, PROJECT_DIR, REVOPS_PYTHON, dag_test

SMALL_DAG = """
# An Airflow DAG (the safe-mode parser opens files naming both words).
from __future__ import annotations

import sys
from datetime import UTC, datetime

sys.path.insert(0, {dags!r})

from _compat import AirflowFailException, dag, task
from _summary import run_summary_task


@dag(dag_id="summary_probe", schedule=None, start_date=datetime(2026, 1, 1, tzinfo=UTC))
def summary_probe():
    @task
    def consume() -> str:
        return ("consumed 1,200 messages in 2 batch(es) (900 msg/s): 1,150 new raw rows, "
                "50 quarantined; stopped: idle")

    @task
    def tests() -> str:
        return "Done. PASS=7 WARN=1 ERROR=0 SKIP=0 NO-OP=0 TOTAL=8"

    @task(retries=0)
    def broken() -> None:
        raise AirflowFailException("this task fails on purpose")

    consume() >> [tests(), broken()]
    run_summary_task()


summary_probe()
"""


def _airflow_major() -> int:
    import airflow

    return int(airflow.__version__.split(".", 1)[0])


def test_dag_test_run_records_states_durations_and_counts(tmp_path):
    env = dict(os.environ)
    warehouse = tmp_path / "wh" / "revops.duckdb"
    env.update(
        REVOPS_AIRFLOW_DEADLINES="0",  # dag.test() cannot run them (_compat.run_deadline)
        REVOPS_WAREHOUSE=str(warehouse),
        REVOPS_STAGE=str(tmp_path / "wh" / "stage"),
        AIRFLOW_HOME=str(tmp_path / "airflow"),
        AIRFLOW__CORE__DAGS_FOLDER=str(tmp_path / "dags"),
    )
    (tmp_path / "dags").mkdir()
    dag_file = tmp_path / "dags" / "summary_probe.py"
    dag_file.write_text(SMALL_DAG.format(dags=str(DAGS_DIR)))
    airflow = Path(sys.executable).parent / "airflow"  # this venv's Airflow (3.x or 2.11)
    subprocess.run([str(airflow), "db", "migrate"], check=True, env=env, capture_output=True)
    run = dag_test(env, "summary_probe", dags_dir=tmp_path / "dags", timeout=600)
    output = run.stdout[-3000:] + run.stderr[-3000:]
    # The summary task is the only leaf and fails the run because `broken` failed.
    assert "STATE failed" in run.stdout, output
    read = subprocess.run(
        [
            str(REVOPS_PYTHON),
            "-c",
            "import duckdb, os, json; con = duckdb.connect(os.environ['REVOPS_WAREHOUSE'], "
            "read_only=True); print(json.dumps(con.execute('select dag_id, run_id, status, "
            "summary from ops.run_summaries').fetchall()))",
        ],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    rows = json.loads(read.stdout)
    assert len(rows) == 1, output
    dag_id, run_id, status, summary_text = rows[0]
    summary = json.loads(summary_text)
    print(json.dumps(summary, indent=1))
    assert (dag_id, status) == ("summary_probe", "failed")
    assert run_id == summary["run_id"] and run_id
    states = {t["task_id"]: t["state"] for t in summary["tasks"]}
    assert states == {"consume": "success", "tests": "success", "broken": "failed"}
    durations = [t["duration_s"] for t in summary["tasks"]]
    if _airflow_major() >= 3:
        assert all(d is not None and d >= 0 for d in durations), durations
    else:  # 2.x dag.test() runs a task without stamping its start_date: no duration to report
        print("durations on 2.x dag.test():", durations)
    assert summary["failed_tasks"] == ["broken"]
    assert summary["task_states"] == {"failed": 1, "success": 2}
    assert summary["counts"] == {
        "messages_in": 1200,
        "rows_out": 1150,
        "quarantined": 50,
        "dbt_pass": 7,
        "dbt_warn": 1,
        "dbt_error": 0,
        "dbt_skip": 0,
        "dbt_total": 8,
    }
    # What the warehouse recorded since the run started: nothing was loaded.
    assert summary["warehouse"]["rows_in"] == 0 and summary["warehouse"]["quarantined"] == 0
    print("run summary task log tail:", run.stdout[-1500:])


def test_watchdog_dag_checks_and_summary(manifest):
    from tests.airflow._dagbag import load_dagbag

    dag = load_dagbag(DAGS_DIR).dags["data_quality_watchdog"]
    assert set(dag.task_ids) == {
        "source_freshness",
        "volume_anomalies",
        "salesforce_reconciliation",
        "dq_tests",
        "run_summary",
    }
    summary = dag.get_task("run_summary")
    assert str(summary.trigger_rule).rsplit(".", 1)[-1].lower() == "all_done"
    assert summary.upstream_task_ids == {"dq_tests"}
    assert dag.get_task("dq_tests").upstream_task_ids == {
        "source_freshness",
        "volume_anomalies",
        "salesforce_reconciliation",
    }
    docs = load_dagbag(DAGS_DIR).dags["publish_docs"]
    assert docs.get_task("run_summary").upstream_task_ids == {"generate_static_docs"}


@pytest.mark.skipif(
    not os.environ.get("REVOPS_AIRFLOW_E2E"), reason="opt-in: set REVOPS_AIRFLOW_E2E=1"
)
def test_watchdog_e2e_on_a_tiny_company(tmp_path, manifest):
    """`dag.test()` of data_quality_watchdog on a freshly built tiny company (the dbt suite's two
    batches): every check passes on data loaded minutes ago, and the run is summarised. About
    5 minutes on 2 cores, so opt-in (REVOPS_AIRFLOW_E2E=1)."""
    env = dict(os.environ)
    warehouse = tmp_path / "wh" / "revops.duckdb"
    env.update(
        REVOPS_AIRFLOW_DEADLINES="0",  # dag.test() cannot run them (_compat.run_deadline)
        REVOPS_WAREHOUSE=str(warehouse),
        REVOPS_STAGE=str(tmp_path / "wh" / "stage"),
        AIRFLOW_HOME=str(tmp_path / "airflow"),
        REVOPS_DBT_WATCHDOG_TARGET=str(tmp_path / "watchdog-target"),
    )
    build = textwrap.dedent(
        f"""
        import sys
        from pathlib import Path
        from ingest.dbt_runner import build
        from ingest.file_source import ingest_files
        from ingest.settings import Settings
        from tests.python.dbt_suite import tiny_company_batches

        root = Path({str(tmp_path)!r})
        settings = Settings(warehouse_path=Path({str(warehouse)!r}),
                            stage_dir=root / "wh" / "stage", dbt_target_path=root / "target")
        for number, batch in enumerate(tiny_company_batches(root / "data"), start=1):
            for topic, path in batch.items():
                ingest_files([path], topic, settings)
            result = build(settings, full_refresh=(number == 1), check=False, quiet=True)
            print(f"dbt build #{{number}}: {{result.counts()}}", flush=True)
            if result.returncode:
                sys.exit(result.returncode)
        """
    )
    subprocess.run(
        [str(REVOPS_PYTHON), "-c", build], check=True, env=env, cwd=PROJECT_DIR, timeout=1500
    )
    airflow = Path(sys.executable).parent / "airflow"  # this venv's Airflow (3.x or 2.11)
    subprocess.run([str(airflow), "db", "migrate"], check=True, env=env, capture_output=True)
    run = dag_test(env, "data_quality_watchdog", timeout=1500)
    output = run.stdout[-4000:] + run.stderr[-4000:]
    assert "STATE success" in run.stdout, output
    read = subprocess.run(
        [
            str(REVOPS_PYTHON),
            "-c",
            "import duckdb, os; con = duckdb.connect(os.environ['REVOPS_WAREHOUSE'], "
            "read_only=True); print(con.execute('select status, summary from "
            "ops.run_summaries').fetchall()[0][1])",
        ],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    summary = json.loads(read.stdout)
    print(json.dumps({k: summary[k] for k in ("tasks", "counts", "duration_s")}, indent=1))
    assert summary["status"] == "success"
    assert {t["task_id"]: t["state"] for t in summary["tasks"]} == {
        "source_freshness": "success",
        "volume_anomalies": "success",
        "salesforce_reconciliation": "success",
        "dq_tests": "success",
    }
    assert summary["counts"]["dbt_error"] == 0 and summary["counts"]["dbt_pass"] > 0
