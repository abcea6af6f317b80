"""The one raw-layer writer shared by every source.

Raw tables are append-only: rows are inserted, never updated or deleted. A load is one
transaction over all files of a batch, so a batch is either entirely in raw or not at all, and
the consumer commits Kafka offsets only after that transaction. Loading is idempotent twice
over: a stage file already in `raw.load_history` (same sha256) is skipped, and a row whose
`_source_position` is already in raw is skipped (a consumer that crashed after the load but
before the offset commit re-reads those positions into a *new* stage file).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
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

    @property
    def rows_inserted(self) -> int:
        return sum(self.inserted.values())


class Warehouse:
    """A DuckDB warehouse file. Only the raw layer is written from Python; dbt owns the rest."""

    def __init__(self, path: Path | str, *, read_only: bool = False) -> None:
        self.path = Path(path)
        if not read_only:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self.con = duckdb.connect(str(self.path), read_only=read_only)
        except duckdb.IOException as exc:
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

    def load_batch(self, batch_id: str, files: Iterable[StagedFile]) -> LoadResult:
        """Load the stage files of one batch in one transaction."""
        result = LoadResult(batch_id)
        loaded_at = datetime.now(UTC).replace(tzinfo=None)
        by_source = {t.source: t.raw_table for t in TOPICS.values()}
        by_source[QUARANTINE_SOURCE] = QUARANTINE_TABLE
        con = self.con
        con.execute("begin transaction")
        try:
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
                inserted = self._insert_file(table, staged, batch_id, loaded_at)
                result.inserted[table] = result.inserted.get(table, 0) + inserted
                result.already_loaded += staged.rows - inserted
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
    ) -> int:
        quarantine = table == QUARANTINE_TABLE
        columns = _QUARANTINE_READ_COLUMNS if quarantine else _EVENT_READ_COLUMNS
        body = "s.reason, s.raw_text, s.raw_base64" if quarantine else "s.payload"
        # A position can only be in raw already if its offset lies in this file's offset range:
        # the check scans that range (pruned by zone maps), not the whole table, as raw grows.
        if staged.min_offset is not None and staged.max_offset is not None:
            in_range = "r._offset between ? and ?"
            bounds = [staged.min_offset, staged.max_offset]
        else:
            in_range, bounds = "true", []
        sql = f"""
            insert into raw.{table}
            with s as (
                select * from read_json(?, format = 'newline_delimited', columns = {columns})
            )
            select
                s.source_position,
                s.topic,
                s.partition,
                s."offset",
                s.key,
                case when s.kafka_timestamp_ms is not null
                     then make_timestamp(s.kafka_timestamp_ms * 1000) end,
                ?::timestamp,
                ?,
                ?,
                {body}
            from s
            where not exists (
                select 1
                from raw.{table} as r
                where {in_range}
                  and r._source_position = s.source_position
            )
        """
        row = self.con.execute(
            sql, [str(staged.path), loaded_at, batch_id, str(staged.path), *bounds]
        ).fetchone()
        return int(row[0]) if row else 0


class WarehouseError(RuntimeError):
    pass
