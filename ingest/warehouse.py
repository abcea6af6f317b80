"""The one raw-layer writer shared by every source.

Raw tables are append-only: rows are inserted, never updated or deleted. A load is one
transaction over all files of a batch, so a batch is either entirely in raw or not at all, and
the consumer commits Kafka offsets only after that transaction. Loading is idempotent twice
over: a stage file already in `raw.load_history` (same sha256) is skipped, and a row whose
`_source_position` is already in raw *with the same content* is skipped (a consumer that crashed
after the load but before the offset commit re-reads those positions into a *new* stage file).
A position already in raw with *different* content (a recreated topic, a failed-over cluster)
is never skipped silently: the row goes to `raw.ingest_quarantine` with a `position conflict`
reason and is counted in `LoadResult.position_conflicts`. A stage file that names its position
ranges (`StagedFile.position_ranges`) none of which raw holds a row in (a new file, Kafka
offsets past everything loaded) is inserted straight from the file, without the per-row check:
no position of it can be in raw, so there is nothing to skip and nothing to conflict with.

`_loaded_at` is the warehouse's knowledge time and never goes back: a load is stamped
`max(wall clock, newest load so far + 1 µs)` inside its transaction, so a clock that steps back
(NTP, a restored VM) cannot hide new rows from staging, which reads rows loaded after the newest
it has seen.

`Warehouse` is the interface every writer of the raw layer implements (ingest code only ever
holds a `Warehouse`); `DuckDBWarehouse` here is the embedded default, `SnowflakeWarehouse` in
`ingest.warehouse_snowflake` the production one. `warehouse_class(settings)` picks the
implementation from the target (`REVOPS_DBT_TARGET` or `--target`), in this one place.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Protocol, Self

import duckdb

from ingest.settings import Settings
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

    def add_file(self, table: str, rows: int, inserted: int, conflicts: int) -> None:
        """Count one loaded stage file: its new rows, its conflicts (quarantined), the rest
        already in raw."""
        self.inserted[table] = self.inserted.get(table, 0) + inserted
        self.position_conflicts += conflicts
        if conflicts:
            self.inserted[QUARANTINE_TABLE] = self.inserted.get(QUARANTINE_TABLE, 0) + conflicts
        self.already_loaded += rows - inserted - conflicts


@dataclass(frozen=True)
class LoadHistoryEntry:
    """One row of `raw.load_history`: a stage file loaded, and when (the knowledge time)."""

    batch_id: str
    stage_file: str
    file_sha256: str
    source: str
    raw_table: str
    rows_in_file: int
    rows_inserted: int
    loaded_at: datetime


LOAD_HISTORY_COLUMNS = (
    "batch_id, stage_file, file_sha256, source, raw_table, rows_in_file, rows_inserted, loaded_at"
)
LOAD_HISTORY_QUERY = (
    f"select {LOAD_HISTORY_COLUMNS} from raw.load_history order by loaded_at, stage_file"
)


def count_positions_query(
    topic: str, prefix: str, min_offset: int, max_offset: int, *, param: str, starts_with: str
) -> tuple[str, list[Any]]:
    """The one query behind `Warehouse.count_positions`, in a driver's placeholder (`param`)
    and an engine's prefix function (`starts_with`): raw events and quarantine of the topic."""
    tables = [TOPICS[topic].raw_table, QUARANTINE_TABLE]
    union = " union all ".join(
        f"select _source_position from raw.{t} where _topic = {param}"
        f" and _offset between {param} and {param} and {starts_with}(_source_position, {param})"
        for t in tables
    )
    params = [topic, min_offset, max_offset, prefix] * len(tables)
    return f"select count(distinct _source_position) from ({union})", params


def fetch_payloads_query(
    table: str, topic: str | None, *, param: str, as_text: str, like: str | None = None
) -> tuple[str, list[str]]:
    """The `fetch_payloads` query, for either writer's parameter style."""
    if table not in {t.raw_table for t in TOPICS.values()}:
        raise WarehouseError(f"not a raw table: {table!r}")
    conditions, params = [], []
    if topic:
        conditions.append(f"_topic = {param}")
        params.append(topic)
    if like:
        conditions.append(f"{as_text} like {param}")
        params.append(like)
    where = f" where {' and '.join(conditions)}" if conditions else ""
    sql = (
        f"select _source_position, {as_text} from raw.{table}{where} "
        "order by _loaded_at, _source_position"
    )
    return sql, params


POSITION_CHUNK = 1000  # positions per `in (...)` list


def existing_positions_query(table: str, n: int, *, param: str) -> str:
    """The `existing_positions` query: which of `n` positions `raw.<table>` already holds."""
    if table not in {t.raw_table for t in TOPICS.values()}:
        raise WarehouseError(f"not a raw table: {table!r}")
    values = ", ".join([param] * n)
    return f"select distinct _source_position from raw.{table} where _source_position in ({values})"


