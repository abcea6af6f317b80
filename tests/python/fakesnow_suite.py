"""The Snowflake half of `make test` (`make test-snowflake`): the same project on the real
dbt-snowflake adapter and snowflake-connector-python, against a local fakesnow server (Snowflake
SQL served over DuckDB), proven equal to the embedded DuckDB build.

1. A tiny company (the generator, seed 11) lands through the project's own file → stage → raw
   path into a DuckDB warehouse, in two batches (70% / 30%, as tests/python/dbt_suite.py).
2. A fakesnow server starts on a free port (stopped at exit, always); database REVOPS is created
   and each batch's raw rows are copied into it (payloads as VARIANT via parse_json).
3. `dbt build --target fakesnow` — seeds, snapshots, models, data tests, unit tests — full after
   batch 1, incremental after batch 2; the same on DuckDB at the same time (two processes: the
   builds share nothing), then `dbt source freshness` on DuckDB. The DuckDB half is the dbt
   suite's work (tests/python/dbt_suite.py, `make test-dbt`), so `make test` runs only this one.
4. Parity: every staging, intermediate and mart relation (the key marts must exist) hashed
   order-independently on each server (every column cast to text, one md5 per row, md5 of the
   sorted row hashes); PII columns, clear on fakesnow (no masking policies there), get the
   pseudonym DuckDB stores. A difference prints the differing rows.
5. Every SQL file dbt compiled and ran for the Snowflake adapter (models, tests, the DDL and the
   restate / delete_touched_keys transactions) parses as Snowflake SQL with sqlglot: catches
   DuckDB-only syntax that fakesnow, being DuckDB, would tolerate.

Run as `python -m tests.python.fakesnow_suite`. Every dbt call and the server have a timeout, so a
hang fails fast and says where. Exit 0 when everything passes.
"""

from __future__ import annotations

import atexit
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor, wait
from pathlib import Path

import duckdb

from ingest.file_source import ingest_files
from ingest.settings import PROJECT_DIR, Settings
from tests.python.dbt_suite import tiny_company_batches

DBT_TIMEOUT_S = int(os.environ.get("REVOPS_FAKESNOW_DBT_TIMEOUT", "480"))
SERVER_START_TIMEOUT_S = 60
DATABASE = "REVOPS"
# The marts issue 8 names for parity; every other relation built on both is compared too.
KEY_MARTS = (
    "marts.bridge_repl_team_membership",
    "marts.dim_teams",
    "marts.fct_team_daily_headcount",
    "marts.fct_ticket_attribution",
    "marts.bridge_okta_user_repl",
    "marts.dim_repls",
)
# Wall-clock bookkeeping, not data: when a watermark row was written, and the ages the
# Salesforce DQ models measure against the clock of the build (the two builds run minutes apart).
IGNORED_COLUMNS = {
    ("model_watermarks", "updated_at"),
    ("dq_salesforce_freshness", "age_minutes"),
    ("dq_salesforce_freshness", "minutes_since_checkpoint"),
    ("dq_salesforce_freshness", "is_fresh"),
    ("dq_salesforce_cdc_gaps", "minutes_unhandled"),
}
# No backslash: Snowflake string literals read escapes, DuckDB's do not.
NULL_TEXT = "<null>"
SEPARATOR = "\x1f"


class SuiteError(RuntimeError):
    pass


