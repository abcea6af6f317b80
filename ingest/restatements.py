"""Rebuild what late membership events change, and report which attributions they restated.

`python -m ingest.restatements [--run-id ID] [--since TS] [--target T] [--wait S]`, the task of
the `reprocess_late_events` DAG. One run, holding the warehouse like `revops build`:

1. **Stage** — `dbt build` of the event sources' staging models (Admin Service, Zendesk), so the
   events landed in raw since the last build are visible to the scope query below.
2. **Scope** — the membership events loaded after the watermark (`--since`, else the later of
   the last successful run's `loaded_through` in `ops.restatement_runs` and what the attributed
   facts already processed, `intermediate.model_watermarks`) touch: every repl with a fresh
   MEMBERSHIP_ADDED/REMOVED from its effective instant; every member (ever) of a team merged or
   split, or of a team merged into it, from the merge/split instant; every Okta user re-linked
   by a fresh REPL_IDENTITY_LINKED from its instant. The same rule as the dbt macro
   `membership_touched_repls`, with one superset step (the changed team itself is always its own
   predecessor, so a stale merge closure cannot drop its members). Written to
   `ops.restatement_scope`.
3. **Snapshot** — the attributions those keys can change: ticket events (`marts.
   fct_ticket_attribution`, key `ticket_event_id`, instant `event_at`) and opportunities
   (`marts.fct_opportunity_attribution`, key `opportunity_id`, instant `attributed_at`, the end
   of the close date) whose repl (or Okta user) is in scope at or after its affected instant,
   into `ops.restatement_snapshots`. The filter is a semi-join on the scope plus a literal lower
   bound on the instant (`event_date >= first affected day` for tickets, the cluster key of
   `int_ticket_events_attributed` on Snowflake), so the snapshot reads the partitions of the
   affected days and repls: its cost follows the scope, not the 2B-row fact table.
4. **Build** — `dbt build --select int_membership_events_deduplicated+
   int_ticket_events_attributed+` through `ingest.dbt_runner` (the CLI's profile, target path and
   signal handling), like the DAG always did.
5. **Diff** — the same scope (plus every key of the snapshot) read again; one row per fact key
   whose team at the instant (`team_id`) differs, appeared or disappeared goes to
   `ops.attribution_restatements`, the run row is completed and the snapshot dropped, in one
   transaction. One summary line per fact goes to stdout (the Airflow task log).

What counts as restated: `team_id`, the team the repl was in at the instant — what a backdated
membership event changes. `team_id_restated` (the current-org successor after merges) is stored
beside it for reading, but is not a restatement trigger: it is joined at query time, and a merge
remaps every row of the team at once, before the merge as well. A ticket event first attributed by
this build (loaded after the newest one attributed before) is a new arrival, counted apart, not an
appearance.

What it cannot see: an event the attributed facts already applied before this run (an ordinary
`revops build` restates exactly too — README, "Late events") changed the facts before the
snapshot, so it is out of scope here by construction (the watermark starts after it).

The watermark is advanced only by a successful run, and only to the newest staged membership load
the build read (step 1), never to the wall clock: a failed build leaves it, and the next run
covers the same events again. A run id that already succeeded is not run again (an Airflow retry
after a late failure of the task itself); one that failed is cleared and redone.

The SQL is plain (`information_schema`, `full outer join`, `is distinct from`, literals instead
of driver parameters, whose styles differ) and written for DuckDB and Snowflake alike; it is
exercised on DuckDB. On Snowflake the role needs `create schema`/`create table` on the database
for `ops` (docs/snowflake_setup.sql does not create it yet).

Exit codes follow the CLI: 0 done, 2 something to act on (settings, a held warehouse, a failed
dbt build), 1 a bug; 130/143 when interrupted.
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
import uuid
from collections.abc import Callable, Sequence
from contextlib import suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from ingest.settings import Settings, SettingsError

STAGE_SELECT = "stg_admin_service__membership_events stg_zendesk__ticket_events"
BUILD_SELECT = "int_membership_events_deduplicated+ int_ticket_events_attributed+"
# The staging step only makes the new rows visible to the scope query: its models' tests run in
# the build that follows (some of them read marts a first build has not made yet).
STAGE_EXCLUDE = "resource_type:test resource_type:unit_test"
MEMBERSHIP_STAGING = "staging.stg_admin_service__membership_events"
TOP_PAIRS = 5
# On Snowflake loads commit beside builds: a load may commit rows stamped a little before the
# watermark. The same lookback as the dbt models (macro incremental_lookback_minutes).
SNOWFLAKE_LOOKBACK = timedelta(minutes=15)

DDL = (
    "create schema if not exists ops",
    """create table if not exists ops.restatement_runs (
        run_id varchar not null,
        started_at timestamp not null,
        finished_at timestamp,
        status varchar not null,
        loaded_after timestamp,
        loaded_through timestamp,
        repls_in_scope bigint,
        okta_users_in_scope bigint,
        affected_from timestamp,
        ticket_restated bigint,
        opportunity_restated bigint,
        tickets_first_attributed bigint,
        stage_seconds double,
        snapshot_seconds double,
        build_seconds double,
        diff_seconds double,
        arrivals_after timestamp
    )""",
    # Tables made before the micro-batch's two-phase runs (snapshot, report) lack the column.
    "alter table ops.restatement_runs add column if not exists arrivals_after timestamp",
    """create table if not exists ops.restatement_scope (
        run_id varchar not null,
        scope_kind varchar not null,
        scope_id varchar not null,
        affected_from timestamp not null
    )""",
    """create table if not exists ops.restatement_snapshots (
        run_id varchar not null,
        fact varchar not null,
        fact_key varchar not null,
        attributed_at timestamp,
        repl_id varchar,
        team_id varchar,
        team_id_restated varchar,
        loaded_at timestamp
    )""",
    """create table if not exists ops.attribution_restatements (
        run_id varchar not null,
        restated_at timestamp not null,
        fact varchar not null,
        fact_key varchar not null,
        attributed_at timestamp,
        repl_id varchar,
        old_repl_id varchar,
        old_team_id varchar,
        new_team_id varchar,
        old_team_id_restated varchar,
        new_team_id_restated varchar,
        change varchar not null
    )""",
)

RUN_TABLES = (
    "ops.restatement_runs",
    "ops.restatement_scope",
    "ops.restatement_snapshots",
    "ops.attribution_restatements",
)


@dataclass(frozen=True)
class Fact:
    """One attributed fact: where analysts read it and what its key, instant and repl are."""

    name: str
    relation: str
    key: str
    instant: str
    # A literal lower bound the warehouse can prune on (the cluster key on Snowflake), or None.
    day_column: str | None
    loaded_at: str | None


FACTS = (
    Fact(
        "ticket",
        "marts.fct_ticket_attribution",
        "ticket_event_id",
        "event_at",
        "event_date",
        "loaded_at",
    ),
    Fact(
        "opportunity",
        "marts.fct_opportunity_attribution",
        "opportunity_id",
        "attributed_at",
        None,
        None,
    ),
)


class RestatementError(RuntimeError):
    """A failure an operator can act on (exit 2): the build failed, the warehouse is missing."""


@dataclass
class FactSummary:
    fact: str
    restated: int = 0
    moved: int = 0
    appeared: int = 0
    disappeared: int = 0
    first_attributed: int = 0
    top_pairs: list[tuple[str | None, str | None, int]] = field(default_factory=list)

    def line(self) -> str:
        pairs = ", ".join(f"{_team(o)} → {_team(n)} ×{c}" for o, n, c in self.top_pairs)
        text = (
            f"{self.restated} {self.fact} attributions restated "
            f"({self.moved} moved, {self.appeared} appeared, {self.disappeared} disappeared)"
        )
        if pairs:
            text += f"; top old → new: {pairs}"
        if self.first_attributed:
            text += f"; {self.first_attributed} new {self.fact} events attributed (not restated)"
        return text


@dataclass
class RunReport:
    run_id: str
    loaded_after: datetime | None
    loaded_through: datetime | None
    repls_in_scope: int
    okta_users_in_scope: int
    affected_from: datetime | None
    facts: dict[str, FactSummary]
    stage_seconds: float
    snapshot_seconds: float
    build_seconds: float | None  # None: the caller's own dbt build (phase report)
    diff_seconds: float
    # `reported` (a full run or a report phase), `done` (the run id already succeeded),
    # `snapshotted` (a snapshot phase), `no_snapshot` (a report phase with nothing to diff).
    outcome: str = "reported"

    @classmethod
    def _empty(cls, run_id: str, outcome: str) -> RunReport:
        return cls(run_id, None, None, 0, 0, None, {}, 0.0, 0.0, None, 0.0, outcome=outcome)

    @classmethod
    def done(cls, run_id: str) -> RunReport:
        return cls._empty(run_id, "done")

    @classmethod
    def not_snapshotted(cls, run_id: str) -> RunReport:
        return cls._empty(run_id, "no_snapshot")

    @classmethod
    def snapshotted(cls, run_id: str, begun: Any) -> RunReport:
        report = cls._empty(run_id, "snapshotted")
        report.loaded_after, report.loaded_through = begun.loaded_after, begun.loaded_through
        report.affected_from = begun.first_day
        report.stage_seconds, report.snapshot_seconds = begun.stage_seconds, begun.snapshot_seconds
        return report

    @property
    def already_done(self) -> bool:
        return self.outcome == "done"

    def _scope(self) -> str:
        return (
            f"membership events loaded after {_ts_text(self.loaded_after)} through "
            f"{_ts_text(self.loaded_through)}, from {_ts_text(self.affected_from)}"
        )

    def lines(self) -> list[str]:
        if self.outcome == "done":
            return [f"restatements {self.run_id}: already recorded in ops.restatement_runs"]
        if self.outcome == "no_snapshot":
            return [
                f"restatements {self.run_id}: no snapshot for this run (its snapshot task did "
                "not run or the run failed before it); nothing to report"
            ]
        if self.outcome == "snapshotted":
            return [
                f"restatements {self.run_id}: snapshot taken of {self._scope()}; "
                f"staging build {self.stage_seconds:.2f} s, snapshot {self.snapshot_seconds:.2f} s"
            ]
        scope = (
            f"scope: {self.repls_in_scope} repls, {self.okta_users_in_scope} okta users, "
            + self._scope()
        )
        build = (
            "the caller's dbt build"
            if self.build_seconds is None
            else f"attribution build {self.build_seconds:.2f} s"
        )
        timing = (
            f"timing: staging build {self.stage_seconds:.2f} s, snapshot "
            f"{self.snapshot_seconds:.2f} s, {build}, diff {self.diff_seconds:.2f} s"
        )
        facts = [s.line() for s in self.facts.values()]
        return [f"restatements {self.run_id}: {scope}", *facts, timing]


def _team(team_id: str | None) -> str:
    return team_id if team_id is not None else "(none)"


def _ts_text(value: datetime | None) -> str:
    return value.isoformat(sep=" ") if value is not None else "the beginning"


def _lit(value: object) -> str:
    """A SQL literal (both dialects); the values are ours or the warehouse's, quoted anyway."""
    if value is None:
        return "null"
    if isinstance(value, datetime):
        if value.tzinfo is not None:
            value = value.astimezone(UTC).replace(tzinfo=None)
        return f"cast('{value.strftime('%Y-%m-%d %H:%M:%S.%f')}' as timestamp)"
    if isinstance(value, (int, float)):
        return repr(value)
    return "'" + str(value).replace("'", "''") + "'"


