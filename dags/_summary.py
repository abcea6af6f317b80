"""The run summary every DAG run ends with: one row in the warehouse's `ops.run_summaries`.

`run_summary_task()` adds a last task (trigger rule `all_done`, so it runs whatever failed) that
gathers, for its own DAG run: every task's state and duration, the counts the revops commands
printed (their last line is what a task returns, so it is in XCom: messages consumed, records
read, new raw rows, rows quarantined, dbt's PASS/WARN/ERROR/SKIP totals) and the run's window;
then `python -m ingest.ops record-run-summary JSON` writes it, adding what the warehouse itself
recorded since the run started (rows in and inserted per raw table, quarantined, rejected), so a
task that prints nothing (a Cosmos build) is still counted. A rerun of the same DAG run replaces
its row.

Why the summary task fails the run when another task failed: it is the DAG's only leaf, and
Airflow decides a run's state from its leaves; a summary that succeeded would turn a broken run
green. That failure is not retried; it alerts like every task (the DAG's default_args), once
per failed run, naming all of the run's failed tasks: the run-level alert next to the tasks' own.

Only the standard library and `_compat` are imported at module level: DAG files stay cheap to
parse (tests/airflow checks what parsing imports).
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

from _compat import AIRFLOW_3, AirflowFailException, get_current_context, task

SUMMARY_TASK_ID = "run_summary"
FAILED_STATES = frozenset({"failed", "upstream_failed"})

# What the revops commands print as their last line (ingest/kafka/consumer.py, ingest/cli.py,
# ingest/salesforce/sync.py and cdc.py), and dbt's closing totals line.
_PATTERNS = {
    "messages_in": re.compile(r"consumed ([\d,]+) messages"),
    "records_in": re.compile(r"([\d,]+) records read"),
    "cdc_events_in": re.compile(r"cdc ([\d,]+) events landed"),
    "rows_out": re.compile(r"([\d,]+) new raw rows"),
    "quarantined": re.compile(r"([\d,]+) quarantined"),
}
_DBT_TOTALS = re.compile(r"PASS=(\d+) WARN=(\d+) ERROR=(\d+) SKIP=(\d+)(?: NO-OP=\d+)? TOTAL=(\d+)")


class UpstreamTasksFailed(AirflowFailException):
    """The run summary was recorded; the run had failed tasks. Not retried (a retry would
    find the same states)."""


def _texts(value: Any) -> Iterable[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, (list, tuple)):
        for item in value:
            yield from _texts(item)


def parse_counts(outputs: Iterable[Any]) -> dict[str, int]:
    """Sum the counts found in the tasks' returned lines (strings, or lists of them)."""
    counts: Counter[str] = Counter()
    for text in (t for output in outputs for t in _texts(output)):
        for name, pattern in _PATTERNS.items():
            for match in pattern.finditer(text):
                counts[name] += int(match.group(1).replace(",", ""))
        for match in _DBT_TOTALS.finditer(text):
            for name, number in zip(
                ("dbt_pass", "dbt_warn", "dbt_error", "dbt_skip", "dbt_total"),
                match.groups(),
                strict=True,
            ):
                counts[name] += int(number)
    return dict(sorted(counts.items()))


def _iso(value: Any) -> str | None:
    return value.isoformat() if isinstance(value, datetime) else (str(value) if value else None)


def _seconds(ti: Any) -> float | None:
    """A 2.x task instance's duration from its start and end (dag.test() leaves `duration`
    unset on the rows it returns)."""
    if ti.start_date and ti.end_date:
        return (ti.end_date - ti.start_date).total_seconds()
    return None


def _task_instances(context: Mapping[str, Any], dag_id: str, run_id: str) -> list[dict[str, Any]]:
    """(task_id, map_index, state, duration) of the run's other tasks that have finished.

    Airflow 3 tasks have no metadata-database access: the task SDK's breadcrumbs (the execution
    API) return exactly these fields for the finished tasks. 2.x reads the DagRun's rows."""
    if AIRFLOW_3:
        rows = context["ti"].get_task_breadcrumbs(dag_id=dag_id, run_id=run_id)
        found = [
            {
                "task_id": row["task_id"],
                "map_index": row.get("map_index", -1),
                "state": str(row.get("state") or "").lower() or None,
                "duration_s": row.get("duration"),
            }
            for row in rows
        ]
    else:
        found = [
            {
                "task_id": ti.task_id,
                "map_index": ti.map_index,
                "state": ti.state,
                "duration_s": ti.duration if ti.duration is not None else _seconds(ti),
            }
            for ti in context["dag_run"].get_task_instances()
        ]
    found = [row for row in found if row["task_id"] != SUMMARY_TASK_ID]
    for row in found:
        if row["state"] and "." in row["state"]:  # an enum's repr: TaskInstanceState.SUCCESS
            row["state"] = row["state"].rsplit(".", 1)[-1].lower()
        if row["duration_s"] is not None:
            row["duration_s"] = round(float(row["duration_s"]), 3)
    return sorted(found, key=lambda r: (r["task_id"], r["map_index"]))


def _xcom_outputs(context: Mapping[str, Any], tasks: list[dict[str, Any]]) -> list[Any]:
    ti = context["ti"]
    outputs = []
    for row in tasks:
        if row["state"] != "success":
            continue
        kwargs: dict[str, Any] = {"task_ids": row["task_id"]}
        if row["map_index"] is not None and row["map_index"] >= 0:
            kwargs["map_indexes"] = row["map_index"]
        value = ti.xcom_pull(**kwargs)
        if value is not None:
            outputs.append(value)
    return outputs


def build_summary(context: Mapping[str, Any]) -> dict[str, Any]:
    dag_run = context["dag_run"]
    dag_id, run_id = dag_run.dag_id, dag_run.run_id
    tasks = _task_instances(context, dag_id, run_id)
    states = Counter(row["state"] or "none" for row in tasks)
    failed = sorted({row["task_id"] for row in tasks if row["state"] in FAILED_STATES})
    started = getattr(dag_run, "start_date", None)
    now = datetime.now(UTC)
    return {
        "dag_id": dag_id,
        "run_id": run_id,
        "status": "failed" if failed else "success",
        "failed_tasks": failed,
        "started_at": _iso(started),
        "finished_at": now.isoformat(),
        "duration_s": round((now - started).total_seconds(), 3) if started else None,
        "data_interval_start": _iso(context.get("data_interval_start")),
        "data_interval_end": _iso(context.get("data_interval_end")),
        "task_states": dict(sorted(states.items())),
        "tasks": tasks,
        "counts": parse_counts(_xcom_outputs(context, tasks)),
    }


def run_summary_task() -> Any:
    """The summary task, downstream of every task of the DAG defined so far: call it last in
    the DAG function (`run_summary_task()`)."""

    @task(task_id=SUMMARY_TASK_ID, trigger_rule="all_done")
    def run_summary() -> dict[str, Any]:
        from _common import revops_python

        summary = build_summary(get_current_context())
        revops_python("ingest.ops", "record-run-summary", json.dumps(summary, default=str))
        if summary["failed_tasks"]:
            raise UpstreamTasksFailed(
                f"run summary recorded; failed tasks: {', '.join(summary['failed_tasks'])}"
            )
        return {k: summary[k] for k in ("status", "task_states", "counts")}

    summary = run_summary()
    operator = summary.operator
    for other in operator.dag.tasks:
        if other is not operator and not other.downstream_list:
            other >> operator
    return summary
