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