class Sql:
    """One DB-API cursor over the warehouse connection: DuckDB's and Snowflake's alike."""

    def __init__(self, con: Any) -> None:
        self.cur = con.cursor()

    def run(self, sql: str) -> None:
        self.cur.execute(sql)

    def rows(self, sql: str) -> list[tuple]:
        self.cur.execute(sql)
        return list(self.cur.fetchall())

    def value(self, sql: str) -> Any:
        rows = self.rows(sql)
        return rows[0][0] if rows else None

    def exists(self, relation: str) -> bool:
        schema, name = relation.split(".")
        return bool(
            self.value(
                "select count(*) from information_schema.tables "
                f"where lower(table_schema) = {_lit(schema)} and lower(table_name) = {_lit(name)}"
            )
        )


def _naive(value: Any) -> datetime | None:
    if value is None:
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    if value.tzinfo is not None:
        value = value.astimezone(UTC).replace(tzinfo=None)
    return value


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def scope_sql(run_id: str, since: datetime | None) -> str:
    """The scope rows (run_id, kind, id, affected_from) of membership events loaded after `since`.

    Read before the attribution build: staging already holds the fresh events, the
    intermediate tables (deduplicated events, merge closure) still hold the previous history.
    A fresh ADDED/REMOVED names its repl; a merge or split of team T names everyone who ever
    had an ADDED in T or in a team the (previous) closure says was merged into T; a fresh
    identity link names its Okta user. Taking every copy of a fresh event_id (old ones too)
    follows `membership_fresh_event_ids`: a conflicting copy can move an event.
    """
    fresh = f"select fresh.event_id from {MEMBERSHIP_STAGING} as fresh where fresh.is_valid" + (
        f" and fresh._loaded_at > {_lit(since)}" if since is not None else ""
    )
    copies = f"""
        select copies.*
        from {MEMBERSHIP_STAGING} as copies
        where copies.is_valid and copies.event_id in ({fresh})"""
    return f"""
        select {_lit(run_id)}, 'repl', touched.repl_id, min(touched.affected_from)
        from (
            select repl_id, effective_at as affected_from
            from ({copies}) as c
            where event_type in ('MEMBERSHIP_ADDED', 'MEMBERSHIP_REMOVED')
              and repl_id is not null and effective_at is not null

            union all

            select members.repl_id, team_changes.effective_at
            from (
                select team_id, min(effective_at) as effective_at
                from ({copies}) as c
                where event_type in ('TEAM_MERGED', 'TEAM_SPLIT')
                group by team_id
            ) as team_changes
            inner join (
                select team_id, predecessor_team_id from intermediate.int_team_merge_closure
                union
                select team_id, team_id
                from ({copies}) as c
                where event_type in ('TEAM_MERGED', 'TEAM_SPLIT')
            ) as closure
                on closure.team_id = team_changes.team_id
            inner join intermediate.int_membership_events_deduplicated as members
                on members.team_id = closure.predecessor_team_id
                and members.event_type = 'MEMBERSHIP_ADDED'
            where members.repl_id is not null and team_changes.effective_at is not null
        ) as touched
        group by touched.repl_id

        union all

        select {_lit(run_id)}, 'okta', okta_user_id, min(effective_at)
        from ({copies}) as c
        where event_type = 'REPL_IDENTITY_LINKED'
          and okta_user_id is not null and effective_at is not null
        group by okta_user_id"""