def log(message: str) -> None:
    print(f"[fakesnow-suite {time.strftime('%H:%M:%S')}] {message}", flush=True)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class FakesnowServer:
    """`python -m fakesnow -s -p PORT` in its own process group; its state lives as long as it."""

    def __init__(self, log_path: Path) -> None:
        self.port = free_port()
        self.log_file = log_path.open("w")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "fakesnow", "-s", "-p", str(self.port)],
            stdout=self.log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        atexit.register(self.stop)
        deadline = time.monotonic() + SERVER_START_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise SuiteError(f"fakesnow exited with {self.proc.returncode}; see {log_path}")
            try:
                socket.create_connection(("127.0.0.1", self.port), 0.5).close()
                return
            except OSError:
                time.sleep(0.2)
        raise SuiteError(
            f"fakesnow did not listen on port {self.port} within {SERVER_START_TIMEOUT_S} s"
        )

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, 15)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, 9)
                self.proc.wait(10)
        self.log_file.close()

    def connect(self):
        import snowflake.connector

        return snowflake.connector.connect(
            user="fake",
            password="fake",
            account="fakesnow",
            host="localhost",
            port=self.port,
            protocol="http",
            database=DATABASE,
            login_timeout=30,
            network_timeout=60,
        )


# --- raw: DuckDB → fakesnow ------------------------------------------------------------------


def snowflake_type(duckdb_type: str) -> str:
    if duckdb_type == "JSON":
        return "variant"
    if duckdb_type.startswith("TIMESTAMP"):
        return "timestamp_ntz"
    if duckdb_type in {"TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT"}:
        return "number(38, 0)"
    if duckdb_type == "BOOLEAN":
        return "boolean"
    if duckdb_type in {"DOUBLE", "FLOAT"}:
        return "float"
    return "varchar"


def raw_tables(duck: duckdb.DuckDBPyConnection) -> dict[str, list[tuple[str, str]]]:
    rows = duck.execute(
        "select table_name, column_name, data_type from information_schema.columns "
        "where table_schema = 'raw' order by table_name, ordinal_position"
    ).fetchall()
    tables: dict[str, list[tuple[str, str]]] = {}
    for table, column, data_type in rows:
        tables.setdefault(table, []).append((column, data_type))
    return tables


def copy_raw(
    duck_path: Path, sf, loaded_after: str | None, batch: int, work: Path
) -> tuple[int, str | None]:
    """Append the raw rows loaded after `loaded_after` (all on the first call) to fakesnow with
    the same values, through an internal stage: each table's rows as NDJSON (every value as text,
    the payload as JSON), PUT, COPY INTO a one-VARIANT landing table, then typed into raw."""
    duck = duckdb.connect(str(duck_path), read_only=True)
    cur = sf.cursor()
    copied = 0
    try:
        newest = duck.execute("select cast(max(loaded_at) as varchar) from raw.load_history")
        newest_loaded = newest.fetchone()[0]
        cur.execute("create stage if not exists raw.fakesnow_suite")
        for table, columns in raw_tables(duck).items():
            ddl = ", ".join(f"{name} {snowflake_type(t)}" for name, t in columns)
            cur.execute(f"create table if not exists raw.{table} ({ddl})")
            stamp = "loaded_at" if table == "load_history" else "_loaded_at"
            where = f"where {stamp} > cast('{loaded_after}' as timestamp)" if loaded_after else ""
            select = ", ".join(
                f'"{name}"' if t == "JSON" else f'cast("{name}" as varchar) as "{name}"'
                for name, t in columns
            )
            rows = duck.execute(
                f"select to_json(r) from (select {select} from raw.{table} {where}) as r"
            ).fetchall()
            copied += len(rows)
            if not rows:
                continue
            path = work / "raw_copy" / str(batch) / f"{table}.ndjson"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text("".join(f"{row[0]}\n" for row in rows))
            cur.execute(f"put file://{path} @raw.fakesnow_suite/{batch}/{table}/")
            cur.execute("create or replace transient table raw.fakesnow_suite_landing (v variant)")
            cur.execute(
                f"copy into raw.fakesnow_suite_landing from @raw.fakesnow_suite/{batch}/{table}/ "
                "file_format = (type = json)"
            )
            exprs = ", ".join(
                f"v:{name}" if snowflake_type(t) == "variant" else f"v:{name}::{snowflake_type(t)}"
                for name, t in columns
            )
            names = ", ".join(name for name, _ in columns)
            cur.execute(
                f"insert into raw.{table} ({names}) select {exprs} from raw.fakesnow_suite_landing"
            )
        cur.execute("drop table if exists raw.fakesnow_suite_landing")
    finally:
        duck.close()
    return copied, newest_loaded


