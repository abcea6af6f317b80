"""The event contracts (`ingest/contracts/*.schema.json`) agree with the warehouse's validation.

The staging models are what actually decides whether an event is applied (`is_valid`,
`rejection_reason`); the JSON Schemas are what producers are told. The agreement test lands a tiny
generated company plus hand-written invalid messages through the real file → stage → raw path,
runs the staging models once, and checks, row by row, schema-valid ⇔ staging `is_valid`.

What a schema cannot express is asserted on its own: a team merged into itself (two fields
compared), and the documented valid range of timestamps (JSON Schema has no date comparison):
a message outside it is invalid under the contract, and staging must name the field and value
(`effective_at out of range: 9999-12-31T23:59:59Z`). For admin events staging's reason must also
be the reference implementation's, message by message. What the schemas say more strictly than
staging checks (JSON types: staging reads every field as text; lenient timestamp spellings DuckDB
also casts) is listed in docs/contracts.md and not exercised by the agreement test. Keywords that
database casts read as instants (`"effective_at": "infinity"`) are exercised: staging must reject
them too.
"""

from __future__ import annotations

import json
import re
from datetime import datetime
from functools import cache
from pathlib import Path
from typing import Any

import duckdb
import orjson
import pytest
from jsonschema import Draft202012Validator, FormatChecker

from ingest.dbt_runner import run_dbt
from ingest.file_source import file_sha256, ingest_files
from ingest.generator import generate
from ingest.settings import Settings
from ingest.topics import EVENT_TOPICS, QUARANTINE_TABLE, TOPICS, load_schema
from tests.python.reference.membership import (
    ISO_TIMESTAMP,
    TIMESTAMP_MAX,
    TIMESTAMP_MIN,
    in_range,
    parse_ts,
    rejection_reason,
)

# -- date-time -----------------------------------------------------------------------------------

# The ISO-8601 shapes staging's parse_iso_timestamp accepts, from the one source of truth (the
# macro iso_timestamp_pattern; tests/python/test_timestamp_pattern.py): a calendar date,
# optionally a time (T or space) with an optional offset (Z, ±hh, ±hhmm, ±hh:mm). Without an
# offset the instant is UTC (the dbt profile pins TimeZone = UTC).
FORMAT_CHECKER = FormatChecker(formats=())


@FORMAT_CHECKER.checks("date-time", raises=ValueError)
def is_date_time(value: object) -> bool:
    if not isinstance(value, str):
        return True  # `format` constrains strings only; `type` rejects the rest
    if not ISO_TIMESTAMP.fullmatch(value):
        raise ValueError(f"not an ISO-8601 date-time: {value!r}")
    text = value[:-1] + "+00:00" if value.endswith("Z") else value
    datetime.fromisoformat(text)  # calendar and clock ranges; naive means UTC
    return True


@cache
def validator(topic: str) -> Draft202012Validator:
    return Draft202012Validator(load_schema(topic), format_checker=FORMAT_CHECKER)


def schema_errors(topic: str, payload: Any) -> list[str]:
    return [
        f"{'/'.join(map(str, e.absolute_path)) or '<root>'}: {e.message}"
        for e in validator(topic).iter_errors(payload)
    ]


# The timestamp fields of each contract, in the order staging checks them.
TIMESTAMP_FIELDS = {
    "admin.membership.v1": ("effective_at", "emitted_at"),
    "okta.system_log.v1": ("published",),
    "zendesk.ticket_events.v1": ("created_at",),
}


def range_errors(topic: str, payload: Any) -> list[str]:
    """The documented valid range (docs/contracts.md, "Timestamps"), as staging words a breach."""
    if not isinstance(payload, dict):
        return []
    out = []
    for name in TIMESTAMP_FIELDS[topic]:
        value = payload.get(name)
        at = parse_ts(value)
        if at is not None and not in_range(at):
            out.append(f"{name} out of range: {value}")
    return out


def contract_errors(topic: str, payload: Any) -> list[str]:
    """Everything the contract says is wrong: the schema, then what it cannot express."""
    return schema_errors(topic, payload) + range_errors(topic, payload)


# -- the schemas themselves ----------------------------------------------------------------------


@pytest.mark.parametrize("topic", sorted(EVENT_TOPICS))
def test_schema_is_a_documented_draft_2020_12_schema(topic: str) -> None:
    schema = load_schema(topic)
    Draft202012Validator.check_schema(schema)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["$id"].endswith(topic)
    assert schema["title"] == topic
    assert schema["description"]
    assert schema["additionalProperties"] is True  # unknown fields are kept, never rejected
    assert set(schema["required"]) <= set(schema["properties"])
    undocumented = [name for name, p in schema["properties"].items() if not p.get("description")]
    assert not undocumented, f"fields without a description: {undocumented}"


