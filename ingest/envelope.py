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


@dataclass(slots=True)
class EncodedRun:
    """A run's stage lines: `ok` for the payload file, `quarantined` for the quarantine file."""

    ok: list[bytes]
    quarantined: list[bytes]
    quarantined_offsets: list[int]


def _template(prefix: str, topic: str, partition: int | None, tail: bytes) -> bytes:
    """The `_ENVELOPE` line of one run with its constant parts filled in (`%` escaped)."""
    head = (
        b'{"source_position":"'
        + prefix.encode().replace(b"%", b"%%")
        + b'%d","topic":"'
        + topic.encode().replace(b"%", b"%%")
        + b'","partition":'
        + _int_or_null(partition)
        + b',"offset":%d,'
    )
    return head + tail


def _one_line_object(value: bytes | None) -> bool:
    """The common message: a JSON object on one line (anything else goes through `decode`)."""
    try:
        parsed = orjson.loads(value)
    except orjson.JSONDecodeError:
        return False
    return type(parsed) is dict and b"\n" not in value and b"\r" not in value


def encode_run(
    topic: str,
    prefix: str,
    partition: int | None,
    offsets: list[int],
    values: list[bytes | None],
    keys: list[bytes | None] | None = None,
    timestamps: list[int | None] | None = None,
) -> EncodedRun:
    """`decode` for a run of messages that share a position prefix (`prefix + offset` is each
    one's position): the same lines, byte for byte, without a `SourceMessage` per message.

    The common message (a JSON object on one line) costs one `orjson.loads` and one `%`; any
    other goes through `decode` itself, so reasons and quarantine lines are exactly its own.
    Files pass no keys and no timestamps (both null in every line).
    """
    ok: list[bytes] = []
    quarantined: list[bytes] = []
    quarantined_offsets: list[int] = []
    append = ok.append
    dumps = orjson.dumps

    def slow(offset: int, value: bytes | None, key: bytes | None, ts: int | None) -> None:
        decoded = decode(
            SourceMessage(f"{prefix}{offset}", topic, partition, offset, key, ts, value)
        )
        if decoded.ok:
            append(decoded.line)
        else:
            quarantined.append(decoded.line)
            quarantined_offsets.append(offset)

    if keys is None and timestamps is None:
        template = _template(prefix, topic, partition, b'"key":null,"kafka_timestamp_ms":null,')
        template += b'"payload":%b}\n'
        for offset, value in zip(offsets, values, strict=True):
            if not _one_line_object(value):
                slow(offset, value, None, None)
                continue
            append(template % (offset, offset, value.strip()))
        return EncodedRun(ok, quarantined, quarantined_offsets)

    keys = keys if keys is not None else [None] * len(offsets)
    timestamps = timestamps if timestamps is not None else [None] * len(offsets)
    with_ts = _template(prefix, topic, partition, b'"key":%b,"kafka_timestamp_ms":%d,')
    with_ts += b'"payload":%b}\n'
    without_ts = _template(prefix, topic, partition, b'"key":%b,"kafka_timestamp_ms":null,')
    without_ts += b'"payload":%b}\n'
    for offset, value, key, ts in zip(offsets, values, keys, timestamps, strict=True):
        if not _one_line_object(value):
            slow(offset, value, key, ts)
            continue
        key_json = b"null" if key is None else dumps(key.decode("utf-8", "replace"))
        if ts is None:
            append(without_ts % (offset, offset, key_json, value.strip()))
        else:
            append(with_ts % (offset, offset, key_json, ts, value.strip()))
    return EncodedRun(ok, quarantined, quarantined_offsets)
