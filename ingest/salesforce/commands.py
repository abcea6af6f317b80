"""`revops ingest salesforce`: argument parsing and the command."""

from __future__ import annotations

import argparse
from datetime import UTC, datetime

from ingest.settings import Settings


def _date(value: str) -> datetime:
    try:
        ts = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"not an ISO-8601 date or timestamp: {value!r} (e.g. 2026-01-31)"
        ) from None
    return ts.replace(tzinfo=UTC) if ts.tzinfo is None else ts.astimezone(UTC)


def add_ingest_parser(ing_sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    parser = ing_sub.add_parser("salesforce", help="synchronise Salesforce objects into raw")
    parser.add_argument(
        "--objects", help="comma-separated objects (default: all eight synchronised objects)"
    )
    parser.add_argument(
        "--backfill", action="store_true", help="Bulk API 2.0 backfill instead of incremental"
    )
    parser.add_argument("--since", type=_date, help="backfill start (ISO date; inclusive)")
    parser.add_argument("--until", type=_date, help="backfill end (ISO date; exclusive)")
    parser.add_argument(
        "--chunk-days", type=float, default=30.0, help="backfill chunk length (default 30 days)"
    )
    parser.add_argument(
        "--reconcile", action="store_true", help="compare the full id set with raw: tombstones"
    )
    parser.add_argument(
        "--cdc",
        action="store_true",
        help="consume the CDC topics salesforce.cdc.<Object>, then re-fetch gaps and overflows",
    )
    parser.add_argument(
        "--until-idle",
        action="store_true",
        help="with --cdc: stop once every partition is at the high watermark seen at start",
    )
    parser.add_argument("--bootstrap", help="with --cdc: Kafka bootstrap servers")
    parser.set_defaults(func=cmd_ingest_salesforce)
    return parser


def cmd_ingest_salesforce(args: argparse.Namespace, settings: Settings) -> int:
    from ingest.cli import _holding_warehouse
    from ingest.salesforce.client import SalesforceClient, SalesforceSyncError
    from ingest.salesforce.sync import Syncer, parse_objects
    from ingest.warehouse import open_warehouse

    try:
        objects = parse_objects(args.objects)
    except ValueError as exc:
        raise SalesforceSyncError(str(exc)) from None
    if args.cdc:
        return _cmd_cdc(args, settings, objects)
    if args.since and args.until and args.since >= args.until:
        raise SalesforceSyncError("--since must be before --until")
    client = SalesforceClient.connect(settings.salesforce)
    with _holding_warehouse(args, settings), open_warehouse(settings) as warehouse:
        Syncer(settings, warehouse, client, chunk_days=args.chunk_days).run(
            objects,
            backfill=args.backfill,
            since=args.since,
            until=args.until,
            reconcile=args.reconcile,
        )
    return 0


def _cmd_cdc(args: argparse.Namespace, settings: Settings, objects: list[str]) -> int:
    from ingest.cli import _holding_warehouse
    from ingest.kafka.consumer import BrokerUnavailableError
    from ingest.salesforce.cdc import cdc_objects, run_cdc
    from ingest.salesforce.client import SalesforceClient, SalesforceSyncError
    from ingest.warehouse import open_warehouse

    clash = [
        flag
        for flag, value in (
            ("--backfill", args.backfill),
            ("--since", args.since),
            ("--until", args.until),
            ("--reconcile", args.reconcile),
        )
        if value
    ]
    if clash:
        raise SalesforceSyncError(f"--cdc cannot be combined with {', '.join(clash)}")
    selected = cdc_objects(objects)
    if not selected:
        raise SalesforceSyncError(
            f"none of {', '.join(objects)} has Change Data Capture; leave out --cdc"
        )
    skipped = [o for o in objects if o not in selected]
    if skipped and args.objects:
        print(f"no CDC for {', '.join(skipped)}: synchronise them without --cdc")
    bootstrap = args.bootstrap or settings.kafka_bootstrap
    if not bootstrap:
        raise SalesforceSyncError(
            "no Kafka bootstrap servers: pass --bootstrap or set REVOPS_KAFKA_BOOTSTRAP"
        )
    client = SalesforceClient.connect(settings.salesforce)
    try:
        with _holding_warehouse(args, settings), open_warehouse(settings) as warehouse:
            run_cdc(settings, warehouse, client, selected, bootstrap, until_idle=args.until_idle)
    except BrokerUnavailableError as exc:
        raise SalesforceSyncError(str(exc)) from exc
    return 0
