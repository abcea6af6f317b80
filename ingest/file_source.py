"""Replay JSONL files through the same stage → raw path as Kafka (backfills, replays, tests).

A line's position is `file:<sha256 of the file>/<line number>`, so ingesting the same file again
inserts nothing (and writes no stage file: a batch raw already holds is skipped before staging),
while a corrected file (new checksum) lands as new rows next to the old ones. A directory stands
for its `*.jsonl` files in name order; a UTF-8 byte-order mark at the start of a file (Windows
exports) is not part of the first event.
"""

from __future__ import annotations

import codecs
import hashlib
from collections.abc import Iterator, Sequence
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


def expand_paths(paths: Sequence[Path | str]) -> list[Path]:
    """Files as given; a directory as its `*.jsonl` files, sorted by name (a replay folder)."""
    out: list[Path] = []
    for given in map(Path, paths):
        if given.is_dir():
            found = sorted(p for p in given.glob("*.jsonl") if p.is_file())
            if not found:
                raise SourceFileError(f"cannot read {given}: a directory with no *.jsonl files")
            out.extend(found)
        elif given.is_file():
            out.append(given)
        elif given.exists():
            raise SourceFileError(f"cannot read {given}: not a regular file")
        else:
            raise SourceFileError(f"cannot read {given}: no such file or directory")
    return out


def iter_file_messages(path: Path, topic: str) -> Iterator[SourceMessage]:
    """Yield one message per non-blank line; blank lines carry no data and are not messages."""
    get_topic(topic)
    sha = file_sha256(path)
    with open(path, "rb") as fh:
        for lineno, raw in enumerate(fh, start=1):
            value = raw.rstrip(b"\r\n")
            if lineno == 1 and value.startswith(codecs.BOM_UTF8):
                value = value[len(codecs.BOM_UTF8) :]
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
    # Messages of batches raw already held in full: not staged again.
    already_loaded: int = 0

    @property
    def messages(self) -> int:
        return sum(b.messages for b in self.batches) + self.already_loaded

    @property
    def quarantined(self) -> int:
        return sum(b.quarantined for b in self.batches)

    @property
    def rows_inserted(self) -> int:
        return sum(b.rows_inserted for b in self.batches)


def _land_or_skip(
    batch: list[SourceMessage], topic: str, settings: Settings, wh: Warehouse
) -> LandResult | None:
    """Land a batch, unless raw already holds every line of it (a replayed file)."""
    prefix = batch[0].source_position.rsplit("/", 1)[0] + "/"
    lines = [m.offset for m in batch if m.offset is not None]
    if wh.count_positions(topic, prefix, min(lines), max(lines)) == len(batch):
        return None
    return land_batch(batch, settings, wh)


def ingest_files(
    paths: Sequence[Path | str],
    topic: str,
    settings: Settings,
    warehouse: Warehouse | None = None,
) -> FileIngestResult:
    result = FileIngestResult()
    files = expand_paths(paths)
    own = warehouse is None
    wh = warehouse or Warehouse(settings.warehouse_path)
    try:
        for path in files:
            batch: list[SourceMessage] = []
            for msg in iter_file_messages(path, topic):
                batch.append(msg)
                if len(batch) >= settings.batch_max_messages:
                    _record(result, batch, _land_or_skip(batch, topic, settings, wh))
                    batch = []
            if batch:
                _record(result, batch, _land_or_skip(batch, topic, settings, wh))
    finally:
        if own:
            wh.close()
    return result


def _record(
    result: FileIngestResult, batch: list[SourceMessage], landed: LandResult | None
) -> None:
    if landed is None:
        result.already_loaded += len(batch)
    else:
        result.batches.append(landed)
