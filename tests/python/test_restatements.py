"""The late-event reprocessing restates exactly the attributions a backdated event changes.

A tiny company lands and is built in full; a rep gets opportunities (Salesforce owner → Okta
user → repl) around an instant inside one of their primary-team windows. Then two membership
events arrive backdated beyond the late-event window: the rep moves to another team at that
instant (their later tickets and opportunities change team), and another rep is removed from their
primary team (their later tickets lose it: a null new side). `python -m ingest.restatements`
runs (as the DAG runs it). The expected restatements are computed without it: the whole fact
tables before the late events, against a `--full-refresh` build after them. The company is
built once for the module (about a minute and a half of dbt on 2 cores).
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import duckdb
import pytest

from ingest.dbt_runner import build
from ingest.file_source import ingest_files
from ingest.generator import generate
from ingest.restatements import STAGE_SELECT, RunReport, run_restatements
from ingest.settings import Settings
from tests.python.salesforce_records import bulk_record as _record
from tests.python.salesforce_records import sf_iso as _iso
from tests.python.salesforce_records import write_jsonl as _write

pytestmark = pytest.mark.dbt

PROJECT_DIR = Path(__file__).resolve().parents[2]
ADMIN = "admin.membership.v1"
SALESFORCE = (
    "path:models/staging/salesforce path:models/intermediate/salesforce "
    "path:models/marts/salesforce"
)
OWNER, NO_FEDERATION = "005000000000OWN", "005000000000NOF"
# Whole-table reads of the two facts: key → (team at the instant, repl, current-org team).
FACT_READS = {
    "ticket": "select ticket_event_id, team_id, repl_id, team_id_restated "
    "from marts.fct_ticket_attribution",
    "opportunity": "select opportunity_id, team_id, repl_id, team_id_restated "
    "from marts.fct_opportunity_attribution",
}
# The marts the reprocessing rebuilds (or are views over what it rebuilds), compared whole with
# a full rebuild.
MARTS = (
    "marts.fct_ticket_attribution",
    "marts.fct_opportunity_attribution",
    "marts.fct_opportunity_line_item_attribution",
    "marts.fct_opportunity_influence",
    "marts.fct_team_daily_headcount",
    "marts.bridge_repl_team_membership",
    "marts.dim_teams",
    "marts.dq_late_membership_events",
    "marts.dq_unresolved_ticket_attributions",
)

# A primary window long enough to hold tickets on both sides of its middle, of a rep with an
# identity link over the whole of it; another team to move to; a second rep's primary window
# with tickets in its second half.
MOVER = """
with windows as (
    select w.repl_id, w.team_id, w.valid_from, w.valid_to, i.okta_user_id,
           w.valid_from + (least(w.valid_to, timestamp '2026-10-30') - w.valid_from) / 2 as mid
    from intermediate.int_membership_windows as w
    join intermediate.int_identity_windows as i
        on i.repl_id = w.repl_id and i.valid_from <= w.valid_from and i.valid_to >= w.valid_to
    where w.role = 'primary'
      and least(w.valid_to, timestamp '2026-10-30') - w.valid_from > interval 20 day
)
select windows.repl_id, windows.team_id, windows.okta_user_id, windows.mid, windows.valid_to
from windows
where (
    select count(*) from marts.fct_ticket_attribution as t
    where t.repl_id = windows.repl_id and t.event_at >= windows.valid_from
      and t.event_at < windows.mid
) >= 3
  and (
    select count(*) from marts.fct_ticket_attribution as t
    where t.repl_id = windows.repl_id and t.event_at >= windows.mid
      and t.event_at < windows.valid_to
) >= 3
order by windows.repl_id, windows.valid_from
limit 1
"""


def _query(settings: Settings, sql: str) -> list[tuple]:
    con = duckdb.connect(str(settings.warehouse_path), read_only=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def _facts(settings: Settings) -> dict[str, dict[str, tuple]]:
    return {
        fact: {row[0]: tuple(row[1:]) for row in _query(settings, sql)}
        for fact, sql in FACT_READS.items()
    }


def _marts(settings: Settings) -> dict[str, list[tuple]]:
    return {m: _query(settings, f"select * from {m} order by all") for m in MARTS}


def _expected(before: dict, after: dict) -> set[tuple]:
    """(fact, key, old team, new team) for every key whose team differs, or that exists on one
    side only (None for the missing side), from whole-table reads."""
    out = set()
    for fact in FACT_READS:
        old, new = before[fact], after[fact]
        for key in old.keys() | new.keys():
            old_team = old[key][0] if key in old else None
            new_team = new[key][0] if key in new else None
            if key not in old or key not in new or old_team != new_team:
                out.add((fact, key, old_team, new_team))
    return out


@dataclass
class Scenario:
    settings: Settings
    mover: str
    old_team: str
    new_team: str
    removed: str
    removed_team: str
    expected: set[tuple]
    first_stdout: str
    first_seconds: float
    second: RunReport
    after_first: dict[str, list[tuple]]
    after_full: dict[str, list[tuple]]

    def restatements(self, run_id: str) -> set[tuple]:
        return set(
            _query(
                self.settings,
                "select fact, fact_key, old_team_id, new_team_id "
                f"from ops.attribution_restatements where run_id = '{run_id}'",
            )
        )


@pytest.fixture(scope="module")
def scenario(tmp_path_factory: pytest.TempPathFactory, dbt_target_path: Path) -> Scenario:
    tmp_path = tmp_path_factory.mktemp("restatements")
    settings = Settings(
        warehouse_path=tmp_path / "w.duckdb",
        stage_dir=tmp_path / "stage",
        dbt_target_path=dbt_target_path,
    )
    events = tmp_path / "events"
    generate(scale="tiny", seed=7, out_dir=events)
    for topic in ("okta.system_log.v1", ADMIN, "zendesk.ticket_events.v1"):
        ingest_files([events / f"{topic}.jsonl"], topic, settings)
    result = build(settings, full_refresh=True, quiet=True, check=False)
    assert result.returncode == 0, result.counts()

    mover = _query(settings, MOVER)
    assert mover, "the tiny company has a rep with tickets on both sides of a window's middle"
    repl_id, old_team, okta_user_id, moved_at, valid_to = mover[0]
    # A team other reps are primary in at that instant (it exists then, and is not merged away).
    new_team = _query(
        settings,
        f"""
        select min(team_id) from intermediate.int_membership_windows
        where role = 'primary' and team_id <> '{old_team}'
          and valid_from <= timestamp '{moved_at}' and valid_to > timestamp '{moved_at}'
        """,
    )[0][0]
    assert new_team is not None
    # Another rep (another primary window with tickets after its middle) loses their team.
    removed = _query(
        settings,
        f"""
        select w.repl_id, w.team_id, w.valid_from + (w.valid_to - w.valid_from) / 2 as mid
        from intermediate.int_membership_windows as w
        where w.role = 'primary' and w.repl_id <> '{repl_id}'
          and w.valid_to < timestamp '2026-10-20'
          and (select count(*) from marts.fct_ticket_attribution as t
               where t.repl_id = w.repl_id
                 and t.event_at >= w.valid_from + (w.valid_to - w.valid_from) / 2
                 and t.event_at < w.valid_to) >= 2
        order by w.repl_id, w.valid_from
        limit 1
        """,
    )
    assert removed, "the tiny company has a second rep with tickets in a closed window"
    removed_repl, removed_team, removed_at = removed[0]

    # Opportunities of the mover: closed before the move (old team stays), two after it (to the
    # new team), one of an owner without a federation identifier (unresolved either way).
    early = moved_at - timedelta(days=40)
    users = [
        _record(
            "User",
            {"Id": uid, "Username": f"{uid}@x", "FederationIdentifier": fed, "IsActive": True},
            early,
        )
        for uid, fed in ((OWNER, okta_user_id), (NO_FEDERATION, None))
    ]

    def opp(oid: str, owner: str, close: datetime) -> dict:
        fields = {"Id": oid, "OwnerId": owner, "CloseDate": close.date().isoformat()}
        fields |= {"Amount": 100.0, "StageName": "Closed Won", "IsClosed": True, "IsWon": True}
        return _record("Opportunity", fields | {"IsDeleted": False}, early + timedelta(days=1))

    opps = [
        opp("006000000000001", OWNER, moved_at - timedelta(days=5)),
        opp("006000000000002", OWNER, moved_at + timedelta(days=2)),
        opp("006000000000003", OWNER, moved_at + timedelta(days=4)),
        opp("006000000000004", NO_FEDERATION, moved_at + timedelta(days=3)),
    ]
    assert moved_at + timedelta(days=6) < valid_to
    ingest_files([_write(tmp_path / "users.jsonl", users)], "salesforce.records.User", settings)
    ingest_files(
        [_write(tmp_path / "opps.jsonl", opps)], "salesforce.records.Opportunity", settings
    )
    result = build(settings, select=SALESFORCE, quiet=True, check=False)
    assert result.returncode == 0, result.counts()
    before = _facts(settings)

    # The late events: effective inside the windows, emitted long after (beyond the window).
    emitted = _iso(datetime(2026, 11, 25))
    late = [
        {
            "event_id": "late-move-1",
            "event_type": "MEMBERSHIP_ADDED",
            "repl_id": repl_id,
            "team_id": new_team,
            "role": "primary",
            "effective_at": _iso(moved_at),
            "emitted_at": emitted,
            "actor": "hr.sync@clouddesk.example",
        },
        {
            "event_id": "late-remove-1",
            "event_type": "MEMBERSHIP_REMOVED",
            "repl_id": removed_repl,
            "team_id": removed_team,
            "role": "primary",
            "effective_at": _iso(removed_at),
            "emitted_at": emitted,
            "actor": "hr.sync@clouddesk.example",
        },
    ]
    ingest_files([_write(tmp_path / "late.jsonl", late)], ADMIN, settings)

    # The first run as the DAG runs it: the module, in the project's venv, from the environment.
    env = dict(os.environ)
    env.update(
        REVOPS_WAREHOUSE=str(settings.warehouse_path),
        REVOPS_STAGE=str(settings.stage_dir),
        REVOPS_DBT_TARGET_PATH=str(dbt_target_path),
    )
    env.pop("REVOPS_DBT_TARGET", None)
    started = time.monotonic()
    proc = subprocess.run(
        [sys.executable, "-m", "ingest.restatements", "--run-id", "run-1"],
        cwd=PROJECT_DIR,
        env=env,
        capture_output=True,
        text=True,
    )
    first_seconds = time.monotonic() - started
    assert proc.returncode == 0, proc.stderr[-2000:]
    after_first = _marts(settings)

    second = run_restatements(settings, run_id="run-2")

    result = build(settings, full_refresh=True, quiet=True, check=False)
    assert result.returncode == 0, result.counts()
    after_full = _marts(settings)
    expected = _expected(before, _facts(settings))
    # The report's lines close the output (what the Airflow task log ends with).
    summary = proc.stdout.splitlines()[-4:]
    print(f"\nfirst restatement run (tiny company): {first_seconds:.1f} s wall", *summary, sep="\n")
    return Scenario(
        settings,
        repl_id,
        old_team,
        new_team,
        removed_repl,
        removed_team,
        expected,
        proc.stdout,
        first_seconds,
        second,
        after_first,
        after_full,
    )


def test_the_restated_rows_are_exactly_what_a_full_rebuild_changes(scenario: Scenario) -> None:
    got = scenario.restatements("run-1")
    assert got == scenario.expected
    # The scenario means something: both facts, both late events, a null side.
    facts = {row[0] for row in got}
    assert facts == {"ticket", "opportunity"}
    assert ("opportunity", "006000000000001", scenario.old_team, scenario.old_team) not in got
    assert {row[1] for row in got if row[0] == "opportunity"} == {
        "006000000000002",
        "006000000000003",
    }
    assert any(row[2] == scenario.removed_team and row[3] is None for row in got)


def test_old_and_new_teams_and_the_rest_of_the_row(scenario: Scenario) -> None:
    rows = _query(
        scenario.settings,
        """
        select fact, fact_key, repl_id, old_repl_id, old_team_id, new_team_id, change,
               attributed_at
        from ops.attribution_restatements where run_id = 'run-1'
        """,
    )
    moved = [r for r in rows if r[2] == scenario.mover]
    removed = [r for r in rows if r[2] == scenario.removed]
    assert moved and removed and len(moved) + len(removed) == len(rows)
    # Every restated row of the mover goes to the new team (later history may differ too, from
    # which team they come then depends on it); the window the move splits is among them.
    assert {r[5] for r in moved} == {scenario.new_team}
    assert (scenario.old_team, scenario.new_team) in {(r[4], r[5]) for r in moved}
    assert {(r[4], r[5]) for r in removed} == {(scenario.removed_team, None)}
    assert all(r[3] == r[2] and r[6] == "moved" and r[7] is not None for r in rows)
    ticket_rows = [r for r in rows if r[0] == "ticket"]
    instants = dict(
        _query(
            scenario.settings,
            "select ticket_event_id, event_at from marts.fct_ticket_attribution",
        )
    )
    assert all(instants[r[1]] == r[7] for r in ticket_rows)


def test_the_task_log_summary_counts_each_fact(scenario: Scenario) -> None:
    tickets = sum(1 for row in scenario.expected if row[0] == "ticket")
    opportunities = sum(1 for row in scenario.expected if row[0] == "opportunity")
    out = scenario.first_stdout
    assert f"\n{tickets} ticket attributions restated ({tickets} moved," in out
    assert f"\n{opportunities} opportunity attributions restated ({opportunities} moved," in out
    assert f"{scenario.old_team} → {scenario.new_team} ×" in out
    assert f"{scenario.removed_team} → (none) ×" in out
    run = _query(
        scenario.settings,
        "select status, ticket_restated, opportunity_restated, repls_in_scope "
        "from ops.restatement_runs where run_id = 'run-1'",
    )
    assert run == [("success", tickets, opportunities, 2)]


def test_a_second_run_restates_nothing_and_writes_no_rows(scenario: Scenario) -> None:
    assert scenario.second.repls_in_scope == 0
    assert all(s.restated == 0 for s in scenario.second.facts.values())
    assert scenario.restatements("run-2") == set()
    assert _query(scenario.settings, "select count(*) from ops.restatement_snapshots") == [(0,)]
    watermarks = _query(
        scenario.settings,
        "select run_id, loaded_after, loaded_through from ops.restatement_runs order by run_id",
    )
    # The second run starts where the first one's build read through, and stays there.
    assert watermarks[1][1] == watermarks[0][2] == watermarks[1][2]


def test_the_marts_equal_a_full_rebuild(scenario: Scenario) -> None:
    for mart in MARTS:
        assert scenario.after_first[mart] == scenario.after_full[mart], mart


def test_a_run_id_that_succeeded_is_not_run_again(scenario: Scenario) -> None:
    def no_build(*_args: object) -> float:
        raise AssertionError("a succeeded run id must not build again")

    report = run_restatements(scenario.settings, run_id="run-1", build=no_build)
    assert report.already_done
    assert len(scenario.restatements("run-1")) == len(scenario.expected)


# --- the same SQL over the Snowflake connector and dialect (fakesnow) --------------------------

# The relations and columns the module reads, as tables (dbt's are views and tables of more
# columns; the module depends on these only).
SNOWFLAKE_RELATIONS = (
    """create table staging.stg_admin_service__membership_events (event_id varchar,
        event_type varchar, repl_id varchar, team_id varchar, okta_user_id varchar,
        effective_at timestamp, is_valid boolean, _loaded_at timestamp)""",
    """create table intermediate.int_team_merge_closure (team_id varchar,
        predecessor_team_id varchar)""",
    """create table intermediate.int_membership_events_deduplicated (repl_id varchar,
        team_id varchar, event_type varchar)""",
    """create table intermediate.model_watermarks (model_name varchar, upstream_name varchar,
        loaded_through timestamp, updated_at timestamp)""",
    "create table intermediate.int_ticket_events_attributed (loaded_at timestamp)",
    """create table marts.fct_ticket_attribution (ticket_event_id varchar, event_at timestamp,
        event_date date, okta_user_id varchar, repl_id varchar, team_id varchar,
        team_id_restated varchar, loaded_at timestamp)""",
    """create table marts.fct_opportunity_attribution (opportunity_id varchar,
        attributed_at timestamp, okta_user_id varchar, repl_id varchar, team_id varchar,
        team_id_restated varchar)""",
)
SNOWFLAKE_ROWS = (
    # Known history (loaded 1 January), then the late move of r1 to t2 from 8 January and a
    # merge of t3 (loaded 1 March, after the facts' watermark).
    """insert into staging.stg_admin_service__membership_events values
        ('a1', 'MEMBERSHIP_ADDED', 'r1', 't1', null, '2026-01-02', true, '2026-01-01 01:00:00'),
        ('a3', 'MEMBERSHIP_ADDED', 'r3', 't3', null, '2026-01-02', true, '2026-01-01 01:00:00'),
        ('late', 'MEMBERSHIP_ADDED', 'r1', 't2', null, '2026-01-08', true, '2026-03-01 00:00:00'),
        ('m3', 'TEAM_MERGED', null, 't3', null, '2026-01-20', true, '2026-03-01 00:00:00')""",
    "insert into intermediate.int_team_merge_closure values ('t1', 't1'), ('t3', 't3')",
    """insert into intermediate.int_membership_events_deduplicated values
        ('r1', 't1', 'MEMBERSHIP_ADDED'), ('r3', 't3', 'MEMBERSHIP_ADDED')""",
    """insert into intermediate.model_watermarks values
        ('int_ticket_events_attributed', 'stg_admin_service__membership_events',
         '2026-01-01 01:00:00', '2026-01-01 01:00:00'),
        ('int_membership_windows', 'stg_admin_service__membership_events',
         '2026-01-01 01:00:00', '2026-01-01 01:00:00')""",
    "insert into intermediate.int_ticket_events_attributed values ('2026-01-11 00:00:00')",
    """insert into marts.fct_ticket_attribution values
        ('k1', '2026-01-06', '2026-01-06', 'u1', 'r1', 't1', 't1', '2026-01-06 01:00:00'),
        ('k2', '2026-01-10', '2026-01-10', 'u1', 'r1', 't1', 't1', '2026-01-10 01:00:00'),
        ('k3', '2026-01-25', '2026-01-25', 'u3', 'r3', 't3', 't3', '2026-01-11 00:00:00')""",
    """insert into marts.fct_opportunity_attribution values
        ('o1', '2026-01-05', 'u1', 'r1', 't1', 't1'),
        ('o2', '2026-01-12', 'u1', 'r1', 't1', 't1')""",
)
# What the attribution build does to these facts: k2 and o2 follow r1 to t2, r3's later
# ticket k3 loses its team (the merge closed the slot), a new ticket event arrives.
SNOWFLAKE_BUILD = (
    "update marts.fct_ticket_attribution set team_id = 't2', team_id_restated = 't2' "
    "where ticket_event_id = 'k2'",
    "update marts.fct_ticket_attribution set team_id = null, team_id_restated = null "
    "where ticket_event_id = 'k3'",
    """insert into marts.fct_ticket_attribution values
        ('k4', '2026-02-01', '2026-02-01', 'u1', 'r1', 't2', 't2', '2026-03-01 00:00:01')""",
    "update marts.fct_opportunity_attribution set team_id = 't2', team_id_restated = 't2' "
    "where opportunity_id = 'o2'",
)


def test_the_statements_run_on_the_snowflake_connector_and_dialect(tmp_path: Path) -> None:
    """Every statement of a run, over snowflake-connector-python against a fakesnow server,
    on hand-made relations. dbt itself is the DuckDB tests' part: here the build is the stand-in
    SNOWFLAKE_BUILD, applied over a second connection, since what is under test is the SQL."""
    connector = pytest.importorskip("snowflake.connector")
    pytest.importorskip("fakesnow")
    import socket

    from ingest.settings import SnowflakeSettings

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    log = (tmp_path / "fakesnow.log").open("w")
    server = subprocess.Popen(
        [sys.executable, "-m", "fakesnow", "-s", "-p", str(port)], stdout=log, stderr=log
    )

    def connect():
        return connector.connect(
            account="fakesnow",
            user="fake",
            password="fake",
            host="localhost",
            port=port,
            protocol="http",
            database="REVOPS",
            login_timeout=15,
            network_timeout=15,
            socket_timeout=15,
        )

    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                con = connector.connect(
                    account="fakesnow",
                    user="fake",
                    password="fake",
                    host="localhost",
                    port=port,
                    protocol="http",
                )
                break
            except connector.errors.Error:
                if server.poll() is not None or time.monotonic() > deadline:
                    raise
                time.sleep(0.3)
        con.cursor().execute("create database if not exists REVOPS")
        con.close()
        con = connect()
        cur = con.cursor()
        for schema in ("staging", "intermediate", "marts"):
            cur.execute(f"create schema if not exists {schema}")
        for statement in (*SNOWFLAKE_RELATIONS, *SNOWFLAKE_ROWS):
            cur.execute(statement)

        selections: list[str] = []

        def stand_in_build(_settings: Settings, select: str) -> float:
            selections.append(select)
            if "int_ticket_events_attributed+" in select:
                for statement in SNOWFLAKE_BUILD:
                    cur.execute(statement)
            return 0.0

        settings = Settings(
            warehouse_path=tmp_path / "unused.duckdb",
            stage_dir=tmp_path / "stage",
            dbt_target="fakesnow",
            snowflake=SnowflakeSettings(port=port, database="REVOPS", timeout_s=15),
        )
        report = run_restatements(settings, run_id="sf-1", build=stand_in_build)
        assert len(selections) == 2
        assert (report.repls_in_scope, report.okta_users_in_scope) == (2, 0)
        assert report.facts["ticket"].restated == 2
        assert report.facts["ticket"].first_attributed == 1
        assert report.facts["opportunity"].restated == 1
        cur.execute(
            "select fact, fact_key, repl_id, old_team_id, new_team_id, change "
            "from ops.attribution_restatements where run_id = 'sf-1' order by fact, fact_key"
        )
        assert cur.fetchall() == [
            ("opportunity", "o2", "r1", "t1", "t2", "moved"),
            ("ticket", "k2", "r1", "t1", "t2", "moved"),
            ("ticket", "k3", "r3", "t3", None, "moved"),
        ]
        cur.execute("select status, ticket_restated from ops.restatement_runs")
        assert cur.fetchall() == [("success", 2)]
        cur.execute("select count(*) from ops.restatement_snapshots")
        assert cur.fetchall() == [(0,)]

        # On Snowflake the scope re-reads 15 minutes behind the watermark (loads commit beside
        # builds): the same events are in scope again, and nothing is restated twice.
        again = run_restatements(settings, run_id="sf-2", build=stand_in_build)
        assert again.loaded_after == datetime(2026, 3, 1) - timedelta(minutes=15)
        assert all(s.restated == 0 for s in again.facts.values())
        cur.execute("select count(*) from ops.attribution_restatements where run_id = 'sf-2'")
        assert cur.fetchall() == [(0,)]
        con.close()
    finally:
        server.terminate()
        try:
            server.wait(10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait(10)
        log.close()


# --- the micro-batch's two phases around its own dbt build -------------------------------------


def test_the_micro_batch_phases_report_what_its_build_restated(tmp_path: Path) -> None:
    """`--phase snapshot` before the micro-batch's dbt build, `--phase report` after it: the same
    restatements a whole run reports (the relations and the build of the Snowflake test above,
    on DuckDB). A retried snapshot keeps the first one (the build may have run since), a report
    without a snapshot reports nothing and fails nothing, and a reported run is not redone."""
    settings = Settings(warehouse_path=tmp_path / "w.duckdb", stage_dir=tmp_path / "stage")
    con = duckdb.connect(str(settings.warehouse_path))
    for schema in ("staging", "intermediate", "marts"):
        con.execute(f"create schema {schema}")
    for statement in (*SNOWFLAKE_RELATIONS, *SNOWFLAKE_ROWS):
        con.execute(statement)
    con.close()

    selections: list[str] = []

    def staging_only(_settings: Settings, select: str) -> float:
        selections.append(select)
        return 0.0

    first = run_restatements(settings, run_id="mb-1", build=staging_only, phase="snapshot")
    assert first.outcome == "snapshotted" and first.affected_from == datetime(2026, 1, 8)
    assert selections == [STAGE_SELECT]

    con = duckdb.connect(str(settings.warehouse_path))
    for statement in SNOWFLAKE_BUILD:  # the micro-batch's dbt build
        con.execute(statement)
    con.close()

    retry = run_restatements(settings, run_id="mb-1", build=staging_only, phase="snapshot")
    assert retry.outcome == "snapshotted" and selections == [STAGE_SELECT]

    report = run_restatements(settings, run_id="mb-1", phase="report")
    assert report.outcome == "reported" and report.build_seconds is None
    assert (report.repls_in_scope, report.facts["ticket"].restated) == (2, 2)
    assert report.facts["ticket"].first_attributed == 1
    assert report.facts["opportunity"].restated == 1
    assert any("2 ticket attributions restated (2 moved" in line for line in report.lines())
    assert _query(
        settings,
        "select fact, fact_key, repl_id, old_team_id, new_team_id, change "
        "from ops.attribution_restatements where run_id = 'mb-1' order by fact, fact_key",
    ) == [
        ("opportunity", "o2", "r1", "t1", "t2", "moved"),
        ("ticket", "k2", "r1", "t1", "t2", "moved"),
        ("ticket", "k3", "r3", "t3", None, "moved"),
    ]
    assert _query(
        settings,
        "select status, ticket_restated, build_seconds is null, loaded_through "
        "from ops.restatement_runs where run_id = 'mb-1'",
    ) == [("success", 2, True, datetime(2026, 3, 1))]
    assert _query(settings, "select count(*) from ops.restatement_snapshots") == [(0,)]

    assert run_restatements(settings, run_id="mb-1", phase="report").already_done
    assert run_restatements(settings, run_id="mb-1", phase="snapshot").already_done
    nothing = run_restatements(settings, run_id="mb-2", phase="report")
    assert nothing.outcome == "no_snapshot" and "nothing to report" in nothing.lines()[0]
    # The next batch starts where this one read through: nothing left for the nightly run.
    later = run_restatements(settings, run_id="mb-3", build=staging_only)
    assert later.loaded_after == datetime(2026, 3, 1) and later.repls_in_scope == 0
