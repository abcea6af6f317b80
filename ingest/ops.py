"""Operations helpers the Airflow DAGs call in the project's venv (`python -m ingest.ops ...`).

The DAGs run in their own venv (`.venv-airflow`) and never import dbt, DuckDB or the Kafka
client; what they need from the warehouse goes through these sub-commands:

- `locked-dbt ARGS...` — `dbt ARGS` while holding the warehouse like every writing revops command
  (`<warehouse>.lock`, waiting up to `REVOPS_AIRFLOW_LOCK_WAIT_SECONDS`, default 300): Cosmos's
  dbt executable (dags/bin/revops-dbt), so its builds queue behind `revops ingest` instead of
  failing on DuckDB's file lock. SIGINT/SIGTERM are forwarded to dbt; the exit code is dbt's.
- `salesforce-budget` — the Salesforce API budget check the sync DAG runs first: prints
  `used max limit` and exits 2 when the budget share is spent.
- `record-run-summary JSON` — one row per DAG run in `ops.run_summaries` (replaced on a rerun
  of the same run, so a retried task never duplicates it). DuckDB target.

Exit codes follow the CLI: 0 done, 2 something to act on, 1 a bug.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

from ingest.settings import Settings, SettingsError

_FORWARDED = (signal.SIGINT, signal.SIGTERM)

RUN_SUMMARIES_DDL = """
create table if not exists ops.run_summaries (
    dag_id varchar not null,
    run_id varchar not null,
    recorded_at timestamp not null,
    status varchar,
    summary json
)
"""


def _lock_wait_s() -> float:
    value = os.environ.get("REVOPS_AIRFLOW_LOCK_WAIT_SECONDS", "300")
    try:
        return max(0.0, float(value))
    except ValueError:
        raise SettingsError(
            f"REVOPS_AIRFLOW_LOCK_WAIT_SECONDS must be a number of seconds, not {value!r}"
        ) from None


def locked_dbt(settings: Settings, dbt_args: list[str]) -> int:
    from ingest.warehouse import warehouse_class

    dbt = str(Path(sys.executable).parent / "dbt")
    with warehouse_class(settings).exclusive(settings, _lock_wait_s()):
        proc = subprocess.Popen([dbt, *dbt_args])
        previous = {
            sig: signal.signal(sig, lambda signum, _frame: proc.send_signal(signum))
            for sig in _FORWARDED
        }
        try:
            return proc.wait()
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)


def salesforce_budget(settings: Settings) -> int:
    from ingest.salesforce.client import SalesforceClient

    client = SalesforceClient.connect(settings.salesforce)
    used, maximum = client.read_budget()  # raises BudgetExhausted past the share
    print(f"salesforce api budget: {used} used of {maximum} (stop at {client.budget_limit})")
    return 0


def record_run_summary(settings: Settings, summary: dict) -> int:
    from ingest.warehouse import open_warehouse, warehouse_class

    for key in ("dag_id", "run_id"):
        if not summary.get(key):
            raise SettingsError(f"run summary without {key!r}")
    if settings.warehouse_target != "duckdb":
        raise SettingsError("ops.run_summaries is written on the duckdb target only (for now)")
    with (
        warehouse_class(settings).exclusive(settings, _lock_wait_s()),
        open_warehouse(settings) as warehouse,
    ):
        con = warehouse.con
        con.execute("create schema if not exists ops")
        con.execute(RUN_SUMMARIES_DDL)
        con.execute("begin")
        con.execute(
            "delete from ops.run_summaries where dag_id = ? and run_id = ?",
            [summary["dag_id"], summary["run_id"]],
        )
        con.execute(
            "insert into ops.run_summaries values (?, ?, ?, ?, ?)",
            [
                summary["dag_id"],
                summary["run_id"],
                datetime.now(UTC).replace(tzinfo=None),
                summary.get("status"),
                json.dumps(summary, default=str, sort_keys=True),
            ],
        )
        con.execute("commit")
    print(f"ops.run_summaries: {summary['dag_id']} {summary['run_id']}")
    return 0


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    usage = (
        "usage: python -m ingest.ops {locked-dbt ARGS...|salesforce-budget|record-run-summary JSON}"
    )
    if not argv:
        print(usage, file=sys.stderr)
        return 2
    command, rest = argv[0], argv[1:]
    from ingest.cli import _operator_errors
    from ingest.logs import configure_logging

    try:
        settings = Settings.from_env()
        configure_logging(settings.log_level, settings.log_format)
        if command == "locked-dbt":
            return locked_dbt(settings, rest)
        if command == "salesforce-budget":
            return salesforce_budget(settings)
        if command == "record-run-summary" and len(rest) == 1:
            return record_run_summary(settings, json.loads(rest[0]))
        print(usage, file=sys.stderr)
        return 2
    except (json.JSONDecodeError, *_operator_errors()) as exc:
        print(f"revops: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
