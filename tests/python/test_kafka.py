"""The Kafka consumer against librdkafka's mock cluster over TCP: at-least-once, exactly-once in
raw, quarantine, bounded mode, signals, rebalances and unreachable brokers."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import duckdb
import orjson
import pytest
from confluent_kafka import Consumer, Producer, TopicPartition

import ingest.kafka.consumer as consumer_module
from ingest.kafka.consumer import BrokerUnavailableError, consume
from ingest.kafka.producer import producer_config
from ingest.settings import Settings
from ingest.warehouse import DuckDBWarehouse

pytestmark = pytest.mark.kafka

TOPIC = "admin.membership.v1"
PROJECT = Path(__file__).resolve().parents[2]


def event(i: int) -> bytes:
    return orjson.dumps(
        {
            "event_id": f"e{i}",
            "event_type": "MEMBERSHIP_ADDED",
            "repl_id": f"r_{i % 50:06d}",
            "team_id": "t_0001",
            "effective_at": "2026-01-10T09:00:00Z",
            "emitted_at": "2026-01-10T09:00:05Z",
            "actor": "ops@clouddesk.example",
        }
    )


def produce(bootstrap: str, topic: str, values: list[bytes | None]) -> None:
    producer = Producer(producer_config(bootstrap))
    for i, value in enumerate(values):
        producer.produce(topic, value, key=f"k{i % 7}".encode())
    assert producer.flush(30) == 0


def settings_for(tmp_path: Path, group: str, **overrides: object) -> Settings:
    return Settings(
        warehouse_path=tmp_path / "w.duckdb",
        stage_dir=tmp_path / "stage",
        consumer_group=group,
        batch_max_messages=int(overrides.pop("batch_max_messages", 500)),
        batch_max_seconds=float(overrides.pop("batch_max_seconds", 5.0)),
        # The mock cluster does not act on LeaveGroup: a short session lets the next run of the
        # same group be assigned its partitions in seconds instead of 45.
        extra_kafka_config={"session.timeout.ms": "6000", "heartbeat.interval.ms": "500"},
    )


def committed(bootstrap: str, group: str, topic: str) -> dict[int, int]:
    probe = Consumer({"bootstrap.servers": bootstrap, "group.id": group})
    try:
        parts = [TopicPartition(topic, p) for p in range(4)]
        return {tp.partition: tp.offset for tp in probe.committed(parts, timeout=10)}
    finally:
        probe.close()


def raw_positions(settings: Settings) -> list[str]:
    con = duckdb.connect(str(settings.warehouse_path), read_only=True)
    try:
        return [
            r[0]
            for r in con.execute(
                """
                select _source_position from raw.admin_membership_events
                union all
                select _source_position from raw.ingest_quarantine
                """
            ).fetchall()
        ]
    finally:
        con.close()


def test_everything_lands_once_and_offsets_are_committed(
    kafka_bootstrap: str, unique_name: str, tmp_path: Path
) -> None:
    topic, group = f"{TOPIC}", f"g-{unique_name}"
    # Topics are shared by name across tests; a unique topic keeps this test's counts exact.
    topic = f"{TOPIC}.{unique_name}"
    produce(kafka_bootstrap, topic, [event(i) for i in range(2_000)])
    settings = settings_for(tmp_path, group)
    result = consume_topic(settings, topic, kafka_bootstrap, until_idle=True)
    positions = raw_positions(settings)
    assert result.messages == 2_000 and result.stopped_by == "high watermark"
    assert len(positions) == len(set(positions)) == 2_000
    offsets = committed(kafka_bootstrap, group, topic)
    assert sum(o for o in offsets.values() if o > 0) == 2_000  # next offset to read


def consume_topic(settings: Settings, topic: str, bootstrap: str, **kwargs: object):
    """consume() for a test topic: the registry maps it to the Admin Service source."""
    return consume(settings, [topic], bootstrap, **kwargs)


@pytest.fixture(autouse=True)
def _test_topics_are_admin_topics(monkeypatch: pytest.MonkeyPatch) -> None:
    """Test topics are named `admin.membership.v1.<suffix>`; land them as Admin Service events."""
    import ingest.landing as landing
    from ingest.topics import get_topic

    def lookup(name: str):
        return get_topic(TOPIC if name.startswith(TOPIC + ".") else name)

    monkeypatch.setattr(landing, "get_topic", lookup)


def test_a_failed_load_commits_nothing_and_a_rerun_lands_everything_once(
    kafka_bootstrap: str, unique_name: str, tmp_path: Path
) -> None:
    topic, group = f"{TOPIC}.{unique_name}", f"g-{unique_name}"
    produce(kafka_bootstrap, topic, [event(i) for i in range(300)])
    settings = settings_for(tmp_path, group)

    class BrokenWarehouse(DuckDBWarehouse):
        def load_batch(self, batch_id, files):  # type: ignore[override]
            raise OSError("disk full")

    broken = BrokenWarehouse(settings.warehouse_path)
    with pytest.raises(OSError, match="disk full"):
        consume_topic(settings, topic, kafka_bootstrap, until_idle=True, warehouse=broken)
    broken.close()
    assert all(offset < 0 for offset in committed(kafka_bootstrap, group, topic).values())

    consume_topic(settings, topic, kafka_bootstrap, until_idle=True)
    positions = raw_positions(settings)
    assert len(positions) == len(set(positions)) == 300


def test_crash_between_load_and_commit_does_not_duplicate_raw(
    kafka_bootstrap: str, unique_name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    topic, group = f"{TOPIC}.{unique_name}", f"g-{unique_name}"
    produce(kafka_bootstrap, topic, [event(i) for i in range(400)])
    settings = settings_for(tmp_path, group, batch_max_messages=100)

    class CrashingConsumer(Consumer):
        def commit(self, *args, **kwargs):  # type: ignore[override]
            raise RuntimeError("process killed before the commit")

    monkeypatch.setattr(consumer_module, "Consumer", CrashingConsumer)
    with pytest.raises(RuntimeError, match="killed"):
        consume_topic(settings, topic, kafka_bootstrap, until_idle=True)
    landed_before_crash = len(raw_positions(settings))
    assert landed_before_crash > 0
    monkeypatch.setattr(consumer_module, "Consumer", Consumer)

    consume_topic(settings, topic, kafka_bootstrap, until_idle=True)
    positions = raw_positions(settings)
    assert len(positions) == len(set(positions)) == 400


def test_partial_run_then_rest_loses_and_duplicates_nothing(
    kafka_bootstrap: str, unique_name: str, tmp_path: Path
) -> None:
    topic, group = f"{TOPIC}.{unique_name}", f"g-{unique_name}"
    produce(kafka_bootstrap, topic, [event(i) for i in range(1_000)])
    settings = settings_for(tmp_path, group, batch_max_messages=150)
    first = consume_topic(settings, topic, kafka_bootstrap, max_messages=333)
    assert first.messages == 333 and first.stopped_by == "max-messages"
    assert sum(o for o in committed(kafka_bootstrap, group, topic).values() if o > 0) == 333
    consume_topic(settings, topic, kafka_bootstrap, until_idle=True)
    positions = raw_positions(settings)
    assert len(positions) == len(set(positions)) == 1_000


def test_undecodable_messages_are_quarantined_and_do_not_block_the_partition(
    kafka_bootstrap: str, unique_name: str, tmp_path: Path
) -> None:
    topic, group = f"{TOPIC}.{unique_name}", f"g-{unique_name}"
    dirt = [b'{"event_id": "x"', b"", b"[1, 2]", b'{"bad": "\xff"}', b"plain text"]
    values: list[bytes | None] = [*dirt, *(event(i) for i in range(20))]
    producer = Producer(producer_config(kafka_bootstrap))
    for value in values:  # one partition, so the valid events come after the dirt
        producer.produce(topic, value, partition=0)
    assert producer.flush(30) == 0
    settings = settings_for(tmp_path, group)
    result = consume_topic(settings, topic, kafka_bootstrap, until_idle=True)
    assert result.quarantined == len(dirt)
    con = duckdb.connect(str(settings.warehouse_path), read_only=True)
    reasons = con.execute(
        "select _offset, reason from raw.ingest_quarantine order by _offset"
    ).fetchall()
    events = con.execute("select count(*) from raw.admin_membership_events").fetchone()[0]
    con.close()
    assert [offset for offset, _ in reasons] == [0, 1, 2, 3, 4]
    assert reasons[0][1].startswith("malformed JSON")
    assert reasons[1][1] == "empty message"
    assert reasons[2][1] == "JSON is a list, not an object"
    assert events == 20
    assert committed(kafka_bootstrap, group, topic)[0] == len(values)


def test_bounded_mode_stops_at_the_watermark_seen_at_start(
    kafka_bootstrap: str, unique_name: str, tmp_path: Path
) -> None:
    topic, group = f"{TOPIC}.{unique_name}", f"g-{unique_name}"
    produce(kafka_bootstrap, topic, [event(i) for i in range(500)])
    stop = threading.Event()

    def keep_producing() -> None:
        producer = Producer(producer_config(kafka_bootstrap))
        i = 10_000
        while not stop.is_set():
            producer.produce(topic, event(i))
            producer.poll(0)
            i += 1
            time.sleep(0.002)
        producer.flush(10)

    feeder = threading.Thread(target=keep_producing, daemon=True)
    feeder.start()
    try:
        result = consume_topic(
            settings_for(tmp_path, group), topic, kafka_bootstrap, until_idle=True
        )
    finally:
        stop.set()
        feeder.join(10)
    assert result.stopped_by == "high watermark"
    assert result.messages >= 500


def test_bounded_mode_stops_when_no_partition_is_ever_assigned(
    kafka_bootstrap: str, unique_name: str, tmp_path: Path
) -> None:
    """A subscription that never gets partitions (a topic that does not exist) must not make
    bounded mode wait forever: it stops after the join timeout and says why."""
    topic = f"{TOPIC}.{unique_name}.missing"
    started = time.monotonic()
    result = consume_topic(
        settings_for(tmp_path, f"g-{unique_name}"),
        topic,
        kafka_bootstrap,
        until_idle=True,
        idle_timeout_s=2.0,
        join_timeout_s=4.0,
    )
    assert result.stopped_by == "no partitions assigned"
    assert result.rows_inserted == 0
    assert time.monotonic() - started < 30


def test_unreachable_broker_is_a_clear_error(tmp_path: Path) -> None:
    started = time.monotonic()
    with pytest.raises(BrokerUnavailableError, match=r"cannot reach Kafka at 127\.0\.0\.1:9"):
        consume(settings_for(tmp_path, "g"), [TOPIC], "127.0.0.1:9", until_idle=True)
    assert time.monotonic() - started < 30


def test_sigterm_finishes_the_batch_and_commits_it(
    kafka_bootstrap: str, unique_name: str, tmp_path: Path
) -> None:
    topic, group = f"{TOPIC}.{unique_name}", f"g-{unique_name}"
    produce(kafka_bootstrap, topic, [event(i) for i in range(3_000)])
    script = f"""
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
import ingest.landing as landing
from ingest.topics import get_topic
landing.get_topic = lambda name: get_topic({TOPIC!r})
from ingest.kafka.consumer import consume
from ingest.settings import Settings
settings = Settings(warehouse_path=Path({str(tmp_path / "w.duckdb")!r}),
                    stage_dir=Path({str(tmp_path / "stage")!r}), consumer_group={group!r},
                    batch_max_messages=1000, batch_max_seconds=60,
                    extra_kafka_config={{"session.timeout.ms": "6000"}})
