"""Kafka → stage → raw, at least once, offsets committed only after the raw load.

The loop reads large batches with `consume()`, lands each batch through `land_batch` (stage file
fsync'd, raw transaction committed) and only then commits the batch's offsets synchronously. A
crash anywhere before the commit re-delivers the batch, and the raw loader's position check turns
the re-delivery into a no-op, so raw never holds a position twice.

- Batches flush by size (`settings.batch_max_messages`) or age (`settings.batch_max_seconds`).
- Bounded mode (`until_idle`) records each assigned partition's high watermark when it is
  assigned and stops once every assigned partition has been read up to it (for schedulers).
- SIGTERM / SIGINT finish the current batch (land + commit) and stop.
- On a rebalance, what was read from revoked partitions is landed and committed before they go
  (a commit the group refuses by then is logged: the batch is landed, and the next owner's
  re-read is a no-op); partitions lost without a handover are landed, not committed.
- Undecodable messages are landed as quarantine rows like any other message, so a poison message
  never blocks its partition.
"""

from __future__ import annotations

import logging
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from confluent_kafka import OFFSET_INVALID, Consumer, KafkaException, TopicPartition

from ingest.envelope import SourceMessage
from ingest.landing import land_batch
from ingest.settings import Settings
from ingest.warehouse import Warehouse

log = logging.getLogger(__name__)

TopicPartitionKey = tuple[str, int]


class BrokerUnavailableError(RuntimeError):
    pass


@dataclass
class ConsumeResult:
    messages: int = 0
    batches: int = 0
    quarantined: int = 0
    rows_inserted: int = 0
    elapsed_s: float = 0.0
    stopped_by: str = ""

    @property
    def rate(self) -> float:
        return self.messages / self.elapsed_s if self.elapsed_s else 0.0

    def summary(self) -> str:
        return (
            f"consumed {self.messages:,} messages in {self.batches} batch(es) "
            f"({self.rate:,.0f} msg/s): {self.rows_inserted:,} new raw rows, "
            f"{self.quarantined:,} quarantined; stopped: {self.stopped_by}"
        )


def consumer_config(settings: Settings, bootstrap: str) -> dict:
    return {
        "bootstrap.servers": bootstrap,
        "group.id": settings.consumer_group,
        "enable.auto.commit": False,
        "enable.auto.offset.store": False,
        "auto.offset.reset": "earliest",
        "enable.partition.eof": False,
        # Large fetches: per-message overhead, not the network, bounds a Python consumer.
        "fetch.max.bytes": 64 * 1024 * 1024,
        "max.partition.fetch.bytes": 16 * 1024 * 1024,
        "queued.max.messages.kbytes": 1024 * 1024,
        "fetch.wait.max.ms": 100,
        "session.timeout.ms": 45_000,
        "max.poll.interval.ms": 600_000,
        **settings.extra_kafka_config,
    }


def _probe_broker(settings: Settings, bootstrap: str) -> None:
    """Fail fast, in one line, when the cluster cannot be reached (the probe's client is quiet:
    its connection errors would only repeat that line)."""
    probe = Consumer({**consumer_config(settings, bootstrap), "log_level": 0})
    try:
        probe.list_topics(timeout=5)
    except KafkaException as exc:
        raise BrokerUnavailableError(f"cannot reach Kafka at {bootstrap}: {exc.args[0]}") from exc
    finally:
        probe.close()


