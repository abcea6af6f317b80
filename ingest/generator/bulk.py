"""The bulk of a large company's events, generated in DuckDB instead of simulated one by one.

At `large` (~125M membership events, ~200M ticket events) an event-by-event simulation in Python
would take hours. The simulation (`Company`) still runs the org: teams, reorganisation waves,
hires, transfers, leavers and conversions, each in order, with the sinks' dirt. What is left,
secondary coverage and support tickets, is most of the volume and does not feed back into the
org, so it is generated here as set-based SQL over what the simulation recorded:

- **Coverage stints.** Each working day of a rep's employment (not a wave day, not the day of
  the hire or of the leaving), each of `slots` coverage slots holds a stint with probability
  `coverage_fill`: an add between 08:00 and 17:00 and a remove at least ten minutes later, before
  18:00, in a pod active in that period. Slot *s* only uses the pods at positions ≡ *s* (mod
  slots), so a rep's stints never overlap in one team; stints start and end inside one day, so
  none crosses a reorganisation, a hire, a leaving, or the 07:00 orphan removals.
- **Tickets.** Each day of a rep's employment holds up to two tickets (mean
  `tickets_per_rep_day`), with the simulation's steps, delays, reassignments (to a rep employed
  through the whole period), unassigned and unknown assignees, and the group of the rep's
  primary team at creation.
- **Dirt** is the sinks' (`Dirt`): emission delays and backdating, delivery jitter, exact
  duplicates, retries under a new id, extra fields, with the same probabilities.

Randomness is a hash of (seed, key, purpose), so the output depends only on the seed and the
scale: not on threads, batch sizes or row order. Delivery order is restored per 91-day bucket of
delivery time (the simulation's own messages are merged in by their delivery instant), and each
bucket is written as one zstd frame: the topic's `.jsonl.zst` is their concatenation.
"""

from __future__ import annotations

import logging
import shutil
import time
from collections import Counter
from collections.abc import Iterable
from datetime import datetime, timedelta
from pathlib import Path

import duckdb
import orjson

from ingest.generator.company import ADMINS, Company
from ingest.generator.sink import EPOCH, ONE_MICROSECOND, TAG_SEPARATOR

ADMIN = "admin.membership.v1"
OKTA = "okta.system_log.v1"
ZENDESK = "zendesk.ticket_events.v1"
TOPICS = (ADMIN, OKTA, ZENDESK)

log = logging.getLogger(__name__)

DAY_US = 86_400_000_000
SECOND_US = 1_000_000
BUCKET_DAYS = 91


def _us(ts: datetime) -> int:
    return (ts - EPOCH) // ONE_MICROSECOND


def _write_jsonl(path: Path, rows: Iterable[dict]) -> Path:
    with open(path, "wb") as fh:
        for row in rows:
            fh.write(orjson.dumps(row) + b"\n")
    return path


