"""Opportunity revenue attributed as of the close date, against an independent reference.

A tiny company lands (identity and membership history); a rep who transferred teams gets
opportunities around the transfer: an owner change after the close date (the owner at close
counts, not today's), an owner change before it, an owner with no federation identifier, a
deleted opportunity. `marts.fct_opportunity_attribution` must equal a plain-Python fold of the
same records over the identity and membership windows.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path

import duckdb
import pytest

from ingest.dbt_runner import build
from ingest.file_source import ingest_files
from ingest.generator import generate
from ingest.settings import Settings

pytestmark = pytest.mark.dbt

SALESFORCE = (
    "path:models/staging/salesforce path:models/intermediate/salesforce "
    "path:models/marts/salesforce"
)


def _iso(ts: datetime) -> str:
    return ts.strftime("%Y-%m-%dT%H:%M:%S.000Z")


def _record(sobject: str, fields: dict, modstamp: datetime) -> dict:
    return {
        "sobject": sobject,
        "source": "bulk",
        "schema_version": "000000000001",
        "extracted_at": _iso(modstamp + timedelta(minutes=5)),
        "job_id": None,
        "record": {"SystemModstamp": _iso(modstamp), **fields},
    }


def _write(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def _valid_at(windows, key, at: datetime):
    """The value of the window of `key` open at the end of the instant: from < at <= to."""
    hits = [w for w in windows if w[0] == key and w[2] < at <= w[3]]
    return max(hits, key=lambda w: w[2])[1] if hits else None


def _reference(opps: list[dict], users: dict[str, str | None], identity, primary, restated):
    """Owner at the end of the close date → user → Okta id → repl → primary team, in Python."""
    by_id: dict[str, list[dict]] = {}
    for row in opps:
        by_id.setdefault(row["record"]["Id"], []).append(row["record"])
    out = {}
    for opp_id, versions in by_id.items():
        versions.sort(key=lambda r: r["SystemModstamp"])
        current = versions[-1]
        if current.get("IsDeleted"):
            continue
        close = datetime.fromisoformat(current["CloseDate"])
        at = close + timedelta(days=1)
        before = [v for v in versions if datetime.fromisoformat(v["SystemModstamp"][:19]) < at]
        owner = (before[-1] if before else versions[0])["OwnerId"]
        okta = users.get(owner)

        repl = _valid_at(identity, okta, at) if okta else None
        team = _valid_at(primary, repl, at) if repl else None
        reason = None
        if okta is None:
            reason = "owner has no federation identifier"
        elif repl is None:
            reason = "no repl for okta user at close"
        elif team is None:
            reason = "repl had no primary team at close"
        restated_team = restated.get(team, team) if team else None
        out[opp_id] = (owner, repl, team, restated_team, reason, current["Amount"])
    return out


def test_attribution_matches_the_reference(tmp_path: Path, warehouse_settings: Settings) -> None:
    settings = warehouse_settings
    events = tmp_path / "events"
    generate(scale="tiny", seed=7, out_dir=events)
    for topic in ("okta.system_log.v1", "admin.membership.v1", "zendesk.ticket_events.v1"):
        ingest_files([events / f"{topic}.jsonl"], topic, settings)
    build(settings, full_refresh=True, quiet=True, check=False)

    con = duckdb.connect(str(settings.warehouse_path), read_only=True)
    try:
        identity = con.execute(
            "select okta_user_id, repl_id, valid_from, valid_to "
            "from intermediate.int_identity_windows"
        ).fetchall()
        primary = con.execute(
            "select repl_id, team_id, valid_from, valid_to "
            "from intermediate.int_membership_windows where role = 'primary'"
        ).fetchall()
        restated = dict(
            con.execute(
                "select team_id, team_id_restated from intermediate.int_teams_restated"
            ).fetchall()
        )
        # A rep whose primary team changed: the day before and the day after the move decide.
        moved = con.execute(
            """
            select w.repl_id, w.valid_from, i.okta_user_id
            from intermediate.int_membership_windows as w
            join intermediate.int_identity_windows as i
                on i.repl_id = w.repl_id
                and i.valid_from < w.valid_from - interval 3 day
                and i.valid_to > w.valid_from + interval 3 day
            where w.role = 'primary'
              and exists (
                select 1 from intermediate.int_membership_windows as p
                where p.repl_id = w.repl_id and p.role = 'primary'
                  and p.valid_to = w.valid_from and p.team_id <> w.team_id
                  and p.valid_from < w.valid_from - interval 3 day
              )
            order by w.valid_from, w.repl_id
            limit 1
            """
        ).fetchone()
    finally:
        con.close()
    assert moved, "the tiny company has a rep who changed primary team"
    _, moved_at, okta_id = moved
    moved_at = moved_at.replace(tzinfo=None)
    before_day = (moved_at - timedelta(days=2)).date().isoformat()
    after_day = (moved_at + timedelta(days=2)).date().isoformat()
    early = moved_at - timedelta(days=20)
    late = moved_at + timedelta(days=30)

    users = {"005000000000ANN": okta_id, "005000000000NOF": None}
    user_rows = [
        _record(
            "User",
            {"Id": uid, "Username": f"{uid}@x", "FederationIdentifier": fed, "IsActive": True},
            early - timedelta(days=30),
        )
        for uid, fed in users.items()
    ]

    def opp(oid, owner, close, at, **extra):
        fields = {"Id": oid, "OwnerId": owner, "CloseDate": close, "Amount": 100.0}
        fields |= {"StageName": "Closed Won", "IsClosed": True, "IsWon": True, "IsDeleted": False}
        return _record("Opportunity", fields | extra, at)

    ann, nof = "005000000000ANN", "005000000000NOF"
    opps = [
        # Closed before the move by Ann, reassigned afterwards: Ann's old team keeps it.
        opp("006000000000001", ann, before_day, early),
        opp("006000000000001", nof, before_day, late),
        # Reassigned to Ann before it closes after the move: Ann's new team.
        opp("006000000000002", nof, after_day, early),
        opp("006000000000002", ann, after_day, early + timedelta(days=1)),
        # An owner with no federation identifier: unresolved, the row stays.
        opp("006000000000003", nof, after_day, early),
        # Deleted: not attributed at all.
        opp("006000000000004", ann, after_day, early),
        opp("006000000000004", ann, after_day, late, IsDeleted=True),
    ]
    ingest_files([_write(tmp_path / "users.jsonl", user_rows)], "salesforce.records.User", settings)
    ingest_files(
        [_write(tmp_path / "opps.jsonl", opps)], "salesforce.records.Opportunity", settings
    )
    result = build(settings, select=SALESFORCE, quiet=True, check=False)
    assert result.returncode == 0

    con = duckdb.connect(str(settings.warehouse_path), read_only=True)
    try:
        got = {
            row[0]: tuple(row[1:])
            for row in con.execute(
                """
                select opportunity_id, owner_id_at_close, repl_id, team_id, team_id_restated,
                       unresolved_reason, amount
                from marts.fct_opportunity_attribution
                """
            ).fetchall()
        }
    finally:
        con.close()
    expected = _reference(opps, users, identity, primary, restated)
    assert got == expected
    # The scenario means something: the two resolved rows went to different teams.
    assert got["006000000000001"][0] == ann and got["006000000000002"][0] == ann
    assert got["006000000000001"][2] != got["006000000000002"][2]
    assert got["006000000000003"][4] == "owner has no federation identifier"
    assert "006000000000004" not in got
