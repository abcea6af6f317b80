"""Delivery of generated events: emission delays, out-of-order delivery and dirt.

The company simulation produces the *true* history in effective-time order. A `TopicSink` turns
it into what a consumer would receive: each event is emitted after its effective time (seconds
normally, 1–30 days for HR corrections, more for a few), delivered with jitter (Kafka orders only
within a partition), re-delivered (exact duplicates), retried with a new event id (semantic
duplicates), and sprinkled with malformed and invalid messages. A heap keyed by delivery time
keeps memory bounded by the backdating horizon, not by the size of the company.
"""

from __future__ import annotations

import heapq
import random
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import IO

import orjson

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
ONE_MICROSECOND = timedelta(microseconds=1)
# Separates a tagged line's delivery instant, sequence number and message (orjson escapes
# control characters inside strings, so no message holds one).
TAG_SEPARATOR = b"\x1f"


def iso(ts: datetime) -> str:
    return ts.strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True)
class Dirt:
    """Per-event probabilities of each kind of dirt (Admin Service defaults)."""

    exact_duplicate: float = 0.02
    semantic_duplicate: float = 0.01
    backdated: float = 0.03
    beyond_window: float = 0.0005
    malformed: float = 0.0002
    unknown_type: float = 0.0002
    missing_key: float = 0.0002
    bad_timestamp: float = 0.0001
    extra_field: float = 0.01
    delivery_jitter_s: int = 120


class TopicSink:
    """Collects one topic's events and writes them in delivery order."""

    def __init__(
        self,
        path: Path,
        rnd: random.Random,
        dirt: Dirt,
        *,
        id_field: str,
        time_field: str,
        emitted_field: str | None,
        history_end: datetime,
        tagged: bool = False,
    ) -> None:
        self.path = path
        self.rnd = rnd
        self.dirt = dirt
        self.id_field = id_field
        self.time_field = time_field
        self.emitted_field = emitted_field
        self.history_end = history_end
        # Tagged: each line is written as `<delivery µs>\x1f<sequence>\x1f<message>`, for the bulk
        # generator to merge with its own messages in delivery order.
        self.tagged = tagged
        self.heap: list[tuple[datetime, int, bytes]] = []
        self.seq = 0
        self.stats: Counter[str] = Counter()
        self.fh: IO[bytes] = open(path, "wb")  # noqa: SIM115 - closed in close()

    # -- emission ---------------------------------------------------------------------------

    def _push(self, deliver_at: datetime, line: bytes) -> None:
        self.seq += 1
        heapq.heappush(self.heap, (deliver_at, self.seq, line))

    def _delay(self, effective_at: datetime) -> timedelta:
        """How long after the business instant the source emitted the event."""
        r = self.rnd.random()
        room = self.history_end - effective_at
        if r < self.dirt.beyond_window and room > timedelta(days=121):
            self.stats["beyond_window"] += 1
            return timedelta(days=self.rnd.uniform(31, 120))
        if r < self.dirt.beyond_window + self.dirt.backdated and room > timedelta(days=31):
            self.stats["backdated"] += 1
            return timedelta(days=self.rnd.uniform(1, 30))
        return timedelta(seconds=self.rnd.uniform(1, 300))

    def emit(
        self,
        event: dict,
        effective_at: datetime,
        *,
        new_id: str | None = None,
        emitted_after: datetime | None = None,
    ) -> datetime:
        """Deliver one true event (and maybe its duplicates); return when the source emitted it.

        `emitted_after` keeps the source's own order for events of one transaction at the same
        effective instant (a close, then the new team): the source emits them one after another.
        """
        rnd = self.rnd
        emitted = effective_at + (
            self._delay(effective_at)
            if self.emitted_field
            else timedelta(seconds=rnd.uniform(1, 30))
        )
        if emitted_after is not None:
            emitted = max(emitted, emitted_after + timedelta(seconds=1))
        if self.emitted_field:
            event[self.emitted_field] = iso(emitted)
        if rnd.random() < self.dirt.extra_field:
            event["source_system"] = "workday"
            self.stats["extra_field"] += 1
        line = orjson.dumps(event) + b"\n"
        deliver = emitted + timedelta(seconds=rnd.uniform(0, self.dirt.delivery_jitter_s))
        self._push(deliver, line)
        self.stats["events"] += 1
        if rnd.random() < self.dirt.exact_duplicate:
            self.stats["exact_duplicates"] += 1
            self._push(deliver + timedelta(minutes=rnd.uniform(1, 60 * 24 * 3)), line)
        if new_id is not None and rnd.random() < self.dirt.semantic_duplicate:
            self.stats["semantic_duplicates"] += 1
            retry = dict(event)
            retry[self.id_field] = new_id
            retried_at = emitted + timedelta(seconds=rnd.uniform(1, 90))
            if self.emitted_field:
                retry[self.emitted_field] = iso(retried_at)
            self._push(retried_at, orjson.dumps(retry) + b"\n")
        return emitted

    def emit_raw(self, line: bytes, deliver_at: datetime, kind: str) -> None:
        """Deliver a message that is dirt on purpose (malformed or invalid)."""
        self.stats[kind] += 1
        self._push(deliver_at, line if line.endswith(b"\n") else line + b"\n")

    # -- delivery ---------------------------------------------------------------------------

    def flush_until(self, until: datetime) -> None:
        """Write every message delivered before `until` (later events cannot precede them)."""
        heap, write = self.heap, self.fh.write
        while heap and heap[0][0] < until:
            deliver_at, seq, line = heapq.heappop(heap)
            if self.tagged:
                us = (deliver_at - EPOCH) // ONE_MICROSECOND
                write(b"%d%s%d%s%s" % (us, TAG_SEPARATOR, seq, TAG_SEPARATOR, line))
            else:
                write(line)
            self.stats["messages"] += 1

    def close(self) -> None:
        self.flush_until(datetime.max.replace(tzinfo=UTC))
        self.fh.close()
