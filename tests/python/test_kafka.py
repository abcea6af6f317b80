"""The Kafka consumer against librdkafka's mock cluster over TCP: at-least-once, exactly-once in
raw, quarantine, bounded mode, signals and unreachable brokers."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import duckdb
import orjson
import pytest
from confluent_kafka import Consumer, Producer, TopicPartition

import ingest.kafka.consumer as consumer_module
from ingest.kafka.consumer import BrokerUnavailableError, consume
from ingest.kafka.producer import producer_config
from ingest.settings import Settings
from ingest.warehouse import Warehouse

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

    class BrokenWarehouse(Warehouse):
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
