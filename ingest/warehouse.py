"""The one raw-layer writer shared by every source.

Raw tables are append-only: rows are inserted, never updated or deleted. A load is one
transaction over all files of a batch, so a batch is either entirely in raw or not at all, and
the consumer commits Kafka offsets only after that transaction. Loading is idempotent twice
over: a stage file already in `raw.load_history` (same sha256) is skipped, and a row whose
`_source_position` is already in raw *with the same content* is skipped (a consumer that crashed
after the load but before the offset commit re-reads those positions into a *new* stage file).
A position already in raw with *different* content (a recreated topic, a failed-over cluster)
is never skipped silently: the row goes to `raw.ingest_quarantine` with a `position conflict`
reason and is counted in `LoadResult.position_conflicts`.

`_loaded_at` is the warehouse's knowledge time and never goes back: a load is stamped
`max(wall clock, newest load so far + 1 µs)` inside its transaction, so a clock that steps back
(NTP, a restored VM) cannot hide new rows from staging, which reads rows loaded after the newest
it has seen.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb

from ingest.stage import StagedFile
from ingest.topics import QUARANTINE_SOURCE, QUARANTINE_TABLE, TOPICS

_ENVELOPE_COLUMNS = """
    _source_position varchar not null,
    _topic varchar not null,
    _partition integer,
    _offset bigint,
    _key varchar,
    _kafka_timestamp timestamp,
    _loaded_at timestamp not null,
    _batch_id varchar not null,
    _stage_file varchar not null"""

_STAGE_COLUMNS = {
    "source_position": "VARCHAR",
    "topic": "VARCHAR",
    "partition": "INTEGER",
    "offset": "BIGINT",
    "key": "VARCHAR",
    "kafka_timestamp_ms": "BIGINT",
}


def _columns_literal(extra: dict[str, str]) -> str:
    cols = {**_STAGE_COLUMNS, **extra}
    return "{" + ", ".join(f"'{k}': '{v}'" for k, v in cols.items()) + "}"


_EVENT_READ_COLUMNS = _columns_literal({"payload": "JSON"})
_QUARANTINE_READ_COLUMNS = _columns_literal(
    {"reason": "VARCHAR", "raw_text": "VARCHAR", "raw_base64": "VARCHAR"}
)


@dataclass
class LoadResult:
    batch_id: str
    inserted: dict[str, int] = field(default_factory=dict)  # raw table -> rows inserted
    already_loaded: int = 0  # rows skipped because their position was already in raw
    files_skipped: int = 0  # stage files already in load history
    position_conflicts: int = 0  # rows at a known position with other content: quarantined
    loaded_at: datetime | None = None  # the batch's knowledge time

    @property
    def rows_inserted(self) -> int:
        return sum(self.inserted.values())


def utc_now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


_LOCK_HOLDER = re.compile(r"Conflicting lock is held in (?P<prog>.*?) \(PID (?P<pid>\d+)\)")


def lock_error_message(path: Path | str, error_text: str) -> str | None:
    """The one line for DuckDB's "could not set lock" error, or None for any other error."""
    if "Could not set lock" not in error_text and "Conflicting lock" not in error_text:
        return None
    holder = _LOCK_HOLDER.search(error_text)
    who = f"pid {holder['pid']}, {holder['prog']}" if holder else "another process"
    return f"warehouse {path} is locked by {who}; retry when it finishes (or pass --wait SECONDS)"