def utc_now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def next_loaded_at(newest: datetime | None, now: datetime) -> datetime:
    """The knowledge time of a new load: the wall clock, unless it is not after the newest
    load already in the warehouse (the clock stepped back), then one microsecond after it."""
    if newest is not None and now <= newest:
        return newest + timedelta(microseconds=1)
    return now


def raw_table_of(source: str) -> str:
    """The raw table a stage folder (a topic's source, or quarantine) loads into."""
    if source == QUARANTINE_SOURCE:
        return QUARANTINE_TABLE
    for topic in TOPICS.values():
        if topic.source == source:
            return topic.raw_table
    raise KeyError(source)


class Warehouse(Protocol):
    """What ingest needs from a warehouse: the raw layer, written append-only.

    Implementations keep the guarantees in the module docstring: a batch is one transaction;
    a stage file already in `raw.load_history` and a position already in raw with the same
    content are skipped; a known position with other content is quarantined with a
    `position conflict: ...` reason; `loaded_at` never goes back. Only writers are serialised:
    `exclusive` is the process-level lock a writing command holds for its whole run (a lock
    file for DuckDB, which allows one writer per file; nothing for a server, whose loads
    serialise inside the warehouse).
    """

    @classmethod
    def open(cls, settings: Settings) -> Self:
        """Connect to the warehouse `settings` name and make sure the raw layer exists."""
        ...

    @classmethod
    def exclusive(cls, settings: Settings, wait_s: float = 0.0) -> AbstractContextManager[None]:
        """Hold the warehouse for one writing command (ingest, build, demo)."""
        ...

    def ensure_raw_schema(self) -> None: ...

    def count_positions(self, topic: str, prefix: str, min_offset: int, max_offset: int) -> int:
        """How many raw rows (events or quarantine) of `topic` sit at positions starting with
        `prefix` within an offset range: lets a replayed file skip batches raw already holds."""
        ...

    def load_batch(self, batch_id: str, files: Iterable[StagedFile]) -> LoadResult:
        """Load the stage files of one batch in one transaction."""
        ...

    def load_history(self) -> list[LoadHistoryEntry]:
        """Every stage file loaded, oldest first."""
        ...

    def fetch_payloads(
        self, table: str, topic: str | None = None, like: str | None = None
    ) -> list[tuple[str, str]]:
        """(position, payload JSON text) of the rows of `raw.<table>` (of one topic, and whose
        JSON text matches the SQL `like` pattern, if given), in load order: read-only, for
        extractors that resume from what raw holds."""
        ...

    def existing_positions(self, table: str, positions: Sequence[str]) -> set[str]:
        """The subset of `positions` that `raw.<table>` already holds: lets an extractor skip
        record versions it read before (a look-back, a re-backfill) instead of re-landing them."""
        ...

    def close(self) -> None: ...

    def __enter__(self) -> Self: ...

    def __exit__(self, *exc: object) -> None: ...


WAREHOUSE_TARGETS = ("duckdb", "snowflake", "fakesnow")


def warehouse_class(settings: Settings) -> type[Warehouse]:
    """The implementation for the configured target: the one place that chooses. The Snowflake
    one is imported only when chosen (its connector is an optional dependency)."""
    target = settings.warehouse_target
    if target == "duckdb":
        return DuckDBWarehouse
    if target in ("snowflake", "fakesnow"):
        from ingest.warehouse_snowflake import SnowflakeWarehouse

        return SnowflakeWarehouse
    raise WarehouseError(
        f"no warehouse writer for target {target!r}; choose from {', '.join(WAREHOUSE_TARGETS)}"
    )


def open_warehouse(settings: Settings) -> Warehouse:
    return warehouse_class(settings).open(settings)


_LOCK_HOLDER = re.compile(r"Conflicting lock is held in (?P<prog>.*?) \(PID (?P<pid>\d+)\)")


def lock_error_message(path: Path | str, error_text: str) -> str | None:
    """The one line for DuckDB's "could not set lock" error, or None for any other error."""
    if "Could not set lock" not in error_text and "Conflicting lock" not in error_text:
        return None
    holder = _LOCK_HOLDER.search(error_text)
    who = f"pid {holder['pid']}, {holder['prog']}" if holder else "another process"
    return f"warehouse {path} is locked by {who}; retry when it finishes (or pass --wait SECONDS)"