def fact_scope_sql(fact: Fact, run_id: str, first_day: datetime, *, with_snapshot: bool) -> str:
    """The rows of `fact` the scope of `run_id` can change (and, after the build, the keys of
    its snapshot): joins on the scope by repl and by Okta user, each from its affected instant,
    under a literal bound on the instant the warehouse prunes partitions on. Plain joins and a
    union, not correlated subqueries under an OR (which Snowflake may refuse to decorrelate)."""
    run = _lit(run_id)
    bound = (
        f"f.{fact.day_column} >= cast({_lit(first_day.date().isoformat())} as date)"
        if fact.day_column
        else f"f.{fact.instant} >= {_lit(first_day)}"
    )
    loaded_at = f"f.{fact.loaded_at}" if fact.loaded_at else "cast(null as timestamp)"
    columns = f"""
            cast(f.{fact.key} as varchar) as fact_key,
            f.{fact.instant} as attributed_at,
            f.repl_id,
            f.team_id,
            f.team_id_restated,
            {loaded_at} as loaded_at"""
    parts = [
        f"""
        select {columns}
        from {fact.relation} as f
        inner join ops.restatement_scope as s
            on s.run_id = {run} and s.scope_kind = {_lit(kind)}
            and s.scope_id = f.{column} and f.{fact.instant} >= s.affected_from
        where {bound}"""
        for kind, column in (("repl", "repl_id"), ("okta", "okta_user_id"))
    ]
    if with_snapshot:
        parts.append(
            f"""
        select {columns}
        from {fact.relation} as f
        where cast(f.{fact.key} as varchar) in (
            select fact_key from ops.restatement_snapshots
            where run_id = {run} and fact = {_lit(fact.name)}
        )"""
        )
    return "\n        union\n".join(parts)


