"""The raw-layer writer on Snowflake: the same stage files as DuckDB, PUT and COPY'd.

A batch's stage files are `PUT` (already gzip'd, uncompressed by nobody) to a named internal
stage per source, `@raw.<source>_stage/<yyyy>/<mm>/<dd>/<batch_id>.ndjson.gz` — the object-store
layout of the local stage — and then, in one transaction per batch:

1. `update raw.ingest_lock`: loads serialise here, so `_loaded_at` (the newest load + 1 µs if
   the clock stepped back) is also the commit order, which staging's watermark relies on;
2. per file, unless `raw.load_history` has its sha256: `COPY INTO raw.ingest_landing` (one
   VARIANT column `v`, one row per stage line) with the JSON file format. Snowflake's own load
   history makes a second COPY of the same file a no-op; if it says "loaded" while our history
   does not have the file, the file is copied again with `FORCE = TRUE` (the position check
   below keeps that idempotent) rather than trusting a history we cannot see into;
3. `INSERT ... SELECT` from the landing table into `raw.<table>`: the envelope columns from the
   stage line's fields, the payload as VARIANT. Rows at positions raw already holds are skipped
   when their content is the same, and go to `raw.ingest_quarantine` with reason
   `position conflict: ...` when it is not — the DuckDB writer's rules in Snowflake SQL;
4. one `raw.load_history` row per file; commit.

Why a landing table and not `COPY INTO raw.<table> FROM (SELECT $1:..., METADATA$FILENAME ...)`:
the dedupe and conflict checks need SQL over the whole file and raw anyway, and this shape runs
unchanged on fakesnow (which cannot COPY with a transform), so CI exercises the production
statements, not a stand-in. The landing table is transient and empty between loads.

"The same content" is the same JSON value (`to_json` of the VARIANTs): Snowflake keeps no bytes,
so whitespace or key order alone never makes a conflict here, while DuckDB compares the text.
"""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import Callable, Iterable, Sequence
from contextlib import AbstractContextManager, nullcontext, suppress
from datetime import datetime
from typing import Any

from ingest.settings import Settings
from ingest.stage import StagedFile
from ingest.topics import QUARANTINE_SOURCE, QUARANTINE_TABLE, TOPICS
from ingest.warehouse import (
    LOAD_HISTORY_COLUMNS,
    LOAD_HISTORY_QUERY,
    POSITION_CHUNK,
    ConnectionWarehouse,
    LoadHistoryEntry,
    LoadResult,
    WarehouseError,
    count_positions_query,
    existing_positions_query,
    fetch_payloads_query,
    next_loaded_at,
    raw_table_of,
    utc_now,
)

log = logging.getLogger(__name__)

FILE_FORMAT = "raw.revops_ndjson"
LANDING_TABLE = "raw.ingest_landing"
LOCK_TABLE = "raw.ingest_lock"
SOURCES = tuple(sorted({t.source for t in TOPICS.values()} | {QUARANTINE_SOURCE}))

_ENVELOPE_COLUMNS = """
    _source_position varchar not null,
    _topic varchar not null,
    _partition integer,
    _offset bigint,
    _key varchar,
    _kafka_timestamp timestamp_ntz,
    _loaded_at timestamp_ntz not null,
    _batch_id varchar not null,
    _stage_file varchar not null"""
_ENVELOPE_NAMES = (
    "_source_position, _topic, _partition, _offset, _key, _kafka_timestamp, _loaded_at, "
    "_batch_id, _stage_file"
)


def stage_name(source: str) -> str:
    """The named internal stage of a stage folder (a topic's source, or quarantine)."""
    return f"raw.{source}_stage"


def stage_location(staged: StagedFile) -> str:
    """Where a stage file lives in its Snowflake stage: the local layout's last four parts."""
    yyyy, mm, dd, name = staged.path.parts[-4:]
    return f"@{stage_name(staged.source)}/{yyyy}/{mm}/{dd}/{name}"


def _field(name: str, sql_type: str) -> str:
    """A stage line's field from the landing row (JSON null is SQL null after the cast)."""
    return f's.v:"{name}"::{sql_type}'


