"""DagBag integrity of dags/: every DAG imports, is described and retries; parsing stays light."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pytest

from tests.airflow._dagbag import load_dagbag
from tests.airflow.conftest import DAGS_DIR, PROJECT_DIR

EXPECTED_DAGS = {
    "load_events_microbatch",
    "sync_salesforce",
    "reprocess_late_events",
    "backfill",
    "data_quality_watchdog",
    "publish_docs",
}
# What a DAG file must not import at parse time (the DAG processor re-parses every file every
# few seconds; the tasks run these in the project's venv).
HEAVY_MODULES = ("dbt", "duckdb", "confluent_kafka", "pandas", "numpy", "pyarrow", "ingest")


@pytest.fixture(scope="module")
def dagbag(manifest):
    return load_dagbag(DAGS_DIR)


def test_no_import_errors(dagbag):
    assert dagbag.import_errors == {}


def test_every_expected_dag_is_there(dagbag):
    assert set(dagbag.dag_ids) == EXPECTED_DAGS


@pytest.mark.parametrize("dag_id", sorted(EXPECTED_DAGS))
def test_dag_is_described_owned_and_retried(dagbag, dag_id):
    dag = dagbag.dags[dag_id]
    assert dag.tags, f"{dag_id} has no tags"
    assert dag.doc_md and len(dag.doc_md.strip()) > 40, f"{dag_id} has no doc_md"
    for task in dag.tasks:
        where = f"{dag_id}.{task.task_id}"
        assert task.owner == "revops-oncall", where
        if where == "backfill.validate_params":
            assert task.retries == 0  # bad params fail at once
            continue
        assert task.retries >= 2, where
        assert task.retry_exponential_backoff, where
        callbacks = task.on_failure_callback
        callbacks = callbacks if isinstance(callbacks, list) else [callbacks]
        assert any(getattr(cb, "__name__", "") == "on_failure_alert" for cb in callbacks), where


def test_microbatch_shape(dagbag):
    dag = dagbag.dags["load_events_microbatch"]
    assert dag.max_active_runs == 1
    ids = set(dag.task_ids)
    assert "consume_kafka" in ids
    assert "dbt_build.dbt_producer_watcher" in ids
    # one task per model, with its tests after it (Cosmos, rendered from the manifest)
    assert "dbt_build.int_membership_windows.run" in ids
    assert "dbt_build.int_membership_windows.test" in ids
    assert "dbt_build.bridge_repl_team_membership.run" in ids
    producer = dag.get_task("dbt_build.dbt_producer_watcher")
    assert producer.pool == "revops_warehouse"
    assert str(producer.dbt_executable_path).endswith("dags/bin/revops-dbt")
    # The five-minute build runs the data tests, not the unit tests (those run in make test/CI);
    # test_e2e's micro-batch run proves dbt accepts the exclusion.
    excluded = producer.exclude if isinstance(producer.exclude, list) else producer.exclude.split()
    assert excluded == ["resource_type:unit_test"]


def test_salesforce_sync_is_mapped_and_pooled(dagbag):
    dag = dagbag.dags["sync_salesforce"]
    sync = dag.get_task("sync_object")
    assert sync.pool == "salesforce_api"
    assert "check_budget" in {t.task_id for t in dag.get_task("due_objects").upstream_list}


def test_salesforce_due_objects():
    import sync_salesforce

    assert sync_salesforce.due(20) == ["Opportunity", "OpportunityLineItem"]
    assert len(sync_salesforce.due(0)) == 8


def test_parse_time_and_no_heavy_imports(manifest):
    """A fresh interpreter parses the folder: time it, and list the heavy modules it imported."""
    code = textwrap.dedent(
        f"""
        import json, sys, time
        sys.path.insert(0, {str(PROJECT_DIR)!r})
        t0 = time.perf_counter()
        from tests.airflow._dagbag import load_dagbag
        import airflow.models, airflow.models.dagbag
        try:
            import airflow.dag_processing.dagbag
        except ImportError:
            pass
        t1 = time.perf_counter()
        from pathlib import Path
        bag = load_dagbag(Path({str(DAGS_DIR)!r}))
        t2 = time.perf_counter()
        heavy = sorted({{m.split(".")[0] for m in sys.modules}} & set({HEAVY_MODULES!r}))
        print(json.dumps({{"airflow_import_s": t1 - t0, "parse_s": t2 - t1,
                          "dags": len(bag.dags), "errors": len(bag.import_errors),
                          "heavy": heavy}}))
        """
    )
    import os

    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        env=dict(os.environ),
        cwd=PROJECT_DIR,
    )
    report = json.loads(out.stdout.strip().splitlines()[-1])
    print(
        f"\ndags/ parse: {report['parse_s']:.2f} s for {report['dags']} DAGs "
        f"(importing Airflow first: {report['airflow_import_s']:.2f} s)"
    )
    assert report["errors"] == 0
    assert report["dags"] == len(EXPECTED_DAGS)
    assert report["heavy"] == [], f"parsing dags/ imported {report['heavy']}"