def diff_sql(
    fact: Fact, run_id: str, first_day: datetime, restated_at: datetime, arrivals_after: Any
) -> str:
    """The restated rows of `fact`: snapshot full-outer-joined with the rebuilt scope on the key;
    a changed team, or a key on one side only. Ticket events first attributed by this build
    (loaded after `arrivals_after`, the newest attributed before) are arrivals, left out."""
    run = _lit(run_id)
    new = fact_scope_sql(fact, run_id, first_day, with_snapshot=True)
    arrival = (
        f"old.fact_key is null and new.loaded_at > {_lit(arrivals_after)}"
        if fact.loaded_at and arrivals_after is not None
        else "false"
    )
    return f"""
        select
            {run},
            {_lit(restated_at)},
            {_lit(fact.name)},
            coalesce(new.fact_key, old.fact_key),
            coalesce(new.attributed_at, old.attributed_at),
            coalesce(new.repl_id, old.repl_id),
            old.repl_id,
            old.team_id,
            new.team_id,
            old.team_id_restated,
            new.team_id_restated,
            case
                when old.fact_key is null then 'appeared'
                when new.fact_key is null then 'disappeared'
                else 'moved'
            end
        from (
            select * from ops.restatement_snapshots
            where run_id = {run} and fact = {_lit(fact.name)}
        ) as old
        full outer join ({new}) as new on new.fact_key = old.fact_key
        where (
            old.fact_key is null or new.fact_key is null
            or old.team_id is distinct from new.team_id
        )
          and not ({arrival})"""


