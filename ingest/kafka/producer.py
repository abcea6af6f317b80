"""Publish JSONL files to Kafka, one message per line, exactly as the lines are.

Used by the demo and the benchmarks to play a generated company into the (mock) cluster. Lines
are sent verbatim, malformed ones included, so the consumer meets the same dirt production sends
it. Batches are lz4-compressed: the mock cluster serves compressed batches ~70x faster. Given
`settings`, the producer reaches the cluster the way the consumer does (security protocol, SASL,
TLS from `settings.extra_kafka_config`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

import orjson
from confluent_kafka import KafkaError, Producer

from ingest.kafka.client import connection_config
from ingest.settings import Settings

log = logging.getLogger(__name__)
# librdkafka's own log lines go through logging too (see ingest.kafka.consumer).
_client_log = logging.getLogger(f"{__name__}.librdkafka")

KeyFn = Callable[[str, dict], bytes | None]


class PublishError(RuntimeError):
    pass


def producer_config(bootstrap: str, settings: Settings | None = None) -> dict:
    """The producer's configuration; with `settings`, plus their connection properties."""
    return {
        "bootstrap.servers": bootstrap,
        "compression.type": "lz4",
        "linger.ms": 50,
        "batch.size": 1_000_000,
        "queue.buffering.max.messages": 1_000_000,
        "queue.buffering.max.kbytes": 1_048_576,
        "acks": "all",
        "enable.idempotence": True,
        "logger": _client_log,
        **connection_config(settings),
    }


def _default_key_fn() -> KeyFn | None:
    try:
        from ingest.generator import kafka_key
    except ImportError:
        return None
    return kafka_key


def publish_jsonl(
    bootstrap: str,
    topic: str,
    path: Path,
    key_fn: KeyFn | None = None,
    progress: Callable[[str], None] | None = None,
    settings: Settings | None = None,
) -> int:
    """Send every non-blank line of `path` to `topic`; return the number of messages sent.
    Progress goes to this module's logger (and to `progress`, for callers that show it)."""
    key_fn = key_fn or _default_key_fn()
    producer = Producer(producer_config(bootstrap, settings))
    failures: list[KafkaError] = []

    def on_delivery(err: KafkaError | None, _msg: object) -> None:
        if err is not None:
            failures.append(err)

    sent = 0
    with open(path, "rb") as fh:
        for raw in fh:
            value = raw.rstrip(b"\r\n")
            if not value.strip():
                continue
            key = None
            if key_fn is not None:
                try:
                    payload = orjson.loads(value)
                except orjson.JSONDecodeError:
                    payload = None
                if isinstance(payload, dict):
                    key = key_fn(topic, payload)
            while True:
                try:
                    producer.produce(topic, value, key=key, on_delivery=on_delivery)
                    break
                except BufferError:
                    producer.poll(0.05)  # the local queue is full: let deliveries drain
            sent += 1
            if sent % 100_000 == 0:
                producer.poll(0)
                log.info("%s: %s sent", topic, f"{sent:,}")
                if progress:
                    progress(f"{topic}: {sent:,} sent")
    remaining = producer.flush(60)
    if remaining:
        raise PublishError(f"{remaining} messages to {topic} were not delivered within 60 s")
    if failures:
        raise PublishError(f"{len(failures)} messages to {topic} failed: {failures[0]}")
    return sent
