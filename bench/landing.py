"""File landing throughput (stage + raw) on one JSONL file, into a fresh DuckDB warehouse.

Lands the file with `ingest_files` (the path `revops ingest file` takes), then replays it (which
must load nothing), and prints rows/s and MB/s of both. `make bench` lands whole topics; this is
the quick loop for the landing code alone. Run:
`python -m bench.landing [/tmp/events.jsonl] --topic admin.membership.v1 [--profile out.prof]`.
Without a file, it lands `--lines` (1M) lines of the topic: the generator's small company (seed
7, a few seconds) repeated, dirt (malformed lines, duplicates) included.
"""

from __future__ import annotations

import argparse
import cProfile
import itertools
import tempfile
import time
from pathlib import Path

from ingest.file_source import ingest_files
from ingest.settings import Settings


def sample_file(topic: str, lines: int, out_dir: Path) -> Path:
    """`lines` lines of `topic`: the small generated company's, repeated until there are enough."""
    from ingest.generator import generate

    summary = generate(scale="small", seed=7, out_dir=out_dir / "events")
    events = Path(summary[topic]["path"]).read_bytes().splitlines(keepends=True)
    path = out_dir / f"{topic}.{lines}.jsonl"
    with open(path, "wb") as fh:
        fh.writelines(itertools.islice(itertools.cycle(events), lines))
    return path


def run(path: Path, topic: str, batch_max_messages: int | None, profile: Path | None) -> None:
    size_mb = path.stat().st_size / 1e6
    with tempfile.TemporaryDirectory(prefix="revops-landing-bench-") as tmp:
        root = Path(tmp)
        settings = Settings(warehouse_path=root / "w.duckdb", stage_dir=root / "stage")
        if batch_max_messages:
            settings = Settings(
                warehouse_path=settings.warehouse_path,
                stage_dir=settings.stage_dir,
                batch_max_messages=batch_max_messages,
            )
        profiler = cProfile.Profile() if profile else None
        t0 = time.monotonic()
        if profiler:
            profiler.enable()
        first = ingest_files([path], topic, settings)
        if profiler:
            profiler.disable()
            profiler.dump_stats(str(profile))
        secs = time.monotonic() - t0
        print(
            f"land   {first.messages:,} msgs ({size_mb:,.0f} MB) in {secs:.1f} s = "
            f"{first.messages / secs:,.0f} rows/s, {size_mb / secs:,.0f} MB/s; "
            f"{first.rows_inserted:,} raw rows, {first.quarantined:,} quarantined, "
            f"{len(first.batches)} batch(es)"
        )
        t0 = time.monotonic()
        again = ingest_files([path], topic, settings)
        secs = time.monotonic() - t0
        print(
            f"replay {again.messages:,} msgs in {secs:.1f} s = "
            f"{again.messages / secs:,.0f} rows/s; "
            f"{again.rows_inserted:,} raw rows, {again.already_loaded:,} already loaded"
        )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("path", type=Path, nargs="?", help="a JSONL file (default: generated)")
    parser.add_argument("--topic", default="admin.membership.v1")
    parser.add_argument("--lines", type=int, default=1_000_000, help="lines to generate")
    parser.add_argument("--batch-max-messages", type=int, default=None)
    parser.add_argument("--profile", type=Path, default=None, help="write cProfile stats here")
    args = parser.parse_args()
    if args.path:
        run(args.path, args.topic, args.batch_max_messages, args.profile)
    else:
        with tempfile.TemporaryDirectory(prefix="revops-landing-sample-") as sample:
            path = sample_file(args.topic, args.lines, Path(sample))
            run(path, args.topic, args.batch_max_messages, args.profile)