def arrivals_sql(fact: Fact, run_id: str, first_day: datetime, arrivals_after: Any) -> str:
    new = fact_scope_sql(fact, run_id, first_day, with_snapshot=True)
    return f"""
        select count(*) from ({new}) as new
        where new.loaded_at > {_lit(arrivals_after)}
          and new.fact_key not in (
            select fact_key from ops.restatement_snapshots
            where run_id = {_lit(run_id)} and fact = {_lit(fact.name)}
          )"""


def _dbt_build(settings: Settings, select: str) -> float:
    from ingest.dbt_runner import DbtError, DbtInterrupted, build

    on_line = logging.getLogger("revops.dbt").info if settings.log_format == "json" else None
    started = time.monotonic()
    exclude = STAGE_EXCLUDE if select == STAGE_SELECT else None
    try:
        build(settings, select=select, exclude=exclude, on_line=on_line)
    except DbtInterrupted:
        raise
    except DbtError as exc:
        raise RestatementError(str(exc)) from exc
    return time.monotonic() - started


def _open(settings: Settings) -> Any:
    from ingest.warehouse import open_warehouse

    return open_warehouse(settings)


def _watermark(sql: Sql, settings: Settings, since: datetime | None) -> datetime | None:
    """Where this run's scope starts: `since`, else the later of the last successful run's
    `loaded_through` and what the attributed facts already processed (events they applied
    before this run restated the facts already; no snapshot can see those)."""
    if since is not None:
        return since
    candidates = [
        _naive(
            sql.value(
                "select max(loaded_through) from ops.restatement_runs where status = 'success'"
            )
        )
    ]
    if sql.exists("intermediate.model_watermarks"):
        candidates.append(
            _naive(
                sql.value(
                    "select min(loaded_through) from intermediate.model_watermarks "
                    "where model_name in ('int_ticket_events_attributed', 'int_membership_windows')"
                    " and upstream_name = 'stg_admin_service__membership_events'"
                )
            )
        )
    known = [c for c in candidates if c is not None]
    if not known:
        return None
    watermark = max(known)
    if settings.warehouse_target != "duckdb":
        watermark -= SNOWFLAKE_LOOKBACK
    return watermark


