"""Hand-made Salesforce Bulk API records, as the extractor lands them (its envelope), for the
tests that write them to a JSONL file and land it with `ingest_files`."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path


def sf_iso(ts: datetime) -> str:
    """Salesforce's timestamp format: `2026-01-01T00:00:00.000Z`."""
    return ts.strftime("%Y-%m-%dT%H:%M:%S.000Z")


def bulk_record(sobject: str, fields: dict, modstamp: datetime) -> dict:
    """One record of a Bulk API backfill, extracted five minutes after its SystemModstamp."""
    return {
        "sobject": sobject,
        "source": "bulk",
        "schema_version": "000000000001",
        "extracted_at": sf_iso(modstamp + timedelta(minutes=5)),
        "job_id": None,
        "record": {"SystemModstamp": sf_iso(modstamp), **fields},
    }


def write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path
