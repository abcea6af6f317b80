"""One import surface for Airflow 3.x (the default) and 2.11 (what the users run today).

Every DAG file imports `dag`, `task`, `Asset`, `Param`, ... from here, never from `airflow.*`
directly, so the same files parse under both majors (the DagBag test proves it in both venvs):

| name | Airflow 3.x | Airflow 2.11 |
| --- | --- | --- |
| `dag`, `task`, `task_group` | `airflow.sdk` | `airflow.decorators` |
| `Asset` | `airflow.sdk.Asset` | `airflow.datasets.Dataset` (same role, old name) |
| `Param` | `airflow.sdk.Param` | `airflow.models.param.Param` |
| `BaseHook` | `airflow.sdk.BaseHook` | `airflow.hooks.base.BaseHook` |
| `get_current_context` | `airflow.sdk` | `airflow.operators.python` |
| `AirflowException`, `AirflowFailException` | `airflow.sdk.exceptions` | `airflow.exceptions` |
| `EXPONENTIAL_BACKOFF` | `2.0` (a multiplier since 3.1) | `True` (a flag: doubling) |
| `run_deadline(minutes, what)` | `deadline=DeadlineAlert(...)` | `{}` (no run deadlines) |

What differs at run time is in dags/README.md ("Airflow 2.11").
"""

from __future__ import annotations

try:  # Airflow 3.x: the task SDK
    from airflow.sdk import Asset, BaseHook, Param, dag, get_current_context, task, task_group
    from airflow.sdk.exceptions import AirflowException, AirflowFailException

    AIRFLOW_3 = True
except ImportError:  # Airflow 2.x
    from airflow.datasets import Dataset as Asset
    from airflow.decorators import dag, task, task_group
    from airflow.exceptions import AirflowException, AirflowFailException
    from airflow.hooks.base import BaseHook
    from airflow.models.param import Param
    from airflow.operators.python import get_current_context

    AIRFLOW_3 = False

# Exponential retry backoff: a multiplier (float) since Airflow 3.1, a flag (bool) in 2.x, where
# True doubles the delay on each try. 2.0 is the same doubling in 3.x.
EXPONENTIAL_BACKOFF: float | bool = 2.0 if AIRFLOW_3 else True


def run_deadline(minutes: int, what: str) -> dict:
    """The `@dag(...)` keyword arguments of a run deadline: a run not finished `minutes` after it
    was queued posts `_alerts.on_deadline_missed` (the alerts webhook). Airflow 3's
    `DeadlineAlert`; nothing on 2.x, whose task-level SLAs were removed in 3.0 and are not used
    here (dags/README.md, "Airflow 2.11")."""
    import os

    # REVOPS_AIRFLOW_DEADLINES=0 leaves them out: Airflow 3.3's `dag.test()` looks the DAG's
    # deadlines up by id in the metadata database, which only a serialized (scheduled) DAG has,
    # and fails on the alert objects of the DAG it was handed (the e2e tests set it).
    if not AIRFLOW_3 or os.environ.get("REVOPS_AIRFLOW_DEADLINES", "1") == "0":
        return {}
    from datetime import timedelta

    from airflow.sdk import AsyncCallback, DeadlineAlert, DeadlineReference

    return {
        "deadline": DeadlineAlert(
            reference=DeadlineReference.DAGRUN_QUEUED_AT,
            interval=timedelta(minutes=minutes),
            callback=AsyncCallback("_alerts.on_deadline_missed", kwargs={"what": what}),
        )
    }


__all__ = [
    "AIRFLOW_3",
    "EXPONENTIAL_BACKOFF",
    "AirflowException",
    "AirflowFailException",
    "Asset",
    "BaseHook",
    "Param",
    "dag",
    "get_current_context",
    "run_deadline",
    "task",
    "task_group",
]
