"""data_quality_watchdog: hourly source freshness and data-quality checks that alert.

An Airflow DAG (Airflow 3.x and 2.11 via _compat; Airflow's safe-mode parser only opens
files that name both words).
"""

from __future__ import annotations

import os
from pathlib import Path

from _common import (
    DEFAULT_ARGS,
    PROJECT_DIR,
    START_DATE,
    WAREHOUSE_POOL,
    RevopsCommandError,
    dbt,
    revops_python,
)
from _compat import dag, run_deadline, task
from _summary import run_summary_task

# Its own dbt target and log path (REVOPS_DBT_WATCHDOG_TARGET overrides): the freshness report
# (sources.json) and partial parse of this DAG never collide with a `revops build` or
# `dbt docs generate` writing target/.
TARGET_PATH = Path(
    os.environ.get("REVOPS_DBT_WATCHDOG_TARGET") or PROJECT_DIR / "target" / "watchdog"
)
SOURCES_JSON = TARGET_PATH / "sources.json"
PATHS = ("--target-path", str(TARGET_PATH), "--log-path", str(TARGET_PATH / "logs"))

DOC = """
### Data-quality watchdog (hourly)

Each check fails its own task, which alerts (`on_failure_callback`, the `revops_alerts` webhook)
with the check's message listing every breach; the others still run.

- **source_freshness** — `dbt source freshness` over every source with an SLA, then
  `python -m ingest.ops dq-check freshness`: fails on any source past its SLA (`warn_after` in
  `models/staging/*/_*__sources.yml`: membership 15 min, Opportunity and OpportunityLineItem
  10 min, Task and Event 60 min; vars `freshness_sla_membership_minutes`,
  `salesforce_freshness_sla_minutes`), on any past `error_after`, and on a source it cannot
  measure (an empty table).
- **volume_anomalies** — builds `marts.dq_volume_anomalies` (rows landed per source and day
  against the trailing 14 days), then `dq-check volume`: fails on the anomalies (drop, spike,
  zero) of the last complete UTC day.
- **salesforce_reconciliation** — builds `marts.dq_salesforce_reconciliation` (the sync log's
  latest Salesforce COUNT()/SUM(Amount) per object against the current-state marts), then
  `dq-check reconciliation`: fails on every object that does not reconcile.
- **dq_tests** — `dbt test --select marts` (the data tests on the marts, `dq_*` included; error
  severity fails, warn severity is reported).
- **run_summary** — one row per run in `ops.run_summaries` (states, durations, counts).

What each failure means and what to do: the on-call runbook in README.md.
"""


def _last_line(lines: list[str]) -> str:
    return next((line for line in reversed(lines) if line.strip()), "")


@dag(
    dag_id="data_quality_watchdog",
    schedule="@hourly",
    start_date=START_DATE,
    catchup=False,
    max_active_runs=1,
    default_args=DEFAULT_ARGS,
    tags=["revops", "data-quality", "dbt"],
    doc_md=DOC,
    # An hourly check that has not finished within the hour is itself an incident.
    **run_deadline(50, "data-quality watchdog not done 50 min after it was queued"),
)
def data_quality_watchdog():
    @task(pool=WAREHOUSE_POOL)
    def source_freshness() -> str:
        """dbt exits 1 past an error_after (or on an unmeasurable source); the check then still
        reads the report, so the alert names every late source, not just dbt's exit code."""
        dbt_failure: RevopsCommandError | None = None
        try:
            dbt("source", "freshness", *PATHS, "--output", str(SOURCES_JSON))
        except RevopsCommandError as exc:
            dbt_failure = exc
        lines = revops_python("ingest.ops", "dq-check", "freshness", str(SOURCES_JSON))
        if dbt_failure is not None:
            raise dbt_failure
        return _last_line(lines)

    @task(pool=WAREHOUSE_POOL)
    def volume_anomalies() -> str:
        dbt("build", "--select", "dq_volume_anomalies", *PATHS)
        return _last_line(revops_python("ingest.ops", "dq-check", "volume"))

    @task(pool=WAREHOUSE_POOL)
    def salesforce_reconciliation() -> str:
        dbt("build", "--select", "dq_salesforce_reconciliation", *PATHS)
        return _last_line(revops_python("ingest.ops", "dq-check", "reconciliation"))

    @task(pool=WAREHOUSE_POOL, trigger_rule="all_done")
    def dq_tests() -> str:
        lines = dbt("test", "--select", "marts", *PATHS)
        return next((line for line in reversed(lines) if "TOTAL=" in line), _last_line(lines))

    checks = [source_freshness(), volume_anomalies(), salesforce_reconciliation()]
    checks >> dq_tests()
    run_summary_task()


data_quality_watchdog()
