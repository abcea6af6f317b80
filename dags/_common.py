"""What every revops DAG shares: paths, default_args, the `revops` subprocess, Cosmos configs.

Nothing here imports more than the standard library and `_compat` at module level: the DAG files
stay cheap to parse (tests/airflow checks that parsing imports no dbt, DuckDB, Kafka client or
pandas). Cosmos is imported by the one function that builds a dbt task group.

Why the tasks run `.venv/bin/revops` (the project's venv) as a subprocess instead of importing
`ingest.*` here: the project pins dbt-core 1.11, DuckDB, confluent-kafka and the Snowflake
connector, Airflow pins its own stack; installing both in one environment makes pip move Airflow's
resolved packages (protobuf, pathspec, importlib-metadata, python-dateutil, more-itertools — see
dags/README.md), which Airflow does not support without its constraints. As a child process,
each task also gets exactly the CLI's contract: one-line errors, the exit codes (2 = act on it),
the `<warehouse>.lock` single-writer queue (`--wait`), and SIGTERM forwarded to dbt when Airflow
kills the task. The cost is one interpreter start per task (~1 s), nothing next to the work.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from _alerts import on_failure_alert
from _compat import EXPONENTIAL_BACKOFF, AirflowException

log = logging.getLogger(__name__)

# No usage telemetry: Cosmos (and Airflow's usage-data collection) would otherwise call a public
# analytics endpoint from every task. Set before Cosmos is imported (it reads them at import);
# deployments set AIRFLOW__COSMOS__ENABLE_TELEMETRY=False and
# AIRFLOW__USAGE_DATA_COLLECTION__ENABLED=False as well (make airflow does).
os.environ.setdefault("DO_NOT_TRACK", "1")
os.environ.setdefault("SCARF_NO_ANALYTICS", "true")

PROJECT_DIR = Path(os.environ.get("REVOPS_PROJECT_DIR") or Path(__file__).resolve().parent.parent)
REVOPS_VENV = Path(os.environ.get("REVOPS_VENV") or PROJECT_DIR / ".venv")
REVOPS_BIN = REVOPS_VENV / "bin" / "revops"
DBT_BIN = REVOPS_VENV / "bin" / "dbt"
# dbt under the revops warehouse lock (dags/bin/revops-dbt -> `python -m ingest.ops locked-dbt`):
# the executable Cosmos runs, so its dbt queues behind `revops ingest` like `revops build` does.
LOCKED_DBT = PROJECT_DIR / "dags" / "bin" / "revops-dbt"
PROFILES_DIR = PROJECT_DIR / "profiles"
# `dbt parse --target-path target/cosmos` writes it (make airflow, tests/airflow): a target path
# of its own, so a running `revops build` or `dbt docs generate` never rewrites it mid-parse.
MANIFEST_PATH = Path(
    os.environ.get("REVOPS_DBT_MANIFEST") or PROJECT_DIR / "target" / "cosmos" / "manifest.json"
)

OWNER = "revops-oncall"
START_DATE = datetime(2026, 1, 1, tzinfo=UTC)
# One Airflow pool for every task that writes the warehouse: DuckDB has one writer at a time.
# (On Snowflake, raise its slots: loads and builds may overlap there.)
WAREHOUSE_POOL = "revops_warehouse"
SALESFORCE_POOL = "salesforce_api"
# How long a revops command queues behind another writer before it fails (and is retried).
LOCK_WAIT_S = int(os.environ.get("REVOPS_AIRFLOW_LOCK_WAIT_SECONDS", "300"))

DEFAULT_ARGS: dict[str, Any] = {
    "owner": OWNER,
    "retries": 3,
    "retry_delay": timedelta(seconds=30),
    "retry_exponential_backoff": EXPONENTIAL_BACKOFF,
    "max_retry_delay": timedelta(minutes=15),
    "on_failure_callback": on_failure_alert,
}

# Assets (datasets in 2.x) the DAGs produce and consume: downstream DAGs run on data.
ASSET_RAW_EVENTS = "revops://warehouse/raw/events"
ASSET_MARTS = "revops://warehouse/marts"
ASSET_SALESFORCE_RAW = "revops://warehouse/raw/salesforce"


def warehouse_env() -> dict[str, str]:
    """The environment of every revops/dbt child: the caller's, with absolute warehouse and
    stage paths (Cosmos runs dbt from a temporary copy of the project) and the profiles dir."""
    env = dict(os.environ)
    env["REVOPS_WAREHOUSE"] = str(
        Path(env.get("REVOPS_WAREHOUSE") or PROJECT_DIR / "warehouse" / "revops.duckdb").resolve()
    )
    env["REVOPS_STAGE"] = str(
        Path(env.get("REVOPS_STAGE") or PROJECT_DIR / "warehouse" / "stage").resolve()
    )
    env["DBT_PROFILES_DIR"] = str(PROFILES_DIR)
    env.setdefault("DBT_SEND_ANONYMOUS_USAGE_STATS", "false")
    return env


class RevopsCommandError(AirflowException):
    def __init__(self, args: Sequence[str], returncode: int, last_lines: Sequence[str]) -> None:
        detail = " | ".join(line for line in last_lines if line.strip())[-800:]
        super().__init__(f"revops {' '.join(args)} exited {returncode}: {detail}")
        self.returncode = returncode


def run_command(
    cmd: Sequence[str], *, env: Mapping[str, str] | None = None, label: str | None = None
) -> list[str]:
    """Run `cmd` from the project directory, stream its output into the task log, return it.

    If the task is stopped (Airflow sends SIGTERM, or the task times out) the child gets
    SIGTERM too and is waited for, so it never keeps holding the warehouse."""
    label = label or Path(cmd[0]).name
    log.info("running: %s", " ".join(cmd))
    proc = subprocess.Popen(
        list(cmd),
        cwd=PROJECT_DIR,
        env=dict(env) if env is not None else warehouse_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    lines: list[str] = []
    try:
        assert proc.stdout is not None
        for line in proc.stdout:
            line = line.rstrip("\n")
            lines.append(line)
            log.info("%s | %s", label, line)
        returncode = proc.wait()
    except BaseException:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                proc.kill()
        raise
    if returncode != 0:
        raise RevopsCommandError(list(cmd[1:]), returncode, lines[-5:])
    return lines


def revops(*args: str, wait: bool = True) -> list[str]:
    """`.venv/bin/revops ARGS` (with `--wait` for the commands that write the warehouse)."""
    cmd = [str(REVOPS_BIN), *args]
    if wait:
        cmd += ["--wait", str(LOCK_WAIT_S)]
    return run_command(cmd, label="revops")


def revops_python(module: str, *args: str) -> list[str]:
    """`.venv/bin/python -m MODULE ARGS`: the project's helpers (ingest.ops) in its own venv."""
    return run_command([str(REVOPS_VENV / "bin" / "python"), "-m", module, *args], label=module)


