"""`revops` — the command line for generating, ingesting, building and demonstrating.

Every sub-command fails with one clear line (exit code 2 for bad arguments or unreachable
inputs), never a traceback, unless REVOPS_DEBUG is set.
"""

from __future__ import annotations

import argparse
import os
import sys
from datetime import UTC, datetime
from pathlib import Path

from ingest.settings import Settings
from ingest.topics import TOPICS


class CliError(Exception):
    """A user-facing error: printed as one line, exit code 2."""


def _parse_ts(value: str) -> str:
    try:
        ts = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"not an ISO-8601 timestamp: {value!r} (e.g. 2026-01-31T12:00:00Z)"
        ) from None
    if ts.tzinfo is not None:
        ts = ts.astimezone(UTC).replace(tzinfo=None)
    return ts.isoformat(sep=" ")


def _topic(value: str) -> str:
    if value not in TOPICS:
        raise argparse.ArgumentTypeError(
            f"unknown topic {value!r}; choose from {', '.join(sorted(TOPICS))}"
        )
    return value


def cmd_generate(args: argparse.Namespace, settings: Settings) -> int:
    from ingest.generator import generate

    summary = generate(scale=args.scale, seed=args.seed, out_dir=Path(args.out))
    for topic, info in summary.items():
        print(f"{topic}: {info['messages']:,} messages -> {info['path']}")
    return 0


def cmd_ingest_file(args: argparse.Namespace, settings: Settings) -> int:
    from ingest.file_source import SourceFileError, ingest_files

    paths = [Path(p) for p in args.paths]
    for p in paths:
        if not p.is_file():
            raise CliError(f"cannot read {p}: no such file")
    try:
        result = ingest_files(paths, args.topic, settings)
    except SourceFileError as exc:
        raise CliError(str(exc)) from exc
    print(
        f"{args.topic}: {result.messages:,} messages in {len(result.batches)} batch(es), "
        f"{result.rows_inserted:,} new raw rows, {result.quarantined:,} quarantined"
    )
    return 0


def cmd_ingest_kafka(args: argparse.Namespace, settings: Settings) -> int:
    bootstrap = args.bootstrap or settings.kafka_bootstrap
    if not bootstrap:
        raise CliError("no Kafka bootstrap servers: pass --bootstrap or set REVOPS_KAFKA_BOOTSTRAP")
    from ingest.kafka.consumer import BrokerUnavailableError, consume

    try:
        result = consume(
            settings,
            topics=args.topic,
            bootstrap=bootstrap,
            until_idle=args.until_idle,
            max_messages=args.max_messages,
            progress=print,
        )
    except BrokerUnavailableError as exc:
        raise CliError(str(exc)) from exc
    print(result.summary())
    return 0


def cmd_build(args: argparse.Namespace, settings: Settings) -> int:
    from ingest.dbt_runner import DbtError, build

    try:
        build(
            settings,
            full_refresh=args.full_refresh,
            as_known_at=args.as_known_at,
            select=args.select,
        )
    except DbtError as exc:
        raise CliError(str(exc)) from exc
    return 0


def cmd_demo(args: argparse.Namespace, settings: Settings) -> int:
    from ingest.demo import run_demo

    return run_demo(settings, scale=args.scale, seed=args.seed)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="revops",
        description="Point-in-time rep/team history: generate, ingest, build, demo.",
    )
    sub = parser.add_subparsers(dest="command", required=True)

    gen = sub.add_parser("generate", help="write a synthetic company as JSONL, one file per topic")
    gen.add_argument("--scale", choices=["tiny", "small", "medium"], default="small")
    gen.add_argument("--seed", type=int, default=7)
    gen.add_argument("--out", required=True, help="output directory")
    gen.set_defaults(func=cmd_generate)

    ing = sub.add_parser("ingest", help="land events in the stage and raw tables")
    ing_sub = ing.add_subparsers(dest="source", required=True)

    kafka = ing_sub.add_parser("kafka", help="consume topics (commit offsets after the raw load)")
    kafka.add_argument("--topic", action="append", required=True, type=_topic)
    kafka.add_argument("--bootstrap", help="bootstrap servers (default: $REVOPS_KAFKA_BOOTSTRAP)")
    mode = kafka.add_mutually_exclusive_group()
    mode.add_argument(
        "--until-idle",
        action="store_true",
        help="stop once every assigned partition is at the high watermark seen at start",
    )
    mode.add_argument("--max-messages", type=int, help="stop after this many messages")
    kafka.set_defaults(func=cmd_ingest_kafka)

    file_ = ing_sub.add_parser("file", help="land JSONL files through the same stage/raw path")
    file_.add_argument("paths", nargs="+", metavar="PATH")
    file_.add_argument("--topic", required=True, type=_topic)
    file_.set_defaults(func=cmd_ingest_file)

    build = sub.add_parser("build", help="run dbt build with the project's profile")
    build.add_argument("--full-refresh", action="store_true")
    build.add_argument(
        "--as-known-at",
        type=_parse_ts,
        help="rebuild from raw rows loaded up to this instant, into *_as_of_<ts> schemas",
    )
    build.add_argument("--select", "-s", help="dbt selection (default: everything)")
    build.set_defaults(func=cmd_build)

    demo = sub.add_parser("demo", help="the whole pipeline end to end on the embedded warehouse")
    demo.add_argument("--scale", choices=["tiny", "small", "medium"], default="small")
    demo.add_argument("--seed", type=int, default=7)
    demo.set_defaults(func=cmd_demo)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    settings = Settings.from_env()
    try:
        return int(args.func(args, settings) or 0)
    except CliError as exc:
        print(f"revops: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("revops: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:
        if os.environ.get("REVOPS_DEBUG"):
            raise
        print(f"revops: error: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