class ConnectionWarehouse:
    """What both writers do with their DB-API connection `con`: close it, also as a context
    manager."""

    con: Any

    def close(self) -> None:
        self.con.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def set_memory_limit(con: duckdb.DuckDBPyConnection, limit: str) -> None:
    """Bound a DuckDB database instance (DuckDB's default is 80% of RAM each), so that it spills
    to its temp directory instead of growing. A setting, not a connect option: a connect option
    would make every other connection to the same file in this process a configuration
    conflict."""
    con.execute("set memory_limit = '" + limit.replace("'", "''") + "'")


class DuckDBWarehouse(ConnectionWarehouse):
    """A DuckDB warehouse file. Only the raw layer is written from Python; dbt owns the rest."""

    def __init__(
        self,
        path: Path | str,
        *,
        read_only: bool = False,
        clock: Callable[[], datetime] = utc_now,
        memory_limit: str = Settings.duckdb_memory_limit,
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
        set_memory_limit(self.con, memory_limit)
        if not read_only:
            self.ensure_raw_schema()

    @classmethod
    def open(cls, settings: Settings) -> DuckDBWarehouse:
        return cls(settings.warehouse_path, memory_limit=settings.duckdb_memory_limit)

    @classmethod
    def exclusive(cls, settings: Settings, wait_s: float = 0.0) -> AbstractContextManager[None]:
        from ingest.locking import warehouse_lock

        return warehouse_lock(settings.warehouse_path, wait_s=wait_s)

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

    def load_history(self) -> list[LoadHistoryEntry]:
        return [LoadHistoryEntry(*row) for row in self.con.execute(LOAD_HISTORY_QUERY).fetchall()]

    def count_positions(self, topic: str, prefix: str, min_offset: int, max_offset: int) -> int:
        sql, params = count_positions_query(
            topic, prefix, min_offset, max_offset, param="?", starts_with="starts_with"
        )
        row = self.con.execute(sql, params).fetchone()
        return int(row[0]) if row else 0

    def fetch_payloads(
        self, table: str, topic: str | None = None, like: str | None = None
    ) -> list[tuple[str, str]]:
        sql, params = fetch_payloads_query(
            table, topic, param="?", as_text="cast(payload as varchar)", like=like
        )
        return [(p, t) for p, t in self.con.execute(sql, params).fetchall()]

    def existing_positions(self, table: str, positions: Sequence[str]) -> set[str]:
        found: set[str] = set()
        for i in range(0, len(positions), POSITION_CHUNK):
            chunk = list(positions[i : i + POSITION_CHUNK])
            sql = existing_positions_query(table, len(chunk), param="?")
            found.update(p for (p,) in self.con.execute(sql, chunk).fetchall())
        return found

    def _next_loaded_at(self) -> datetime:
        (newest,) = self.con.execute("select max(loaded_at) from raw.load_history").fetchone()
        return next_loaded_at(newest, self.clock())

    def load_batch(self, batch_id: str, files: Iterable[StagedFile]) -> LoadResult:
        result = LoadResult(batch_id)
        con = self.con
        con.execute("begin transaction")
        try:
            loaded_at = self._next_loaded_at()
            result.loaded_at = loaded_at
            for staged in files:
                if staged.rows == 0:
                    continue
                table = raw_table_of(staged.source)
                seen = con.execute(
                    "select count(*) from raw.load_history where file_sha256 = ?", [staged.sha256]
                ).fetchone()[0]
                if seen:
                    result.files_skipped += 1
                    continue
                inserted, conflicts = self._insert_file(table, staged, batch_id, loaded_at)
                result.add_file(table, staged.rows, inserted, conflicts)
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

    def _may_hold_any(self, table: str, ranges: tuple[tuple[str, int, int], ...]) -> bool:
        """Whether raw.<table> holds a row in one of a stage file's position ranges (prefix
        and offset bounds): a zone-map-pruned look at the offsets, not a read of the file."""
        condition = " or ".join(
            "(_offset between ? and ? and starts_with(_source_position, ?))" for _ in ranges
        )
        params = [v for prefix, lo, hi in ranges for v in (lo, hi, prefix)]
        row = self.con.execute(
            f"select exists (select 1 from raw.{table} where {condition})", params
        ).fetchone()
        return bool(row and row[0])

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
        if staged.position_ranges and not self._may_hold_any(table, staged.position_ranges):
            # None of the file's positions can be in raw yet (a new file, Kafka offsets past
            # what raw holds): every row is new and nothing can conflict, so the rows go
            # straight from the stage file into raw, with no copy and no per-row check.
            row = con.execute(
                f"""
                insert into raw.{table}
                select {envelope}, {body}
                from read_json(?, format = 'newline_delimited', columns = {columns}) as s
                """,
                [loaded_at, batch_id, str(staged.path), str(staged.path)],
            ).fetchone()
            return (int(row[0]) if row else 0), 0
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
