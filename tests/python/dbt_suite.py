"""The dbt half of `make test`: a tiny company through the real file → stage → raw path, then
`dbt build` (every model, unit test and data test) twice — a full build, and an incremental build
after a second batch of events — plus source freshness.

Run as `python -m tests.python.dbt_suite`; exits non-zero when dbt reports an error or a failing
error-level test. Warn-level tests (expected dirt) are reported, not failed.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from ingest.dbt_runner import build, run_dbt
from ingest.file_source import ingest_files
from ingest.generator import generate
from ingest.settings import Settings


def split_file(path: Path, first: Path, second: Path) -> None:
    lines = path.read_bytes().splitlines(keepends=True)
    cut = int(len(lines) * 0.7)
    first.write_bytes(b"".join(lines[:cut]))
    second.write_bytes(b"".join(lines[cut:]))


def tiny_company_batches(root: Path) -> list[dict[str, Path]]:
    """The tiny company (seed 11) as two batches per topic: the first 70% of each file, then
    the rest."""
    summary = generate(scale="tiny", seed=11, out_dir=root / "events")
    batches: list[dict[str, Path]] = [{}, {}]
    for topic, info in summary.items():
        first, second = root / f"{topic}.1.jsonl", root / f"{topic}.2.jsonl"
        split_file(Path(info["path"]), first, second)
        batches[0][topic], batches[1][topic] = first, second
    for batch, salesforce in zip(
        batches, salesforce_batches(root, root / "events", 11), strict=True
    ):
        batch.update(salesforce)
    return batches


def salesforce_batches(root: Path, company: Path, seed: int) -> list[dict[str, Path]]:
    """An emulated org whose users are the company's reps: batch 1 a Bulk-style snapshot of
    every object (with its describe), batch 2 live changes as CDC events (and a REST read of
    the two objects without CDC), the shapes the extractor lands."""
    from datetime import UTC, datetime

    from ingest.salesforce import records as rec
    from ingest.salesforce.emulator.org import Org, okta_users_from_company
    from ingest.topics import SALESFORCE_CDC_OBJECTS, SALESFORCE_OBJECTS

    cached = root / "salesforce"
    cached.mkdir(parents=True)
    org = Org("tiny", seed, okta_users_from_company(company))
    at = "2026-11-01T00:00:00.000Z"

    def snapshot(sobject: str, source: str) -> tuple[list[bytes], bytes]:
        fields = rec.trim_describe(org.describe(sobject))
        version, types = rec.schema_version(fields), rec.field_types(fields)
        rows = [rec.type_record(r, types) for r in org.current_records(sobject)]
        lines = [m.value for m in rec.record_messages(sobject, source, version, rows, at)]
        describe = rec.describe_message(sobject, version, fields, at).value
        return lines, describe

    batches: list[dict[str, Path]] = [{}, {}]
    describes = []
    for sobject in SALESFORCE_OBJECTS:
        lines, describe = snapshot(sobject, "bulk")
        describes.append(describe)
        path = cached / f"salesforce.records.{sobject}.1.jsonl"
        path.write_bytes(b"".join(line + b"\n" for line in lines))
        batches[0][f"salesforce.records.{sobject}"] = path
    path = cached / "salesforce.describe.1.jsonl"
    path.write_bytes(b"".join(d + b"\n" for d in describes))
    batches[0]["salesforce.describe"] = path

    org.now = datetime(2026, 11, 1, 6, tzinfo=UTC)
    org.advance(150)
    by_topic: dict[str, list[bytes]] = {}
    for topic, _key, value in org.drain_cdc():
        by_topic.setdefault(topic, []).append(value)
    for sobject in SALESFORCE_CDC_OBJECTS:
        topic = f"salesforce.cdc.{sobject}"
        path = cached / f"{topic}.2.jsonl"
        path.write_bytes(b"".join(v + b"\n" for v in by_topic.get(topic, [])))
        batches[1][topic] = path
    for sobject in ("Task", "Event"):
        lines, _ = snapshot(sobject, "rest")
        path = cached / f"salesforce.records.{sobject}.2.jsonl"
        path.write_bytes(b"".join(line + b"\n" for line in lines))
        batches[1][f"salesforce.records.{sobject}"] = path
    return batches


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="revops-dbt-suite-") as tmp:
        root = Path(tmp)
        settings = Settings(
            warehouse_path=root / "revops.duckdb",
            stage_dir=root / "stage",
            dbt_target_path=root / "target",
        )
        batches = tiny_company_batches(root)

        for number, batch in enumerate(batches, start=1):
            for topic, path in batch.items():
                landed = ingest_files([path], topic, settings)
                print(
                    f"batch {number} {topic}: {landed.rows_inserted} rows, "
                    f"{landed.quarantined} quarantined"
                )
            result = build(settings, full_refresh=(number == 1), check=False)
            print(f"dbt build #{number}: {result.counts()}")
            if result.returncode != 0:
                return result.returncode

        freshness = run_dbt(settings, ["source", "freshness"], check=False)
        return freshness.returncode


if __name__ == "__main__":
    sys.exit(main())