def dbt(*args: str) -> list[str]:
    """The project's dbt under the warehouse lock, for the commands Cosmos does not model."""
    cmd = [str(LOCKED_DBT), *args, "--project-dir", str(PROJECT_DIR)]
    cmd += ["--profiles-dir", str(PROFILES_DIR)]
    return run_command(cmd, label="dbt")


def dbt_task_group(group_id: str, *, select: Sequence[str], exclude: Sequence[str] = ()) -> Any:
    """A Cosmos DbtTaskGroup over the project's dbt selection: one task per model, with its
    tests after it, rendered from `target/cosmos/manifest.json` (LoadMode.DBT_MANIFEST, so
    parsing the DAG never runs dbt), executed in WATCHER mode: one `dbt build` process for the
    whole selection (one DuckDB open, one parse: what a 5-minute cadence can afford), whose
    per-node results drive the per-model tasks, so the UI still shows each model and its tests.
    dbt is the project's (`.venv/bin/dbt`, through the warehouse-lock wrapper).

    `REVOPS_COSMOS_EXECUTION_MODE=local` renders the same tasks in Cosmos's LOCAL mode instead:
    one dbt invocation per model and per test task (slower: each one parses and opens the
    warehouse; all of them take the warehouse pool). `dag.test()` needs it: it runs one task at a
    time, so a watcher sensor that defers before its producer ran would wait forever."""
    from cosmos import (
        DbtTaskGroup,
        ExecutionConfig,
        ProfileConfig,
        ProjectConfig,
        RenderConfig,
    )
    from cosmos.constants import (
        PRODUCER_WATCHER_TASK_ID,
        ExecutionMode,
        InvocationMode,
        LoadMode,
        TestBehavior,
        TestIndirectSelection,
    )

    mode = os.environ.get("REVOPS_COSMOS_EXECUTION_MODE", "watcher").lower()
    if mode not in ("watcher", "local"):
        raise ValueError(f"REVOPS_COSMOS_EXECUTION_MODE must be watcher or local, not {mode!r}")
    producer_first = os.environ.get("REVOPS_COSMOS_PRODUCER_FIRST", "").lower() in ("1", "true")
    env = {k: v for k, v in warehouse_env().items() if k.startswith(("REVOPS_", "DBT_"))}
    group = DbtTaskGroup(
        group_id=group_id,
        project_config=ProjectConfig(
            dbt_project_path=PROJECT_DIR,
            manifest_path=MANIFEST_PATH,
            project_name="revops",
            env_vars=env,
            install_dbt_deps=False,
        ),
        profile_config=ProfileConfig(
            profile_name="revops",
            target_name=os.environ.get("REVOPS_DBT_TARGET", "duckdb"),
            profiles_yml_filepath=PROFILES_DIR / "profiles.yml",
        ),
        execution_config=ExecutionConfig(
            execution_mode=ExecutionMode.WATCHER if mode == "watcher" else ExecutionMode.LOCAL,
            invocation_mode=InvocationMode.SUBPROCESS,
            dbt_executable_path=LOCKED_DBT,
            # A test runs after a model only once all the models it reads are built: a singular
            # test over a mart must not run with the staging model it also reads (dbt's default,
            # eager, would select it there and fail on the mart not built yet).
            test_indirect_selection=TestIndirectSelection.CAUTIOUS,
        ),
        render_config=RenderConfig(
            load_method=LoadMode.DBT_MANIFEST,
            select=list(select),
            exclude=list(exclude),
            test_behavior=TestBehavior.AFTER_EACH,
        ),
        default_args=DEFAULT_ARGS,
    )
    # Only the producer (the one `dbt build`) writes the warehouse; the per-model watchers are
    # deferrable sensors and must not take the single warehouse slot.
    # (In LOCAL mode every task runs dbt: all of them take it.)
    tasks = _tasks_in(group)
    for task_obj in tasks:
        if mode == "local" or task_obj.task_id.endswith(PRODUCER_WATCHER_TASK_ID):
            task_obj.pool = WAREHOUSE_POOL
    if mode == "watcher" and producer_first:
        _watchers_after_producer(tasks)
    return group


