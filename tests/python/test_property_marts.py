"""Property tests: the marts equal an independent reference implementation on random event sets,
and incremental builds over random batch splits equal a full rebuild.

dbt costs seconds per run, so scenarios are not built one dbt run each: many scenarios with
namespaced ids go into one warehouse, dbt builds once, and every scenario's slice of every mart is
compared with the reference. Hypothesis draws the scenarios (through per-scenario seeds for the
warehouse tests, so hundreds fit in one example; directly for the cheap reference-only properties).

A warehouse example costs a dbt build, so each of those tests runs one, and a failure must survive
a re-run: hypothesis' example database lives in the working tree (`.hypothesis/`, gitignored, kept
by CI between runs) and replays a failing example first; every failure names its scenario seeds;
and REGRESSION_SEEDS are part of every warehouse example.
"""

from __future__ import annotations

import itertools
import json
import random
import re
from datetime import date, datetime, timedelta
from pathlib import Path

import duckdb
import pytest
from hypothesis import HealthCheck, Phase, assume, given, note, settings
from hypothesis import strategies as st
from hypothesis.database import DirectoryBasedExampleDatabase

from ingest import questions
from ingest.dbt_runner import build
from ingest.file_source import ingest_files
from ingest.settings import Settings
from tests.python.reference.membership import (
    OPEN_END,
    attribute,
    build_history,
    daily_headcount,
    parse_ts,
)
from tests.python.scenarios import BASE, Scenario, scenario_from_seed, scenario_strategy

THROUGH = date(2026, 3, 12)
DBT_VARS = {"headcount_through_date": THROUGH.isoformat()}
# A full build split into buckets of this many staged events (several buckets for the scenarios
# of one example), as a full build at scale runs: the tests compare it with the reference and
# with incremental runs, which are never split.
BUCKETED = {"full_build_bucket_rows": 400}
# dbt's unit tests do not depend on the data; `make test-dbt` runs them once.
NO_UNIT = "test_type:unit"
# In the project's working tree whatever the cwd (the Makefile and CI run from the project dir).
EXAMPLES = DirectoryBasedExampleDatabase(
    Path(__file__).resolve().parents[2] / ".hypothesis" / "examples"
)
# One example per run: a failing one saved earlier (reuse), else a fresh one (generate). The
# explicit phase runs @example()s, each a full dbt build: pin scenario seeds in REGRESSION_SEEDS
# instead, which cost nothing extra.
ONE_BIG_EXAMPLE = settings(
    max_examples=1,
    deadline=None,
    phases=[Phase.explicit, Phase.reuse, Phase.generate],
    database=EXAMPLES,
    suppress_health_check=list(HealthCheck),
)
# Scenario seeds every warehouse example includes (scenario_from_seed), so the cases behind past
# bugs are checked on every run, not only when a draw happens to hit them. Each has several of:
# conflicting copies of an event_id (one swapping ADDED/REMOVED, one into an invalid type),
# marker-like team names ("~", "-"), a merge cycle and a merge chain, a slot closed and reopened
# at one instant, a close before its new team at one instant, a split, re-delivered tickets.
# Add the seed a failure prints here (its scenario alone reproduces a mart mismatch).
REGRESSION_SEEDS = [1989, 2717, 2589, 4698, 6984, 14256, 15106, 16041, 1, 3, 6, 11, 19]


# -- the reference alone: cheap, so many examples and real shrinking ------------------------------


@settings(max_examples=150, deadline=None)
@given(scenario_strategy(), st.randoms(use_true_random=False))
def test_reference_is_a_function_of_the_deduplicated_event_set(
    scenario: Scenario, rnd: random.Random
) -> None:
    truth = build_history(scenario.events)
    noisy = build_history(scenario.delivered)
    assert noisy.windows == truth.windows
    assert noisy.orphan_removals == truth.orphan_removals
    assert noisy.team_versions == truth.team_versions
    # Conflicting copies change the history, but never with the order they arrive in.
    received = scenario.received
    reordered = rnd.sample(received, len(received))
    assert build_history(reordered).windows == build_history(received).windows
    for w in truth.windows:
        assert w.valid_from < w.valid_to
    primaries = sorted(
        (w.repl_id, w.valid_from, w.valid_to) for w in truth.windows if w.role == "primary"
    )
    for (r1, _, end), (r2, start, _) in itertools.pairwise(primaries):
        assert r1 != r2 or end <= start, "two primary teams at once"


