"""One source of truth for the ISO-8601 timestamp shape (issue 11).

The macro `iso_timestamp_pattern` (macros/cross_db/) is what staging enforces, so it is the
contract. The reference implementation keeps a literal copy, written in the same portable syntax
(RE2, POSIX ERE and Python `re` read it alike), so that it stays readable on its own; this test
holds the copy to the macro, and the contract tests use the reference's compiled pattern.
"""

from __future__ import annotations

import re

from ingest.settings import PROJECT_DIR
from tests.python import test_contracts
from tests.python.reference.membership import ISO_TIMESTAMP

MACRO = PROJECT_DIR / "macros" / "cross_db" / "iso_timestamp_pattern.sql"


def macro_pattern() -> str:
    text = MACRO.read_text()
    (body,) = re.findall(
        r"\{%\s*macro iso_timestamp_pattern\(\)\s*-?%\}(.*?)\{%-?\s*endmacro\s*%\}", text, re.S
    )
    return body.strip()


def test_the_macro_is_one_portable_pattern() -> None:
    pattern = macro_pattern()
    assert pattern and "\n" not in pattern
    # Only constructs RE2, POSIX ERE and Python read the same way: no \d, no (?:), no anchors.
    assert not re.search(r"\\|\(\?|\^|\$", pattern), pattern
    assert "'" not in pattern  # it is spliced into a SQL string literal


def test_the_reference_and_the_contract_tests_use_the_macro_pattern() -> None:
    assert macro_pattern() == ISO_TIMESTAMP.pattern
    assert ISO_TIMESTAMP.flags & re.ASCII  # [0-9] only; no other digits
    assert test_contracts.ISO_TIMESTAMP is ISO_TIMESTAMP
