"""Land a batch of source messages: decode, write to the stage, load into raw.

Kafka and file ingestion both call `land_batch`, so a replayed file takes exactly the path a
live message takes. The function returns only after the raw transaction committed; callers
that track positions (Kafka offsets) may advance them then and not before.

A batch comes as `SourceMessage`s (one object per message: tests, small callers) or, from the
extractors, as `MessageRun`s: the messages of one Kafka partition or one file, as parallel
lists of offsets and values, so that Python builds no object per message. Either way the stage
lines are the same bytes (`ingest.envelope.encode_run` is `decode` for a run). `encode_batch`
is the CPU-bound half and `land_batch` of an `EncodedBatch` the half that waits on gzip, the
disk and the warehouse (all outside the GIL), so an extractor can encode the next batch while
the previous one lands. A `StreamingBatch` goes one step further for one long run (a file's
batch): its stage lines are gzip'd piece by piece on a compressor thread while the rest of the
batch is still being encoded, and `land_batch` of the resulting `CompressedBatch` only writes
and loads. The stage files are the same bytes either way.
"""

from __future__ import annotations

import gzip
from collections.abc import Sequence
from concurrent.futures import Executor, Future
from dataclasses import dataclass, field

from ingest.envelope import SourceMessage, decode, encode_run
from ingest.settings import Settings
from ingest.stage import (
    STAGE_COMPRESSLEVEL,
    StagedFile,
    new_batch_id,
    stage_compressor,
    write_stage_data,
    write_stage_gzip,
)
from ingest.topics import QUARANTINE_SOURCE, get_topic
from ingest.warehouse import LoadResult, Warehouse


@dataclass
class LandResult:
    batch_id: str
    messages: int
    quarantined: int
    staged_files: list[StagedFile] = field(default_factory=list)
    load: LoadResult | None = None

    @property
    def rows_inserted(self) -> int:
        return self.load.rows_inserted if self.load else 0


@dataclass(slots=True)
class MessageRun:
    """Messages of one topic whose positions are `prefix + offset`: a Kafka partition's
    messages in one batch (`kafka:<cluster>/<topic>/<topic id>/<partition>/`) or a file's
    lines (`file:<sha256>/`). `keys` and `timestamps` None: null in every message (files)."""

    topic: str
    prefix: str
    partition: int | None
    offsets: list[int]
    values: list[bytes | None]
    keys: list[bytes | None] | None = None
    timestamps: list[int | None] | None = None


@dataclass
class EncodedBatch:
    """A batch turned into stage lines, per stage folder (a topic's source, or quarantine)."""

    messages: int
    quarantined: int = 0
    lines: dict[str, list[bytes]] = field(default_factory=dict)
    offsets: dict[str, list[int]] = field(default_factory=dict)  # min/max candidates
    # (prefix, min offset, max offset) per run and folder; absent for `SourceMessage` batches.
    ranges: dict[str, list[tuple[str, int, int]]] = field(default_factory=dict)


@dataclass
class CompressedBatch:
    """A batch already turned into gzip'd stage files' contents, per stage folder (a
    `StreamingBatch`): `stage_batch` only writes them."""

    messages: int
    quarantined: int
    gzipped: dict[str, bytes]
    rows: dict[str, int]
    offsets: dict[str, tuple[int, int]]
    ranges: dict[str, tuple[tuple[str, int, int], ...]]


class StreamingBatch:
    """One run of messages (a file's batch) encoded piece by piece, each piece's stage lines
    handed to `compressor` (a one-thread executor: pieces are compressed in order, outside the
    GIL) while the next piece is encoded. `finish` is the batch as `encode_batch` of the whole
    run would give it, compressed: the same stage bytes."""

    def __init__(self, topic: str, prefix: str, partition: int | None, compressor: Executor):
        self.topic, self.prefix, self.partition = topic, prefix, partition
        self.source = get_topic(topic).source
        self.compressor = compressor
        self.messages = 0
        self.rows = 0
        self.lo: int | None = None
        self.hi: int | None = None
        self.pieces: list[Future[bytes]] | None = []
        self._gzip = None
        self._sealed = False
        self.quarantined: list[bytes] = []
        self.quarantined_offsets: list[int] = []

    def add(self, offsets: list[int], values: list[bytes | None]) -> None:
        """Encode the next messages of the run (offsets ascending, as in a file)."""
        if self._sealed or self.pieces is None:
            raise RuntimeError("a sealed StreamingBatch takes no more messages")
        if not offsets:
            return
        out = encode_run(self.topic, self.prefix, self.partition, offsets, values)
        self.messages += len(offsets)
        self.lo = offsets[0] if self.lo is None else min(self.lo, offsets[0])
        self.hi = offsets[-1] if self.hi is None else max(self.hi, offsets[-1])
        if out.ok:
            if self._gzip is None:
                self._gzip = stage_compressor()
            self.rows += len(out.ok)
            self.pieces.append(self.compressor.submit(self._gzip.compress, b"".join(out.ok)))
        if out.quarantined:
            self.quarantined.extend(out.quarantined)
            self.quarantined_offsets.extend(out.quarantined_offsets)

    def seal(self) -> None:
        """No more messages: queue the end of the compressed stream now, so that the next
        batch's pieces queue behind it, not before it."""
        if self._gzip is not None and not self._sealed and self.pieces is not None:
            self.pieces.append(self.compressor.submit(self._gzip.flush))
            self._sealed = True

    def finish(self) -> CompressedBatch:
        """The batch's stage files' contents (once); waits for the compressor to get through it."""
        if self.pieces is None:
            raise RuntimeError("a StreamingBatch is finished once")
        self.seal()
        batch = CompressedBatch(self.messages, len(self.quarantined), {}, {}, {}, {})
        if self._gzip is not None and self.lo is not None and self.hi is not None:
            source = self.source
            batch.gzipped[source] = b"".join(piece.result() for piece in self.pieces)
            batch.rows[source] = self.rows
            # The run's bounds (a superset when some of it went to quarantine), as
            # `_encode_runs` gives them.
            batch.offsets[source] = (self.lo, self.hi)
            batch.ranges[source] = ((self.prefix, self.lo, self.hi),)
        if self.quarantined:
            lo, hi = min(self.quarantined_offsets), max(self.quarantined_offsets)
            batch.gzipped[QUARANTINE_SOURCE] = gzip.compress(
                b"".join(self.quarantined), compresslevel=STAGE_COMPRESSLEVEL, mtime=0
            )
            batch.rows[QUARANTINE_SOURCE] = len(self.quarantined)
            batch.offsets[QUARANTINE_SOURCE] = (lo, hi)
            batch.ranges[QUARANTINE_SOURCE] = ((self.prefix, lo, hi),)
        self.pieces = None
        return batch


