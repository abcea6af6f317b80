"""Turn a source message (Kafka record or file line) into a stage line.

The stage holds exactly what arrived plus where it came from. A message that is not a JSON
object cannot be a payload column, so it becomes a quarantine line with the reason instead;
nothing is dropped. Contract checks (unknown event type, missing keys) are *not* done here:
decodable events land in raw and the staging models report them, so a producer bug never
blocks a partition.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass

import orjson


@dataclass(frozen=True, slots=True)
class SourceMessage:
    """One message from any source, with its position in that source."""

    source_position: (
        str  # kafka:<cluster id>/<topic>/<topic id>/<partition>/<offset> or file:sha256/line
    )
    topic: str
    partition: int | None
    offset: int | None
    key: bytes | None
    timestamp_ms: int | None
    value: bytes | None


@dataclass(frozen=True, slots=True)
class Decoded:
    """A stage line and whether it is a payload (True) or a quarantine record (False)."""

    line: bytes
    ok: bool


def _meta(msg: SourceMessage) -> dict:
    return {
        "source_position": msg.source_position,
        "topic": msg.topic,
        "partition": msg.partition,
        "offset": msg.offset,
        "key": None if msg.key is None else msg.key.decode("utf-8", "replace"),
        "kafka_timestamp_ms": msg.timestamp_ms,
    }


def quarantine_line(msg: SourceMessage, reason: str) -> bytes:
    value = msg.value or b""
    record = _meta(msg)
    record["reason"] = reason
    record["raw_text"] = value.decode("utf-8", "replace")
    record["raw_base64"] = base64.b64encode(value).decode("ascii")
    return orjson.dumps(record) + b"\n"


_ENVELOPE = (
    b'{"source_position":"%b","topic":"%b","partition":%b,"offset":%b,"key":%b,'
    b'"kafka_timestamp_ms":%b,"payload":%b}\n'
)


def _int_or_null(value: int | None) -> bytes:
    return b"null" if value is None else str(value).encode()


def decode(msg: SourceMessage) -> Decoded:
    value = msg.value
    if not value or value.isspace():
        return Decoded(quarantine_line(msg, "empty message"), ok=False)
    try:
        parsed = orjson.loads(value)
    except orjson.JSONDecodeError as exc:
        return Decoded(quarantine_line(msg, f"malformed JSON: {exc}"), ok=False)
    if type(parsed) is not dict:
        kind = type(parsed).__name__
        return Decoded(quarantine_line(msg, f"JSON is a {kind}, not an object"), ok=False)
    # The payload is spliced in verbatim (auditors see the bytes the producer sent) unless it
    # spans lines, which would break the newline-delimited stage file. The envelope is formatted
    # directly: positions and topic names never need JSON escaping, the key may.
    body = value.strip() if b"\n" not in value and b"\r" not in value else orjson.dumps(parsed)
    key = b"null" if msg.key is None else orjson.dumps(msg.key.decode("utf-8", "replace"))
    line = _ENVELOPE % (
        msg.source_position.encode(),
        msg.topic.encode(),
        _int_or_null(msg.partition),
        _int_or_null(msg.offset),
        key,
        _int_or_null(msg.timestamp_ms),
        body,
    )
    return Decoded(line, ok=True)