def _clear_run(sql: Sql, run_id: str) -> None:
    for table in RUN_TABLES:
        sql.run(f"delete from {table} where run_id = {_lit(run_id)}")


PHASES = ("all", "snapshot", "report")


@dataclass
class _Begun:
    """What the snapshot phase found, stored in the run's `ops.restatement_runs` row so the
    report phase (another process, in the micro-batch) reads it back."""

    loaded_after: datetime | None
    loaded_through: datetime | None
    first_day: datetime | None
    arrivals_after: datetime | None
    stage_seconds: float
    snapshot_seconds: float


def _done(sql: Sql, run_id: str) -> bool:
    return bool(
        sql.value(
            "select count(*) from ops.restatement_runs "
            f"where run_id = {_lit(run_id)} and status = 'success'"
        )
    )


def _snapshot(
    settings: Settings,
    run_id: str,
    since: datetime | None,
    build: Callable[[Settings, str], float],
    *,
    keep_existing: bool,
) -> _Begun | None:
    """Steps 1-3 (module docstring): the staging build, the scope, the snapshot; the run row
    ends `snapshotted`. None when the run id already succeeded. With `keep_existing`, a run
    already snapshotted (an Airflow retry of the micro-batch, whose dbt build may have applied
    part of the batch since) keeps its snapshot: taken again, it would miss what that build
    restated."""
    started_at = _now()
    with _open(settings) as warehouse:
        sql = Sql(warehouse.con)
        for statement in DDL:
            sql.run(statement)
        if _done(sql, run_id):
            return None
        if keep_existing:
            kept = _begun(sql, run_id)
            if kept is not None:
                return kept
        _clear_run(sql, run_id)
        loaded_after = _watermark(sql, settings, since)

    stage_seconds = build(settings, STAGE_SELECT)

    snapshot_started = time.monotonic()
    with _open(settings) as warehouse:
        sql = Sql(warehouse.con)
        loaded_through = _naive(sql.value(f"select max(_loaded_at) from {MEMBERSHIP_STAGING}"))
        facts_exist = all(sql.exists(f.relation) for f in FACTS) and all(
            sql.exists(t)
            for t in (
                "intermediate.int_team_merge_closure",
                "intermediate.int_membership_events_deduplicated",
            )
        )
        first_day: datetime | None = None
        arrivals_after = None
        sql.run("begin")
        if facts_exist:
            # No attributions yet (a first build): nothing can be restated.
            sql.run(
                "insert into ops.restatement_scope (run_id, scope_kind, scope_id, "
                f"affected_from) {scope_sql(run_id, loaded_after)}"
            )
            first_day = _naive(
                sql.value(
                    "select min(affected_from) from ops.restatement_scope "
                    f"where run_id = {_lit(run_id)}"
                )
            )
            arrivals_after = _naive(
                sql.value("select max(loaded_at) from intermediate.int_ticket_events_attributed")
            )
        if first_day is not None:
            for fact in FACTS:
                sql.run(
                    "insert into ops.restatement_snapshots (run_id, fact, fact_key, "
                    "attributed_at, repl_id, team_id, team_id_restated, loaded_at) "
                    f"select {_lit(run_id)}, {_lit(fact.name)}, s.* from "
                    f"({fact_scope_sql(fact, run_id, first_day, with_snapshot=False)}) as s"
                )
        snapshot_seconds = time.monotonic() - snapshot_started
        sql.run(
            "insert into ops.restatement_runs (run_id, started_at, status, loaded_after, "
            "loaded_through, affected_from, arrivals_after, stage_seconds, snapshot_seconds) "
            f"values ({_lit(run_id)}, {_lit(started_at)}, 'snapshotted', {_lit(loaded_after)}, "
            f"{_lit(loaded_through)}, {_lit(first_day)}, {_lit(arrivals_after)}, "
            f"{stage_seconds:.3f}, {snapshot_seconds:.3f})"
        )
        sql.run("commit")
    return _Begun(
        loaded_after, loaded_through, first_day, arrivals_after, stage_seconds, snapshot_seconds
    )


