"""reprocess_late_events: nightly (and on demand) rebuild of what late events restate, with the
report of the attributions they restated.

An Airflow DAG (Airflow 3.x and 2.11 via _compat; Airflow's safe-mode parser only opens
files that name both words).
"""

from __future__ import annotations

from _common import (
    ASSET_MARTS,
    DEFAULT_ARGS,
    LOCK_WAIT_S,
    START_DATE,
    WAREHOUSE_POOL,
    revops_python,
)
from _compat import Asset, dag, task
from _summary import run_summary_task

DOC = """
### Late events (nightly at 02:30 UTC; trigger it by hand after a late-event flag)

One task, `python -m ingest.restatements` in the project's venv, holding the warehouse like
`revops build` (pool `revops_warehouse`, lock wait `REVOPS_AIRFLOW_LOCK_WAIT_SECONDS`):

1. builds the event sources' staging models, then finds the **scope**: the repls (and Okta users)
   touched by membership events loaded since the last successful run (the watermark in
   `ops.restatement_runs`), each with the earliest instant it changes;
2. snapshots the ticket and opportunity attributions of that scope (filtered by repl and
   instant: the cost follows the scope, not the fact tables);
3. runs `dbt build --select int_membership_events_deduplicated+ int_ticket_events_attributed+`
   (membership-derived models, attributed facts and their descendants);
4. diffs old against new per fact key.

**The report**: `ops.attribution_restatements`, one row per restated attribution — `run_id` (this
DAG run's id), `restated_at`, `fact` (`ticket` or `opportunity`), `fact_key` (ticket_event_id /
opportunity_id), `attributed_at` (the event instant / the end of the close date), `repl_id`,
`old_team_id` → `new_team_id` (the team at that instant; null = unresolved), the current-org
`*_team_id_restated` beside them, and `change` (`moved`, `appeared`, `disappeared`). The task log
ends with one line per fact, e.g. `46 ticket attributions restated (46 moved, ...); top old → new:
t_0008 → t_0003 ×46`. `ops.restatement_runs` holds one row per run: scope, watermark, counts and
timings.

```sql
select fact, old_team_id, new_team_id, count(*) from ops.attribution_restatements
where run_id = '<run id>' group by all order by 4 desc;
```

A run only advances the watermark when it succeeds, so clearing a failed run redoes its scope;
a run id that already succeeded is not redone. The micro-batch reports what each batch restates
itself (`snapshot_attributions` before its build, `report_restatements` after it, the same
module in two phases) and advances the same watermark, so this DAG reports what no batch did:
events landed by hand (`revops ingest file`), or a batch whose report task failed.

**run_summary** — one row per run in `ops.run_summaries` (task states, durations, counts in /
inserted / quarantined / rejected); it fails the run, naming them, when another task failed.
"""


@dag(
    dag_id="reprocess_late_events",
    schedule="30 2 * * *",
    start_date=START_DATE,
    catchup=False,
    max_active_runs=1,
    default_args=DEFAULT_ARGS,
    tags=["revops", "dbt", "late-events"],
    doc_md=DOC,
)
def reprocess_late_events():
    @task(pool=WAREHOUSE_POOL, outlets=[Asset(ASSET_MARTS)])
    def rebuild_and_report_restatements(run_id: str | None = None) -> str:
        """Returns the summary lines (also in the task log) as the task's XCom."""
        args = ["--wait", str(LOCK_WAIT_S)]
        if run_id:
            args += ["--run-id", run_id]
        lines = revops_python("ingest.restatements", *args)
        return "\n".join(line for line in lines if "attributions restated" in line)

    rebuild_and_report_restatements()
    run_summary_task()


reprocess_late_events()
