"""Replay JSONL files through the same stage → raw path as Kafka (backfills, replays, tests).

A line's position is `file:<sha256 of the file>/<line number>`, so ingesting the same file again
inserts nothing (and writes no stage file: a batch raw already holds is skipped before staging),
while a corrected file (new checksum) lands as new rows next to the old ones. A directory stands
for its `*.jsonl` files in name order; a UTF-8 byte-order mark at the start of a file (Windows
exports) is not part of the first event. A `.jsonl.gz` or `.jsonl.zst` file (one or more frames,
as `revops generate --scale large` writes) is read decompressed; its position names the
compressed file's checksum and the decompressed line.

A file raw holds nothing of yet (the common case) is landed as a pipeline: the file is read in
large blocks and split into lines in one call per block; a batch is encoded (Python) piece by
piece, each piece gzip'd on its own thread while the next is encoded, and the previous batch is
written and loaded (the disk and the warehouse, outside the GIL) meanwhile, one batch landing
at a time, in order. A file raw already holds some lines of goes batch by batch, each checked
before it is encoded or staged.
"""

from __future__ import annotations

import codecs
import gzip
import hashlib
import io
from collections.abc import Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

import zstandard

from ingest.envelope import SourceMessage
from ingest.landing import LandResult, MessageRun, StreamingBatch, land_batch
from ingest.settings import Settings
from ingest.topics import get_topic
from ingest.warehouse import Warehouse, open_warehouse


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


SOURCE_SUFFIXES = (".jsonl", ".jsonl.gz", ".jsonl.zst")


def is_compressed(path: Path) -> bool:
    return path.suffix in (".gz", ".zst")


def open_source(path: Path) -> BinaryIO:
    """The file's bytes, decompressed if its name ends in `.gz` or `.zst`."""
    if path.suffix == ".gz":
        return gzip.open(path, "rb")  # type: ignore[return-value]
    raw = open(path, "rb")  # noqa: SIM115 - the caller closes the reader, which closes it
    if path.suffix == ".zst":
        return io.BufferedReader(_ZstdFrames(raw), 1 << 20)
    return raw


class _ZstdFrames(io.RawIOBase):
    """One or more concatenated zstd frames, decompressed; a file that ends inside a frame is
    an error, not a shorter file (zstandard's stream reader returns what it has)."""

    def __init__(self, raw: BinaryIO) -> None:
        self.raw = raw
        self.frame = zstandard.ZstdDecompressor().decompressobj()
        self.in_frame = False
        self.pending = b""
        self.taken = 0  # bytes of `pending` already handed out

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:  # type: ignore[no-untyped-def, override]
        while self.taken == len(self.pending):
            self.pending, self.taken = b"", 0
            chunk = self.raw.read(1 << 20)
            if not chunk:
                if self.in_frame:
                    raise zstandard.ZstdError("the file ends inside a zstd frame")
                return 0
            while chunk:
                self.in_frame = True
                self.pending += self.frame.decompress(chunk)
                chunk = b""
                if self.frame.eof:  # a frame ended: the rest of the chunk starts the next one
                    chunk = self.frame.unused_data
                    self.frame = zstandard.ZstdDecompressor().decompressobj()
                    self.in_frame = False
        n = min(len(buffer), len(self.pending) - self.taken)
        buffer[:n] = memoryview(self.pending)[self.taken : self.taken + n]
        self.taken += n
        return n

    def close(self) -> None:
        self.raw.close()
        super().close()


@contextmanager
def _reading(path: Path) -> Iterator[BinaryIO]:
    """`open_source`, with a damaged compressed file as one clear error (the lines read before
    the damage have landed; a rerun after repair skips them by position)."""
    try:
        with open_source(path) as fh:
            yield fh
    except (zstandard.ZstdError, gzip.BadGzipFile, EOFError) as exc:
        raise SourceFileError(f"cannot read {path}: damaged compressed data ({exc})") from exc


def expand_paths(paths: Sequence[Path | str]) -> list[Path]:
    """Files as given; a directory as its `*.jsonl` files (`.gz`, `.zst` too), sorted by name
    (a replay folder)."""
    out: list[Path] = []
    for given in map(Path, paths):
        if given.is_dir():
            found = sorted(
                p for p in given.iterdir() if p.name.endswith(SOURCE_SUFFIXES) and p.is_file()
            )
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
    with _reading(path) as fh:
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


# Bytes read at a time: lines are split out of large blocks (one C call), not read one by one.
READ_BLOCK = 8 << 20


def _file_blocks(fh: BinaryIO) -> Iterator[tuple[list[bytes], bool]]:
    """The file's lines without their newlines, block by block, as `for line in fh` gives
    them (a last line without a newline included), each block's with whether any holds a CR."""
    rest = b""
    while True:
        block = fh.read(READ_BLOCK)
        if not block:
            if rest:
                yield [rest], b"\r" in rest
            return
        lines = block.split(b"\n")
        has_cr = b"\r" in block or b"\r" in rest
        lines[0] = rest + lines[0]
        rest = lines.pop()  # the line the next block goes on with (b"" after a newline)
        if lines:
            yield lines, has_cr