def _load_org(
    con: duckdb.DuckDBPyConnection, company: Company, start: datetime, work: Path
) -> None:
    """The simulation's record of the org, as tables: reps, calendar, pods per period, primaries."""
    end_day = company.scale.days - 1

    def day_of(ts: datetime) -> int:
        return (ts - start).days

    reps = []
    index = {}
    for i, rep in enumerate(company.reps.values()):
        index[rep.repl_id] = i
        assert rep.hired_at is not None
        (_, okta1), *converted = rep.okta_history
        reps.append(
            {
                "rep_idx": i,
                "repl_id": rep.repl_id,
                "login": rep.login,
                "zendesk_id": rep.zendesk_id,
                "okta1": okta1,
                "okta2": converted[0][1] if converted else okta1,
                "convert_us": _us(converted[0][0]) if converted else None,
                # working days strictly after the hire and strictly before the leaving
                "first_day": day_of(rep.hired_at) + 1,
                "last_day": day_of(rep.left_at) - 1 if rep.left_at else end_day,
            }
        )
    waves = [day for day, _ in company.waves]
    calendar = []
    period = 0
    for day in range(company.scale.days):
        while period + 1 < len(waves) and waves[period + 1] <= day:
            period += 1
        calendar.append(
            {
                "day": day,
                "period": period,
                "is_wave": day in waves,
            }
        )
    pods = [
        {"period": p, "idx": i, "team_id": team_id}
        for p, (_, team_ids) in enumerate(company.waves)
        for i, team_id in enumerate(team_ids)
    ]
    # A rep's primary team from each instant on: of several changes at one instant (a close
    # and the new team), the last.
    last = {
        (index[repl_id], _us(at)): int(team_id[2:]) if team_id else 0
        for repl_id, at, team_id in company.primary_log
    }
    primaries = [
        {"rep_idx": rep_idx, "at_us": at_us, "team_num": team_num}
        for (rep_idx, at_us), team_num in last.items()
    ]
    for name, rows, columns in (
        (
            "reps",
            reps,
            "rep_idx int, repl_id varchar, login varchar, zendesk_id bigint, "
            "okta1 varchar, okta2 varchar, convert_us bigint, first_day int, last_day int",
        ),
        ("calendar", calendar, "day int, period int, is_wave boolean"),
        ("pods", pods, "period int, idx int, team_id varchar"),
        ("primaries", primaries, "rep_idx int, at_us bigint, team_num int"),
    ):
        path = _write_jsonl(work / f"{name}.jsonl", rows)
        spec = ", ".join(f"'{col.split()[0]}': '{col.split()[1]}'" for col in columns.split(", "))
        con.execute(
            f"create table {name} as select * from read_json('{path}', "
            f"format='newline_delimited', columns={{{spec}}})"
        )
    con.execute(
        "create table periods as select period, count(*) as n_pods from pods group by period"
    )
    # Reps employed through a whole period: who a ticket can be reassigned to.
    con.execute(
        """
        create table period_reps as
        select p.period, row_number() over (partition by p.period order by r.rep_idx) - 1 as idx,
               r.rep_idx
        from (select period, min(day) as first_day, max(day) as last_day
              from calendar group by period) as p
        join reps as r on r.first_day <= greatest(p.first_day, 1) and r.last_day >= p.last_day
        """
    )
    con.execute(
        "create table period_rep_counts as select period, count(*) as n from period_reps "
        "group by period"
    )
    # Every day of every rep's employment, with how many pods and reps its period has to pick
    # from: the source of the bulk tables, materialised so that their pipelines run in parallel
    # (a 60K-row table is one row group: one thread), and so that each pick is an equi-join.
    con.execute(
        """
        create table rep_days as
        select r.rep_idx, c.day, c.period, c.is_wave, n.n_pods, coalesce(m.n, 0) as n_reps
        from reps as r
        cross join unnest(range(r.first_day, r.last_day + 1)) as d(day)
        join calendar as c on c.day = d.day
        join periods as n on n.period = c.period
        left join period_rep_counts as m on m.period = c.period
        """
    )


def _macros(con: duckdb.DuckDBPyConnection, seed: int, start_us: int, end_us: int) -> None:
    con.execute(
        f"""
        create macro u(a, b, c, d) as
            (hash({seed}::ubigint, a, b, c, d) >> 11)::double / 9007199254740992.0;
        create macro hx(a, b, c, d) as hash({seed}::ubigint, a, b, c, d, 'pick');
        create macro hex16(a, b, c, d, e) as printf('%016x', hash({seed}::ubigint, a, b, c, d, e));
        -- 128 hashed bits as a UUID's text (the uuid type prints them fast)
        create macro uuid_of(a, b, c, d) as (
            (hash({seed}::ubigint, a, b, c, d, 0)::uhugeint << 64
             | hash({seed}::ubigint, a, b, c, d, 1)::uhugeint)::uuid::varchar
        );
        -- ISO 8601 to the second, as the simulation's `iso()` (a cast is faster than strftime)
        create macro iso(us) as
            replace(make_timestamp(us // {SECOND_US} * {SECOND_US})::varchar, ' ', 'T') || 'Z';
        create macro day_us(day) as {start_us}::bigint + day::bigint * {DAY_US};
        create macro end_us() as {end_us}::bigint;
        create macro bucket_of(us) as (us - {start_us}::bigint) // {BUCKET_DAYS * DAY_US};
        """
    )