@pytest.mark.parametrize("topic", sorted(EVENT_TOPICS))
def test_schemas_document_the_valid_timestamp_range(topic: str) -> None:
    valid_range = f"[{TIMESTAMP_MIN:%Y-%m-%dT%H:%M:%S}Z, {TIMESTAMP_MAX:%Y-%m-%dT%H:%M:%S}Z)"
    properties = load_schema(topic)["properties"]
    for name in TIMESTAMP_FIELDS[topic]:
        description = properties[name]["description"]
        assert valid_range in description, (name, description)
        assert f"'{name} out of range: <value>'" in description, (name, description)
    contracts = (Path(__file__).resolve().parents[2] / "docs" / "contracts.md").read_text()
    assert f"`{valid_range}`" in contracts
    for name in TIMESTAMP_FIELDS[topic]:
        assert f"`{name} out of range: <value>`" in contracts, name


def test_documented_examples_satisfy_their_contract() -> None:
    text = (Path(__file__).resolve().parents[2] / "docs" / "contracts.md").read_text()
    examples: dict[str, list[str]] = {}
    for section in re.split(r"^## ", text, flags=re.M)[1:]:
        title = section.split("\n", 1)[0].strip()
        examples[title] = re.findall(r"```json\n(.*?)```", section, flags=re.S)
    for topic in EVENT_TOPICS:
        assert len(examples.get(topic, [])) == 1, f"docs/contracts.md: one example for {topic}"
        payload = json.loads(examples[topic][0])
        assert not contract_errors(topic, payload), (topic, contract_errors(topic, payload))


# Strings on which the checker and DuckDB's `try_cast(x as timestamptz)` must agree.
DATE_TIMES = {
    "2026-10-01T09:00:00Z": True,
    "2026-10-01T09:00:00.123456Z": True,
    "2026-10-01T09:00Z": True,
    "2026-10-01T11:00:00+02:00": True,
    "2026-10-01T11:00:00+0200": True,
    "2026-10-01T11:00:00+02": True,
    "2026-10-01T09:00:00-00:00": True,
    "2026-10-01 09:00:00Z": True,
    "2026-10-01T09:00:00": True,  # no offset: UTC
    "2026-10-01": True,  # midnight UTC
    "2026-10-01T09:00:00.5": True,
    "2026-10-01T09:00:00+14:00": True,
    "2026-10-01Z": False,
    "2026-10-01+02:00": False,
    "2026-13-45T99:00:00Z": False,
    "2026-02-30T00:00:00Z": False,
    "2026-10-01T09:00:60Z": False,
    "2026-10-01T09Z": False,
    "2026-10-01t09:00:00Z": False,
    "2026-10-01T09:00:00z": False,
    "20261001T090000Z": False,
    "2026-W40-4": False,
    "2026-10-01T09:00:00,5Z": False,
    "1759309200": False,
    "yesterday": False,
    "now": False,
    "": False,
}

# Strings DuckDB casts but the contract rejects: accepted by staging, refused by the schema.
# `infinity`/`epoch` are keywords, not instants (see the agreement test); the rest are lenient
# spellings of real instants that producers must not rely on.
DUCKDB_ONLY_DATE_TIMES = (
    "infinity",
    "-infinity",
    "epoch",
    "2026-10-01T24:00:00Z",
    "2026-1-1T09:00:00Z",
    " 2026-10-01T09:00:00Z",
    "2026-10-01T09:00:00 UTC",
    "2026-10-01T09:00:00 Europe/Paris",
    "2026-10-01T09:00:00.Z",
    "2026-10-01T09:00:00+24:00",
    "2026-10-01T09:00:00+02:30:00",
    "0000-01-01T00:00:00Z",
)


def _duckdb_accepts(values: list[str]) -> dict[str, bool]:
    con = duckdb.connect()
    try:
        con.execute("set TimeZone = 'UTC'")
        return {
            v: con.execute("select try_cast(? as timestamptz) is not null", [v]).fetchone()[0]
            for v in values
        }
    finally:
        con.close()