_POSITION = _field("source_position", "varchar")
_ENVELOPE = f"""
    {_POSITION},
    {_field("topic", "varchar")},
    {_field("partition", "integer")},
    {_field("offset", "bigint")},
    {_field("key", "varchar")},
    case when {_field("kafka_timestamp_ms", "bigint")} is not null
         then to_timestamp_ntz({_field("kafka_timestamp_ms", "bigint")}, 3) end,
    %(loaded_at)s::timestamp_ntz,
    %(batch_id)s,
    %(stage_file)s"""


class SnowflakeWarehouse(ConnectionWarehouse):
    """Snowflake (or a local fakesnow server) through snowflake-connector-python."""

    def __init__(self, connection: Any, *, clock: Callable[[], datetime] = utc_now) -> None:
        self.con = connection
        self.clock = clock
        self.cur = connection.cursor()
        self.ensure_raw_schema()

    @classmethod
    def open(cls, settings: Settings) -> SnowflakeWarehouse:
        try:
            import snowflake.connector
        except ImportError:
            raise WarehouseError(
                f"the {settings.warehouse_target} target needs snowflake-connector-python "
                "(pip install 'revops[snowflake]')"
            ) from None
        kwargs = settings.snowflake.connect_kwargs(settings.warehouse_target)
        # The connector logs every connection at INFO; an operator needs its warnings only.
        connector_log = logging.getLogger("snowflake.connector")
        if connector_log.level == logging.NOTSET:
            connector_log.setLevel(logging.WARNING)
        try:
            connection = snowflake.connector.connect(
                **kwargs,
                paramstyle="pyformat",
                session_parameters={"QUERY_TAG": "revops-ingest", "TIMEZONE": "UTC"},
            )
        except snowflake.connector.errors.Error as exc:
            where = kwargs.get("host") or f"account {kwargs['account']}"
            raise WarehouseError(
                f"cannot connect to Snowflake at {where} as {kwargs['user']}: {exc.msg or exc}"
            ) from None
        return cls(connection)

    @classmethod
    def exclusive(cls, settings: Settings, wait_s: float = 0.0) -> AbstractContextManager[None]:
        """Nothing to hold per process: loads serialise on `raw.ingest_lock` inside their
        transaction, and dbt sessions run beside them."""
        return nullcontext()

    def _execute(self, sql: str, params: object = None) -> Any:
        return self.cur.execute(sql, params)

    def ensure_raw_schema(self) -> None:
        """The raw layer's objects, each `if not exists` (DDL commits, so never in a load)."""
        statements = [
            "create schema if not exists raw",
            f"create file format if not exists {FILE_FORMAT} type = json compression = gzip",
            *(
                f"create stage if not exists {stage_name(s)} file_format = {FILE_FORMAT}"
                for s in SOURCES
            ),
            *(
                f"create table if not exists raw.{t.raw_table} ({_ENVELOPE_COLUMNS},\n"
                "    payload variant\n)"
                for t in TOPICS.values()
            ),
            f"create table if not exists raw.{QUARANTINE_TABLE} ({_ENVELOPE_COLUMNS},\n"
            "    reason varchar not null,\n    raw_text varchar,\n    raw_base64 varchar\n)",
            """create table if not exists raw.load_history (
                batch_id varchar not null,
                stage_file varchar not null,
                file_sha256 varchar not null,
                source varchar not null,
                raw_table varchar not null,
                rows_in_file bigint not null,
                rows_inserted bigint not null,
                loaded_at timestamp_ntz not null
            )""",
            f"create transient table if not exists {LANDING_TABLE} (v variant)",
            f"""create table if not exists {LOCK_TABLE} (
                lock_name varchar not null,
                holder varchar,
                acquired_at timestamp_ntz
            )""",
            f"insert into {LOCK_TABLE} (lock_name) select 'raw' "
            f"where not exists (select 1 from {LOCK_TABLE})",
        ]
        for sql in statements:
            self._execute(sql)

    def load_history(self) -> list[LoadHistoryEntry]:
        return [LoadHistoryEntry(*row) for row in self._execute(LOAD_HISTORY_QUERY).fetchall()]

    def fetch_payloads(
        self, table: str, topic: str | None = None, like: str | None = None
    ) -> list[tuple[str, str]]:
        sql, params = fetch_payloads_query(
            table, topic, param="%s", as_text="to_json(payload)", like=like
        )
        return [(p, t) for p, t in self._execute(sql, params).fetchall()]

    def existing_positions(self, table: str, positions: Sequence[str]) -> set[str]:
        found: set[str] = set()
        for i in range(0, len(positions), POSITION_CHUNK):
            chunk = list(positions[i : i + POSITION_CHUNK])
            sql = existing_positions_query(table, len(chunk), param="%s")
            found.update(p for (p,) in self._execute(sql, chunk).fetchall())
        return found

    def count_positions(self, topic: str, prefix: str, min_offset: int, max_offset: int) -> int:
        sql, params = count_positions_query(
            topic, prefix, min_offset, max_offset, param="%s", starts_with="startswith"
        )
        row = self._execute(sql, params).fetchone()
        return int(row[0]) if row else 0

    def _in_history(self, staged: StagedFile) -> bool:
        row = self._execute(
            "select count(*) from raw.load_history where file_sha256 = %(sha)s",
            {"sha": staged.sha256},
        ).fetchone()
        return bool(row and row[0])

    def _put(self, staged: StagedFile) -> None:
        """Upload a stage file to its source's stage (outside the load transaction: a file
        uploaded but never loaded is harmless, the next attempt uploads it again)."""
        folder = stage_location(staged).rsplit("/", 1)[0]
        local = staged.path.resolve().as_posix().replace("'", "\\'")
        rows = self._execute(
            f"put 'file://{local}' {folder} "
            "auto_compress = false source_compression = gzip overwrite = false"
        ).fetchall()
        statuses = {str(r[6]).upper() for r in rows}
        if not statuses or not statuses <= {"UPLOADED", "SKIPPED"}:
            raise WarehouseError(f"cannot upload {staged.path} to {folder}: {rows}")

    def load_batch(self, batch_id: str, files: Iterable[StagedFile]) -> LoadResult:
        result = LoadResult(batch_id)
        files = [f for f in files if f.rows]
        for staged in files:
            if not self._in_history(staged):
                self._put(staged)
        self._execute("begin")
        try:
            self._execute(
                f"update {LOCK_TABLE} set holder = %(holder)s, acquired_at = %(at)s",
                {
                    "holder": f"{socket.gethostname()}:{os.getpid()} {batch_id}",
                    "at": _ts(utc_now()),
                },
            )
            (newest,) = self._execute("select max(loaded_at) from raw.load_history").fetchone()
            loaded_at = next_loaded_at(newest, self.clock())
            result.loaded_at = loaded_at
            for staged in files:
                if self._in_history(staged):
                    result.files_skipped += 1
                    continue
                table = raw_table_of(staged.source)
                self._copy_to_landing(staged)
                inserted, conflicts = self._insert_landed(table, staged, batch_id, loaded_at)
                result.add_file(table, staged.rows, inserted, conflicts)
                self._execute(
                    f"insert into raw.load_history ({LOAD_HISTORY_COLUMNS}) values ("
                    "%(batch_id)s, %(stage_file)s, %(sha)s, %(source)s, %(table)s, %(rows)s, "
                    "%(inserted)s, %(loaded_at)s::timestamp_ntz)",
                    {
                        "batch_id": batch_id,
                        "stage_file": stage_location(staged),
                        "sha": staged.sha256,
                        "source": staged.source,
                        "table": table,
                        "rows": staged.rows,
                        "inserted": inserted,
                        "loaded_at": _ts(loaded_at),
                    },
                )
            self._execute("commit")
        except BaseException:
            # The original error is the one to see; a rollback on a dead session adds nothing.
            with suppress(Exception):
                self._execute("rollback")
            raise
        return result

    def _copy_to_landing(self, staged: StagedFile) -> None:
        """Exactly this file's lines into the (empty) landing table."""
        location = stage_location(staged)
        self._execute(f"delete from {LANDING_TABLE}")
        copy = (
            f"copy into {LANDING_TABLE} from {location} "
            f"file_format = (format_name = {FILE_FORMAT!r})"
        )
        if not _copied(self._execute(copy)):
            log.warning(
                "Snowflake's load history already has %s but raw.load_history does not: "
                "copying it again (FORCE); rows already in raw are skipped by position",
                location,
            )
            if not _copied(self._execute(f"{copy} force = true")):
                raise WarehouseError(f"stage file {location} is not in its stage (PUT lost?)")
        (landed,) = self._execute(f"select count(*) from {LANDING_TABLE}").fetchone()
        if landed != staged.rows:
            raise WarehouseError(
                f"COPY of {location} landed {landed:,} rows, the stage file has {staged.rows:,}"
            )

    def _insert_landed(
        self, table: str, staged: StagedFile, batch_id: str, loaded_at: datetime
    ) -> tuple[int, int]:
        """Insert the landing table's new rows into raw.<table> and its conflicts into
        quarantine; returns (rows inserted, position conflicts). Conflicts go first: both
        statements must judge positions by raw as it was before this file."""
        quarantine = table == QUARANTINE_TABLE
        if quarantine:
            body = ", ".join(_field(c, "varchar") for c in ("reason", "raw_text", "raw_base64"))
            columns = "reason, raw_text, raw_base64"
            content, s_content = "e.raw_base64", _field("raw_base64", "varchar")
            s_text = _field("raw_text", "varchar")
            s_base64 = s_content
        else:
            body, columns = 's.v:"payload"', "payload"
            content, s_content = "to_json(e.payload)", 'to_json(s.v:"payload")'
            s_text = s_content
            s_base64 = f"base64_encode(to_binary({s_text}, 'UTF-8'))"
        # A position can only be in raw already if its offset lies in this file's range.
        if staged.min_offset is not None and staged.max_offset is not None:
            in_range = "e._offset between %(lo)s and %(hi)s"
        else:
            in_range = "true"
        params = {
            "loaded_at": _ts(loaded_at),
            "batch_id": batch_id,
            "stage_file": stage_location(staged),
            "lo": staged.min_offset,
            "hi": staged.max_offset,
        }
        seen = f"from raw.{table} as e where {in_range} and e._source_position = {_POSITION}"
        (conflicts,) = self._execute(
            f"""
            insert into raw.{QUARANTINE_TABLE} ({_ENVELOPE_NAMES}, reason, raw_text, raw_base64)
            select
                {_ENVELOPE},
                'position conflict: ' || {_POSITION} || ' is already in raw.{table} '
                    || 'with different content (topic recreated or cluster changed?)',
                {s_text},
                {s_base64}
            from {LANDING_TABLE} as s
            where exists (select 1 {seen})
              and not exists (select 1 {seen} and {content} = {s_content})
              and not exists (
                select 1 from raw.{QUARANTINE_TABLE} as q
                where q._source_position = {_POSITION}
                  and startswith(q.reason, 'position conflict:')
                  and q.raw_text is not distinct from {s_text}
              )
            """,
            params,
        ).fetchone()
        (inserted,) = self._execute(
            f"""
            insert into raw.{table} ({_ENVELOPE_NAMES}, {columns})
            select {_ENVELOPE}, {body}
            from {LANDING_TABLE} as s
            where not exists (select 1 {seen})
            """,
            params,
        ).fetchone()
        self._execute(f"delete from {LANDING_TABLE}")
        return int(inserted), int(conflicts)


def _ts(value: datetime) -> str:
    """A TIMESTAMP_NTZ literal to the microsecond (the knowledge time must not be rounded)."""
    return value.isoformat(sep=" ", timespec="microseconds")


def _copied(cursor: Any) -> bool:
    """Whether a COPY loaded its file. Snowflake answers a skipped file with one `status` row,
    'Copy executed with 0 files processed.'; fakesnow with a LOAD_SKIPPED row."""
    names = [d[0].lower() for d in cursor.description]
    rows = cursor.fetchall()
    if "file" not in names:
        return False
    status = names.index("status")
    return any(str(row[status]).upper() in ("LOADED", "PARTIALLY_LOADED") for row in rows)
