"""Source positions carry the cluster and topic identity: a recreated topic or a replaced cluster
never makes new messages look like re-deliveries of rows raw already holds (which the raw loader
would skip). Against librdkafka's mock cluster, which gives every cluster its own id and every
topic incarnation its own topic id."""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterator
from pathlib import Path

import duckdb
import pytest
from confluent_kafka import Consumer, TopicCollection, Uuid
from confluent_kafka.admin import AdminClient

import ingest.kafka.consumer as consumer_module
from ingest.kafka.consumer import position_prefix, topic_id_text
from ingest.kafka.mock_cluster import MockCluster
from ingest.settings import Settings
from tests.python.test_kafka import (  # noqa: F401  (fixtures used by name)
    TOPIC,
    Member,
    _test_topics_are_admin_topics,
    committed,
    consume_topic,
    event,
    produce,
    raw_positions,
    settings_for,
    start_member,
    wait_for,
)

pytestmark = pytest.mark.kafka

POSITION = re.compile(
    r"^kafka:(?P<cluster>[^/]+)/(?P<topic>[^/]+)/(?P<topic_id>[A-Za-z0-9_-]{22})"
    r"/(?P<partition>\d+)/(?P<offset>\d+)$"
)


@pytest.fixture(scope="module")
def cluster() -> Iterator[MockCluster]:
    """A cluster of this module's own: its tests delete and recreate topics."""
    with MockCluster(num_brokers=3) as mock:
        yield mock


def other_events(start: int, n: int) -> list[bytes]:
    """Events unlike those of `event(i)` for the same i (another topic incarnation's content)."""
    return [event(start + i) for i in range(n)]


def identity(bootstrap: str, topic: str) -> tuple[str, str]:
    """The cluster id and the topic id (as Kafka prints it) the cluster reports for `topic`."""
    probe = Consumer({"bootstrap.servers": bootstrap, "group.id": "identity-probe"})
    admin = AdminClient({"bootstrap.servers": bootstrap})
    try:
        cluster_id = probe.list_topics(topic, timeout=10).cluster_id
        described = admin.describe_topics(TopicCollection([topic]), request_timeout=10)
        topic_id = topic_id_text(described[topic].result().topic_id)
    finally:
        probe.close()
    assert cluster_id and topic_id
    return cluster_id, topic_id


def event_rows(settings: Settings) -> int:
    """Rows in the events table (not quarantine): where a new event must land."""
    con = duckdb.connect(str(settings.warehouse_path), read_only=True)
    try:
        return con.execute("select count(*) from raw.admin_membership_events").fetchone()[0]
    finally:
        con.close()


def quarantine_reasons(settings: Settings) -> list[str]:
    con = duckdb.connect(str(settings.warehouse_path), read_only=True)
    try:
        return [r[0] for r in con.execute("select reason from raw.ingest_quarantine").fetchall()]
    finally:
        con.close()


def test_topic_ids_are_printed_as_kafka_prints_them() -> None:
    # Kafka's Uuid.toString(): base64url of the 16 bytes, no padding.
    assert topic_id_text(Uuid(0, 1)) == "AAAAAAAAAAAAAAAAAAAAAQ"
    assert topic_id_text(Uuid(-1, -1)) == "_____________________w"
    assert topic_id_text(Uuid(0, 0)) is None  # what a broker without topic ids reports
    assert position_prefix("c1", "a.b", None, 3) == "kafka:c1/a.b/-/3/"
    assert position_prefix(None, "a.b", "X", 0) == "kafka:-/a.b/X/0/"


def test_positions_name_the_cluster_and_the_topic_incarnation(
    cluster: MockCluster, unique_name: str, tmp_path: Path
) -> None:
    topic, group = f"{TOPIC}.{unique_name}", f"g-{unique_name}"
    produce(cluster.bootstrap_servers, topic, [event(i) for i in range(50)])
    cluster_id, topic_id = identity(cluster.bootstrap_servers, topic)
    settings = settings_for(tmp_path, group)
    consume_topic(settings, topic, cluster.bootstrap_servers, until_idle=True)
    positions = raw_positions(settings)
    assert len(positions) == 50
    for position in positions:
        parts = POSITION.match(position)
        assert parts, position
        assert (parts["cluster"], parts["topic"], parts["topic_id"]) == (
            cluster_id,
            topic,
            topic_id,
        )


def test_a_new_cluster_with_the_same_topic_lands_every_new_event(
    unique_name: str, tmp_path: Path
) -> None:
    """Cluster migration / failover: same topic name, same group, same warehouse, offsets from 0
    again. Every message of the new cluster is new and must land."""
    topic, group = f"{TOPIC}.{unique_name}", f"g-{unique_name}"
    settings = settings_for(tmp_path, group)
    # The old cluster stays up meanwhile: the mock derives a cluster id from the cluster's memory
    # address, which a cluster started after another was freed may reuse.
    with MockCluster(num_brokers=1) as old, MockCluster(num_brokers=1) as new:
        produce(old.bootstrap_servers, topic, [event(i) for i in range(300)])
        first = consume_topic(settings, topic, old.bootstrap_servers, until_idle=True)
        assert first.rows_inserted == 300
        produce(new.bootstrap_servers, topic, other_events(10_000, 200))
        assert (
            identity(new.bootstrap_servers, topic)[0] != identity(old.bootstrap_servers, topic)[0]
        )
        second = consume_topic(settings, topic, new.bootstrap_servers, until_idle=True)
    assert second.messages == 200
    assert second.rows_inserted == 200 and second.position_conflicts == 0
    assert event_rows(settings) == 500
    positions = raw_positions(settings)
    assert len(positions) == len(set(positions)) == 500
    assert len({POSITION.match(p)["cluster"] for p in positions}) == 2