def _begun(sql: Sql, run_id: str) -> _Begun | None:
    row = sql.rows(
        "select loaded_after, loaded_through, affected_from, arrivals_after, stage_seconds, "
        f"snapshot_seconds from ops.restatement_runs where run_id = {_lit(run_id)} "
        "and status = 'snapshotted'"
    )
    if not row:
        return None
    after, through, first_day, arrivals, stage_s, snapshot_s = row[0]
    return _Begun(
        _naive(after),
        _naive(through),
        _naive(first_day),
        _naive(arrivals),
        float(stage_s or 0.0),
        float(snapshot_s or 0.0),
    )


def _mark_failed(settings: Settings, run_id: str) -> None:
    # Recorded for operators; the watermark stays (only a success advances it).
    with suppress(Exception), _open(settings) as warehouse:
        sql = Sql(warehouse.con)
        sql.run(
            f"update ops.restatement_runs set status = 'failed', finished_at = "
            f"{_lit(_now())} where run_id = {_lit(run_id)}"
        )
        sql.run(f"delete from ops.restatement_snapshots where run_id = {_lit(run_id)}")


def _report(
    settings: Settings, run_id: str, begun: _Begun | None, build_seconds: float | None
) -> RunReport:
    """Step 5: the diff against the snapshot, the run row completed and the snapshot dropped,
    in one transaction. `begun` None: read back from the run row (the report phase)."""
    diff_started = time.monotonic()
    summaries = {fact.name: FactSummary(fact.name) for fact in FACTS}
    with _open(settings) as warehouse:
        sql = Sql(warehouse.con)
        for statement in DDL:
            sql.run(statement)
        if _done(sql, run_id):
            return RunReport.done(run_id)
        begun = begun or _begun(sql, run_id)
        if begun is None:
            return RunReport.not_snapshotted(run_id)
        first_day, arrivals_after = begun.first_day, begun.arrivals_after
        scope_counts = dict(
            sql.rows(
                "select scope_kind, count(*) from ops.restatement_scope "
                f"where run_id = {_lit(run_id)} group by scope_kind"
            )
        )
        restated_at = _now()
        sql.run("begin")
        if first_day is not None:
            for fact in FACTS:
                sql.run(
                    "insert into ops.attribution_restatements (run_id, restated_at, fact, "
                    "fact_key, attributed_at, repl_id, old_repl_id, old_team_id, new_team_id, "
                    "old_team_id_restated, new_team_id_restated, change) "
                    + diff_sql(fact, run_id, first_day, restated_at, arrivals_after)
                )
                if fact.loaded_at and arrivals_after is not None:
                    summaries[fact.name].first_attributed = int(
                        sql.value(arrivals_sql(fact, run_id, first_day, arrivals_after))
                    )
        for fact_name, change, count in sql.rows(
            "select fact, change, count(*) from ops.attribution_restatements "
            f"where run_id = {_lit(run_id)} group by fact, change"
        ):
            summary = summaries[fact_name]
            setattr(summary, change, int(count))
            summary.restated += int(count)
        for fact_name, old, new, count in sql.rows(
            "select fact, old_team_id, new_team_id, count(*) as n "
            f"from ops.attribution_restatements where run_id = {_lit(run_id)} "
            "group by fact, old_team_id, new_team_id "
            "order by fact, n desc, old_team_id, new_team_id"
        ):
            if len(summaries[fact_name].top_pairs) < TOP_PAIRS:
                summaries[fact_name].top_pairs.append((old, new, int(count)))
        diff_seconds = time.monotonic() - diff_started
        build_text = "null" if build_seconds is None else f"{build_seconds:.3f}"
        sql.run(
            "update ops.restatement_runs set "
            f"status = 'success', finished_at = {_lit(_now())}, "
            f"repls_in_scope = {scope_counts.get('repl', 0)}, "
            f"okta_users_in_scope = {scope_counts.get('okta', 0)}, "
            f"ticket_restated = {summaries['ticket'].restated}, "
            f"opportunity_restated = {summaries['opportunity'].restated}, "
            f"tickets_first_attributed = {summaries['ticket'].first_attributed}, "
            f"build_seconds = {build_text}, diff_seconds = {diff_seconds:.3f} "
            f"where run_id = {_lit(run_id)}"
        )
        sql.run(f"delete from ops.restatement_snapshots where run_id = {_lit(run_id)}")
        sql.run("commit")
    return RunReport(
        run_id,
        begun.loaded_after,
        begun.loaded_through,
        int(scope_counts.get("repl", 0)),
        int(scope_counts.get("okta", 0)),
        first_day,
        summaries,
        begun.stage_seconds,
        begun.snapshot_seconds,
        build_seconds,
        diff_seconds,
    )


