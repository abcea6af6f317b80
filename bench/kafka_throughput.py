"""Kafka consumer throughput into the stage + raw, against the mock cluster over TCP.

Publishes N realistic Admin Service events (lz4 batches), then consumes them with the production
consumer (`consume(..., until_idle=True)`) into a temporary DuckDB warehouse and stage, and
reports producer and consumer messages per second. Run: `python -m bench.kafka_throughput`.

The mock cluster keeps a bounded log per partition (it drops the oldest message sets of a large
topic as a broker's retention would), so the consumer is checked against what the partitions
still hold between their low and high watermarks, not against everything sent.
"""

from __future__ import annotations

import argparse
import random
import tempfile
import time
from pathlib import Path

import orjson
from confluent_kafka import Consumer, TopicPartition

from ingest.kafka.consumer import consume
from ingest.kafka.mock_cluster import MockCluster
from ingest.kafka.producer import publish_jsonl
from ingest.settings import Settings

TOPIC = "admin.membership.v1"


def write_events(path: Path, n: int) -> None:
    rnd = random.Random(5)
    with open(path, "wb") as fh:
        for i in range(n):
            fh.write(
                orjson.dumps(
                    {
                        "event_id": f"{rnd.getrandbits(128):032x}",
                        "event_type": "MEMBERSHIP_ADDED",
                        "repl_id": f"r_{rnd.randrange(18_000):06d}",
                        "team_id": f"t_{rnd.randrange(2_000):04d}",
                        "role": "primary",
                        "effective_at": f"2026-01-{1 + i % 28:02d}T09:00:00Z",
                        "emitted_at": f"2026-01-{1 + i % 28:02d}T09:03:12Z",
                        "actor": "ops.admin@clouddesk.example",
                    }
                )
                + b"\n"
            )


def retained(bootstrap: str, topic: str) -> int:
    """Messages the topic's partitions still hold (high minus low watermark, summed)."""
    probe = Consumer({"bootstrap.servers": bootstrap, "group.id": "revops-bench-probe"})
    try:
        partitions = probe.list_topics(topic, timeout=10).topics[topic].partitions
        total = 0
        for p in partitions:
            low, high = probe.get_watermark_offsets(TopicPartition(topic, p), timeout=10)
            total += high - low
        return total
    finally:
        probe.close()


def run(messages: int = 500_000) -> dict[str, str]:
    with tempfile.TemporaryDirectory(prefix="revops-kafka-bench-") as tmp, MockCluster() as cluster:
        root = Path(tmp)
        source = root / "events.jsonl"
        write_events(source, messages)
        t0 = time.monotonic()
        sent = publish_jsonl(cluster.bootstrap_servers, TOPIC, source)
        produce_s = time.monotonic() - t0
        available = retained(cluster.bootstrap_servers, TOPIC)
        settings = Settings(
            warehouse_path=root / "w.duckdb", stage_dir=root / "stage", batch_max_messages=100_000
        )
        first_batch: list[float] = []
        t0 = time.monotonic()
        result = consume(
            settings,
            [TOPIC],
            cluster.bootstrap_servers,
            until_idle=True,
            progress=lambda _msg: first_batch.append(time.monotonic()),
        )
        total_s = time.monotonic() - t0
        assert result.rows_inserted == available, (result.rows_inserted, available)
        # Steady state: from the first landed batch on (excludes the group join / assignment).
        steady = (
            (available - settings.batch_max_messages) / (first_batch[-1] - first_batch[0])
            if len(first_batch) > 1
            else float("nan")
        )
        return {
            "messages": f"{sent:,}",
            "retained_by_the_mock": f"{available:,}",
            "producer_msg_per_s": f"{sent / produce_s:,.0f}",
            "consumer_msg_per_s_end_to_end": f"{available / total_s:,.0f}",
            "consumer_msg_per_s_steady": f"{steady:,.0f}",
            "batches": str(result.batches),
        }


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--messages", type=int, default=500_000)
    for key, value in run(parser.parse_args().messages).items():
        print(f"{key:<32} {value}")