def _admin_keys(con: duckdb.DuckDBPyConnection, slots: int, fill: float) -> None:
    """Every bulk membership message: its key, instants, team and dirt (not yet its text)."""
    con.execute(
        f"""
        create table admin_keys as
        with stints as (
            select
                d.rep_idx, d.day, d.period, s.slot,
                s.slot + {slots} * (
                    hx(d.rep_idx, d.day, s.slot, 2) % greatest(1, d.n_pods // {slots}))::int
                    as pod_idx
            from rep_days as d
            cross join range({slots}) as s(slot)
            where not d.is_wave and u(d.rep_idx, d.day, s.slot, 0) < {fill}
        ),
        placed as (
            select
                rep_idx, day, slot, period, pod_idx,
                8 * 3600 + floor(u(rep_idx, day, slot, 1) * 9 * 3600)::bigint as add_s
            from stints
        ),
        events as (
            select
                rep_idx, day, slot, period, pod_idx, ev,
                day_us(day) + {SECOND_US} * case ev
                    when 0 then add_s
                    else add_s + 600
                        + floor(u(rep_idx, day, slot, 3) * (18 * 3600 - add_s - 600))::bigint
                end as eff_us,
                u(rep_idx, day, slot, 10 + ev) as r_delay,
                u(rep_idx, day, slot, 20 + ev) as r_amount
            from placed cross join range(2) as e(ev)
        ),
        emitted as (
            select
                *,
                case
                    when r_delay < 0.0005 and end_us() - eff_us > 121 * {DAY_US} then 2
                    when r_delay < 0.0305 and end_us() - eff_us > 31 * {DAY_US} then 1
                    else 0
                end as delay_kind
            from events
        ),
        timed as (
            select
                *,
                eff_us + case delay_kind
                    when 2 then floor((31 + r_amount * 89) * {DAY_US})::bigint
                    when 1 then floor((1 + r_amount * 29) * {DAY_US})::bigint
                    else floor((1 + r_amount * 299) * {SECOND_US})::bigint
                end as emitted_us
            from emitted
        ),
        copies as (
            select t.*, d.dup
            from timed as t cross join range(3) as d(dup)
            where d.dup = 0
               or (d.dup = 1 and u(rep_idx, day, slot, 30 + ev) < 0.02)
               or (d.dup = 2 and u(rep_idx, day, slot, 40 + ev) < 0.01)
        ),
        delivered as (
            select
                rep_idx, day, slot, ev, dup, period, pod_idx, eff_us, delay_kind,
                u(rep_idx, day, slot, 50 + ev) < 0.01 as extra_field,
                case dup
                    when 2 then emitted_us
                        + floor((1 + u(rep_idx, day, slot, 60 + ev) * 89) * {SECOND_US})::bigint
                    else emitted_us
                end as line_emitted_us,
                emitted_us
                    + floor(u(rep_idx, day, slot, 70 + ev) * 120 * {SECOND_US})::bigint
                    as deliver_us
            from copies
        )
        select *, bucket_of(deliver_us) as bucket
        from (
            select
                rep_idx, day, slot, ev, dup, period, pod_idx, eff_us, delay_kind, extra_field,
                line_emitted_us,
                case dup
                    when 0 then deliver_us
                    when 1 then deliver_us + floor(
                        (1 + u(rep_idx, day, slot, 80 + ev) * (60 * 24 * 3 - 1))
                        * 60 * {SECOND_US}
                    )::bigint
                    else line_emitted_us
                end as deliver_us
            from delivered
        )
        """
    )