def test_a_recreated_topic_lands_every_new_event(
    cluster: MockCluster, unique_name: str, tmp_path: Path
) -> None:
    """Topic deleted and created again between two runs: a new topic id, offsets from 0."""
    topic, group = f"{TOPIC}.{unique_name}", f"g-{unique_name}"
    settings = settings_for(tmp_path, group)
    produce(cluster.bootstrap_servers, topic, [event(i) for i in range(300)])
    assert (
        consume_topic(settings, topic, cluster.bootstrap_servers, until_idle=True).messages == 300
    )
    _, old_id = identity(cluster.bootstrap_servers, topic)

    cluster.recreate_topic(topic)
    produce(cluster.bootstrap_servers, topic, other_events(10_000, 200))
    _, new_id = identity(cluster.bootstrap_servers, topic)
    assert new_id != old_id
    second = consume_topic(settings, topic, cluster.bootstrap_servers, until_idle=True)
    assert second.rows_inserted == 200 and second.position_conflicts == 0
    assert event_rows(settings) == 500
    positions = raw_positions(settings)
    assert len(positions) == len(set(positions)) == 500
    assert {POSITION.match(p)["topic_id"] for p in positions} == {old_id, new_id}


def test_a_topic_recreated_while_assigned_lands_every_new_event(
    cluster: MockCluster,
    unique_name: str,
    tmp_path: Path,
    start_member: Callable[..., Member],  # noqa: F811
) -> None:
    """The topic is recreated under a running consumer: its partitions' offsets go back, and the
    messages after that get the new topic id."""
    topic, group = f"{TOPIC}.{unique_name}", f"g-{unique_name}"
    produce(cluster.bootstrap_servers, topic, [event(i) for i in range(400)])
    settings = settings_for(tmp_path, group, batch_max_messages=1_000_000, batch_max_seconds=1.0)
    settings.extra_kafka_config["topic.metadata.refresh.interval.ms"] = "500"
    member = start_member(settings, [topic], cluster.bootstrap_servers)
    wait_for(lambda: member.consumer.read == 400, "the first incarnation to be read", member)
    # Offsets are committed after the raw load (the member holds the warehouse open meanwhile).
    wait_for(
        lambda: sum(committed(cluster.bootstrap_servers, group, topic).values()) == 400,
        "the first incarnation to land",
        member,
    )

    cluster.recreate_topic(topic)
    produce(cluster.bootstrap_servers, topic, other_events(10_000, 100))
    wait_for(
        lambda: member.consumer.read == 500, "the recreated topic to be read", member, timeout=60
    )
    result = member.finish()
    assert result.position_conflicts == 0
    assert event_rows(settings) == 500
    positions = raw_positions(settings)
    assert len(positions) == len(set(positions)) == 500
    assert len({POSITION.match(p)["topic_id"] for p in positions}) == 2


def test_without_topic_ids_a_recreated_topic_is_a_loud_position_conflict(
    cluster: MockCluster,
    unique_name: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A broker that reports no topic id (Kafka before 2.8, no Describe permission) leaves only
    the cluster id to tell incarnations apart: a recreated topic's messages come back at known
    positions with other content. The raw loader quarantines them as position conflicts and the
    consumer reports them at ERROR; none is skipped silently."""
    monkeypatch.setattr(consumer_module, "topic_id_text", lambda _topic_id: None)
    topic, group = f"{TOPIC}.{unique_name}", f"g-{unique_name}"
    settings = settings_for(tmp_path, group)
    produce(cluster.bootstrap_servers, topic, [event(i) for i in range(300)])
    first = consume_topic(settings, topic, cluster.bootstrap_servers, until_idle=True)
    assert first.rows_inserted == 300 and first.position_conflicts == 0
    assert all(f"/{topic}/-/" in p for p in raw_positions(settings))

    cluster.recreate_topic(topic)
    produce(cluster.bootstrap_servers, topic, other_events(10_000, 120))
    with caplog.at_level(logging.INFO, logger=consumer_module.__name__):
        second = consume_topic(settings, topic, cluster.bootstrap_servers, until_idle=True)
    assert second.messages == 120
    assert second.position_conflicts == 120
    assert "120 POSITION CONFLICTS" in second.summary()
    errors = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert errors and all("POSITION CONFLICTS" in r.getMessage() for r in errors)
    assert any("reports no topic id" in r.getMessage() for r in caplog.records)
    conflicts = [r for r in quarantine_reasons(settings) if r.startswith("position conflict:")]
    assert len(conflicts) == 120
    assert event_rows(settings) == 300  # the conflicting events are in quarantine, not raw