# --- dbt ---------------------------------------------------------------------------------------


def dbt(target: str, args: Sequence[str], work: Path, env: dict[str, str], label: str) -> dict:
    """Run dbt with a timeout; return run_results.json; raise with the output's tail on failure."""
    target_path = work / f"target_{target}"
    cmd = [
        str(Path(sys.executable).parent / "dbt"),
        *args,
        "--target",
        target,
        "--project-dir",
        str(PROJECT_DIR),
        "--profiles-dir",
        str(PROJECT_DIR / "profiles"),
        "--target-path",
        str(target_path),
        "--log-path",
        str(work / f"logs_{target}"),
    ]
    log_file = work / f"{label}.log"
    started = time.monotonic()
    try:
        with log_file.open("w") as out:
            proc = subprocess.run(
                cmd,
                cwd=PROJECT_DIR,
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
                timeout=DBT_TIMEOUT_S,
                check=False,
            )
    except subprocess.TimeoutExpired as exc:
        tail = "\n".join(log_file.read_text().splitlines()[-15:])
        raise SuiteError(f"{label}: dbt timed out after {DBT_TIMEOUT_S} s\n{tail}") from exc
    results_file = target_path / "run_results.json"
    results = json.loads(results_file.read_text()) if results_file.exists() else {}
    counts: dict[str, int] = {}
    for result in results.get("results", []):
        counts[result["status"]] = counts.get(result["status"], 0) + 1
    log(f"{label}: exit {proc.returncode} in {time.monotonic() - started:.0f} s {counts}")
    if proc.returncode != 0:
        failed = [
            f"  {r['unique_id']}: {(r.get('message') or '').splitlines()[0][:300]}"
            for r in results.get("results", [])
            if r["status"] in {"error", "fail"}
        ]
        tail = "\n".join(log_file.read_text().splitlines()[-25:])
        raise SuiteError(f"{label}: dbt failed\n" + "\n".join(failed[:20]) + f"\n{tail}")
    return results


def both_targets(*calls: tuple[str, Sequence[str], Path, dict[str, str], str]) -> list[dict]:
    """dbt calls on different targets at the same time; the first failure is raised once all
    of them have finished (none is left running)."""
    with ThreadPoolExecutor(max_workers=len(calls)) as pool:
        futures = [pool.submit(dbt, *call) for call in calls]
        wait(futures)
    return [future.result() for future in futures]


# --- parity ------------------------------------------------------------------------------------


def row_text_sql(columns: Iterable[str], pii: set[str], quote: str) -> str:
    parts = []
    for column in columns:
        ref = f"{quote}{column}{quote}" if quote else column
        value = f"cast({ref} as varchar)"
        if column in pii:
            # The pseudonym duckdb__mask_pii stores (and the Snowflake masking policy shows).
            value = f"'pii_' || substr(md5(lower({value})), 1, 16)"
        parts.append(f"coalesce({value}, '{NULL_TEXT}')")
    return f" || '{SEPARATOR}' || ".join(parts)


def pii_columns(manifest_path: Path) -> dict[str, set[str]]:
    """Per model: the columns tagged PII in it or in any model upstream of it (a tagged column
    stays masked wherever it is carried, and only there: Opportunity.name is not Contact.name)."""
    manifest = json.loads(manifest_path.read_text())
    models = {k: n for k, n in manifest["nodes"].items() if n["resource_type"] == "model"}
    tagged = {
        key: {
            name.lower()
            for name, column in node["columns"].items()
            if (column.get("meta") or {}).get("pii")
        }
        for key, node in models.items()
    }
    resolved: dict[str, set[str]] = {}

    def lineage(key: str) -> set[str]:
        if key not in resolved:
            resolved[key] = set(tagged[key])
            for parent in models[key]["depends_on"]["nodes"]:
                if parent in models:
                    resolved[key] |= lineage(parent)
        return resolved[key]

    return {models[key]["name"]: lineage(key) for key in models}