def test_date_time_checker_agrees_with_staging_timestamp_parsing() -> None:
    ours = {v: FORMAT_CHECKER.conforms(v, "date-time") for v in DATE_TIMES}
    assert ours == DATE_TIMES
    assert _duckdb_accepts(list(DATE_TIMES)) == DATE_TIMES
    lenient = DUCKDB_ONLY_DATE_TIMES
    assert all(_duckdb_accepts(list(lenient)).values())
    assert not any(FORMAT_CHECKER.conforms(v, "date-time") for v in lenient)


def test_date_time_format_is_asserted_not_annotated() -> None:
    event = {
        "event_id": "e1",
        "event_type": "TEAM_SPLIT",
        "team_id": "t_1",
        "effective_at": "2026-13-45T99:00:00Z",
        "emitted_at": "2026-10-01T09:00:00Z",
    }
    assert schema_errors("admin.membership.v1", event)
    assert not schema_errors("admin.membership.v1", {**event, "effective_at": "2026-10-01"})


# -- hand-written messages -----------------------------------------------------------------------

ADMIN_BASE: dict[str, Any] = {
    "event_id": "hw-admin",
    "event_type": "MEMBERSHIP_ADDED",
    "repl_id": "r_000001",
    "team_id": "t_0004",
    "role": "secondary",
    "effective_at": "2026-10-01T09:00:00Z",
    "emitted_at": "2026-10-01T09:00:30Z",
    "actor": "ops.admin@clouddesk.example",
}
TEAM_BASE: dict[str, Any] = {
    **{k: v for k, v in ADMIN_BASE.items() if k not in ("repl_id", "role")},
    "event_type": "TEAM_CREATED",
    "team_id": "t_0900",
    "team_name": "EMEA Renewals 900",
    "parent_team_id": None,
}
LINK_BASE: dict[str, Any] = {
    **{k: v for k, v in ADMIN_BASE.items() if k not in ("team_id", "role")},
    "event_type": "REPL_IDENTITY_LINKED",
    "okta_user_id": "00uAbCdEfGhIjKlMnOp",
}


def _with(base: dict[str, Any], **changes: Any) -> dict[str, Any]:
    return {**base, **changes}


def _without(base: dict[str, Any], *keys: str) -> dict[str, Any]:
    return {k: v for k, v in base.items() if k not in keys}