class _Run:
    """One consumer run: the state shared by the loop and the rebalance callbacks."""

    def __init__(
        self,
        settings: Settings,
        consumer: Consumer,
        warehouse: Warehouse,
        progress: Callable[[str], None] | None,
    ) -> None:
        self.settings = settings
        self.consumer = consumer
        self.warehouse = warehouse
        self.progress = progress
        self.result = ConsumeResult()
        self.pending: list[SourceMessage] = []
        self.next_offsets: dict[TopicPartitionKey, int] = {}  # of the pending batch
        self.read_to: dict[TopicPartitionKey, int] = {}  # next offset to read, per partition
        self.start_at: dict[TopicPartitionKey, int] = {}
        self.high_watermarks: dict[TopicPartitionKey, int] = {}
        self.assigned: set[TopicPartitionKey] = set()
        self.batch_started = time.monotonic()
        self.assigned_at: float | None = None
        # After a failure nothing more is landed: the uncommitted batch is simply re-delivered.
        self.failed = False

    def flush(self, *, commit: bool = True, tolerate_commit_failure: bool = False) -> None:
        """Land the pending batch, then (and only then) commit its offsets.

        In a rebalance the commit can fail because the partitions already moved on (the group is
        rebalancing, or they were lost). The batch is landed by then and the new owner re-reads
        from the last committed offset, which the raw position check makes a no-op: so there a
        failed commit is logged, not fatal.
        """
        if not self.pending:
            return
        landed = land_batch(self.pending, self.settings, self.warehouse)
        offsets = [TopicPartition(t, p, o) for (t, p), o in sorted(self.next_offsets.items())]
        try:
            if commit:
                self.consumer.commit(offsets=offsets, asynchronous=False)
        except KafkaException as exc:
            if not tolerate_commit_failure:
                raise
            log.warning("landed batch %s, but could not commit it: %s", landed.batch_id, exc)
        self.result.batches += 1
        self.result.quarantined += landed.quarantined
        self.result.rows_inserted += landed.rows_inserted
        if self.progress:
            self.progress(
                f"batch {landed.batch_id}: {len(self.pending):,} messages, "
                f"{landed.rows_inserted:,} new raw rows, {landed.quarantined:,} quarantined"
            )
        self.pending = []
        self.next_offsets = {}
        self.batch_started = time.monotonic()

    def on_assign(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        committed = {
            (tp.topic, tp.partition): tp.offset for tp in consumer.committed(partitions, timeout=10)
        }
        for tp in partitions:
            key = (tp.topic, tp.partition)
            low, high = consumer.get_watermark_offsets(tp, timeout=10, cached=False)
            start = committed.get(key, OFFSET_INVALID)
            self.start_at[key] = start if start >= 0 else low
            self.high_watermarks[key] = high
            self.assigned.add(key)
        self.assigned_at = time.monotonic()

    def on_revoke(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        if not self.failed:
            self.flush(tolerate_commit_failure=True)
        for tp in partitions:
            self.assigned.discard((tp.topic, tp.partition))

    def on_lost(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        """Partitions taken away without a handover: keep what was read, commit nothing."""
        if not self.failed:
            self.flush(commit=False)
        for tp in partitions:
            self.assigned.discard((tp.topic, tp.partition))

    def caught_up(self) -> bool:
        if not self.assigned:
            return False
        return all(
            max(self.read_to.get(key, -1), self.start_at.get(key, -1)) >= self.high_watermarks[key]
            for key in self.assigned
        )


def consume(
    settings: Settings,
    topics: list[str],
    bootstrap: str,
    *,
    until_idle: bool = False,
    max_messages: int | None = None,
    progress: Callable[[str], None] | None = None,
    warehouse: Warehouse | None = None,
    idle_timeout_s: float = 30.0,
    stop: threading.Event | None = None,
) -> ConsumeResult:
    """Consume `topics` into the stage and raw until stopped (see the module docstring)."""
    _probe_broker(settings, bootstrap)
    consumer = Consumer(consumer_config(settings, bootstrap))

    own_warehouse = warehouse is None
    wh = warehouse or Warehouse(settings.warehouse_path)
    run = _Run(settings, consumer, wh, progress)
    stop = stop or threading.Event()
    previous_handlers = {}
    if threading.current_thread() is threading.main_thread():
        for sig in (signal.SIGTERM, signal.SIGINT):
            previous_handlers[sig] = signal.signal(sig, lambda *_: stop.set())

    started = time.monotonic()
    last_message = started
    try:
        consumer.subscribe(
            topics, on_assign=run.on_assign, on_revoke=run.on_revoke, on_lost=run.on_lost
        )
        poll_timeout = min(0.5, settings.batch_max_seconds)
        while True:
            if stop.is_set():
                run.result.stopped_by = "signal"
                break
            want = settings.batch_max_messages - len(run.pending)
            if max_messages is not None:
                want = min(want, max_messages - run.result.messages)
                if want <= 0:
                    run.result.stopped_by = "max-messages"
                    break
            messages = consumer.consume(
                num_messages=max(1, min(want, 50_000)), timeout=poll_timeout
            )
            for m in messages:
                err = m.error()
                if err is not None:
                    if err.fatal():
                        raise KafkaException(err)
                    log.warning("kafka error on %s [%s]: %s", m.topic(), m.partition(), err)
                    continue
                topic, partition, offset = m.topic(), m.partition(), m.offset()
                ts_type, ts = m.timestamp()
                run.pending.append(
                    SourceMessage(
                        f"kafka:{topic}/{partition}/{offset}",
                        topic,
                        partition,
                        offset,
                        m.key(),
                        ts if ts_type else None,
                        m.value(),
                    )
                )
                run.next_offsets[(topic, partition)] = offset + 1
                run.read_to[(topic, partition)] = offset + 1
            now = time.monotonic()
            if messages:
                run.result.messages += len(messages)
                last_message = now
            if len(run.pending) >= settings.batch_max_messages or (
                run.pending and now - run.batch_started >= settings.batch_max_seconds
            ):
                run.flush()
            if until_idle:
                if run.caught_up():
                    run.result.stopped_by = "high watermark"
                    break
                # Idle only counts once partitions are assigned: joining a group can take a while.
                idle_since = max(last_message, run.assigned_at or now)
                if now - idle_since > idle_timeout_s:
                    run.result.stopped_by = "idle timeout"
                    break
        run.flush()
    except BaseException:
        run.failed = True
        raise
    finally:
        for sig, handler in previous_handlers.items():
            signal.signal(sig, handler)
        consumer.close()
        if own_warehouse:
            wh.close()
    run.result.elapsed_s = time.monotonic() - started
    return run.result