ACTORS = "[" + ", ".join(f"'{a}'" for a in ADMINS) + "]"
ADMIN_LINE = f"""
    '{{"event_id":"' || uuid_of(k.rep_idx, k.day, k.slot, k.ev * 10 + k.dup // 2 * 5)
    || '","event_type":"' || case k.ev when 0 then 'MEMBERSHIP_ADDED' else 'MEMBERSHIP_REMOVED' end
    || '","repl_id":"' || r.repl_id || '","team_id":"' || p.team_id
    || '","effective_at":"' || iso(k.eff_us) || '","emitted_at":"' || iso(k.line_emitted_us)
    || '","actor":"' || {ACTORS}[1 + (hx(k.rep_idx, k.day, k.slot, k.ev) % 3)::int]
    || '","role":"secondary"'
    || case when k.extra_field then ',"source_system":"workday"' else '' end || '}}'
"""


def _ticket_keys(con: duckdb.DuckDBPyConnection, rate: float) -> None:
    """Every bulk ticket message: key, instant, assignee and dirt (not yet its text)."""
    # A step follows the one before it after 5 minutes to a day, as in the simulation.
    steps_sum = " + ".join(
        f"case when step > {j} then (300 * {SECOND_US} + floor("
        f"u(rep_idx, day, k, {110 + j}) * (86400 - 300) * {SECOND_US})::bigint) else 0 end"
        for j in range(4)
    )
    con.execute(
        f"""
        create table ticket_keys as
        with tickets as (
            select d.rep_idx, d.day, d.period, t.k,
                   u(d.rep_idx, d.day, t.k, 101) < 0.3 as reassigned,
                   case when d.n_reps > 0
                        then (hx(d.rep_idx, d.day, t.k, 102) % d.n_reps)::int end as target_pick
            from rep_days as d
            cross join range(2) as t(k)
            where u(d.rep_idx, d.day, t.k, 100) < {rate / 2}
        ),
        started as (
            select
                *,
                day_us(day) + (8 * 3600 + floor(u(rep_idx, day, k, 103) * 10 * 3600)::bigint)
                    * {SECOND_US} as t0_us
            from tickets
        ),
        -- the group of the rep's primary team when the ticket was created (one ASOF join per
        -- ticket, before the steps multiply the rows)
        grouped as (
            select s.*, coalesce(p.team_num, 0) as team_num
            from started as s
            asof left join primaries as p on p.rep_idx = s.rep_idx and p.at_us <= s.t0_us
        ),
        steps as (
            select
                s.*, st.step,
                -- the logical step: 0 created, 1 open, 2 reassigned, 3 pending, 4 solved
                case when s.reassigned and s.target_pick is not null then st.step
                     else st.step + (st.step >= 2)::int end as kind,
                s.t0_us + {steps_sum} as t_us
            from grouped as s
            cross join range(5) as st(step)
            where st.step < 4 or (s.reassigned and s.target_pick is not null)
        ),
        kept as (
            select
                *,
                u(rep_idx, day, k, 120 + step) as roll,
                t_us + floor((1 + u(rep_idx, day, k, 130 + step) * 29) * {SECOND_US})::bigint
                    + floor(u(rep_idx, day, k, 140 + step) * 120 * {SECOND_US})::bigint
                    as deliver_us
            from steps
            where t_us < end_us()
        ),
        copies as (
            select g.*, d.dup
            from kept as g cross join range(2) as d(dup)
            where d.dup = 0 or u(rep_idx, day, k, 150 + step) < 0.01
        )
        select *, bucket_of(deliver_us) as bucket
        from (
            select
                rep_idx, day, k, step, kind, dup, t_us, t0_us, roll, period, target_pick,
                team_num,
                case dup
                    when 0 then deliver_us
                    else deliver_us + floor(
                        (1 + u(rep_idx, day, k, 160 + step) * (60 * 24 * 3 - 1))
                        * 60 * {SECOND_US}
                    )::bigint
                end as deliver_us
            from copies
        )
        """
    )