def iter_file_runs(path: Path, topic: str, batch_size: int) -> Iterator[MessageRun]:
    """The file's messages (`iter_file_messages`) as runs of at most `batch_size` lines,
    without an object per line: the same lines, line numbers and byte-order-mark rule."""
    get_topic(topic)
    prefix = f"file:{file_sha256(path)}/"
    lineno = 0  # lines read so far (blank ones included: positions are line numbers)
    offsets: list[int] = []
    values: list[bytes] = []
    with _reading(path) as fh:
        for lines, has_cr in _file_blocks(fh):
            if has_cr:
                lines = [raw.rstrip(b"\r\n") for raw in lines]
            if lineno == 0 and lines[0].startswith(codecs.BOM_UTF8):
                lines[0] = lines[0][len(codecs.BOM_UTF8) :]
            first = lineno + 1
            lineno += len(lines)
            if b"" in lines or any(map(bytes.isspace, lines)):
                # blank lines carry no data and are not messages
                numbered = [(n, v) for n, v in enumerate(lines, start=first) if v.strip()]
                block_offsets: Sequence[int] = [n for n, _ in numbered]
                lines = [v for _, v in numbered]
            else:
                block_offsets = range(first, lineno + 1)
            taken = 0
            while taken < len(lines):
                room = batch_size - len(values)
                offsets.extend(block_offsets[taken : taken + room])
                values.extend(lines[taken : taken + room])
                taken += room
                if len(values) == batch_size:
                    yield MessageRun(topic, prefix, None, offsets, values)
                    offsets, values = [], []
    if values:
        yield MessageRun(topic, prefix, None, offsets, values)


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


def _land_or_skip(run: MessageRun, settings: Settings, wh: Warehouse) -> LandResult | None:
    """Land a batch, unless raw already holds every line of it (a replayed file)."""
    known = wh.count_positions(run.topic, run.prefix, run.offsets[0], run.offsets[-1])
    if known == len(run.offsets):
        return None
    return land_batch([run], settings, wh)


def _ingest_file(
    path: Path, topic: str, settings: Settings, wh: Warehouse, result: FileIngestResult
) -> None:
    runs = iter_file_runs(path, topic, settings.batch_max_messages)
    first = next(runs, None)
    if first is None:
        return
    # Line numbers never exceed a plain file's size in bytes: the bound keeps the look cheap.
    bound = (1 << 62) if is_compressed(path) else path.stat().st_size + 1
    if wh.count_positions(topic, first.prefix, 1, bound):
        for run in _chain(first, runs):
            _record(result, len(run.offsets), _land_or_skip(run, settings, wh))
        return
    # Nothing of this file is in raw: no batch can be skipped, so none is checked, and the
    # warehouse is only used by the landing thread until the pipeline has drained. Three
    # stages, each batch in order: this thread reads and encodes, piece by piece; the gzip
    # thread compresses each piece as it comes; the landing thread writes the batch's stage
    # files and loads them, one batch at a time, while the next is read and compressed.
    with (
        ThreadPoolExecutor(max_workers=1, thread_name_prefix="revops-gzip") as compressor,
        ThreadPoolExecutor(max_workers=1, thread_name_prefix="revops-land") as lander,
    ):
        in_flight: tuple[int, Future[LandResult]] | None = None
        try:
            for run in _chain(first, runs):
                batch = StreamingBatch(run.topic, run.prefix, run.partition, compressor)
                for i in range(0, len(run.offsets), ENCODE_PIECE):
                    batch.add(run.offsets[i : i + ENCODE_PIECE], run.values[i : i + ENCODE_PIECE])
                batch.seal()
                if in_flight is not None:
                    _record(result, in_flight[0], in_flight[1].result())
                    in_flight = None
                in_flight = (
                    len(run.offsets),
                    lander.submit(_finish_and_land, batch, settings, wh),
                )
            if in_flight is not None:
                _record(result, in_flight[0], in_flight[1].result())
                in_flight = None
        finally:
            if in_flight is not None:  # an error here: let the batch landing now finish
                in_flight[1].exception()


# Messages encoded at a time: each piece's stage lines are compressed while the next is encoded.
ENCODE_PIECE = 16_384


def _finish_and_land(batch: StreamingBatch, settings: Settings, wh: Warehouse) -> LandResult:
    """On the landing thread: wait for the batch's compression, then write and load it."""
    return land_batch(batch.finish(), settings, wh)


def _chain(first: MessageRun, rest: Iterator[MessageRun]) -> Iterator[MessageRun]:
    yield first
    yield from rest


def ingest_files(
    paths: Sequence[Path | str],
    topic: str,
    settings: Settings,
    warehouse: Warehouse | None = None,
) -> FileIngestResult:
    result = FileIngestResult()
    files = expand_paths(paths)
    own = warehouse is None
    wh = warehouse or open_warehouse(settings)
    try:
        for path in files:
            _ingest_file(path, topic, settings, wh, result)
    finally:
        if own:
            wh.close()
    return result


def _record(result: FileIngestResult, messages: int, landed: LandResult | None) -> None:
    if landed is None:
        result.already_loaded += messages
    else:
        result.batches.append(landed)
