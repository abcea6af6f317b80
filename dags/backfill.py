"""backfill: a manually triggered, validated, chunked re-landing and rebuild of one source.

An Airflow DAG (Airflow 3.x and 2.11 via _compat; Airflow's safe-mode parser only opens
files that name both words).
"""

from __future__ import annotations

import os
from pathlib import Path

from _backfill import BackfillParamError, replay_files, validate
from _common import ASSET_MARTS, DEFAULT_ARGS, PROJECT_DIR, START_DATE, WAREHOUSE_POOL, revops
from _compat import AirflowFailException, Asset, Param, dag, get_current_context, task
from _summary import run_summary_task

DOC = """
### Backfill one source over [start, end)

Trigger with params (UI "Trigger DAG" form, or
`airflow dags trigger backfill --conf '{"source": "salesforce:Opportunity", "start": "2026-01-01",
"end": "2026-02-01", "chunk": "week", "full_refresh": false}'`):

- `source`: `kafka:<topic>` (replays `$REVOPS_REPLAY_DIR/<topic>/<YYYY-MM-DD>.jsonl`),
  `salesforce:<Object>` (Bulk API backfill), or `dbt:<selection>` (rebuild only);
- `start`, `end`: ISO dates, end exclusive; `chunk`: `day` or `week`; `full_refresh`: bool.

**validate** fails at once, without retries, with one line naming the bad param. Each chunk is one
mapped task, run in order: a failure leaves the earlier chunks done, and clearing the failed chunk
resumes there. Every landing is idempotent (positions already in raw are skipped), so running the
same backfill twice leaves raw and the marts unchanged. **build** runs once at the end
(`@<staging model>` of the topic, `@source:salesforce`, or the selection: the models, their
descendants and those descendants' other parents, so it builds into an empty warehouse too).

**run_summary** — one row per run in `ops.run_summaries` (task states, durations, counts in /
inserted / quarantined / rejected); it fails the run, naming them, when another task failed.
"""


def _plan(params: dict):
    try:
        return validate(params)
    except BackfillParamError as exc:
        raise AirflowFailException(f"backfill: bad params: {exc}") from None


@dag(
    dag_id="backfill",
    schedule=None,
    start_date=START_DATE,
    catchup=False,
    max_active_runs=1,
    default_args=DEFAULT_ARGS,
    tags=["revops", "backfill", "manual"],
    doc_md=DOC,
    params={
        "source": Param(
            "dbt:source:admin_service+",
            type="string",
            pattern=r"^(kafka|salesforce|dbt):.+$",
            description="kafka:<topic> | salesforce:<Object> | dbt:<selection>",
        ),
        "start": Param("2026-01-01", type="string", format="date", description="inclusive"),
        "end": Param("2026-01-02", type="string", format="date", description="exclusive"),
        "chunk": Param("day", enum=["day", "week"]),
        "full_refresh": Param(False, type="boolean"),
    },
    render_template_as_native_obj=True,
)
def backfill():
    @task(retries=0)
    def validate_params() -> list[dict[str, str]]:
        plan = _plan(dict(get_current_context()["params"]))
        return plan.chunks()

    @task(pool=WAREHOUSE_POOL, max_active_tis_per_dag=1)
    def run_chunk(chunk: dict[str, str]) -> None:
        plan = _plan(dict(get_current_context()["params"]))
        if plan.kind == "salesforce":
            revops(
                "ingest", "salesforce", "--objects", plan.name, "--backfill",
                "--since", chunk["start"], "--until", chunk["end"],
            )  # fmt: skip
        elif plan.kind == "kafka":
            replay = Path(os.environ.get("REVOPS_REPLAY_DIR") or PROJECT_DIR / "warehouse/replay")
            files = replay_files(replay, plan.name, chunk["start"], chunk["end"])
            if files:
                revops("ingest", "file", *map(str, files), "--topic", plan.name)
            else:
                print(
                    f"no replay file for {plan.name} in [{chunk['start']}, {chunk['end']}) "
                    f"under {replay / plan.name}"
                )

    @task(pool=WAREHOUSE_POOL, outlets=[Asset(ASSET_MARTS)])
    def build() -> None:
        plan = _plan(dict(get_current_context()["params"]))
        # cautious: a test runs only if all the models it reads are selected (as in the Cosmos
        # groups); a test on a selected model that also reads an unselected mart would fail on a
        # warehouse that does not have that mart yet.
        args = ["build", "--select", plan.build_select, "--indirect-selection", "cautious"]
        revops(*args, *(["--full-refresh"] if plan.full_refresh else []))

    chunks = validate_params()
    run_chunk.expand(chunk=chunks) >> build()
    run_summary_task()


backfill()