def _ticket_line(days: int) -> str:
    ticket_no = f"((k.rep_idx::bigint * {days} + k.day) * 2 + k.k)"
    okta = "case when k.t0_us >= a.convert_us then a.okta2 else a.okta1 end"
    return f"""
    '{{"id":' || (1000001 + {ticket_no} * 5 + k.kind)::varchar
    || ',"ticket_id":' || (10001 + {ticket_no})::varchar
    || ',"type":"' || ['ticket.created', 'ticket.status_changed', 'ticket.assignee_changed',
                       'ticket.status_changed', 'ticket.solved'][k.kind + 1]
    || '","created_at":"' || iso(k.t_us)
    || '","assignee":' || case
        when k.roll < 0.01 then 'null'
        else '{{"id":' || a.zendesk_id::varchar || ',"external_id":"' || case
            when k.roll < 0.015
                then '00u' || substr(hex16(k.rep_idx, k.day, k.k, k.step, 170), 1, 16)
                     || substr(hex16(k.rep_idx, k.day, k.k, k.step, 171), 1, 1)
            else {okta}
        end || '","email":"' || a.login || '"}}'
    end
    || ',"status":"' || ['new', 'open', 'open', 'pending', 'solved'][k.kind + 1]
    || '","priority":"' || ['low', 'normal', 'normal', 'high', 'urgent'][
        1 + (hx(k.rep_idx, k.day, k.k, 104) % 5)::int]
    || '","via":"' || ['email', 'web', 'chat', 'api'][
        1 + (hx(k.rep_idx, k.day, k.k, 105 + k.step) % 4)::int]
    || '","group_id":' || (20000 + k.team_num)::varchar || '}}'
"""


def _load_skeleton(con: duckdb.DuckDBPyConnection, tagged: dict[str, Path]) -> None:
    sep = TAG_SEPARATOR.decode()
    con.execute(
        "create table skeleton (topic varchar, deliver_us bigint, seq bigint, line varchar, "
        "bucket bigint)"
    )
    for topic, path in tagged.items():
        if path.stat().st_size == 0:
            continue
        con.execute(
            f"""
            insert into skeleton
            select '{topic}', deliver_us, seq, line, bucket_of(deliver_us)
            from read_csv('{path}', delim='{sep}', quote='', escape='', header=false,
                          auto_detect=false, strict_mode=false, max_line_size=16777216,
                          columns={{'deliver_us': 'BIGINT', 'seq': 'BIGINT', 'line': 'VARCHAR'}})
            """
        )


def _write_topic(
    con: duckdb.DuckDBPyConnection,
    topic: str,
    bulk: tuple[str, str] | None,
    out: Path,
    parts: Path,
) -> None:
    """The topic's messages in delivery order, one zstd frame per bucket, concatenated."""
    keys, bulk_sql = bulk if bulk else (None, None)
    buckets = con.execute(
        "select distinct bucket from skeleton where topic = ? "
        + (f"union select distinct bucket from {keys} " if keys else "")
        + "order by 1",
        [topic],
    ).fetchall()
    with open(out, "wb") as dest:
        for (bucket,) in buckets:
            part = parts / f"{topic}.{bucket:05d}.jsonl.zst"
            rows = (
                f"select deliver_us, 0 as src, seq, 0 as a, 0 as b, 0 as c, 0 as d, line "
                f"from skeleton where topic = '{topic}' and bucket = {bucket}"
            )
            if bulk_sql:
                rows += (
                    " union all select deliver_us, src, seq, a, b, c, d, line "
                    f"from ({bulk_sql.replace('@bucket', str(bucket))})"
                )
            con.execute(
                f"copy (select line from ({rows}) order by deliver_us, src, seq, a, b, c, d) "
                f"to '{part}' (format csv, header false, quote '', escape '', "
                f"delimiter '\\x1f', compression zstd)"
            )
            with open(part, "rb") as fh:
                shutil.copyfileobj(fh, dest, 1 << 24)
            part.unlink()


def _admin_rows_sql() -> str:
    return (
        "select k.deliver_us, 1 as src, 0 as seq, k.rep_idx as a, k.day as b, k.slot as c, "
        f"k.ev * 3 + k.dup as d, {ADMIN_LINE} as line, k.bucket "
        "from admin_keys as k join reps as r on r.rep_idx = k.rep_idx "
        "join pods as p on p.period = k.period and p.idx = k.pod_idx "
        "where k.bucket = @bucket"
    )


