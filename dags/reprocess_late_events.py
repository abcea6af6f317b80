"""reprocess_late_events: nightly (and on demand) rebuild of what late events restate.

An Airflow DAG (Airflow 3.x and 2.11 via _compat; Airflow's safe-mode parser only opens
files that name both words).
"""

from __future__ import annotations

from _common import ASSET_MARTS, DEFAULT_ARGS, START_DATE, WAREHOUSE_POOL, revops
from _compat import Asset, dag, task

DOC = """
### Late events (nightly at 02:30 UTC; trigger it by hand after a late-event flag)

An incremental build already restates every repl a late event touches (README, "Late events");
this DAG rebuilds the membership-derived models and the attributed facts on their own, off the
5-minute path, with `revops build --select` over the membership and attribution models and
their descendants, so a backdated event beyond `late_event_window_days` is reflected overnight
even when the micro-batch was skipped.

Not yet: the restated-attributions report (old team → new team) as a table; see dags/README.md.
"""

SELECT = "int_membership_events_deduplicated+ int_ticket_events_attributed+"


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
    def rebuild_membership_and_attribution() -> None:
        revops("build", "--select", SELECT)

    rebuild_membership_and_attribution()


reprocess_late_events()
