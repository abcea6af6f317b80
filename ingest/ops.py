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
  of the same run, so a retried task never duplicates it), on the DuckDB and the Snowflake
  target. With `started_at` in the JSON, what the warehouse itself recorded since then is added
  under `warehouse`: stage files, rows in and rows inserted per raw table (`raw.load_history`),
  rows quarantined (`raw.ingest_quarantine`) and rejected events (`marts.dq_rejected_events`).
- `dq-check freshness SOURCES_JSON | volume [--day YYYY-MM-DD] | reconciliation` — the
  data-quality watchdog's checks: exit 2 naming every breach (a source past its freshness
  SLA in `dbt source freshness`'s sources.json; the volume anomalies of the last complete UTC day
  in `marts.dq_volume_anomalies`; the objects `marts.dq_salesforce_reconciliation` does not
  reconcile), 0 when clean. The message is what the alert shows, so it names every breach.

Exit codes follow the CLI: 0 done, 2 something to act on, 1 a bug.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

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
# Snowflake: JSON is a VARIANT; the insert parses the text (parse_json needs a SELECT).
RUN_SUMMARIES_DDL_SNOWFLAKE = """
create table if not exists ops.run_summaries (
    dag_id varchar not null,
    run_id varchar not null,
    recorded_at timestamp_ntz not null,
    status varchar,
    summary variant
)
"""


class DqCheckFailed(Exception):
    """A data-quality check found something to act on: the message lists every breach."""


def _rows(warehouse: Any, sql: str, params: Sequence[Any] = ()) -> list[tuple]:
    """Run one query on either warehouse: DuckDB binds `?`, the Snowflake connector (opened
    with paramstyle pyformat) `%s`."""
    from ingest.warehouse import DuckDBWarehouse

    if isinstance(warehouse, DuckDBWarehouse):
        return warehouse.con.execute(sql, list(params)).fetchall()
    cursor = warehouse.con.cursor()
    try:
        cursor.execute(sql.replace("?", "%s"), tuple(params))
        return cursor.fetchall() if cursor.description else []
    finally:
        cursor.close()


def _table_exists(warehouse: Any, schema: str, table: str) -> bool:
    rows = _rows(
        warehouse,
        "select count(*) from information_schema.tables "
        "where lower(table_schema) = ? and lower(table_name) = ?",
        [schema, table],
    )
    return bool(rows and rows[0][0])


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


def _naive_utc(value: str) -> datetime:
    ts = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return ts.astimezone(UTC).replace(tzinfo=None) if ts.tzinfo else ts


def warehouse_counts(warehouse: Any, since: datetime) -> dict[str, Any]:
    """What the warehouse recorded from `since` on: the counts a run summary holds whatever its
    tasks printed (a Cosmos build prints nothing a summary could parse)."""
    loads = {
        table: {"stage_files": files, "rows_in": rows_in, "rows_inserted": inserted}
        for table, files, rows_in, inserted in _rows(
            warehouse,
            "select raw_table, count(*), sum(rows_in_file), sum(rows_inserted) "
            "from raw.load_history where loaded_at >= ? group by raw_table order by raw_table",
            [since],
        )
    }
    quarantined = _rows(
        warehouse, "select count(*) from raw.ingest_quarantine where _loaded_at >= ?", [since]
    )[0][0]
    counts: dict[str, Any] = {
        "since": since.isoformat(sep=" "),
        "loads": loads,
        "rows_in": sum(int(v["rows_in"] or 0) for v in loads.values()),
        "rows_inserted": sum(int(v["rows_inserted"] or 0) for v in loads.values()),
        "quarantined": int(quarantined),
    }
    if _table_exists(warehouse, "marts", "dq_rejected_events"):
        counts["rejected"] = int(
            _rows(
                warehouse,
                "select count(*) from marts.dq_rejected_events where _loaded_at >= ?",
                [since],
            )[0][0]
        )
    return counts


def record_run_summary(settings: Settings, summary: dict) -> int:
    from ingest.warehouse import DuckDBWarehouse, open_warehouse, warehouse_class

    for key in ("dag_id", "run_id"):
        if not summary.get(key):
            raise SettingsError(f"run summary without {key!r}")
    with (
        warehouse_class(settings).exclusive(settings, _lock_wait_s()),
        open_warehouse(settings) as warehouse,
    ):
        if summary.get("started_at"):
            summary["warehouse"] = warehouse_counts(warehouse, _naive_utc(summary["started_at"]))
        duckdb = isinstance(warehouse, DuckDBWarehouse)
        _rows(warehouse, "create schema if not exists ops")
        _rows(warehouse, RUN_SUMMARIES_DDL if duckdb else RUN_SUMMARIES_DDL_SNOWFLAKE)
        key = [summary["dag_id"], summary["run_id"]]
        row = [
            *key,
            datetime.now(UTC).replace(tzinfo=None),
            summary.get("status"),
            json.dumps(summary, default=str, sort_keys=True),
        ]
        # One transaction: a reader never sees the run without a row, or with two.
        _rows(warehouse, "begin")
        try:
            _rows(warehouse, "delete from ops.run_summaries where dag_id = ? and run_id = ?", key)
            if duckdb:
                _rows(warehouse, "insert into ops.run_summaries values (?, ?, ?, ?, ?)", row)
            else:
                _rows(
                    warehouse,
                    "insert into ops.run_summaries select ?, ?, ?, ?, parse_json(?)",
                    row,
                )
        except BaseException:
            _rows(warehouse, "rollback")
            raise
        _rows(warehouse, "commit")
    counts = summary.get("warehouse") or {}
    print(
        f"ops.run_summaries: {summary['dag_id']} {summary['run_id']} {summary.get('status')}"
        + (
            f"; {counts['rows_in']:,} rows in, {counts['rows_inserted']:,} inserted, "
            f"{counts['quarantined']:,} quarantined"
            if counts
            else ""
        )
    )
    return 0