def _ticket_rows_sql(days: int) -> str:
    return (
        "select k.deliver_us, 1 as src, 0 as seq, k.rep_idx as a, k.day as b, k.k as c, "
        f"k.step * 2 + k.dup as d, {_ticket_line(days)} as line, k.bucket "
        # the joins are per bucket, where they are small: the target of a reassignment and the
        # assignee
        "from ticket_keys as k "
        "left join period_reps as pr on pr.period = k.period and pr.idx = k.target_pick "
        "left join reps as a on a.rep_idx = case when k.kind >= 2 then pr.rep_idx "
        "else k.rep_idx end "
        "where k.bucket = @bucket"
    )


def generate_bulk(
    company: Company,
    seed: int,
    tagged: dict[str, Path],
    out_dir: Path,
    stats: dict[str, Counter[str]],
    *,
    memory_limit: str = "8GB",
) -> dict[str, Path]:
    """Write `<topic>.jsonl.zst` for each topic: the simulation's messages and the bulk ones."""
    scale = company.scale
    assert scale.bulk is not None
    start = company.history_start
    work = out_dir / ".bulk"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    con = duckdb.connect(str(work / "bulk.duckdb"))
    try:
        con.execute(f"set memory_limit = '{memory_limit}'")
        con.execute(f"set temp_directory = '{work / 'spill'}'")
        con.execute("set preserve_insertion_order = false")
        con.execute("set enable_progress_bar = false")
        _macros(con, seed, _us(start), _us(start + timedelta(days=scale.days)))
        t0 = time.monotonic()
        for step, run in (
            ("org tables", lambda: _load_org(con, company, start, work)),
            ("simulated messages", lambda: _load_skeleton(con, tagged)),
            (
                "membership keys",
                lambda: _admin_keys(con, scale.bulk.slots, scale.bulk.coverage_fill),
            ),
            ("ticket keys", lambda: _ticket_keys(con, scale.bulk.tickets_per_rep_day)),
        ):
            run()
            log.info("bulk: %s in %.1f s", step, time.monotonic() - t0)
            t0 = time.monotonic()
        admin, zendesk = stats[ADMIN], stats[ZENDESK]
        (events, exact, semantic, backdated, beyond, extra) = con.execute(
            """
            select count(*) filter (dup = 0), count(*) filter (dup = 1), count(*) filter (dup = 2),
                   count(*) filter (dup = 0 and delay_kind = 1),
                   count(*) filter (dup = 0 and delay_kind = 2),
                   count(*) filter (dup = 0 and extra_field)
            from admin_keys
            """
        ).fetchone()
        admin.update(
            events=events,
            exact_duplicates=exact,
            semantic_duplicates=semantic,
            backdated=backdated,
            beyond_window=beyond,
            extra_field=extra,
            messages=events + exact + semantic,
        )
        tickets, ticket_dups = con.execute(
            "select count(*) filter (dup = 0), count(*) filter (dup = 1) from ticket_keys"
        ).fetchone()
        zendesk.update(events=tickets, exact_duplicates=ticket_dups, messages=tickets + ticket_dups)
        con.execute("set preserve_insertion_order = true")
        parts = work / "parts"
        parts.mkdir()
        paths = {}
        for topic, bulk_sql in (
            (ADMIN, ("admin_keys", _admin_rows_sql())),
            (OKTA, None),
            (ZENDESK, ("ticket_keys", _ticket_rows_sql(scale.days))),
        ):
            paths[topic] = out_dir / f"{topic}.jsonl.zst"
            _write_topic(con, topic, bulk_sql, paths[topic], parts)
            log.info("bulk: %s written in %.1f s", topic, time.monotonic() - t0)
            t0 = time.monotonic()
    finally:
        con.close()
    shutil.rmtree(work, ignore_errors=True)
    return paths
