"""load_events_microbatch: Kafka → stage → raw, then the dbt build of what the events touch.

An Airflow DAG (Airflow 3.x and 2.11 via _compat; Airflow's safe-mode parser only opens
files that name both words).
"""

from __future__ import annotations

import os
from datetime import timedelta

import _lineage
from _backfill import EVENT_TOPICS
from _common import (
    ASSET_MARTS,
    ASSET_RAW_EVENTS,
    DEFAULT_ARGS,
    LOCK_WAIT_S,
    START_DATE,
    WAREHOUSE_POOL,
    dbt_task_group,
    revops,
    revops_python,
)
from _compat import Asset, dag, get_current_context, run_deadline, task
from _summary import run_summary_task

DOC = """
### Micro-batch: Kafka → raw → marts (every 5 minutes; `REVOPS_MICROBATCH_MINUTES`)

1. **consume_kafka** — `revops ingest kafka --until-idle` over the three event topics: reads up to
   the high watermarks seen at start (bounded), commits offsets only after the raw load
   (at-least-once; a re-run of the same interval loads nothing twice: raw positions dedupe).
2. **snapshot_attributions** — `python -m ingest.restatements --phase snapshot`: the ticket and
   opportunity attributions the batch's membership events can restate (the repls they touch,
   from the instant they change), before anything rebuilds them.
3. **dbt_build** — a Cosmos task group over the staging models of the event sources, their
   descendants and those descendants' other parents (dbt's `@`): one task per model, its tests
   after it, run as one `dbt build` (watcher mode) under the warehouse lock.
4. **report_restatements** — `--phase report`: every attribution the build restated (old team →
   new team) to `ops.attribution_restatements` under this run's id, one line per fact in the
   task log (the same report as `reprocess_late_events`, which then finds nothing left to do
   for these events).

`max_active_runs=1`: a slow batch delays the next one, never overlaps it. A run not finished
15 minutes after it was queued posts a deadline alert (Airflow 3). Emits the assets
`revops://warehouse/raw/events` and `revops://warehouse/marts`.

**Lineage** (OpenLineage provider): consume_kafka reports the topics as inputs and the stage
folders and raw tables as outputs, each dbt model task its parents and its table, under the same
names, so one run is one graph Kafka → stage/raw → staging → marts (dags/README.md).

**run_summary** — one row per run in `ops.run_summaries` (task states, durations, counts in /
inserted / quarantined / rejected); it fails the run, naming them, when another task failed.

**Re-run a failed batch**: clear the failed task (and downstream); the next run also catches up
on its own, since consumption is by offsets, not by the data interval.
"""

# The staging models of the event sources, everything downstream, and the other parents of those
# (`@`: int_calendar_days, the Salesforce staging the opportunity marts join), so the first run
# on an empty warehouse builds too. Model names, not `source:admin_service+`: Cosmos matches
# `source:` against the table name, dbt against the source name, and this selection must mean
# the same to both (Cosmos renders the tasks, dbt runs them).
SELECT = [
    "@stg_admin_service__membership_events",
    "@stg_okta__system_log_events",
    "@stg_zendesk__ticket_events",
    "@stg_ingest__quarantine",
]
# Unit tests check the SQL on fixed inputs: they run in `make test` and in CI, not every five
# minutes against production (about 6 s of a medium micro-batch's dbt build). Data tests stay.
EXCLUDE = ["resource_type:unit_test"]


# The cadence: 5 minutes; REVOPS_MICROBATCH_MINUTES=1 for the low-latency option (README,
# "Performance": freshness of the loop at each cadence).
SCHEDULE_MINUTES = int(os.environ.get("REVOPS_MICROBATCH_MINUTES") or 5)


@dag(
    dag_id="load_events_microbatch",
    schedule=timedelta(minutes=SCHEDULE_MINUTES),
    start_date=START_DATE,
    catchup=False,
    max_active_runs=1,
    dagrun_timeout=timedelta(minutes=30),
    default_args=DEFAULT_ARGS,
    tags=["revops", "ingest", "kafka", "dbt"],
    doc_md=DOC,
    # The membership freshness SLA: a run still going 15 minutes after it was queued alerts.
    **run_deadline(15, "micro-batch not done 15 min after it was queued: membership SLA at risk"),
)
def load_events_microbatch():
    @task(pool=WAREHOUSE_POOL, outlets=[Asset(ASSET_RAW_EVENTS)])
    def consume_kafka() -> str:
        # OpenLineage: the topics in; stage folders, raw tables out (names in _lineage.py, so
        # they join the dbt tasks' events into one graph). The Asset outlet above stays: it is
        # what the data-aware schedules downstream wait on.
        _lineage.declare(get_current_context()["task"], *_lineage.kafka_ingest(EVENT_TOPICS))
        args = ["ingest", "kafka", "--until-idle"]
        for topic in EVENT_TOPICS:
            args += ["--topic", topic]
        lines = revops(*args)
        return lines[-1] if lines else ""

    @task(pool=WAREHOUSE_POOL)
    def snapshot_attributions(run_id: str | None = None) -> str:
        # A retry keeps the run's first snapshot (the build may have applied part of the batch).
        return _restatements("snapshot", run_id)

    @task(pool=WAREHOUSE_POOL)
    def report_restatements(run_id: str | None = None) -> str:
        return _restatements("report", run_id)

    @task(outlets=[Asset(ASSET_MARTS)])
    def publish_marts() -> None:
        """Marks the marts asset updated once every model and test of the batch passed."""

    consumed = consume_kafka()
    build = dbt_task_group("dbt_build", select=SELECT, exclude=EXCLUDE)
    consumed >> snapshot_attributions() >> build >> [report_restatements(), publish_marts()]
    run_summary_task()


def _restatements(phase: str, run_id: str | None) -> str:
    args = ["--phase", phase, "--wait", str(LOCK_WAIT_S)]
    if run_id:
        args += ["--run-id", run_id]
    lines = revops_python("ingest.restatements", *args)
    return "\n".join(lines)


load_events_microbatch()
