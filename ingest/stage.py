"""The warehouse stage: gzip'd NDJSON files laid out like an object store.

`<stage>/<source>/<yyyy>/<mm>/<dd>/<batch_id>.ndjson.gz` — the same files are loaded into DuckDB
here and PUT + COPY'd into Snowflake, so the stage is the one durable hand-off between
extractors and the warehouse. A file is written to a temporary name, fsync'd and renamed, so
a file that exists is complete.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import uuid
import zlib
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path


class StageWriteError(RuntimeError):
    """A stage file could not be written (disk full, permissions): names the path, leaves no
    temporary file behind, so the next attempt starts clean."""


@dataclass(frozen=True)
class StagedFile:
    source: str  # stage folder: a topic's source, or "quarantine"
    path: Path
    sha256: str
    rows: int
    # Offset (or line number) bounds of the file's rows: the raw loader's idempotency check
    # only needs to look at raw rows in this range.
    min_offset: int | None = None
    max_offset: int | None = None
    # (position prefix, min offset, max offset) of every run of rows in the file, when known:
    # lets the DuckDB loader see, without reading the file, that raw cannot hold any of its
    # positions yet (the common case), and skip the per-row idempotency check.
    position_ranges: tuple[tuple[str, int, int], ...] = ()


# The fastest deflate level: the stage is written once and read once per warehouse.
STAGE_COMPRESSLEVEL = 1


def new_batch_id(now: datetime | None = None) -> str:
    now = now or datetime.now(UTC)
    return f"{now:%Y%m%dT%H%M%S}Z-{uuid.uuid4().hex[:12]}"


def batch_date(batch_id: str) -> tuple[str, str, str]:
    return batch_id[0:4], batch_id[4:6], batch_id[6:8]


def write_stage_file(
    stage_dir: Path,
    source: str,
    batch_id: str,
    lines: list[bytes],
    offsets: tuple[int | None, int | None] = (None, None),
    position_ranges: tuple[tuple[str, int, int], ...] = (),
) -> StagedFile:
    """Write one batch of one source durably and return its location and checksum."""
    return write_stage_data(
        stage_dir, source, batch_id, b"".join(lines), len(lines), offsets, position_ranges
    )


def write_stage_data(
    stage_dir: Path,
    source: str,
    batch_id: str,
    data: bytes,
    rows: int,
    offsets: tuple[int | None, int | None] = (None, None),
    position_ranges: tuple[tuple[str, int, int], ...] = (),
) -> StagedFile:
    """`write_stage_file` for lines already joined (`rows` of them, each ending in a newline)."""
    # One compress call over the whole batch at the fastest deflate level (zlib releases the
    # GIL, so the next batch is encoded meanwhile); per-line gzip writes cost more than the
    # Kafka consume. Snowflake's PUT takes the file as it is (source_compression = gzip).
    compressed = gzip.compress(data, compresslevel=STAGE_COMPRESSLEVEL, mtime=0)
    return write_stage_gzip(stage_dir, source, batch_id, compressed, rows, offsets, position_ranges)


def stage_compressor() -> zlib._Compress:
    """A streaming compressor whose output, fed a batch's lines in any number of pieces and
    then flushed, is byte for byte `gzip.compress(lines, STAGE_COMPRESSLEVEL, mtime=0)`: lets
    an extractor compress a batch (outside the GIL) while it is still encoding it."""
    return zlib.compressobj(STAGE_COMPRESSLEVEL, zlib.DEFLATED, 31)


def write_stage_gzip(
    stage_dir: Path,
    source: str,
    batch_id: str,
    data: bytes,
    rows: int,
    offsets: tuple[int | None, int | None] = (None, None),
    position_ranges: tuple[tuple[str, int, int], ...] = (),
) -> StagedFile:
    """`write_stage_data` for lines already gzip'd (`stage_compressor`, `gzip.compress`)."""
    yyyy, mm, dd = batch_date(batch_id)
    folder = Path(stage_dir) / source / yyyy / mm / dd
    path = folder / f"{batch_id}.ndjson.gz"
    tmp = path.with_suffix(".tmp")
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with open(tmp, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
        dir_fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
    except OSError as exc:
        # A partial temporary file would fill the disk further and confuse operators.
        tmp.unlink(missing_ok=True)
        reason = exc.strerror or str(exc)
        raise StageWriteError(
            f"cannot write stage file {path} ({len(data):,} bytes): {reason}"
        ) from exc
    sha = hashlib.sha256(data).hexdigest()
    return StagedFile(source, path, sha, rows, *offsets, position_ranges=position_ranges)
