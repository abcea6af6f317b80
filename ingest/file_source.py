"""Replay JSONL files through the same stage → raw path as Kafka (backfills, replays, tests).

A line's position is `file:<sha256 of the file>/<line number>`, so ingesting the same file again
inserts nothing, while a corrected file (new checksum) lands as new rows next to the old ones.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from ingest.envelope import SourceMessage
from ingest.landing import LandResult, land_batch
from ingest.settings import Settings
from ingest.topics import get_topic
from ingest.warehouse import Warehouse


class SourceFileError(RuntimeError):
    pass


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    try:
        with open(path, "rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                digest.update(chunk)
    except OSError as exc:
        raise SourceFileError(f"cannot read {path}: {exc.strerror or exc}") from exc
    return digest.hexdigest()


def iter_file_messages(path: Path, topic: str) -> Iterator[SourceMessage]:
    """Yield one message per non-blank line; blank lines carry no data and are not messages."""
    get_topic(topic)
    sha = file_sha256(path)
    with open(path, "rb") as fh:
        for lineno, raw in enumerate(fh, start=1):
            value = raw.rstrip(b"\r\n")
            if not value.strip():
                continue
            yield SourceMessage(
                source_position=f"file:{sha}/{lineno}",
                topic=topic,
                partition=None,
                offset=lineno,
                key=None,
                timestamp_ms=None,
                value=value,
            )


@dataclass
class FileIngestResult:
    batches: list[LandResult] = field(default_factory=list)

    @property
    def messages(self) -> int:
        return sum(b.messages for b in self.batches)

    @property
    def quarantined(self) -> int:
        return sum(b.quarantined for b in self.batches)

    @property
    def rows_inserted(self) -> int:
        return sum(b.rows_inserted for b in self.batches)


def ingest_files(
    paths: list[Path], topic: str, settings: Settings, warehouse: Warehouse | None = None
) -> FileIngestResult:
    result = FileIngestResult()
    own = warehouse is None
    wh = warehouse or Warehouse(settings.warehouse_path)
    try:
        for path in paths:
            batch: list[SourceMessage] = []
            for msg in iter_file_messages(Path(path), topic):
                batch.append(msg)
                if len(batch) >= settings.batch_max_messages:
                    result.batches.append(land_batch(batch, settings, wh))
                    batch = []
            if batch:
                result.batches.append(land_batch(batch, settings, wh))
    finally:
        if own:
            wh.close()
    return result