# --- data-quality checks (the data_quality_watchdog DAG) -----------------------------------------


def check_freshness(sources_json: Path) -> list[str]:
    """The sources `dbt source freshness` did not pass: warn (past the SLA, warn_after), error
    (past error_after) or a runtime error (e.g. an empty table: nothing to measure)."""
    try:
        results = json.loads(sources_json.read_text())["results"]
    except (OSError, ValueError, KeyError) as exc:
        raise DqCheckFailed(f"freshness: cannot read {sources_json}: {exc}") from None
    breaches = []
    for result in sorted(results, key=lambda r: r.get("unique_id", "")):
        status = result.get("status")
        if status == "pass":
            continue
        name = ".".join(result.get("unique_id", "?").split(".")[-2:])
        age = result.get("max_loaded_at_time_ago_in_s")
        criteria = result.get("criteria") or {}
        warn = criteria.get("warn_after") or {}
        sla = f"SLA {warn['count']} {warn['period']}" if warn.get("count") is not None else "no SLA"
        if age is None:
            detail = (result.get("message") or "not measured").splitlines()[0][:200]
            breaches.append(f"{name} {status}: {detail} ({sla})")
        else:
            breaches.append(f"{name} {status}: last load {age / 60:,.0f} min ago ({sla})")
    return breaches


def check_volume(warehouse: Any, day: date) -> list[str]:
    """The anomalies of `day` in marts.dq_volume_anomalies; a day after the last one any source
    loaded is one anomaly too (nothing landed at all; freshness alerts on it as well)."""
    if not _table_exists(warehouse, "marts", "dq_volume_anomalies"):
        raise DqCheckFailed("volume: marts.dq_volume_anomalies does not exist (build it first)")
    (last_day,) = _rows(warehouse, "select max(load_date) from marts.dq_volume_anomalies")[0]
    if last_day is None:
        return []
    if isinstance(last_day, datetime):  # a driver that returns a DATE as a timestamp
        last_day = last_day.date()
    if last_day < day:
        return [f"no source loaded any row on {day} (last load day {last_day})"]
    rows = _rows(
        warehouse,
        "select source_name, table_name, anomaly, row_count, baseline_mean, lower_bound, "
        "upper_bound from marts.dq_volume_anomalies where is_anomaly and load_date = ? "
        "order by source_name, table_name",
        [day],
    )
    return [
        f"{source}.{table} {anomaly} on {day}: {count:,} rows "
        f"(14-day mean {mean:,.1f}, expected {low:,.0f}..{high:,.0f})"
        for source, table, anomaly, count, mean, low, high in rows
    ]


def check_reconciliation(warehouse: Any) -> list[str]:
    """The Salesforce objects whose latest source aggregate the current-state mart disagrees
    with (count, or for Opportunity the amount to the cent)."""
    if not _table_exists(warehouse, "marts", "dq_salesforce_reconciliation"):
        raise DqCheckFailed(
            "reconciliation: marts.dq_salesforce_reconciliation does not exist (build it first)"
        )
    rows = _rows(
        warehouse,
        "select object, source_count, warehouse_count, count_diff, amount_diff, as_of "
        "from marts.dq_salesforce_reconciliation where not is_reconciled order by object",
    )
    breaches = []
    for sobject, source_count, warehouse_count, count_diff, amount_diff, as_of in rows:
        amount = f", amount diff {amount_diff:+,.2f}" if amount_diff else ""
        breaches.append(
            f"{sobject}: warehouse {warehouse_count:,} vs Salesforce {source_count:,} "
            f"(diff {count_diff:+,}{amount}; aggregate as of {as_of})"
        )
    return breaches


def dq_check(settings: Settings, args: list[str]) -> int:
    from ingest.warehouse import open_warehouse, warehouse_class

    usage = "dq-check {freshness SOURCES_JSON | volume [--day YYYY-MM-DD] | reconciliation}"
    if not args:
        raise SettingsError(f"usage: {usage}")
    kind, rest = args[0], args[1:]
    if kind == "freshness" and len(rest) == 1:
        breaches = check_freshness(Path(rest[0]))
        what = "source(s) past their freshness SLA"
    elif kind in ("volume", "reconciliation"):
        day = datetime.now(UTC).date() - timedelta(days=1)  # the last complete UTC day
        if kind == "volume" and rest[:1] == ["--day"] and len(rest) == 2:
            try:
                day = date.fromisoformat(rest[1])
            except ValueError:
                raise SettingsError(f"--day must be YYYY-MM-DD, not {rest[1]!r}") from None
        elif rest:
            raise SettingsError(f"usage: {usage}")
        with (
            warehouse_class(settings).exclusive(settings, _lock_wait_s()),
            open_warehouse(settings) as warehouse,
        ):
            if kind == "volume":
                breaches = check_volume(warehouse, day)
                what = f"volume anomaly(ies) on {day}"
            else:
                breaches = check_reconciliation(warehouse)
                what = "Salesforce object(s) not reconciled"
    else:
        raise SettingsError(f"usage: {usage}")
    if breaches:
        raise DqCheckFailed(f"{kind}: {len(breaches)} {what}: " + "; ".join(breaches))
    print(f"{kind}: ok")
    return 0


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    usage = (
        "usage: python -m ingest.ops {locked-dbt ARGS...|salesforce-budget|"
        "record-run-summary JSON|dq-check CHECK...}"
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
        if command == "dq-check":
            return dq_check(settings, rest)
        print(usage, file=sys.stderr)
        return 2
    except (json.JSONDecodeError, DqCheckFailed, *_operator_errors()) as exc:
        print(f"revops: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