def relations(duck: duckdb.DuckDBPyConnection) -> list[tuple[str, str]]:
    return duck.execute(
        "select table_schema, table_name from information_schema.tables "
        "where table_catalog = 'revops' and table_schema in ('staging', 'intermediate', 'marts') "
        "order by 1, 2"
    ).fetchall()


def parity(duck_path: Path, sf, manifest_path: Path) -> list[str]:
    """Compare every relation; return the names that differ (printing their differing rows)."""
    duck = duckdb.connect()
    duck.execute(f"attach '{duck_path}' as revops (read_only)")
    cur = sf.cursor()
    pii_by_model = pii_columns(manifest_path)
    differing: list[str] = []
    compared = set()
    for schema, table in relations(duck):
        name = f"{schema}.{table}"
        duck_columns = {
            r[0].lower()
            for r in duck.execute(
                "select column_name from information_schema.columns where table_catalog = "
                "'revops' and table_schema = ? and table_name = ?",
                [schema, table],
            ).fetchall()
        }
        sf_columns = {
            r[0].lower()
            for r in cur.execute(
                f"select column_name from {DATABASE}.information_schema.columns "
                f"where table_schema = '{schema.upper()}' and table_name = '{table.upper()}'"
            ).fetchall()
        }
        if not sf_columns:
            differing.append(name)
            log(f"DIFF {name}: missing on fakesnow")
            continue
        if duck_columns != sf_columns:
            differing.append(name)
            log(
                f"DIFF {name}: columns only on duckdb {sorted(duck_columns - sf_columns)}, "
                f"only on fakesnow {sorted(sf_columns - duck_columns)}"
            )
            continue
        columns = sorted(c for c in duck_columns if (table, c) not in IGNORED_COLUMNS)
        duck_row = row_text_sql(columns, set(), '"')
        sf_row = row_text_sql(columns, pii_by_model.get(table, set()), "")
        duck_count, duck_hash = duck.execute(
            f"select count(*), coalesce(md5(string_agg(h, '' order by h)), '') "
            f"from (select md5({duck_row}) as h from revops.{schema}.{table})"
        ).fetchone()
        sf_count, sf_hash = cur.execute(
            f"select count(*), coalesce(md5(listagg(h, '') within group (order by h)), '') "
            f"from (select md5({sf_row}) as h from {DATABASE}.{schema}.{table})"
        ).fetchone()
        compared.add(name)
        if (duck_count, duck_hash) == (sf_count, sf_hash):
            log(f"OK   {name}: {duck_count} rows, {duck_hash[:12]}")
            continue
        differing.append(name)
        log(
            f"DIFF {name}: duckdb {duck_count} rows {duck_hash[:12]}, "
            f"fakesnow {sf_count} {sf_hash[:12]}"
        )
        duck_rows = {
            r[0] for r in duck.execute(f"select {duck_row} from revops.{schema}.{table}").fetchall()
        }
        sf_rows = {
            r[0]
            for r in cur.execute(f"select {sf_row} from {DATABASE}.{schema}.{table}").fetchall()
        }
        header = SEPARATOR.join(columns)
        print(f"    columns: {header.replace(SEPARATOR, ' | ')}")
        for label, rows in (
            ("duckdb only  ", duck_rows - sf_rows),
            ("fakesnow only", sf_rows - duck_rows),
        ):
            for row in sorted(rows)[:5]:
                print(f"    {label}: {row.replace(SEPARATOR, ' | ')[:600]}")
    missing = [m for m in KEY_MARTS if m not in compared]
    if missing:
        log(f"key marts not built on both: {missing}")
        differing.extend(missing)
    duck.close()
    return differing


