"""Pure functions between Salesforce's API shapes and the stage messages (docs/salesforce.md).

No I/O here: describe results are trimmed and versioned, Bulk CSV rows and REST records become
typed JSON records, and records, describes and sync-log entries become `SourceMessage`s with
the documented positions.
"""

from __future__ import annotations

import csv
import hashlib
import io
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime, timedelta

import orjson

from ingest.envelope import SourceMessage

DESCRIBE_TOPIC = "salesforce.describe"
SYNC_TOPIC = "salesforce.sync"
_TRIMMED_KEYS = ("name", "type", "nillable", "calculated", "length", "precision", "scale")
# Compound fields: their components are extracted, the compound itself is not.
_COMPOUND_TYPES = frozenset({"address", "location"})
_INT_TYPES = frozenset({"int", "long"})
_FLOAT_TYPES = frozenset({"double", "currency", "percent"})


def records_topic(sobject: str) -> str:
    return f"salesforce.records.{sobject}"


def trim_describe(describe: dict) -> list[dict]:
    """The describe's fields reduced to what the extraction depends on, sorted by name."""
    out = []
    for f in describe.get("fields", []):
        trimmed = {k: f.get(k) for k in _TRIMMED_KEYS}
        trimmed["picklistValues"] = [
            {"value": p.get("value"), "active": bool(p.get("active"))}
            for p in f.get("picklistValues") or []
        ]
        out.append(trimmed)
    return sorted(out, key=lambda f: f["name"])


def canonical_json(value: object) -> bytes:
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS)


def schema_version(fields: list[dict]) -> str:
    return hashlib.sha256(canonical_json(fields)).hexdigest()[:12]


def extraction_fields(fields: list[dict]) -> list[str]:
    """Fields to read: not calculated, not a compound address/location."""
    return [
        f["name"]
        for f in fields
        if not f.get("calculated") and f.get("type") not in _COMPOUND_TYPES
    ]


def field_types(fields: list[dict]) -> dict[str, str]:
    return {f["name"]: f["type"] for f in fields}


def describe_drift(old: list[dict] | None, new: list[dict]) -> dict[str, list[str]]:
    """Added, removed and retyped fields and picklist changes between two trimmed describes."""
    if old is None:
        return {}
    before = {f["name"]: f for f in old}
    after = {f["name"]: f for f in new}
    drift = {
        "added": sorted(after.keys() - before.keys()),
        "removed": sorted(before.keys() - after.keys()),
        "retyped": sorted(
            f"{n}: {before[n]['type']} -> {after[n]['type']}"
            for n in before.keys() & after.keys()
            if before[n]["type"] != after[n]["type"]
        ),
        "picklist": sorted(
            n
            for n in before.keys() & after.keys()
            if before[n].get("picklistValues") != after[n].get("picklistValues")
        ),
    }
    return {k: v for k, v in drift.items() if v}


# --- timestamps -------------------------------------------------------------------------------


def parse_datetime(value: str) -> datetime:
    """A Salesforce datetime (`2026-01-01T00:00:00.000Z`, `...+0000`, `...+00:00`) as UTC."""
    text = value.strip()
    if text.endswith("Z"):
        text = text[:-1] + "+00:00"
    elif len(text) > 5 and text[-5] in "+-" and text[-4:].isdigit():
        text = f"{text[:-2]}:{text[-2:]}"
    ts = datetime.fromisoformat(text)
    if ts.tzinfo is None:
        ts = ts.replace(tzinfo=UTC)
    return ts.astimezone(UTC)


def iso_utc(ts: datetime) -> str:
    ts = ts.astimezone(UTC) if ts.tzinfo else ts.replace(tzinfo=UTC)
    return ts.strftime("%Y-%m-%dT%H:%M:%S.") + f"{ts.microsecond // 1000:03d}Z"


def normalise_datetime(value: str) -> str:
    return iso_utc(parse_datetime(value))


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def epoch_ms(value: str) -> int:
    return (parse_datetime(value) - _EPOCH) // timedelta(milliseconds=1)


def soql_datetime(ts: datetime) -> str:
    """A datetime literal for SOQL (`2026-01-01T00:00:00.000Z`)."""
    return iso_utc(ts)


# --- typing values ----------------------------------------------------------------------------


def convert_value(value: object, type_: str | None) -> object:
    """One field's value as typed JSON, whatever the API returned (CSV text or REST JSON)."""
    if value is None:
        return None
    if isinstance(value, str):
        if value == "":
            return None
        if type_ == "boolean":
            return value.strip().lower() == "true"
        if type_ in _INT_TYPES:
            return int(float(value)) if "." in value or "e" in value.lower() else int(value)
        if type_ in _FLOAT_TYPES:
            return float(value)
        if type_ == "date":
            return value[:10]
        if type_ == "datetime":
            return normalise_datetime(value)
        return value
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float):
        if type_ in _FLOAT_TYPES:
            return float(value)
        if type_ in _INT_TYPES:
            return int(value)
        return value
    return value


def type_record(raw: dict, types: dict[str, str]) -> dict:
    """A REST record or a CSV row as a typed record (REST `attributes` dropped)."""
    return {
        name: convert_value(value, types.get(name))
        for name, value in raw.items()
        if name != "attributes" and not isinstance(value, dict)
    }


def csv_records(text: str, types: dict[str, str]) -> Iterator[dict]:
    """Bulk API 2.0 CSV results as typed records (an empty cell is null)."""
    for row in csv.DictReader(io.StringIO(text)):
        yield type_record(row, types)


# --- messages ---------------------------------------------------------------------------------


def record_position(source: str, sobject: str, version: str, record_id: str) -> str:
    return f"salesforce:{source}/{sobject}/{version}/{record_id}/"


def record_offset(source: str, record: dict) -> int:
    if source == "reconcile":
        return 0
    if source == "get_deleted":
        return epoch_ms(record["deletedDate"])
    return epoch_ms(record["SystemModstamp"])


def record_messages(
    sobject: str,
    source: str,
    version: str,
    records: Iterable[dict],
    extracted_at: str,
    job_id: str | None = None,
) -> list[SourceMessage]:
    topic = records_topic(sobject)
    out = []
    for record in records:
        offset = record_offset(source, record)
        payload = {
            "sobject": sobject,
            "source": source,
            "schema_version": version,
            "extracted_at": extracted_at,
            "job_id": job_id,
            "record": record,
        }
        position = record_position(source, sobject, version, record["Id"])
        out.append(
            SourceMessage(
                f"{position}{offset}",
                topic,
                None,
                offset,
                record["Id"].encode(),
                None,
                orjson.dumps(payload),
            )
        )
    return out


def describe_message(
    sobject: str, version: str, fields: list[dict], described_at: str
) -> SourceMessage:
    payload = {
        "sobject": sobject,
        "schema_version": version,
        "described_at": described_at,
        "fields": fields,
    }
    return SourceMessage(
        f"salesforce:describe/{sobject}/{version}/0",
        DESCRIBE_TOPIC,
        None,
        0,
        sobject.encode(),
        None,
        orjson.dumps(payload),
    )


def sync_message(run_id: str, seq: int, kind: str, sobject: str | None, at: str, **extra: object):
    payload = {
        "entry_id": f"{run_id}/{seq}",
        "kind": kind,
        "sobject": sobject,
        "run_id": run_id,
        "at": at,
        **extra,
    }
    return SourceMessage(
        f"salesforce:sync/{run_id}/{seq}",
        SYNC_TOPIC,
        None,
        seq,
        (sobject or "").encode() or None,
        None,
        orjson.dumps(payload),
    )
