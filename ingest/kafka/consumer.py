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
- Progress and warnings go to this module's logger; a batch with position conflicts (see below)
  is logged at ERROR and counted in `ConsumeResult.position_conflicts`.

Source positions
----------------
A message's position is `kafka:<cluster id>/<topic>/<topic id>/<partition>/<offset>`, e.g.
`kafka:MkU3OEVBNTcwNTJENDM2Qk/admin.membership.v1/vDAtNLDGRFGgO7b0nJ7AEg/3/1234`. Topic, partition
and offset alone repeat when a topic is recreated or the cluster is replaced (a migration, a
MirrorMaker failover): the raw loader would take the new messages for re-deliveries of rows it
holds and skip them. The cluster id (from metadata) and the topic id (Kafka's UUID of this
incarnation of the topic, base64url as `kafka-topics --describe` prints it; from DescribeTopics)
tell those apart. A broker that reports no cluster id or no topic id (Kafka before 2.8, or no
Describe permission: logged as a warning) gets `-` in that place; a recreated topic's messages
then repeat positions with other content, which the raw loader quarantines as position conflicts
instead of skipping. Topic names and cluster ids never contain `/`, so the last two fields are
always the partition and the offset (also kept in `_partition` and `_offset`).

The identities are read once per assignment (two metadata requests, not per message). A topic
recreated while assigned shows up as a partition whose offsets go back (the consumer's position
is past the new log's end, so it resets to the earliest offset): that partition's identity is
read again before the message is labelled. A recreated topic that already holds more messages
than the consumer's position when it is next fetched cannot be told apart without a request per
batch; the next assignment (every run, every rebalance) reads the identities again.
"""

from __future__ import annotations

import base64
import logging
import signal
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from confluent_kafka import (
    OFFSET_INVALID,
    Consumer,
    KafkaException,
    TopicCollection,
    TopicPartition,
    Uuid,
)
from confluent_kafka.admin import AdminClient

from ingest.kafka.client import connection_config, scrub
from ingest.landing import MessageRun, land_batch
from ingest.settings import Settings, redact_url_credentials
from ingest.warehouse import Warehouse, open_warehouse

log = logging.getLogger(__name__)
# librdkafka's own log lines (connection failures, ...) go through logging too, not straight to
# stderr, so they follow the configured level and format (one JSON object per line).
_client_log = logging.getLogger(f"{__name__}.librdkafka")

TopicPartitionKey = tuple[str, int]

UNKNOWN_ID = "-"  # in a position, for a cluster or topic id the broker does not report
_METADATA_TIMEOUT_S = 10.0


class BrokerUnavailableError(RuntimeError):
    pass


@dataclass
class ConsumeResult:
    messages: int = 0
    batches: int = 0
    quarantined: int = 0
    rows_inserted: int = 0
    # Messages at a position raw already holds with other content: quarantined, never skipped.
    position_conflicts: int = 0
    elapsed_s: float = 0.0
    stopped_by: str = ""

    @property
    def rate(self) -> float:
        return self.messages / self.elapsed_s if self.elapsed_s else 0.0

    def summary(self) -> str:
        conflicts = (
            f", {self.position_conflicts:,} POSITION CONFLICTS (see raw.ingest_quarantine)"
            if self.position_conflicts
            else ""
        )
        return (
            f"consumed {self.messages:,} messages in {self.batches} batch(es) "
            f"({self.rate:,.0f} msg/s): {self.rows_inserted:,} new raw rows, "
            f"{self.quarantined:,} quarantined{conflicts}; stopped: {self.stopped_by}"
        )


def position_prefix(
    cluster_id: str | None, topic: str, topic_id: str | None, partition: int
) -> str:
    """A partition's source position without the offset (see "Source positions" above)."""
    cluster = cluster_id.replace("/", "_") if cluster_id else UNKNOWN_ID
    return f"kafka:{cluster}/{topic}/{topic_id or UNKNOWN_ID}/{partition}/"


def topic_id_text(topic_id: Uuid | None) -> str | None:
    """Kafka's own text for a topic id (base64url, no padding, as `kafka-topics` shows it), or
    None for the all-zero id a broker without topic ids reports."""
    if topic_id is None:
        return None
    msb, lsb = topic_id.get_most_significant_bits(), topic_id.get_least_significant_bits()
    if msb == 0 and lsb == 0:
        return None
    raw = (msb % 2**64).to_bytes(8, "big") + (lsb % 2**64).to_bytes(8, "big")
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def consumer_config(settings: Settings, bootstrap: str) -> dict:
    config = {
        "bootstrap.servers": bootstrap,
        "group.id": settings.consumer_group,
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
    # The guarantee (offsets committed only after the raw load) is not configurable.
    config["enable.auto.commit"] = config["enable.auto.offset.store"] = False
    config["logger"] = _client_log
    return config


def admin_config(settings: Settings, bootstrap: str) -> dict:
    """The admin client reads topic ids; it needs only to reach and authenticate."""
    return {"bootstrap.servers": bootstrap, **connection_config(settings), "logger": _client_log}


def _probe_broker(settings: Settings, bootstrap: str) -> None:
    """Fail fast, in one line, when the cluster cannot be reached (the probe's client is quiet:
    its connection errors would only repeat that line). The line never shows credentials: not
    a `user:pass@` in the bootstrap string, not a configured secret."""
    try:
        probe = Consumer({**consumer_config(settings, bootstrap), "log_level": 0})
    except KafkaException as exc:
        reason = scrub(str(exc.args[0]), settings, bootstrap)
        raise BrokerUnavailableError(f"invalid Kafka client configuration: {reason}") from None
    try:
        probe.list_topics(timeout=5)
    except KafkaException as exc:
        where = redact_url_credentials(bootstrap)
        reason = scrub(str(exc.args[0]), settings, bootstrap)
        raise BrokerUnavailableError(f"cannot reach Kafka at {where}: {reason}") from None
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
        bootstrap: str,
    ) -> None:
        self.settings = settings
        self.bootstrap = bootstrap
        self.consumer = consumer
        self.warehouse = warehouse
        self.progress = progress
        self.result = ConsumeResult()
        # The pending batch: one run of parallel lists per position prefix (a partition's
        # messages; a new one if its identity changes mid-batch), no object per message.
        self.pending: dict[str, MessageRun] = {}
        self.pending_count = 0
        self.next_offsets: dict[TopicPartitionKey, int] = {}  # of the pending batch
        self.read_to: dict[TopicPartitionKey, int] = {}  # next offset to read, per partition
        self.start_at: dict[TopicPartitionKey, int] = {}
        self.high_watermarks: dict[TopicPartitionKey, int] = {}
        self.assigned: set[TopicPartitionKey] = set()
        # Each assigned partition's position prefix (cluster id, topic, topic id, partition).
        self.prefixes: dict[TopicPartitionKey, str] = {}
        self.admin: AdminClient | None = None
        self.batch_started = time.monotonic()
        self.assigned_at: float | None = None
        # After a failure nothing more is landed: the uncommitted batch is simply re-delivered.
        self.failed = False

    def identify(self, partitions: Iterable[TopicPartitionKey]) -> None:
        """Read the cluster id and the topic ids of `partitions` and set their position prefixes.

        One metadata request for the cluster id and one DescribeTopics for the topic ids, per
        assignment (not per message). Without a cluster id nothing can be landed (the request
        failing is the broker failing); a topic id the broker does not give is logged and left
        out of the position (`-`), and the raw loader's content check still catches conflicts.
        """
        keys = list(partitions)
        if not keys:
            return
        topics = sorted({topic for topic, _ in keys})
        metadata = self.consumer.list_topics(topics[0], timeout=_METADATA_TIMEOUT_S)
        cluster_id = metadata.cluster_id
        if not cluster_id:
            log.warning("the Kafka cluster reports no cluster id: positions carry %r", UNKNOWN_ID)
        topic_ids = self._topic_ids(topics)
        for topic, partition in keys:
            self.prefixes[(topic, partition)] = position_prefix(
                cluster_id, topic, topic_ids.get(topic), partition
            )

    def _topic_ids(self, topics: list[str]) -> dict[str, str | None]:
        if self.admin is None:
            self.admin = AdminClient(admin_config(self.settings, self.bootstrap))
        futures = self.admin.describe_topics(
            TopicCollection(topics), request_timeout=_METADATA_TIMEOUT_S
        )
        ids: dict[str, str | None] = {}
        for topic, future in futures.items():
            try:
                ids[topic] = topic_id_text(future.result().topic_id)
            except KafkaException as exc:
                reason = scrub(str(exc.args[0]), self.settings, self.bootstrap)
                log.warning(
                    "cannot read the topic id of %s (%s): its positions carry %r",
                    topic,
                    reason,
                    UNKNOWN_ID,
                )
                ids[topic] = None
            else:
                if ids[topic] is None:
                    log.warning(
                        "the broker reports no topic id for %s: its positions carry %r",
                        topic,
                        UNKNOWN_ID,
                    )
        return ids

    def offset_went_back(self, key: TopicPartitionKey, expected: int, offset: int) -> None:
        """A partition's offsets went back within one assignment: its log was replaced (the
        topic recreated, or truncated) and the consumer reset to the earliest offset. Its
        identity is read again, so the new log's messages get positions of their own."""
        before = self.prefixes.get(key)
        self.identify([key])
        log.warning(
            "%s [%d]: offset went back from %d to %d (topic recreated or log truncated?); "
            "positions %s -> %s",
            key[0],
            key[1],
            expected - 1,
            offset,
            before,
            self.prefixes[key],
        )

    def flush(self, *, commit: bool = True, tolerate_commit_failure: bool = False) -> None:
        """Land the pending batch, then (and only then) commit its offsets.

        In a rebalance the commit can fail because the partitions already moved on (the group is
        rebalancing, or they were lost). The batch is landed by then and the new owner re-reads
        from the last committed offset, which the raw position check makes a no-op: so there a
        failed commit is logged, not fatal.
        """
        if not self.pending:
            return
        landed = land_batch(list(self.pending.values()), self.settings, self.warehouse)
        offsets = [TopicPartition(t, p, o) for (t, p), o in sorted(self.next_offsets.items())]
        try:
            if commit:
                self.consumer.commit(offsets=offsets, asynchronous=False)
        except KafkaException as exc:
            if not tolerate_commit_failure:
                raise
            reason = scrub(str(exc), self.settings, self.bootstrap)
            log.warning("landed batch %s, but could not commit it: %s", landed.batch_id, reason)
        conflicts = landed.load.position_conflicts if landed.load else 0
        self.result.batches += 1
        self.result.quarantined += landed.quarantined
        self.result.rows_inserted += landed.rows_inserted
        self.result.position_conflicts += conflicts
        line = (
            f"batch {landed.batch_id}: {self.pending_count:,} messages, "
            f"{landed.rows_inserted:,} new raw rows, {landed.quarantined:,} quarantined"
        )
        if conflicts:
            log.error(
                "%s, %d POSITION CONFLICTS: messages at positions raw already holds with "
                "other content (a recreated topic or a replaced cluster?) were quarantined "
                "in raw.ingest_quarantine with reason 'position conflict: ...'",
                line,
                conflicts,
            )
        else:
            log.info("%s", line)
        if self.progress:
            self.progress(line + (f", {conflicts:,} position conflicts" if conflicts else ""))
        self.pending.clear()
        self.pending_count = 0
        self.next_offsets.clear()
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
            # Offsets are checked for going back from the first message of this assignment on.
            self.read_to.pop(key, None)
        self.identify((tp.topic, tp.partition) for tp in partitions)
        self.assigned_at = time.monotonic()

    def on_revoke(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        if not self.failed:
            self.flush(tolerate_commit_failure=True)
        self._forget(partitions)

    def _forget(self, partitions: list[TopicPartition]) -> None:
        for tp in partitions:
            self.assigned.discard((tp.topic, tp.partition))
            self.prefixes.pop((tp.topic, tp.partition), None)

    def on_lost(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        """Partitions taken away without a handover: keep what was read, commit nothing."""
        if not self.failed:
            self.flush(commit=False)
        self._forget(partitions)

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
    join_timeout_s: float | None = None,
    stop: threading.Event | None = None,
) -> ConsumeResult:
    """Consume `topics` into the stage and raw until stopped (see the module docstring)."""
    _probe_broker(settings, bootstrap)
    consumer = Consumer(consumer_config(settings, bootstrap))

    own_warehouse = warehouse is None
    wh = warehouse or open_warehouse(settings)
    run = _Run(settings, consumer, wh, progress, bootstrap)
    stop = stop or threading.Event()
    previous_handlers = {}
    if threading.current_thread() is threading.main_thread():
        for sig in (signal.SIGTERM, signal.SIGINT):
            previous_handlers[sig] = signal.signal(sig, lambda *_: stop.set())

    join_timeout = join_timeout_s if join_timeout_s is not None else max(2 * idle_timeout_s, 60.0)
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
            want = settings.batch_max_messages - run.pending_count
            if max_messages is not None:
                want = min(want, max_messages - run.result.messages)
                if want <= 0:
                    run.result.stopped_by = "max-messages"
                    break
            messages = consumer.consume(
                num_messages=max(1, min(want, 50_000)), timeout=poll_timeout
            )
            pending, prefixes = run.pending, run.prefixes
            next_offsets, read_to = run.next_offsets, run.read_to
            taken = 0
            for m in messages:
                err = m.error()
                if err is not None:
                    if err.fatal():
                        raise KafkaException(err)
                    reason = scrub(str(err), settings, bootstrap)
                    log.warning("kafka error on %s [%s]: %s", m.topic(), m.partition(), reason)
                    continue
                topic, partition, offset = m.topic(), m.partition(), m.offset()
                key = (topic, partition)
                expected = read_to.get(key)
                if expected is not None and offset < expected:
                    run.offset_went_back(key, expected, offset)
                prefix = prefixes.get(key)
                if prefix is None:  # a partition delivered before its assignment was seen
                    run.identify([key])
                    prefix = prefixes[key]
                pending_run = pending.get(prefix)
                if pending_run is None:
                    pending_run = pending[prefix] = MessageRun(
                        topic, prefix, partition, [], [], [], []
                    )
                ts_type, ts = m.timestamp()
                pending_run.offsets.append(offset)
                pending_run.values.append(m.value())
                pending_run.keys.append(m.key())  # type: ignore[union-attr]
                pending_run.timestamps.append(ts if ts_type else None)  # type: ignore[union-attr]
                taken += 1
                next_offsets[key] = read_to[key] = offset + 1
            run.pending_count += taken
            now = time.monotonic()
            if messages:
                run.result.messages += len(messages)
                last_message = now
            if run.pending_count >= settings.batch_max_messages or (
                run.pending and now - run.batch_started >= settings.batch_max_seconds
            ):
                run.flush()
            if until_idle:
                if run.caught_up():
                    run.result.stopped_by = "high watermark"
                    break
                # Idle only counts once partitions are assigned: joining a group can take a while,
                # but not forever (topics that do not exist, a group that never settles).
                if run.assigned_at is None:
                    if now - started > join_timeout:
                        log.warning(
                            "no partition of %s was assigned within %.0f s; stopping",
                            ", ".join(topics),
                            now - started,
                        )
                        run.result.stopped_by = "no partitions assigned"
                        break
                elif now - max(last_message, run.assigned_at) > idle_timeout_s:
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
