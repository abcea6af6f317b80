"""Land a batch of source messages: decode, write to the stage, load into raw.

Kafka and file ingestion both call `land_batch`, so a replayed file takes exactly the path a
live message takes. The function returns only after the raw transaction committed; callers
that track positions (Kafka offsets) may advance them then and not before.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from ingest.envelope import SourceMessage, decode
from ingest.settings import Settings
from ingest.stage import StagedFile, new_batch_id, write_stage_file
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


def stage_batch(
    messages: Sequence[SourceMessage], settings: Settings, batch_id: str | None = None
) -> tuple[str, list[StagedFile], int]:
    """Decode and write one stage file per source (plus one for quarantine)."""
    batch_id = batch_id or new_batch_id()
    lines: dict[str, list[bytes]] = {}
    offsets: dict[str, list[int]] = {}
    quarantined = 0
    for msg in messages:
        decoded = decode(msg)
        if decoded.ok:
            source = get_topic(msg.topic).source
        else:
            source = QUARANTINE_SOURCE
            quarantined += 1
        lines.setdefault(source, []).append(decoded.line)
        if msg.offset is not None:
            offsets.setdefault(source, []).append(msg.offset)
    files = [
        write_stage_file(
            settings.stage_dir,
            source,
            batch_id,
            source_lines,
            (min(offsets[source]), max(offsets[source])) if source in offsets else (None, None),
        )
        for source, source_lines in sorted(lines.items())
    ]
    return batch_id, files, quarantined


def land_batch(
    messages: Sequence[SourceMessage], settings: Settings, warehouse: Warehouse
) -> LandResult:
    batch_id, files, quarantined = stage_batch(messages, settings)
    result = LandResult(batch_id, len(messages), quarantined, files)
    if files:
        result.load = warehouse.load_batch(batch_id, files)
    return result