def _watchers_after_producer(tasks: Sequence[Any]) -> None:
    """Put the group's producer (the one `dbt build`) upstream of its root watcher sensors.

    For `dag.test()` (REVOPS_COSMOS_PRODUCER_FIRST=1): it runs one task at a time, inline, and a
    sensor that defers before the producer ran waits for it forever. With this edge the same
    operators run in production's order of results: the producer builds and publishes each
    node's result to XCom, then every sensor reads its node's result (and fails if the node
    failed). `none_failed`: a producer skipped on its retry (Cosmos never runs a second build)
    still lets the sensors run and fall back to building their model alone, as in production,
    while a failed upstream of the group (producer upstream_failed) fails them instead of
    leaving a sensor waiting. On a scheduler the edge would only delay the per-model view, so
    deployments leave it off."""
    from cosmos.constants import PRODUCER_WATCHER_DONE_TASK_ID, PRODUCER_WATCHER_TASK_ID

    try:
        from airflow.task.trigger_rule import TriggerRule
    except ImportError:  # Airflow 2.x
        from airflow.utils.trigger_rule import TriggerRule

    by_id = {t.task_id: t for t in tasks}
    producer = next(t for t in tasks if t.task_id.endswith(PRODUCER_WATCHER_TASK_ID))
    for task_obj in tasks:
        if task_obj is producer or task_obj.task_id.endswith(PRODUCER_WATCHER_DONE_TASK_ID):
            continue
        if not task_obj.upstream_task_ids & by_id.keys():
            producer >> task_obj
            task_obj.trigger_rule = TriggerRule.NONE_FAILED


def _tasks_in(group: Any) -> list[Any]:
    tasks = []
    for child in group.children.values():
        tasks.extend(_tasks_in(child) if hasattr(child, "children") else [child])
    return tasks