# --- sqlglot -----------------------------------------------------------------------------------

# Functions the duckdb__ macros use (and a few more DuckDB spellings) that Snowflake lacks.
DUCKDB_ONLY_FUNCTIONS = {
    "strftime",
    "strptime",
    "json_extract_string",
    "regexp_full_match",
    "regexp_extract",
    "list_value",
    "list_extract",
    "struct_pack",
    "string_agg",
    "epoch_ms",
    "date_diff",
    "str_split",
}


POLICY_DDL = re.compile(
    r"\s*(create|alter)\s+(or\s+replace\s+)?(masking|row\s+access)\s+policy\b", re.I
)


def parse_snowflake_sql(roots: Sequence[Path]) -> tuple[int, list[str]]:
    """Parse every .sql file dbt compiled (compiled/) and ran (run/) for the Snowflake adapter."""
    import sqlglot
    from sqlglot import exp

    failures: list[str] = []
    files = 0
    for root in roots:
        for path in sorted(root.rglob("*.sql")):
            files += 1
            text = path.read_text()
            try:
                statements = [s for s in sqlglot.parse(text, read="snowflake") if s is not None]
                # A statement sqlglot could only keep as raw text is no proof that it parsed.
                opaque = [s for s in statements if isinstance(s, exp.Command)]
                opaque = [s for s in opaque if s.this.upper() not in {"BEGIN", "COMMIT"}]
                # Policy DDL sqlglot does not model (it keeps it as a Command): checked by
                # test_snowflake_setup.py against the setup script instead.
                opaque = [s for s in opaque if not POLICY_DDL.match(s.sql())]
                if opaque:
                    raise ValueError(f"unparsed statement: {opaque[0].sql()[:120]}")
                # sqlglot reads an unknown function as a plain call: name DuckDB's own.
                calls = {f.name.lower() for s in statements for f in s.find_all(exp.Anonymous)}
                if calls & DUCKDB_ONLY_FUNCTIONS:
                    raise ValueError(
                        f"DuckDB-only functions: {sorted(calls & DUCKDB_ONLY_FUNCTIONS)}"
                    )
            except Exception as exc:
                first = str(exc).splitlines()[0][:300]
                failures.append(f"{path.relative_to(root.parent)}: {type(exc).__name__}: {first}")
    return files, failures


# --- the suite ---------------------------------------------------------------------------------


