"""sync_salesforce: one mapped task per Salesforce object, behind the API budget check.

An Airflow DAG (Airflow 3.x and 2.11 via _compat; Airflow's safe-mode parser only opens
files that name both words).
"""

from __future__ import annotations

from datetime import timedelta

from _backfill import SALESFORCE_OBJECTS
from _common import (
    ASSET_SALESFORCE_RAW,
    DEFAULT_ARGS,
    SALESFORCE_POOL,
    START_DATE,
    revops,
    revops_python,
)
from _compat import Asset, dag, get_current_context, run_deadline, task
from _summary import run_summary_task

CORE_OBJECTS = ("Opportunity", "OpportunityLineItem")

DOC = f"""
### Salesforce sync (every 10 minutes; core objects each run, the others hourly)

1. **check_budget** — `python -m ingest.ops salesforce-budget`: fails (no sync at all) when the
   daily API budget share is spent.
2. **due_objects** — the core revenue objects ({", ".join(CORE_OBJECTS)}) every run; the others
   ({", ".join(o for o in SALESFORCE_OBJECTS if o not in CORE_OBJECTS)}) in the first run of each
   hour (decided from the data interval, so a re-run decides the same).
3. **sync_object** — one mapped task per object: `revops ingest salesforce --objects <Object>`
   (incremental, checkpointed in raw). The pool `salesforce_api` caps how many run at once.

Emits `revops://warehouse/raw/salesforce`.

**run_summary** — one row per run in `ops.run_summaries` (task states, durations, counts in /
inserted / quarantined / rejected); it fails the run, naming them, when another task failed.
"""


def due(minute: int) -> list[str]:
    """The objects a run whose interval ends at `minute` past the hour synchronises."""
    if minute < 10:
        return list(SALESFORCE_OBJECTS)
    return list(CORE_OBJECTS)


@dag(
    dag_id="sync_salesforce",
    schedule=timedelta(minutes=10),
    start_date=START_DATE,
    catchup=False,
    max_active_runs=1,
    dagrun_timeout=timedelta(minutes=30),
    default_args=DEFAULT_ARGS,
    tags=["revops", "ingest", "salesforce"],
    doc_md=DOC,
    # Core revenue objects are due every 10 minutes: a run still going after that alerts.
    **run_deadline(10, "Salesforce sync not done 10 min after it was queued: revenue SLA at risk"),
)
def sync_salesforce():
    @task
    def check_budget() -> None:
        revops_python("ingest.ops", "salesforce-budget")

    @task
    def due_objects() -> list[str]:
        context = get_current_context()
        end = context.get("data_interval_end") or context.get("logical_date")
        return due(end.minute if end is not None else 0)

    @task(pool=SALESFORCE_POOL, outlets=[Asset(ASSET_SALESFORCE_RAW)])
    def sync_object(sobject: str) -> None:
        revops("ingest", "salesforce", "--objects", sobject)

    objects = due_objects()
    check_budget() >> objects
    sync_object.expand(sobject=objects)
    run_summary_task()


sync_salesforce()
