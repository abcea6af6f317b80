"""`revops` — the command line for generating, ingesting, building and demonstrating.

Every sub-command fails with one clear line on stderr, never a traceback (unless REVOPS_DEBUG
is set). Exit codes:

- 0  done;
- 2  an error the operator can act on: bad arguments or environment variables, an unreadable
     input, an unreachable broker, a warehouse another process holds, a stage that cannot be
     written, a failed dbt build, messages that conflict with raw rows at the same position;
- 1  an unexpected internal error (a bug: rerun with REVOPS_DEBUG=1 for the traceback);
- 130 / 143  interrupted by SIGINT / SIGTERM (forwarded to dbt, which stops too).

Writing commands (ingest, build, demo) hold the warehouse for their whole run: a second one says
which process holds it and exits 2, or waits up to `--wait SECONDS` (the DuckDB file; on
Snowflake, loads serialise inside the warehouse instead). `--target` (or `REVOPS_DBT_TARGET`:
duckdb, snowflake, fakesnow) picks the warehouse for `ingest` and `build`; the demo is always
the embedded DuckDB.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

from ingest.generator.company import SCALES
from ingest.settings import TARGETS, Settings, SettingsError
from ingest.topics import TOPICS


class CliError(Exception):
    """A user-facing error: printed as one line, exit code 2."""


@contextmanager
def _holding_warehouse(args: argparse.Namespace, settings: Settings) -> Iterator[None]:
    from ingest.warehouse import warehouse_class

    wait_s = getattr(args, "wait", 0.0) or 0.0
    with warehouse_class(settings).exclusive(settings, wait_s):
        yield


def non_negative_seconds(value: str) -> float:
    """argparse type of `--wait SECONDS` (revops and python -m ingest.restatements)."""
    try:
        seconds = float(value)
    except ValueError:
        seconds = -1.0
    if not seconds >= 0:
        raise argparse.ArgumentTypeError(f"not a number of seconds >= 0: {value!r}")
    return seconds


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
    from ingest.file_source import SourceFileError, expand_paths, ingest_files

    try:
        paths = expand_paths(args.paths)
        with _holding_warehouse(args, settings):
            result = ingest_files(paths, args.topic, settings)
    except SourceFileError as exc:
        raise CliError(str(exc)) from exc
    skipped = f", {result.already_loaded:,} already loaded" if result.already_loaded else ""
    print(
        f"{args.topic}: {result.messages:,} messages from {len(paths)} file(s) in "
        f"{len(result.batches)} batch(es), {result.rows_inserted:,} new raw rows, "
        f"{result.quarantined:,} quarantined{skipped}"
    )
    return 0


def cmd_ingest_kafka(args: argparse.Namespace, settings: Settings) -> int:
    bootstrap = args.bootstrap or settings.kafka_bootstrap
    if not bootstrap:
        raise CliError("no Kafka bootstrap servers: pass --bootstrap or set REVOPS_KAFKA_BOOTSTRAP")
    from ingest.kafka.consumer import BrokerUnavailableError, consume

    try:
        with _holding_warehouse(args, settings):
            result = consume(
                settings,
                topics=args.topic,
                bootstrap=bootstrap,
                until_idle=args.until_idle,
                max_messages=args.max_messages,
            )
    except BrokerUnavailableError as exc:
        raise CliError(str(exc)) from exc
    print(result.summary())
    conflicts = result.position_conflicts
    if conflicts:
        raise CliError(
            f"{conflicts:,} message(s) sit at positions raw already holds with other content "
            "(a recreated topic or a changed cluster?); they are in raw.ingest_quarantine with "
            "reason 'position conflict: ...'"
        )
    return 0


def cmd_build(args: argparse.Namespace, settings: Settings) -> int:
    from ingest.dbt_runner import DbtError, DbtInterrupted, build

    on_line = logging.getLogger("revops.dbt").info if settings.log_format == "json" else None
    try:
        with _holding_warehouse(args, settings):
            build(
                settings,
                full_refresh=args.full_refresh,
                as_known_at=args.as_known_at,
                select=args.select,
                indirect_selection=args.indirect_selection,
                on_line=on_line,
            )
    except DbtInterrupted:
        raise
    except DbtError as exc:
        raise CliError(str(exc)) from exc
    return 0


def cmd_demo(args: argparse.Namespace, settings: Settings) -> int:
    from ingest.demo import run_demo

    settings = settings.with_target("duckdb")
    with _holding_warehouse(args, settings):
        return run_demo(settings, scale=args.scale, seed=args.seed)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="revops",
        description="Point-in-time rep/team history: generate, ingest, build, demo.",
    )
    sub = parser.add_subparsers(dest="command", required=True)

    gen = sub.add_parser("generate", help="write a synthetic company as JSONL, one file per topic")
    gen.add_argument("--scale", choices=list(SCALES), default="small")
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
    file_.add_argument(
        "paths", nargs="+", metavar="PATH", help="a JSONL file, or a directory of *.jsonl files"
    )
    file_.add_argument("--topic", required=True, type=_topic)
    file_.set_defaults(func=cmd_ingest_file)

    from ingest.salesforce.commands import add_ingest_parser

    salesforce = add_ingest_parser(ing_sub)

    build = sub.add_parser("build", help="run dbt build with the project's profile")
    build.add_argument("--full-refresh", action="store_true")
    build.add_argument(
        "--as-known-at",
        type=_parse_ts,
        help="rebuild from raw rows loaded up to this instant, into *_as_of_<ts> schemas",
    )
    build.add_argument("--select", "-s", help="dbt selection (default: everything)")
    build.add_argument(
        "--indirect-selection",
        choices=("eager", "cautious", "buildable", "empty"),
        help=(
            "which tests of the selected models run (dbt's flag; default eager): cautious runs "
            "only the tests whose every parent is selected"
        ),
    )
    build.set_defaults(func=cmd_build)

    for writer in (kafka, file_, salesforce, build):
        writer.add_argument(
            "--wait",
            type=non_negative_seconds,
            default=0.0,
            metavar="SECONDS",
            help="if another revops process holds the warehouse, wait up to this long for it",
        )
        writer.add_argument(
            "--target",
            choices=TARGETS,
            help="warehouse and dbt target (default: $REVOPS_DBT_TARGET, else duckdb)",
        )

    demo = sub.add_parser("demo", help="the whole pipeline end to end on the embedded warehouse")
    demo.add_argument("--scale", choices=["tiny", "small", "medium"], default="small")
    demo.add_argument("--seed", type=int, default=7)
    demo.set_defaults(func=cmd_demo)

    from ingest.salesforce.emulator.command import add_emulator_parser

    add_emulator_parser(sub)
    return parser


def _operator_errors() -> tuple[type[BaseException], ...]:
    """Errors with a message an operator can act on (exit 2), from the modules that raise them."""
    from ingest.file_source import SourceFileError
    from ingest.salesforce.client import SalesforceSyncError
    from ingest.stage import StageWriteError
    from ingest.topics import UnknownTopicError
    from ingest.warehouse import WarehouseError

    return (
        CliError,
        SalesforceSyncError,
        SettingsError,
        SourceFileError,
        StageWriteError,
        UnknownTopicError,
        WarehouseError,
    )


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        settings = Settings.from_env()
        if hasattr(args, "target"):  # the commands that write to or build the warehouse
            settings = settings.with_target(args.target)
    except SettingsError as exc:
        print(f"revops: error: {exc}", file=sys.stderr)
        return 2
    from ingest.logs import configure_logging

    configure_logging(settings.log_level, settings.log_format)
    return exit_code(lambda: args.func(args, settings))


def exit_code(
    command: Callable[[], int | None], operator_errors: tuple[type[BaseException], ...] = ()
) -> int:
    """Run `command` under the CLI's exit-code contract (README, "Exit codes"): 0 done; 2 an
    error an operator can act on (`_operator_errors()` and `operator_errors`), one line; 128 +
    the signal when interrupted; 1 an internal error (the traceback with REVOPS_DEBUG=1)."""
    from ingest.dbt_runner import DbtInterrupted

    try:
        return int(command() or 0)
    except (*operator_errors, *_operator_errors()) as exc:
        print(f"revops: error: {exc}", file=sys.stderr)
        return 2
    except DbtInterrupted as exc:
        print(f"revops: {exc}", file=sys.stderr)
        return 128 + exc.signum
    except KeyboardInterrupt:
        print("revops: interrupted", file=sys.stderr)
        return 128 + signal.SIGINT
    except Exception as exc:
        if os.environ.get("REVOPS_DEBUG"):
            raise
        print(
            f"revops: internal error: {type(exc).__name__}: {exc} "
            "(rerun with REVOPS_DEBUG=1 for the traceback)",
            file=sys.stderr,
        )
        return 1


if __name__ == "__main__":
    sys.exit(main())