# (payload, valid under the contract). Positions are unique, so identical payloads are fine.
ADMIN_CASES: list[tuple[dict[str, Any], bool]] = [
    (ADMIN_BASE, True),
    (_without(ADMIN_BASE, "event_id"), False),
    (_with(ADMIN_BASE, event_id=""), False),
    (_with(ADMIN_BASE, event_id="   "), False),
    (_with(ADMIN_BASE, event_id=None), False),
    (_with(ADMIN_BASE, event_id=" e-padded "), True),
    (_without(ADMIN_BASE, "event_type"), False),
    (_with(ADMIN_BASE, event_type="TEAM_ARCHIVED", repl_id=None), False),
    (_with(ADMIN_BASE, event_type="membership_added"), False),
    (_without(ADMIN_BASE, "effective_at"), False),
    (_with(ADMIN_BASE, effective_at=None), False),
    (_with(ADMIN_BASE, effective_at="2026-13-45T99:00:00Z"), False),
    (_with(ADMIN_BASE, effective_at=1759309200), False),
    (_without(ADMIN_BASE, "emitted_at"), False),
    (_with(ADMIN_BASE, emitted_at="yesterday"), False),
    (_with(ADMIN_BASE, effective_at="2026-10-01T11:00:00+02:00"), True),
    (_with(ADMIN_BASE, effective_at="2026-10-01T09:00:00"), True),
    (_with(ADMIN_BASE, effective_at="2026-10-01"), True),
    # Not instants, though a plain try_cast reads them as such: staging checks the shape first.
    (_with(ADMIN_BASE, effective_at="infinity"), False),
    (_with(ADMIN_BASE, emitted_at="epoch"), False),
    (_with(ADMIN_BASE, effective_at=" 2026-10-01T09:00:00Z"), False),
    # The valid range [2000-01-01, 2051-01-01) UTC: nothing at or after the open-window marker.
    (_with(ADMIN_BASE, effective_at="9999-12-31T23:59:59Z"), False),
    (_with(ADMIN_BASE, effective_at="9999-12-31T00:00:00Z"), False),
    (_with(ADMIN_BASE, effective_at="2051-01-01T00:00:00Z"), False),
    (_with(ADMIN_BASE, effective_at="2050-12-31T23:59:59.999999Z"), True),
    (_with(ADMIN_BASE, effective_at="2050-12-31T23:00:00-14:00"), False),
    (_with(ADMIN_BASE, effective_at="2000-01-01T00:00:00Z"), True),
    (_with(ADMIN_BASE, effective_at="2000-01-01T05:00:00+14:00"), False),
    (_with(ADMIN_BASE, effective_at="1999-12-31"), False),
    (_with(ADMIN_BASE, effective_at="1900-01-01T00:00:00Z"), False),
    (_with(ADMIN_BASE, effective_at="0001-01-01T00:00:00+01:00"), False),
    (_with(ADMIN_BASE, emitted_at="9999-12-31T23:59:59.999999Z"), False),
    (_with(ADMIN_BASE, emitted_at="0001-01-01"), False),
    (_with(ADMIN_BASE, effective_at="9999-12-31", emitted_at="9999-12-31"), False),
    (_with(ADMIN_BASE, effective_at="2026-10-01T09:00:00 Europe/Paris"), False),
    (_without(ADMIN_BASE, "repl_id"), False),
    (_with(ADMIN_BASE, repl_id=None), False),
    (_without(ADMIN_BASE, "team_id"), False),
    (_with(ADMIN_BASE, role="owner"), False),
    (_with(ADMIN_BASE, role=""), False),
    (_with(ADMIN_BASE, role="Primary"), False),
    (_with(ADMIN_BASE, role=None), True),
    (_without(ADMIN_BASE, "role"), True),
    (_with(ADMIN_BASE, event_type="MEMBERSHIP_REMOVED", role="primary"), True),
    (_without(_with(ADMIN_BASE, event_type="MEMBERSHIP_REMOVED"), "role"), True),
    (_with(ADMIN_BASE, event_type="MEMBERSHIP_REMOVED", team_id=None), False),
    (_with(ADMIN_BASE, event_type="MEMBERSHIP_REMOVED", role="both"), False),
    (LINK_BASE, True),
    (_with(LINK_BASE, team_id=None, role="bogus"), True),
    (_without(LINK_BASE, "okta_user_id"), False),
    (_with(LINK_BASE, okta_user_id=None), False),
    (_without(LINK_BASE, "repl_id"), False),
    (TEAM_BASE, True),
    (_with(TEAM_BASE, repl_id="r_000001", role="bogus"), True),
    (_without(TEAM_BASE, "parent_team_id"), True),
    (_without(TEAM_BASE, "team_name"), False),
    (_without(TEAM_BASE, "team_id"), False),
    (_with(TEAM_BASE, event_type="TEAM_RENAMED", team_name="Renamed"), True),
    (_with(TEAM_BASE, event_type="TEAM_RENAMED", team_name=None), False),
    (_with(_without(TEAM_BASE, "team_name"), event_type="TEAM_PARENT_CHANGED"), True),
    (_without(_with(TEAM_BASE, event_type="TEAM_PARENT_CHANGED"), "team_id"), False),
    (_with(TEAM_BASE, event_type="TEAM_MERGED", merged_into_team_id="t_0004"), True),
    (_with(TEAM_BASE, event_type="TEAM_MERGED"), False),
    (_with(TEAM_BASE, event_type="TEAM_MERGED", merged_into_team_id=None), False),
    (_with(TEAM_BASE, event_type="TEAM_SPLIT", successor_team_ids=["t_0901", "t_0902"]), True),
    (_with(TEAM_BASE, event_type="TEAM_SPLIT"), True),
    (_without(_with(TEAM_BASE, event_type="TEAM_SPLIT"), "team_id"), False),
    (_without(ADMIN_BASE, "actor"), True),
    (_with(ADMIN_BASE, source_system="workday", extra={"nested": [1, 2]}), True),
]

# Valid under the schema (it cannot compare two fields), rejected by staging with this reason.
MERGED_INTO_ITSELF = _with(TEAM_BASE, event_type="TEAM_MERGED", merged_into_team_id="t_0900")

