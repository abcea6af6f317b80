"""`revops salesforce-emulator`: argument parsing and the command."""

from __future__ import annotations

import argparse


def add_emulator_parser(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    parser = sub.add_parser("salesforce-emulator", help="serve a synthetic Salesforce org")
    parser.set_defaults(func=lambda args, settings: 0)
    return parser