def run_restatements(
    settings: Settings,
    *,
    run_id: str,
    since: datetime | None = None,
    wait_s: float = 0.0,
    build: Callable[[Settings, str], float] = _dbt_build,
    phase: str = "all",
) -> RunReport:
    """One reprocessing run (module docstring), holding the warehouse throughout each phase;
    the DuckDB connection is closed while dbt builds (one writer per file).

    `phase`: `all` (the nightly DAG) snapshots, builds BUILD_SELECT and reports; `snapshot` and
    `report` are the two halves the micro-batch runs around its own dbt build, so every
    restatement a batch causes is reported by the batch that causes it."""
    from ingest.warehouse import warehouse_class

    if phase not in PHASES:
        raise ValueError(f"phase must be one of {PHASES}, not {phase!r}")
    with warehouse_class(settings).exclusive(settings, wait_s):
        if phase == "report":
            return _report(settings, run_id, None, None)
        begun = _snapshot(settings, run_id, since, build, keep_existing=phase == "snapshot")
        if begun is None:
            return RunReport.done(run_id)
        if phase == "snapshot":
            return RunReport.snapshotted(run_id, begun)
        try:
            build_seconds = build(settings, BUILD_SELECT)
        except BaseException:
            # The build's own error is the one raised, whatever _mark_failed meets.
            _mark_failed(settings, run_id)
            raise
        return _report(settings, run_id, begun, build_seconds)


def _parse_ts(value: str) -> datetime:
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an ISO timestamp: {value!r}") from None
    return _naive(parsed)  # type: ignore[return-value]


def build_parser() -> argparse.ArgumentParser:
    from ingest.cli import non_negative_seconds

    parser = argparse.ArgumentParser(
        prog="python -m ingest.restatements",
        description=(
            "Rebuild the membership-derived models and attributed facts and record, in "
            "ops.attribution_restatements, every attribution late membership events restated."
        ),
    )
    parser.add_argument(
        "--run-id",
        help="id of this run (the Airflow run id); default manual__<utc time>__<random>",
    )
    parser.add_argument(
        "--since",
        type=_parse_ts,
        help="scope membership events loaded after this instant (default: the watermark)",
    )
    parser.add_argument(
        "--phase",
        choices=PHASES,
        default="all",
        help=(
            "all (default): snapshot, dbt build, report; snapshot / report: the halves the "
            "micro-batch runs before and after its own dbt build"
        ),
    )
    parser.add_argument("--target", choices=("duckdb", "snowflake", "fakesnow"))
    parser.add_argument(
        "--wait",
        type=non_negative_seconds,
        default=0.0,
        metavar="SECONDS",
        help="wait up to SECONDS for another writer to release the warehouse",
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        settings = Settings.from_env().with_target(args.target)
    except SettingsError as exc:
        print(f"revops: error: {exc}", file=sys.stderr)
        return 2
    from ingest.cli import exit_code
    from ingest.logs import configure_logging

    configure_logging(settings.log_level, settings.log_format)
    run_id = args.run_id or f"manual__{_now():%Y%m%dT%H%M%S}__{uuid.uuid4().hex[:8]}"

    def restate() -> int:
        report = run_restatements(
            settings, run_id=run_id, since=args.since, wait_s=args.wait, phase=args.phase
        )
        for line in report.lines():
            print(line, flush=True)
        return 0

    return exit_code(restate, (RestatementError,))


if __name__ == "__main__":
    sys.exit(main())