OKTA_BASE: dict[str, Any] = {
    "uuid": "hw-okta",
    "published": "2026-10-01T09:00:00Z",
    "eventType": "user.lifecycle.activate",
    "target": [{"id": "00uAbCdEfGhIjKlMnOp", "type": "User", "alternateId": "x@example.com"}],
    "outcome": {"result": "SUCCESS"},
}
OKTA_CASES: list[tuple[dict[str, Any], bool]] = [
    (OKTA_BASE, True),
    (_without(OKTA_BASE, "uuid"), False),
    (_with(OKTA_BASE, uuid=""), False),
    (_with(OKTA_BASE, uuid="  "), False),
    (_without(OKTA_BASE, "published"), False),
    (_with(OKTA_BASE, published="not a date"), False),
    (_with(OKTA_BASE, published="2026-10-01T09:00:00.123"), True),
    (_with(OKTA_BASE, published="9999-12-31T23:59:59Z"), False),
    (_with(OKTA_BASE, published="1970-01-01T00:00:00Z"), False),
    (_with(OKTA_BASE, published="2050-12-31T09:00:00Z"), True),
    (_without(OKTA_BASE, "eventType"), False),
    (_with(OKTA_BASE, eventType=None), False),
    (_without(OKTA_BASE, "target"), False),
    (_with(OKTA_BASE, target=[]), False),
    (_with(OKTA_BASE, target=None), False),
    (_with(OKTA_BASE, target=[{"id": None, "type": "User"}]), False),
    (_with(OKTA_BASE, target=[{"type": "User"}]), False),
    (_with(OKTA_BASE, eventType="user.lifecycle.delete.completed"), True),
    (_without(_with(OKTA_BASE, eventType="user.session.start"), "target"), True),
    (_with(OKTA_BASE, eventType="user.authentication.sso", target=[]), True),
    (_with(OKTA_BASE, client={"ipAddress": "10.0.0.1"}), True),
]

ZENDESK_BASE: dict[str, Any] = {
    "id": 9_000_001,
    "ticket_id": 90_001,
    "type": "ticket.status_changed",
    "created_at": "2026-10-01T09:00:00Z",
    "assignee": {"id": 360_000_001, "external_id": "00uAbCdEfGhIjKlMnOp", "email": "x@ex.com"},
    "status": "open",
    "priority": "normal",
}
ZENDESK_CASES: list[tuple[dict[str, Any], bool]] = [
    (ZENDESK_BASE, True),
    (_without(ZENDESK_BASE, "id"), False),
    (_with(ZENDESK_BASE, id=None), False),
    (_with(ZENDESK_BASE, id=""), False),
    (_with(ZENDESK_BASE, id=" "), False),
    (_with(ZENDESK_BASE, id="zd-9000002"), True),
    (_without(ZENDESK_BASE, "ticket_id"), False),
    (_with(ZENDESK_BASE, ticket_id=None), False),
    (_without(ZENDESK_BASE, "type"), False),
    (_with(ZENDESK_BASE, type="comment.added"), False),
    (_with(ZENDESK_BASE, type="Ticket.created"), False),
    (_with(ZENDESK_BASE, type="ticket.custom_field_changed"), True),
    (_without(ZENDESK_BASE, "created_at"), False),
    (_with(ZENDESK_BASE, created_at="2026-02-30T00:00:00Z"), False),
    (_with(ZENDESK_BASE, created_at="2026-10-01T05:00:00-04:00"), True),
    (_with(ZENDESK_BASE, created_at="9999-12-31T00:00:00Z"), False),
    (_with(ZENDESK_BASE, created_at="2100-01-01"), False),
    (_with(ZENDESK_BASE, created_at="2000-01-01T00:30:00+01:00"), False),
    (_with(ZENDESK_BASE, assignee=None), True),
    (_without(ZENDESK_BASE, "assignee"), True),
    (_with(ZENDESK_BASE, assignee={"id": 1, "external_id": None, "email": None}), True),
]

# Lines that are not a JSON object: quarantined, never in raw or staging.
UNDECODABLE = [b'{"event_id": "hw-truncated", ', b"[1, 2]", b"<html>502 Bad Gateway</html>"]

HAND_WRITTEN: dict[str, list[tuple[dict[str, Any], bool]]] = {
    "admin.membership.v1": ADMIN_CASES,
    "okta.system_log.v1": OKTA_CASES,
    "zendesk.ticket_events.v1": ZENDESK_CASES,
}

STAGING = {
    "admin.membership.v1": "staging.stg_admin_service__membership_events",
    "okta.system_log.v1": "staging.stg_okta__system_log_events",
    "zendesk.ticket_events.v1": "staging.stg_zendesk__ticket_events",
}


@pytest.mark.parametrize("topic", sorted(HAND_WRITTEN))
def test_hand_written_messages_mean_what_they_say(topic: str) -> None:
    """Each hand-written case has the verdict it was written for (else the agreement is moot)."""
    wrong = [
        (payload, valid, contract_errors(topic, payload))
        for payload, valid in HAND_WRITTEN[topic]
        if (not contract_errors(topic, payload)) != valid
    ]
    assert not wrong, "\n".join(map(repr, wrong))
    assert not schema_errors("admin.membership.v1", MERGED_INTO_ITSELF)