def run(work: Path) -> int:
    started = time.monotonic()
    duck_path = work / "revops.duckdb"
    settings = Settings(
        warehouse_path=duck_path, stage_dir=work / "stage", dbt_target_path=work / "target"
    )
    batches = tiny_company_batches(work)

    server = FakesnowServer(work / "fakesnow.log")
    log(f"fakesnow listening on port {server.port}")
    sf = server.connect()
    sf.cursor().execute(f"create database if not exists {DATABASE}")
    sf.cursor().execute(f"create schema if not exists {DATABASE}.raw")

    base_env = {
        **os.environ,
        "DBT_PROFILES_DIR": str(PROJECT_DIR / "profiles"),
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
        "REVOPS_WAREHOUSE": str(duck_path),
    }
    base_env.pop("REVOPS_DBT_TARGET", None)
    sf_env = {
        **base_env,
        "SNOWFLAKE_HOST": "localhost",
        "SNOWFLAKE_PORT": str(server.port),
        "SNOWFLAKE_PROTOCOL": "http",
        "SNOWFLAKE_DATABASE": DATABASE,
    }
    # fakesnow has no current_warehouse(), which dbt-snowflake calls to switch warehouses per
    # model (snowflake_warehouse): the heavy models stay on the profile's warehouse here.
    sf_env.pop("REVOPS_SNOWFLAKE_WAREHOUSE_HEAVY", None)
    sf_env.pop("SNOWFLAKE_WAREHOUSE", None)

    loaded_through: str | None = None
    sql_roots: list[Path] = []
    for number, batch in enumerate(batches, start=1):
        for topic, path in batch.items():
            landed = ingest_files([path], topic, settings)
            log(f"batch {number} {topic}: {landed.rows_inserted} rows into DuckDB raw")
        copied, loaded_through = copy_raw(duck_path, sf, loaded_through, number, work)
        log(f"batch {number}: {copied} raw rows copied into fakesnow")
        # Unit tests run in the first pass (their SQL does not depend on the batch).
        build = (
            ["build", "--full-refresh"]
            if number == 1
            else ["build", "--exclude-resource-type", "unit_test"]
        )
        # The two builds read different warehouses and write different target paths: run
        # them side by side (each is mostly one core: dbt's Python, or the server's DuckDB).
        # The Snowflake path's full build runs the membership core in key buckets (as at
        # scale), DuckDB's as one statement: the parity below holds them to the same result.
        sf_build = [*build, "--vars", '{"full_build_bucket_rows": 150}'] if number == 1 else build
        both_targets(
            ("fakesnow", sf_build, work, sf_env, f"fakesnow-build-{number}"),
            ("duckdb", build, work, base_env, f"duckdb-build-{number}"),
        )
        if number == 1:
            # Bucket 0 is the model's own SQL (run/); its marker names the bucket count.
            ran = work / "target_fakesnow/run/revops/models/intermediate/membership"
            found = re.search(
                r"full build bucket 0 of (\d+)", (ran / "int_membership_windows.sql").read_text()
            )
            if not found or int(found.group(1)) < 2:
                raise SuiteError("the fakesnow full build did not run in key buckets")
            log(f"fakesnow full build: the membership core in {found.group(1)} key buckets")
        # Both passes' SQL: the full-build and the incremental branches of every model.
        for kind in ("compiled", "run"):
            copy = work / f"sql_{number}" / kind
            shutil.copytree(work / "target_fakesnow" / kind, copy)
            sql_roots.append(copy)

    # The SQL production runs: the same project compiled for a target that is not `fakesnow`,
    # so no shim renders (e.g. ASOF JOIN … MATCH_CONDITION), full and incremental branches;
    # alongside, the DuckDB warehouse's `dbt source freshness` (what the dbt suite checks).
    for label, args in (("full", ["compile", "--full-refresh"]), ("incremental", ["compile"])):
        calls = [("snowflake_sql", args, work, sf_env, f"snowflake-sql-{label}")]
        if label == "full":
            calls.append(("duckdb", ["source", "freshness"], work, base_env, "duckdb-freshness"))
        both_targets(*calls)
        copy = work / f"sql_snowflake_{label}" / "compiled"
        shutil.copytree(work / "target_snowflake_sql" / "compiled", copy)
        sql_roots.append(copy)

    differing = parity(duck_path, sf, work / "target_fakesnow" / "manifest.json")
    files, failures = parse_snowflake_sql(sql_roots)
    log(
        f"sqlglot (read='snowflake'): {files - len(failures)}/{files} "
        "compiled and run SQL files parse"
    )
    for failure in failures[:30]:
        print(f"    {failure}")
    sf.close()
    server.stop()
    ok = not differing and not failures
    log(f"{'passed' if ok else 'FAILED'} in {time.monotonic() - started:.0f} s")
    if differing:
        log(f"relations differing from DuckDB: {differing}")
    return 0 if ok else 1


def main() -> int:
    # REVOPS_FAKESNOW_SUITE_DIR keeps the logs, targets and warehouse for a look afterwards.
    keep = os.environ.get("REVOPS_FAKESNOW_SUITE_DIR")
    with tempfile.TemporaryDirectory(prefix="revops-fakesnow-suite-") as tmp:
        work = Path(keep) if keep else Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        try:
            return run(work)
        except SuiteError as exc:
            log(f"FAILED: {exc}")
            return 1


if __name__ == "__main__":
    sys.exit(main())