Batch = Sequence[SourceMessage] | Sequence[MessageRun] | EncodedBatch | CompressedBatch


def encode_batch(batch: Batch) -> EncodedBatch:
    """Decode every message of a batch into its stage line (or quarantine line)."""
    if isinstance(batch, EncodedBatch):
        return batch
    if isinstance(batch, CompressedBatch):
        raise TypeError("a CompressedBatch is past encoding: stage or land it")
    if batch and isinstance(batch[0], MessageRun):
        return _encode_runs(batch)  # type: ignore[arg-type]
    encoded = EncodedBatch(len(batch))
    lines, offsets = encoded.lines, encoded.offsets
    for msg in batch:
        decoded = decode(msg)  # type: ignore[arg-type]
        if decoded.ok:
            source = get_topic(msg.topic).source  # type: ignore[union-attr]
        else:
            source = QUARANTINE_SOURCE
            encoded.quarantined += 1
        lines.setdefault(source, []).append(decoded.line)
        if msg.offset is not None:  # type: ignore[union-attr]
            offsets.setdefault(source, []).append(msg.offset)  # type: ignore[union-attr]
    return encoded


def _encode_runs(runs: Sequence[MessageRun]) -> EncodedBatch:
    encoded = EncodedBatch(sum(len(r.offsets) for r in runs))
    for run in runs:
        if not run.offsets:
            continue
        source = get_topic(run.topic).source
        out = encode_run(
            run.topic,
            run.prefix,
            run.partition,
            run.offsets,
            run.values,
            run.keys,
            run.timestamps,
        )
        if out.ok:
            # The run's bounds (a superset when some of it went to quarantine): enough to
            # bound the loader's position check.
            lo, hi = min(run.offsets), max(run.offsets)
            encoded.lines.setdefault(source, []).extend(out.ok)
            encoded.offsets.setdefault(source, []).extend((lo, hi))
            encoded.ranges.setdefault(source, []).append((run.prefix, lo, hi))
        if out.quarantined:
            lo, hi = min(out.quarantined_offsets), max(out.quarantined_offsets)
            encoded.quarantined += len(out.quarantined)
            encoded.lines.setdefault(QUARANTINE_SOURCE, []).extend(out.quarantined)
            encoded.offsets.setdefault(QUARANTINE_SOURCE, []).extend((lo, hi))
            encoded.ranges.setdefault(QUARANTINE_SOURCE, []).append((run.prefix, lo, hi))
    return encoded


def stage_batch(
    messages: Batch, settings: Settings, batch_id: str | None = None
) -> tuple[str, list[StagedFile], int]:
    """Decode and write one stage file per source (plus one for quarantine)."""
    batch_id = batch_id or new_batch_id()
    if isinstance(messages, CompressedBatch):
        files = [
            write_stage_gzip(
                settings.stage_dir,
                source,
                batch_id,
                data,
                messages.rows[source],
                messages.offsets[source],
                messages.ranges[source],
            )
            for source, data in sorted(messages.gzipped.items())
        ]
        return batch_id, files, messages.quarantined
    encoded = encode_batch(messages)
    files = []
    for source, source_lines in sorted(encoded.lines.items()):
        offsets = encoded.offsets.get(source)
        files.append(
            write_stage_data(
                settings.stage_dir,
                source,
                batch_id,
                b"".join(source_lines),
                len(source_lines),
                (min(offsets), max(offsets)) if offsets else (None, None),
                tuple(encoded.ranges.get(source, ())),
            )
        )
    return batch_id, files, encoded.quarantined


def land_batch(messages: Batch, settings: Settings, warehouse: Warehouse) -> LandResult:
    encoded = messages if isinstance(messages, CompressedBatch) else encode_batch(messages)
    batch_id, files, quarantined = stage_batch(encoded, settings)
    result = LandResult(batch_id, encoded.messages, quarantined, files)
    if files:
        result.load = warehouse.load_batch(batch_id, files)
    return result