# -- the agreement -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def staged_warehouse(
    tmp_path_factory: pytest.TempPathFactory, dbt_target_path: Path
) -> dict[str, Any]:
    """A tiny company plus the hand-written messages, landed for real; staging built once."""
    root = tmp_path_factory.mktemp("contracts")
    stats = generate(scale="tiny", seed=20, out_dir=root / "events")
    settings = Settings(
        warehouse_path=root / "w.duckdb", stage_dir=root / "stage", dbt_target_path=dbt_target_path
    )
    expected: dict[str, dict[str, int]] = {}
    merged_into_itself = ""
    for topic, info in stats.items():
        path = Path(info["path"])
        lines = path.read_bytes().splitlines()
        lines += [orjson.dumps(payload) for payload, _ in HAND_WRITTEN[topic]]
        admin = topic == "admin.membership.v1"
        if admin:
            lines.append(orjson.dumps(MERGED_INTO_ITSELF))
            merged_line = len(lines)
            lines += UNDECODABLE
        path.write_bytes(b"\n".join(lines) + b"\n")
        if admin:
            merged_into_itself = f"file:{file_sha256(path)}/{merged_line}"
        undecodable = len(UNDECODABLE) if admin else 0
        quarantined = info["malformed"] + undecodable
        expected[topic] = {"staged": len(lines) - quarantined, "quarantined": quarantined}
        ingest_files([path], topic, settings)
    run_dbt(settings, ["run", "--select", "staging", "--full-refresh"], quiet=True)
    return {
        "warehouse": settings.warehouse_path,
        "stats": stats,
        "expected": expected,
        "merged_into_itself": merged_into_itself,
    }


def _staged_rows(warehouse: Path, topic: str) -> list[tuple[str, bool, str | None, str]]:
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        return con.execute(
            f"""
            select s.source_position, s.is_valid, s.rejection_reason, r.payload
            from {STAGING[topic]} as s
            join raw.{TOPICS[topic].raw_table} as r on r._source_position = s.source_position
            order by r._offset
            """
        ).fetchall()
    finally:
        con.close()


@pytest.mark.dbt
@pytest.mark.parametrize("topic", sorted(EVENT_TOPICS))
def test_schema_and_staging_agree_on_every_message(
    staged_warehouse: dict[str, Any], topic: str
) -> None:
    warehouse = staged_warehouse["warehouse"]
    expected = staged_warehouse["expected"][topic]
    rows = _staged_rows(warehouse, topic)
    # Every decodable line is one staging row; the undecodable ones are quarantined instead.
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        quarantined = con.execute(
            f"select count(*) from raw.{QUARANTINE_TABLE} where _topic = ?", [topic]
        ).fetchone()[0]
    finally:
        con.close()
    assert (len(rows), quarantined) == (expected["staged"], expected["quarantined"])

    disagreements = []
    for position, is_valid, reason, payload_text in rows:
        payload = json.loads(payload_text)
        if position == staged_warehouse["merged_into_itself"]:
            assert not schema_errors(topic, payload)
            assert (is_valid, reason) == (False, "team merged into itself")
            continue
        errors = contract_errors(topic, payload)
        out_of_range = range_errors(topic, payload)
        if not schema_errors(topic, payload) and out_of_range and reason != out_of_range[0]:
            disagreements.append(f"{position}: staging says {reason!r}, not {out_of_range[0]!r}")
        if topic == "admin.membership.v1" and reason != rejection_reason(payload):
            disagreements.append(
                f"{position}: staging says {reason!r}, the reference {rejection_reason(payload)!r}"
            )
        if (not errors) != is_valid:
            disagreements.append(
                f"{position}\n  payload: {payload_text}\n"
                f"  staging: {'valid' if is_valid else 'rejected: ' + str(reason)}\n"
                f"  schema:  {'; '.join(errors) if errors else 'valid'}"
            )
    assert not disagreements, (
        f"{len(disagreements)} of {len(rows)} {topic} messages judged differently:\n"
        + "\n".join(disagreements)
    )
    # The generator's own dirt is present, so the comparison is not only over clean events.
    if topic == "admin.membership.v1":
        info = staged_warehouse["stats"][topic]
        generated_invalid = info["unknown_type"] + info["missing_key"] + info["bad_timestamp"]
        assert generated_invalid > 0
        assert sum(not valid for _, valid, _, _ in rows) >= generated_invalid