class Warehouse:
    """A DuckDB warehouse file. Only the raw layer is written from Python; dbt owns the rest."""

    def __init__(
        self,
        path: Path | str,
        *,
        read_only: bool = False,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self.path = Path(path)
        self.clock = clock
        if not read_only:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self.con = duckdb.connect(str(self.path), read_only=read_only)
        except duckdb.IOException as exc:
            locked = lock_error_message(self.path, str(exc))
            if locked:
                raise WarehouseLockedError(locked) from exc
            raise WarehouseError(f"cannot open warehouse {self.path}: {exc}") from exc
        if not read_only:
            self.ensure_raw_schema()

    def close(self) -> None:
        self.con.close()

    def __enter__(self) -> Warehouse:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def ensure_raw_schema(self) -> None:
        self.con.execute("create schema if not exists raw")
        for topic in TOPICS.values():
            self.con.execute(
                f"create table if not exists raw.{topic.raw_table} ({_ENVELOPE_COLUMNS},\n"
                "    payload json\n)"
            )
        self.con.execute(
            f"create table if not exists raw.{QUARANTINE_TABLE} ({_ENVELOPE_COLUMNS},\n"
            "    reason varchar not null,\n    raw_text varchar,\n    raw_base64 varchar\n)"
        )
        self.con.execute(
            """create table if not exists raw.load_history (
                batch_id varchar not null,
                stage_file varchar not null,
                file_sha256 varchar not null,
                source varchar not null,
                raw_table varchar not null,
                rows_in_file bigint not null,
                rows_inserted bigint not null,
                loaded_at timestamp not null
            )"""
        )

    def count_positions(self, topic: str, prefix: str, min_offset: int, max_offset: int) -> int:
        """How many raw rows (events or quarantine) of `topic` sit at positions starting with
        `prefix` within an offset range: lets a replayed file skip batches raw already holds."""
        tables = [TOPICS[topic].raw_table, QUARANTINE_TABLE]
        union = " union all ".join(
            f"select _source_position from raw.{t} where _topic = ? and _offset between ? and ?"
            " and starts_with(_source_position, ?)"
            for t in tables
        )
        params = [topic, min_offset, max_offset, prefix] * len(tables)
        row = self.con.execute(
            f"select count(distinct _source_position) from ({union})", params
        ).fetchone()
        return int(row[0]) if row else 0

    def _next_loaded_at(self) -> datetime:
        """The knowledge time of a new load: the wall clock, unless it is not after the newest
        load already in the warehouse (the clock stepped back), then one microsecond after it."""
        (newest,) = self.con.execute("select max(loaded_at) from raw.load_history").fetchone()
        now = self.clock()
        if newest is not None and now <= newest:
            return newest + timedelta(microseconds=1)
        return now

    def load_batch(self, batch_id: str, files: Iterable[StagedFile]) -> LoadResult:
        """Load the stage files of one batch in one transaction."""
        result = LoadResult(batch_id)
        by_source = {t.source: t.raw_table for t in TOPICS.values()}
        by_source[QUARANTINE_SOURCE] = QUARANTINE_TABLE
        con = self.con
        con.execute("begin transaction")
        try:
            loaded_at = self._next_loaded_at()
            result.loaded_at = loaded_at
            for staged in files:
                if staged.rows == 0:
                    continue
                table = by_source[staged.source]
                seen = con.execute(
                    "select count(*) from raw.load_history where file_sha256 = ?", [staged.sha256]
                ).fetchone()[0]
                if seen:
                    result.files_skipped += 1
                    continue
                inserted, conflicts = self._insert_file(table, staged, batch_id, loaded_at)
                result.inserted[table] = result.inserted.get(table, 0) + inserted
                result.position_conflicts += conflicts
                if conflicts:
                    result.inserted[QUARANTINE_TABLE] = (
                        result.inserted.get(QUARANTINE_TABLE, 0) + conflicts
                    )
                result.already_loaded += staged.rows - inserted - conflicts
                con.execute(
                    "insert into raw.load_history values (?, ?, ?, ?, ?, ?, ?, ?)",
                    [
                        batch_id,
                        str(staged.path),
                        staged.sha256,
                        staged.source,
                        table,
                        staged.rows,
                        inserted,
                        loaded_at,
                    ],
                )
            con.execute("commit")
        except Exception:
            con.execute("rollback")
            raise
        return result

    def _insert_file(
        self, table: str, staged: StagedFile, batch_id: str, loaded_at: datetime
    ) -> tuple[int, int]:
        """Insert a stage file's new rows; returns (rows inserted, position conflicts)."""
        quarantine = table == QUARANTINE_TABLE
        columns = _QUARANTINE_READ_COLUMNS if quarantine else _EVENT_READ_COLUMNS
        body = "s.reason, s.raw_text, s.raw_base64" if quarantine else "s.payload"
        # What "the same message" means: the payload as landed, or a quarantined message's bytes.
        content = "raw_base64" if quarantine else "cast(payload as varchar)"
        # A position can only be in raw already if its offset lies in this file's offset range:
        # the check scans that range (pruned by zone maps), not the whole table, as raw grows.
        if staged.min_offset is not None and staged.max_offset is not None:
            in_range = "_offset between ? and ?"
            bounds = [staged.min_offset, staged.max_offset]
        else:
            in_range, bounds = "true", []
        con = self.con
        con.execute(
            "create or replace temp table revops_staged as "
            f"select * from read_json(?, format = 'newline_delimited', columns = {columns})",
            [str(staged.path)],
        )
        con.execute(
            f"""
            create or replace temp table revops_seen as
            select _source_position, {content} as content
            from raw.{table}
            where {in_range}
              and _source_position in (select source_position from revops_staged)
            """,
            bounds,
        )
        envelope = """
                s.source_position,
                s.topic,
                s.partition,
                s."offset",
                s.key,
                case when s.kafka_timestamp_ms is not null
                     then make_timestamp(s.kafka_timestamp_ms * 1000) end,
                ?::timestamp,
                ?,
                ?"""
        row = con.execute(
            f"""
            insert into raw.{table}
            select {envelope}, {body}
            from revops_staged as s
            where not exists (
                select 1 from revops_seen as e where e._source_position = s.source_position
            )
            """,
            [loaded_at, batch_id, str(staged.path)],
        ).fetchone()
        inserted = int(row[0]) if row else 0
        # Known positions whose content differs from every copy in raw: quarantined, loudly,
        # once (a re-delivered conflict is already in quarantine with the same bytes).
        s_content = "s.raw_base64" if quarantine else "cast(s.payload as varchar)"
        s_text = "s.raw_text" if quarantine else "cast(s.payload as varchar)"
        row = con.execute(
            f"""
            insert into raw.{QUARANTINE_TABLE}
            select
                {envelope},
                'position conflict: ' || s.source_position || ' is already in raw.{table} '
                    || 'with different content (topic recreated or cluster changed?)',
                {s_text},
                coalesce({s_content if quarantine else "null"},
                         to_base64(encode({s_text})))
            from revops_staged as s
            where exists (
                select 1 from revops_seen as e where e._source_position = s.source_position
            )
              and not exists (
                select 1 from revops_seen as e
                where e._source_position = s.source_position and e.content = {s_content}
            )
              and not exists (
                select 1 from raw.{QUARANTINE_TABLE} as q
                where q._source_position = s.source_position
                  and starts_with(q.reason, 'position conflict:')
                  and q.raw_text is not distinct from {s_text}
            )
            """,
            [loaded_at, batch_id, str(staged.path)],
        ).fetchone()
        conflicts = int(row[0]) if row else 0
        con.execute("drop table revops_seen")
        con.execute("drop table revops_staged")
        return inserted, conflicts


class WarehouseError(RuntimeError):
    pass


class WarehouseLockedError(WarehouseError):
    """Another process holds the DuckDB file (DuckDB allows one writer per file)."""