print("started", flush=True)
result = consume(settings, [{topic!r}], {kafka_bootstrap!r},
                 progress=lambda m: print(m, flush=True))
print("stopped:", result.stopped_by, flush=True)
"""
    proc = subprocess.Popen(
        [sys.executable, "-c", script],
        cwd=PROJECT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "PYTHONPATH": str(PROJECT)},
    )
    assert proc.stdout is not None
    lines = []
    for line in proc.stdout:  # wait until at least one batch landed, then ask it to stop
        lines.append(line)
        if line.startswith("batch "):
            break
    time.sleep(0.5)
    proc.send_signal(signal.SIGTERM)
    out, _ = proc.communicate(timeout=60)
    assert proc.returncode == 0, "".join(lines) + out
    assert "stopped: signal" in out
    settings = settings_for(tmp_path, group)
    landed = len(raw_positions(settings))
    offsets = committed(kafka_bootstrap, group, topic)
    assert landed > 0
    assert sum(o for o in offsets.values() if o > 0) == landed


# Rebalances: what a member read from revoked partitions is landed and committed before they go.
# The batch limits below are never reached and the member is not stopped while the test watches,
# so nothing but `on_revoke` can land or commit what it read.
#
# librdkafka's mock cluster answers OffsetCommit with REBALANCE_IN_PROGRESS while a classic group
# is joining, which is exactly when the members already there revoke after a new member joins (a
# real broker accepts commits while it prepares a rebalance): there, a hand-over between two
# classic members always fails the commit. So the classic (eager) protocol is tested with a
# rebalance the member starts itself (a new topic matches its subscription; the group is still
# stable while it revokes), and the hand-over to another member with the KIP-848 protocol, whose
# revocations are incremental and acknowledged after the commit.

NEVER_FLUSH = {"batch_max_messages": 1_000_000, "batch_max_seconds": 3_600.0}


class WatchedConsumer(Consumer):
    """The consumer under test, watched from the test thread: messages read, partitions held."""

    def __init__(self, config: dict) -> None:
        super().__init__(config)
        self.read = 0
        self.held: set[tuple[str, int]] = set()
        _consumers[threading.current_thread()] = self

    def subscribe(self, topics, on_assign, on_revoke, on_lost):  # type: ignore[override]
        def assigned(consumer: Consumer, partitions: list[TopicPartition]) -> None:
            on_assign(consumer, partitions)
            self.held |= {(tp.topic, tp.partition) for tp in partitions}

        def revoked(consumer: Consumer, partitions: list[TopicPartition]) -> None:
            on_revoke(consumer, partitions)
            self.held -= {(tp.topic, tp.partition) for tp in partitions}

        def lost(consumer: Consumer, partitions: list[TopicPartition]) -> None:
            on_lost(consumer, partitions)
            self.held -= {(tp.topic, tp.partition) for tp in partitions}

        super().subscribe(topics, on_assign=assigned, on_revoke=revoked, on_lost=lost)

    def consume(self, *args, **kwargs):  # type: ignore[override]
        messages = super().consume(*args, **kwargs)
        self.read += len(messages)
        return messages


_consumers: dict[threading.Thread, WatchedConsumer] = {}


class Member:
    """consume() in a thread until `finish()`, watched through its WatchedConsumer."""

    def __init__(self, settings: Settings, topics: list[str], bootstrap: str) -> None:
        self.stop = threading.Event()
        self.result: consumer_module.ConsumeResult | None = None
        self.error: BaseException | None = None
        self._thread = threading.Thread(
            target=self._run, args=(settings, topics, bootstrap), daemon=True
        )
        self._thread.start()

    def _run(self, settings: Settings, topics: list[str], bootstrap: str) -> None:
        try:
            self.result = consume(settings, topics, bootstrap, stop=self.stop)
        except BaseException as exc:
            self.error = exc

    @property
    def consumer(self) -> WatchedConsumer:
        if self.error is not None:
            raise self.error
        return _consumers[self._thread]

    def join(self) -> None:
        self._thread.join(30)
        _consumers.pop(self._thread, None)
        assert not self._thread.is_alive(), "the consumer did not stop"

    def finish(self) -> consumer_module.ConsumeResult:
        self.stop.set()
        self.join()
        if self.error is not None:
            raise self.error
        assert self.result is not None
        return self.result


@pytest.fixture
def start_member(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[..., Member]]:
    """Starts watched members; stops those still running when the test ends, even failing."""
    monkeypatch.setattr(consumer_module, "Consumer", WatchedConsumer)
    members: list[Member] = []

    def start(settings: Settings, topics: list[str], bootstrap: str) -> Member:
        members.append(Member(settings, topics, bootstrap))
        return members[-1]

    yield start
    for member in members:
        member.stop.set()
    for member in members:
        member.join()


def wait_for(
    condition: Callable[[], bool], what: str, *members: Member, timeout: float = 30.0
) -> None:
    """Poll `condition` until it holds; fail on a timeout or as soon as a member has failed."""
    deadline = time.monotonic() + timeout
    while True:
        for member in members:
            if member.error is not None:
                raise member.error
        try:
            if condition():
                return
        except KeyError:  # the member's consumer is not created yet
            pass
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(0.2)


def end_offsets(bootstrap: str, topic: str) -> dict[int, int]:
    probe = Consumer({"bootstrap.servers": bootstrap, "group.id": "end-offsets-probe"})
    try:
        partitions = probe.list_topics(topic, timeout=10).topics[topic].partitions
        return {
            p: probe.get_watermark_offsets(TopicPartition(topic, p), timeout=10)[1]
            for p in partitions
        }
    finally:
        probe.close()


def landed_offsets(settings: Settings) -> list[tuple[int, int]]:
    """(partition, offset) of every raw row: the last two fields of its position
    (`kafka:<cluster id>/<topic>/<topic id>/<partition>/<offset>`)."""
    return [
        (int(partition), int(offset))
        for partition, offset in (p.rsplit("/", 2)[1:] for p in raw_positions(settings))
    ]


def test_classic_rebalance_lands_and_commits_the_pending_batch_before_revoking(
    kafka_bootstrap: str, unique_name: str, tmp_path: Path, start_member: Callable[..., Member]
) -> None:
    first, second = f"{TOPIC}.{unique_name}.a", f"{TOPIC}.{unique_name}.b"
    group = f"g-{unique_name}"
    produce(kafka_bootstrap, first, [event(i) for i in range(400)])
    settings = settings_for(tmp_path, group, **NEVER_FLUSH)
    # Metadata is refreshed often so the member notices the new topic soon.
    settings.extra_kafka_config["topic.metadata.refresh.interval.ms"] = "500"
    pattern = "^" + re.escape(f"{TOPIC}.{unique_name}.")
    member = start_member(settings, [pattern], kafka_bootstrap)

    wait_for(lambda: member.consumer.read == 400, "the first topic to be read", member)
    assert all(o < 0 for o in committed(kafka_bootstrap, group, first).values())

    # A topic matching the subscription appears: the eager protocol revokes every partition,
    # rejoins and is assigned both topics, resuming the first from what was committed.
    produce(kafka_bootstrap, second, [event(i) for i in range(400, 410)])
    first_end = end_offsets(kafka_bootstrap, first)
    wait_for(
        lambda: committed(kafka_bootstrap, group, first) == first_end,
        "the revoked partitions to be committed",
        member,
    )
    wait_for(lambda: member.consumer.read == 410, "the second topic to be read", member)

    result = member.finish()
    assert result.messages == 410  # nothing was read twice after the re-assignment
    assert result.batches == 2  # the revoked batch, then the second topic's when stopped
    positions = raw_positions(settings)
    assert len(positions) == len(set(positions)) == 410
    assert committed(kafka_bootstrap, group, first) == first_end
    assert committed(kafka_bootstrap, group, second) == end_offsets(kafka_bootstrap, second)


def test_hand_over_to_a_new_member_starts_where_the_revoked_batch_was_committed(
    kafka_bootstrap: str,
    unique_name: str,
    tmp_path: Path,
    start_member: Callable[..., Member],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    topic, group = f"{TOPIC}.{unique_name}", f"g-{unique_name}"
    classic_config = consumer_module.consumer_config

    def kip848_config(settings: Settings, bootstrap: str) -> dict:
        config = classic_config(settings, bootstrap)
        for key in ("session.timeout.ms", "heartbeat.interval.ms"):  # broker-side in KIP-848
            config.pop(key, None)
        return {**config, "group.protocol": "consumer"}

    monkeypatch.setattr(consumer_module, "consumer_config", kip848_config)
    produce(kafka_bootstrap, topic, [event(i) for i in range(400)])
    first_end = end_offsets(kafka_bootstrap, topic)
    # Separate warehouses: a message re-delivered to the new member would land in both.
    settings_a = settings_for(tmp_path / "a", group, **NEVER_FLUSH)
    settings_b = settings_for(tmp_path / "b", group, **NEVER_FLUSH)

    a = start_member(settings_a, [topic], kafka_bootstrap)
    wait_for(lambda: a.consumer.read == 400, "the first member to read everything", a)
    assert all(o < 0 for o in committed(kafka_bootstrap, group, topic).values())

    b = start_member(settings_b, [topic], kafka_bootstrap)
    wait_for(lambda: len(b.consumer.held) > 0, "the new member to be assigned", a, b)
    wait_for(
        lambda: committed(kafka_bootstrap, group, topic) == first_end,
        "the revoked batch to be committed",
        a,
        b,
    )
    handed_over = {p for _, p in b.consumer.held}
    assert handed_over and not handed_over & {p for _, p in a.consumer.held}

    produce(kafka_bootstrap, topic, [event(i) for i in range(400, 600)])
    wait_for(lambda: a.consumer.read + b.consumer.read == 600, "the second wave", a, b)
    for member in (a, b):  # stopped together, so neither is handed the other's partitions
        member.stop.set()
    result_a, result_b = a.finish(), b.finish()

    landed_a, landed_b = landed_offsets(settings_a), landed_offsets(settings_b)
    assert len(landed_a) == len(set(landed_a)) and len(landed_b) == len(set(landed_b))
    assert not set(landed_a) & set(landed_b)  # nothing the first member landed was re-delivered
    assert len(landed_a) + len(landed_b) == 600
    # The new member read only its partitions, from where the first member had committed.
    assert landed_b and all(p in handed_over and o >= first_end[p] for p, o in landed_b)
    assert result_a.messages == len(landed_a) and result_b.messages == len(landed_b)
    assert committed(kafka_bootstrap, group, topic) == end_offsets(kafka_bootstrap, topic)
