"""`revops salesforce-emulator`: argument parsing and the command."""

from __future__ import annotations

import argparse
import signal
import threading
from pathlib import Path


def add_emulator_parser(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    parser = sub.add_parser(
        "salesforce-emulator",
        help="serve a synthetic Salesforce org over HTTPS (docs/salesforce_emulator.md)",
    )
    parser.add_argument("--scale", choices=("tiny", "small", "medium"), default="tiny")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--company", metavar="DIR", help="a `revops generate` output: users from its Okta log"
    )
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--ca-dir", metavar="DIR", help="where to write the CA bundle PEM")
    parser.add_argument(
        "--kafka-bootstrap",
        metavar="HOST:PORT",
        help="publish CDC events to salesforce.cdc.<Object>",
    )
    parser.add_argument(
        "--cdc-dir", metavar="DIR", help="append CDC events to salesforce.cdc.<Object>.jsonl files"
    )
    parser.add_argument(
        "--changes-every",
        nargs=2,
        metavar=("SECONDS", "N"),
        help="apply N random changes every SECONDS seconds",
    )
    parser.set_defaults(func=cmd_salesforce_emulator)
    return parser


def _cli_error(message: str) -> Exception:
    from ingest.cli import CliError

    return CliError(message)


def cdc_publisher(bootstrap: str, settings: object = None):  # type: ignore[no-untyped-def]
    """A function publishing drained CDC events to Kafka (lz4, key = first record id)."""
    from confluent_kafka import Producer

    from ingest.kafka.producer import producer_config

    producer = Producer(producer_config(bootstrap, settings))  # type: ignore[arg-type]

    def publish(events: list[tuple[str, bytes, bytes]]) -> None:
        for topic, key, value in events:
            while True:
                try:
                    producer.produce(topic, value=value, key=key)
                    break
                except BufferError:
                    producer.poll(0.1)
        producer.flush(30)

    return publish


def cmd_salesforce_emulator(args: argparse.Namespace, settings: object) -> int:
    from ingest.salesforce.emulator.org import Org, okta_users_from_company
    from ingest.salesforce.emulator.server import Emulator

    every = None
    if args.changes_every:
        try:
            every = (float(args.changes_every[0]), int(args.changes_every[1]))
        except ValueError:
            raise _cli_error(
                "--changes-every takes SECONDS (a number) and N (an integer)"
            ) from None
        if every[0] <= 0 or every[1] < 0:
            raise _cli_error("--changes-every needs SECONDS > 0 and N >= 0")
    okta = None
    if args.company:
        try:
            okta = okta_users_from_company(Path(args.company))
        except (FileNotFoundError, OSError) as exc:
            raise _cli_error(f"cannot read users from --company {args.company}: {exc}") from None
    publish = cdc_publisher(args.kafka_bootstrap, settings) if args.kafka_bootstrap else None
    org = Org(args.scale, args.seed, okta_users=okta)
    try:
        emu = Emulator(org, port=args.port, ca_dir=args.ca_dir).start()
    except OSError as exc:
        raise _cli_error(f"cannot serve on port {args.port}: {exc.strerror or exc}") from None
    print(f"Salesforce emulator ({args.scale}, seed {args.seed}) at {emu.instance_url}", flush=True)
    print(f"CA bundle: {emu.ca_bundle}")
    print(f"REVOPS_SALESFORCE_INSTANCE_URL={emu.instance_url}")
    print(f"REVOPS_SALESFORCE_CA_BUNDLE={emu.ca_bundle}", flush=True)

    stop = threading.Event()
    received: list[int] = []

    def on_signal(signum: int, _frame: object) -> None:
        received.append(signum)
        stop.set()

    old = {s: signal.signal(s, on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        while not stop.wait(every[0] if every else 0.5):
            if every:
                org.advance(every[1])
            events = org.drain_cdc()
            if events and args.cdc_dir:
                org.write_cdc_jsonl(args.cdc_dir, events)
            if events and publish:
                publish(events)
    finally:
        for sig, handler in old.items():
            signal.signal(sig, handler)
        emu.stop()
    return 0