def regression_cases(sc: Scenario) -> set[str]:
    """Which of the cases behind past bugs a scenario contains (REGRESSION_SEEDS must cover all)."""
    cases = set()
    by_id = {e["event_id"]: e for e in sc.events}
    for copy in sc.conflicting:
        if copy["event_type"] == "TEAM_ARCHIVED":
            cases.add("a conflicting copy that is invalid")
        elif copy["event_type"] != by_id[copy["event_id"]]["event_type"]:
            cases.add("a conflicting copy that swaps ADDED and REMOVED")
    merges = set()
    for e in sc.events:
        if e["event_type"] == "TEAM_RENAMED" and e["team_name"] in ("~", "-"):
            cases.add("a marker-like team name")
        if e["event_type"] == "TEAM_MERGED":
            merges.add((e["team_id"], e["merged_into_team_id"]))
        if e["event_type"] == "TEAM_SPLIT":
            cases.add("a split")
    if any((b, a) in merges for a, b in merges):
        cases.add("a merge cycle")
    if any(b == c for _, b in merges for c, _ in merges):
        cases.add("a merge chain")
    memberships = [
        (e, parse_ts(e["effective_at"]), parse_ts(e["emitted_at"]))
        for e in sc.events
        if e["event_type"].startswith("MEMBERSHIP_")
    ]
    memberships = [m for m in memberships if m[1] and m[2]]  # events staging accepts
    for (close, at, emitted), (add, add_at, add_emitted) in itertools.product(
        memberships, repeat=2
    ):
        if (
            close["event_type"] == "MEMBERSHIP_REMOVED"
            and add["event_type"] == "MEMBERSHIP_ADDED"
            and close["repl_id"] == add["repl_id"]
            and at == add_at
        ):
            if close["team_id"] == add["team_id"]:
                cases.add("a slot closed and reopened at one instant")
            elif emitted < add_emitted:
                cases.add("a close before its new team at one instant")
    if len(sc.tickets) > len({t["id"] for t in sc.tickets}):
        cases.add("a re-delivered ticket event")
    return cases


REGRESSION_CASES = 9


def test_regression_seeds_cover_the_cases_of_past_bugs() -> None:
    """Scenarios are a function of their seed and of tests/python/scenarios.py: when that module
    changes, the pinned seeds must still mean what REGRESSION_SEEDS says."""
    covered = set().union(*(regression_cases(scenario_from_seed(s, 0)) for s in REGRESSION_SEEDS))
    if len(covered) < REGRESSION_CASES:
        found = {}
        for seed in range(1, 3000):
            for case in regression_cases(scenario_from_seed(seed, 0)) - covered:
                found.setdefault(case, seed)
        pytest.fail(f"REGRESSION_SEEDS no longer cover {found} (case: a seed that has it)")


# -- the warehouse ------------------------------------------------------------------------------


def fresh_warehouse(
    tmp_path_factory: pytest.TempPathFactory, name: str, dbt_target_path: Path
) -> Settings:
    root = tmp_path_factory.mktemp(name)
    return Settings(
        warehouse_path=root / "w.duckdb", stage_dir=root / "stage", dbt_target_path=dbt_target_path
    )


_seed_of: dict[str, int] = {}  # scenario prefix -> the seed it was built from


def seeded_scenarios(seeds: list[int], pinned: list[int] = REGRESSION_SEEDS) -> list[Scenario]:
    """The pinned regression scenarios, then one per drawn seed; failures name the seed."""
    # Hypothesis' first example is its simplest (every seed 0); skip it, it is one scenario
    # repeated. A database replay or an @example is taken as it is.
    assume(any(seeds))
    scenarios = []
    for n, seed in enumerate([*pinned, *seeds]):
        sc = scenario_from_seed(seed, n)
        _seed_of[sc.prefix] = seed
        scenarios.append(sc)
    note(f"scenario seeds (pinned + drawn): {[*pinned, *seeds]}")
    return scenarios


