"""`revops ingest salesforce`: argument parsing and the command (filled in by the sync)."""

from __future__ import annotations

import argparse


def add_ingest_parser(ing_sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    parser = ing_sub.add_parser("salesforce", help="synchronise Salesforce objects into raw")
    parser.set_defaults(func=lambda args, settings: 0)
    return parser
