"""Cross-database macros keep each dialect in its own branch (issue 11).

Every dispatch macro in macros/cross_db/ has a `duckdb__` and a `snowflake__` implementation, and
its `default__` is either portable or raises "<macro> is not implemented for adapter <type>", as
dbt-utils does: an adapter nobody wrote SQL for fails at compile time, by name, instead of
running DuckDB syntax. No model branches on the target itself.
"""

from __future__ import annotations

import re

import pytest

from ingest.settings import PROJECT_DIR

CROSS_DB = PROJECT_DIR / "macros" / "cross_db"
MACRO = re.compile(r"\{%-?\s*macro\s+(\w+)\((.*?)\)\s*-?%\}(.*?)\{%-?\s*endmacro\s*-?%\}", re.S)


def macros(path) -> dict[str, str]:
    return {name: body for name, _, body in MACRO.findall(path.read_text())}


DISPATCHED = sorted(
    path.stem
    for path in CROSS_DB.glob("*.sql")
    if f"adapter.dispatch('{path.stem}', 'revops')" in path.read_text()
)


def test_the_cross_db_dispatch_macros_are_found() -> None:
    assert {"json_text", "json_text_fields", "list_item", "parse_iso_timestamp"} <= set(DISPATCHED)


@pytest.mark.parametrize("name", DISPATCHED)
def test_each_dialect_has_its_branch_and_the_default_raises(name: str) -> None:
    defined = macros(CROSS_DB / f"{name}.sql")
    assert {name, f"default__{name}", f"duckdb__{name}", f"snowflake__{name}"} <= set(defined)
    default = defined[f"default__{name}"]
    assert "exceptions.raise_compiler_error(" in default, default
    assert f'"{name} is not implemented for adapter " ~ adapter.type()' in default, default


def test_no_model_or_macro_branches_on_the_target_type() -> None:
    offenders = [
        str(path.relative_to(PROJECT_DIR))
        for folder in ("models", "macros")
        for path in (PROJECT_DIR / folder).rglob("*.sql")
        if re.search(r"target\.type\s*==", path.read_text())
    ]
    assert not offenders