def load(scenarios: list[Scenario], settings_: Settings, name: str) -> None:
    root = settings_.warehouse_path.parent
    admin = root / f"{name}.admin.jsonl"
    admin.write_text(
        "".join(json.dumps(e) + "\n" for sc in scenarios for e in sc.received), encoding="utf-8"
    )
    ingest_files([admin], "admin.membership.v1", settings_)
    tickets = [t for sc in scenarios for t in sc.tickets]
    if tickets:
        zd = root / f"{name}.zendesk.jsonl"
        zd.write_text("".join(json.dumps(t) + "\n" for t in tickets), encoding="utf-8")
        ingest_files([zd], "zendesk.ticket_events.v1", settings_)


def query(settings_: Settings, sql: str) -> list[tuple]:
    con = duckdb.connect(str(settings_.warehouse_path), read_only=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def marts(settings_: Settings, schema: str = "marts") -> dict[str, list[tuple]]:
    return {
        "bridge": query(
            settings_,
            f"""select repl_id, team_id, role, valid_from, valid_to, opened_by_event_id,
                      closed_by_event_id, team_id_restated
               from {schema}.bridge_repl_team_membership""",
        ),
        "orphans": query(settings_, f"select event_id from {schema}.dq_membership_orphan_removals"),
        "teams": query(
            settings_,
            f"""select team_id, team_name, parent_team_id, is_active, merged_into_team_id,
                      valid_from, valid_to from {schema}.dim_teams""",
        ),
        "identity": query(
            settings_,
            f"""select okta_user_id, repl_id, valid_from, valid_to
                from {schema}.bridge_okta_user_repl""",
        ),
        "headcount": query(
            settings_,
            f"""select team_id, date_day, primary_headcount, secondary_headcount
               from {schema}.fct_team_daily_headcount""",
        ),
        "tickets": query(
            settings_,
            f"""select ticket_event_id, repl_id, team_id, unresolved_reason
               from {schema}.fct_ticket_attribution""",
        ),
    }


def ticket_user(ticket: dict) -> str | None:
    """The assignee's Okta user id; blank means unassigned."""
    user = (ticket["assignee"] or {}).get("external_id")
    return user.strip(" ") or None if isinstance(user, str) else user


def unique_tickets(sc: Scenario) -> list[dict]:
    return list({t["id"]: t for t in sc.tickets}.values())


def expected(sc: Scenario, through: date = THROUGH) -> dict[str, list[tuple]]:
    h = build_history(sc.received)  # what the warehouse received, noise and all
    counts = daily_headcount(h, through)
    tickets = []
    for t in unique_tickets(sc):
        at = parse_ts(t["created_at"])
        assert at is not None
        tickets.append((t["id"], *attribute(h, ticket_user(t), at)))
    return {
        "bridge": sorted(
            (
                w.repl_id,
                w.team_id,
                w.role,
                w.valid_from,
                w.valid_to,
                w.opened_by_event_id,
                w.closed_by_event_id,
                h.restated.get(w.team_id, w.team_id),
            )
            for w in h.windows
        ),
        "orphans": sorted((e,) for e in h.orphan_removals),
        "teams": list(h.team_versions),
        "identity": sorted(h.identity_windows),
        "headcount": sorted((team, day, *c) for (team, day), c in counts.items()),
        "tickets": sorted(tickets, key=str),
    }


def slice_of(rows: list[tuple], prefix: str) -> list[tuple]:
    return sorted((r for r in rows if str(r[0]).startswith(prefix)), key=repr)


def describe(sc: Scenario) -> str:
    def position(e: dict) -> tuple:
        return (e["effective_at"], e["emitted_at"], e["event_id"])

    seed = _seed_of.get(sc.prefix)
    origin = f"scenario_from_seed({seed}, {sc.number})"
    lines = [f"scenario {sc.number} ({origin}) — events in position order:"]
    for e in sorted(sc.events, key=position):
        fields = {k: v for k, v in e.items() if v is not None and k not in ("actor",)}
        lines.append("  " + json.dumps(fields))
    return "\n".join(lines)


def assert_marts_match_reference(
    scenarios: list[Scenario], actual: dict[str, list[tuple]], through: date = THROUGH
) -> None:
    for sc in scenarios:
        for mart, rows in expected(sc, through).items():
            want = sorted(rows, key=repr)
            got = slice_of(actual[mart], sc.prefix)
            assert got == want, (
                f"{mart} differs\n{describe(sc)}\nexpected:\n"
                + "\n".join(map(str, want))
                + "\nactual:\n"
                + "\n".join(map(str, got))
            )


def assert_readme_questions_match_reference(scenarios: list[Scenario], settings_: Settings) -> None:
    """The analyst queries (ingest/questions.py, as in the README) answer like the reference."""
    days = [BASE.date() + timedelta(days=n) for n in range(-2, 7)]
    con = duckdb.connect(str(settings_.warehouse_path), read_only=True)
    try:
        for sc in scenarios:
            h = build_history(sc.received)
            repls = sorted({w.repl_id for w in h.windows})
            for repl_id, day in itertools.product(repls, days):
                end = datetime.combine(day + timedelta(days=1), datetime.min.time())
                want = sorted(
                    (w.team_id, w.role) for w in h.windows
                    if w.repl_id == repl_id and w.valid_from < end <= w.valid_to
                )  # fmt: skip
                got = sorted(
                    row[:2]
                    for row in con.execute(
                        questions.TEAM_OF_REPL_ON_DATE, {"repl_id": repl_id, "day": day}
                    ).fetchall()
                )
                assert got == want, (repl_id, day, describe(sc))
            counts = daily_headcount(h, THROUGH)
            for team_id in sorted({team for team, _ in counts}):
                want_days = sorted(
                    (day, *c) for (team, day), c in counts.items() if team == team_id
                )
                got_days = con.execute(
                    questions.TEAM_HEADCOUNT_BETWEEN,
                    {"team_id": team_id, "first_day": date(2000, 1, 1), "last_day": THROUGH},
                ).fetchall()
                assert got_days == want_days, (team_id, describe(sc))
            for ticket_id in sorted({t["ticket_id"] for t in sc.tickets}):
                want_events = sorted(
                    (t["id"], *attribute(h, ticket_user(t), at))
                    for t in unique_tickets(sc)
                    if t["ticket_id"] == ticket_id and (at := parse_ts(t["created_at"]))
                )
                got_events = sorted(
                    (row[0], row[2], row[3], row[5])
                    for row in con.execute(
                        questions.TICKET_EVENT_TEAMS, {"ticket_id": ticket_id}
                    ).fetchall()
                )
                assert got_events == want_events, (ticket_id, describe(sc))
    finally:
        con.close()


@pytest.mark.dbt
@ONE_BIG_EXAMPLE
@given(
    seeds=st.lists(
        st.integers(0, 2**32 - 1),
        min_size=150 - len(REGRESSION_SEEDS),
        max_size=150 - len(REGRESSION_SEEDS),
    )
)
def test_marts_equal_the_reference_implementation(
    seeds: list[int], tmp_path_factory: pytest.TempPathFactory, dbt_target_path: Path
) -> None:
    settings_ = fresh_warehouse(tmp_path_factory, "property", dbt_target_path)
    scenarios = seeded_scenarios(seeds)
    load(scenarios, settings_, "all")
    result = build(
        settings_,
        full_refresh=True,
        quiet=True,
        vars={**DBT_VARS, **BUCKETED},
        check=False,
        exclude=NO_UNIT,
    )
    assert result.returncode == 0, result.counts()
    assert full_build_buckets(settings_) > 1
    assert_marts_match_reference(scenarios, marts(settings_))
    assert_readme_questions_match_reference(scenarios[:40], settings_)
    # The reference's OPEN_END is the warehouse's open marker (open_valid_to()), as built.
    open_ends = query(
        settings_,
        """select distinct valid_to from marts.bridge_repl_team_membership where is_current
           union
           select distinct valid_to from marts.dim_teams where is_current""",
    )
    assert open_ends == [(OPEN_END,)]


def snapshot(settings_: Settings, suffix: str = "") -> dict[str, list[tuple]]:
    """Every intermediate and mart table, keyed by its name without the as-of suffix."""
    tables = query(
        settings_,
        f"""select table_schema, table_name from information_schema.tables
            where table_schema in ('intermediate{suffix}', 'marts{suffix}')
              and table_type = 'BASE TABLE' and table_name <> 'model_watermarks'""",
    )
    return {
        f"{schema.removesuffix(suffix)}.{table}": sorted(
            query(settings_, f"select * from {schema}.{table}"), key=str
        )
        for schema, table in tables
    }


def full_build_buckets(settings_: Settings) -> int:
    """How many buckets the last full build of the membership core ran in (from its SQL)."""
    compiled = (
        settings_.dbt_target_path
        / "run/revops/models/intermediate/membership/int_membership_windows.sql"
    ).read_text()
    found = re.search(r"full build bucket 0 of (\d+)", compiled)
    return int(found.group(1)) if found else 1


def loaded_through(settings_: Settings) -> str:
    """The newest raw load time: what the warehouse knows is everything loaded up to it."""
    (at,) = query(
        settings_,
        """select max(_loaded_at) from (
               select _loaded_at from raw.admin_membership_events
               union all select _loaded_at from raw.zendesk_ticket_events)""",
    )[0]
    return at.isoformat(sep=" ")


def assert_incremental_equals_full_and_audit(
    scenarios: list[Scenario],
    settings_: Settings,
    rnd: random.Random,
    batches: int,
    through_dates: list[date],
    full_vars: dict | None = None,
) -> None:
    """Deliver the scenarios in `batches` random cuts, building incrementally after each (with
    that batch's headcount_through_date); then every intermediate and mart table must equal a full
    rebuild and the reference, and an audit rebuild as known at an earlier batch must equal what
    the incremental run said then."""
    # One delivery stream, cut at random points into batches (a scenario's events straddle them).
    stream = [e for sc in scenarios for e in sc.received]
    rnd.shuffle(stream)
    cuts = sorted(rnd.sample(range(1, len(stream)), batches - 1))
    tickets = [t for sc in scenarios for t in sc.tickets]
    said: list[tuple[str, dict, dict[str, list[tuple]]]] = []  # (known at, vars, what it said)
    for i, (lo, hi) in enumerate(zip([0, *cuts], [*cuts, len(stream)], strict=True)):
        part = Scenario(-1, "", delivered=stream[lo:hi])
        part.tickets = tickets[i::batches]
        load([part], settings_, f"batch{i}")
        dbt_vars = {"headcount_through_date": through_dates[i].isoformat()}
        result = build(
            settings_,
            full_refresh=(i == 0),
            quiet=True,
            vars=dbt_vars,
            check=False,
            exclude=NO_UNIT,
        )
        assert result.returncode == 0, (i, result.counts())
        said.append((loaded_through(settings_), dbt_vars, snapshot(settings_)))
    _, last_vars, incremental = said[-1]
    build(
        settings_,
        full_refresh=True,
        quiet=True,
        vars={**last_vars, **(full_vars or {})},
        exclude=NO_UNIT,
    )
    if full_vars:
        assert full_build_buckets(settings_) > 1
    full = snapshot(settings_)
    assert incremental.keys() == full.keys()
    for table in full:
        assert incremental[table] == full[table], f"{table}: incremental differs from full"
    assert_marts_match_reference(scenarios, marts(settings_), through_dates[-1])
    assert_rows_were_known_at_their_recorded_at(scenarios, full, said)

    # The audit view: rebuilt as known at the end of an earlier batch, every table says exactly
    # what the incremental run said then.
    known_at, then_vars, then = said[rnd.randrange(batches - 1)]
    build(settings_, as_known_at=known_at, quiet=True, vars=then_vars, exclude=NO_UNIT)
    (suffix,) = {
        schema.removeprefix("marts")
        for (schema,) in query(
            settings_,
            """select schema_name from information_schema.schemata
               where schema_name like 'marts_as_of_%'""",
        )
    }
    audit = snapshot(settings_, suffix)
    assert audit.keys() == then.keys()
    for table in then:
        assert audit[table] == then[table], f"{table} as known at {known_at} differs"


def assert_rows_were_known_at_their_recorded_at(
    scenarios: list[Scenario],
    final: dict[str, list[tuple]],
    said: list[tuple[str, dict, dict[str, list[tuple]]]],
) -> None:
    """recorded_at is transaction time: the first run that knew everything up to it already said
    exactly this window. (Not claimed where a conflicting copy moved an event out of the slot:
    such an event no longer belongs to it — use --as-known-at.)"""
    windows = "intermediate.int_membership_windows"
    prefixes = tuple(sc.prefix for sc in scenarios if not sc.conflicting)
    for row in final[windows]:
        if not str(row[0]).startswith(prefixes):
            continue
        recorded_at = row[-1]
        first_run_knowing = next(
            then for known_at, _, then in said if datetime.fromisoformat(known_at) >= recorded_at
        )
        known_then = {r[:-1] for r in first_run_knowing[windows]}
        assert row[:-1] in known_then, (row, recorded_at)


@pytest.mark.dbt
@ONE_BIG_EXAMPLE
@given(
    seeds=st.lists(
        st.integers(0, 2**32 - 1),
        min_size=40 - len(REGRESSION_SEEDS),
        max_size=40 - len(REGRESSION_SEEDS),
    ),
    split_seed=st.integers(0, 2**32 - 1),
    batches=st.integers(3, 5),
)
def test_incremental_builds_equal_a_full_rebuild(
    seeds: list[int],
    split_seed: int,
    batches: int,
    tmp_path_factory: pytest.TempPathFactory,
    dbt_target_path: Path,
) -> None:
    settings_ = fresh_warehouse(tmp_path_factory, "incremental", dbt_target_path)
    scenarios = seeded_scenarios(seeds)
    assert_incremental_equals_full_and_audit(
        scenarios, settings_, random.Random(split_seed), batches, [THROUGH] * batches, BUCKETED
    )


@pytest.mark.dbt
@ONE_BIG_EXAMPLE
@given(
    seeds=st.lists(st.integers(0, 2**32 - 1), min_size=4, max_size=4),
    split_seed=st.integers(0, 2**32 - 1),
    batches=st.integers(10, 14),
)
def test_many_small_batches_and_a_moving_through_date_equal_a_full_rebuild(
    seeds: list[int],
    split_seed: int,
    batches: int,
    tmp_path_factory: pytest.TempPathFactory,
    dbt_target_path: Path,
) -> None:
    """Tiny batches leave most keys untouched, so a too-narrow recomputation scope shows; the
    headcount's last day moves forwards and back, and events fall after it."""
    settings_ = fresh_warehouse(tmp_path_factory, "small-batches", dbt_target_path)
    # Six scenarios, two of them pinned (the dbt builds, not the scenarios, cost here).
    scenarios = seeded_scenarios(seeds, REGRESSION_SEEDS[:2])
    rnd = random.Random(split_seed)
    through_dates = [BASE.date() + timedelta(days=rnd.randint(1, 12)) for _ in range(batches)]
    assert_incremental_equals_full_and_audit(scenarios, settings_, rnd, batches, through_dates)


@pytest.mark.dbt
def test_a_late_close_that_takes_a_carry_away_moves_recorded_at(
    tmp_path_factory: pytest.TempPathFactory, dbt_target_path: Path
) -> None:
    """Found by the property above: r0 is primary in t1 when t1 merges into t0, and the merge
    carries the slot into t0. A late ADDED (s24_e10) displaces r0 from t1 just before the merge,
    so nothing is carried and the t0 window starts later. That window was said first by the run
    that loaded the late event, and its recorded_at must say so (before the fix it kept the
    first batch's load time: only opens and closes of the t0 slot itself counted)."""
    settings_ = fresh_warehouse(tmp_path_factory, "carry-taken-away", dbt_target_path)
    (sc,) = [scenario_from_seed(45, 24)]
    late = {"s24_e01", "s24_e09", "s24_e10"}
    stream = list(sc.received)
    # The second copy of the identity link arrives with the late events.
    second_link = max(i for i, e in enumerate(stream) if e["event_id"] == "s24_e07")
    cuts = [
        [
            e
            for i, e in enumerate(stream)
            if e["event_id"] not in {*late, "s24_e13"} and i != second_link
        ],
        [e for e in stream if e["event_id"] == "s24_e13"],
        [e for i, e in enumerate(stream) if e["event_id"] in late or i == second_link],
    ]
    assert sum(map(len, cuts)) == len(stream)
    said: list[tuple[str, dict, dict[str, list[tuple]]]] = []
    for i, batch in enumerate(cuts):
        load([Scenario(-1, "", delivered=batch)], settings_, f"batch{i}")
        build(settings_, full_refresh=(i == 0), quiet=True, vars=DBT_VARS, exclude=NO_UNIT)
        said.append((loaded_through(settings_), DBT_VARS, snapshot(settings_)))
    final = said[-1][2]
    moved = [
        row
        for row in final["intermediate.int_membership_windows"]
        if row[:3] == ("s24_r0", "s24_t0", "primary")
    ]
    assert [row[3] for row in moved] == [datetime(2026, 3, 3, 2, 0)]
    assert str(moved[0][-1]) == said[2][0]
    assert_rows_were_known_at_their_recorded_at([sc], final, said)
