"""Property tests: sfdc_opportunities and the opportunity history equal an independent reference
fold (tests/python/reference/salesforce.py) on random change histories, whatever the arrival
order, the duplicates and the batch split.

A scenario is a small simulated org (1-4 opportunities) changed step by step: creates, partial
updates (amount, stage, owner, close date, nulled and re-set fields, a diff field followed by its
re-fetch), owner reassignments naming several records in one change event, deletes, undeletes,
hard deletes (getDeleted then a reconcile tombstone), Bulk and REST snapshots of whatever exists at
some instants, getDeleted reads, and about a third of the changes at the previous change's
instant. Every change produces its Streaming API change event; reads produce records payloads.

dbt costs ~20 s a build, so scenarios are not built one dbt run each: one example lands many
scenarios (namespaced ids) twice — once in canonical order as one batch ("C" ids), once
permuted, with replays, cut into two batches with a build after each ("P" ids) — and compares
every scenario's slice of the marts with the reference and the two copies with each other.
"""

from __future__ import annotations

import json
import os
import random
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path

import duckdb
import pytest
from hypothesis import HealthCheck, Phase, assume, given, note, settings
from hypothesis import strategies as st
from hypothesis.database import DirectoryBasedExampleDatabase

from ingest.dbt_runner import build
from ingest.file_source import ingest_files
from ingest.settings import Settings
from tests.python.reference import salesforce as ref

RECORDS = "salesforce.records.Opportunity"
CDC = "salesforce.cdc.Opportunity"
MODELS = (
    "stg_salesforce__opportunity_versions int_salesforce__opportunity_history sfdc_opportunities"
)
NO_UNIT = "test_type:unit"
PLACEHOLDER = "006~"  # scenario ids are 006~<scenario><record>; each copy substitutes a letter
EXAMPLES = DirectoryBasedExampleDatabase(
    Path(__file__).resolve().parents[2] / ".hypothesis" / "examples"
)
WAREHOUSE_EXAMPLES = int(os.environ.get("REVOPS_SF_PROPERTY_EXAMPLES", "2"))
SCENARIOS_PER_EXAMPLE = 14

# The Opportunity fields the simulated org has: API name -> mart type (docs/salesforce_models.md,
# "The field list"). Description and Forecast_Notes__c are not in the base list: they get their
# column from the snapshot records' keys (varchar).
FIELD_TYPES = {
    "AccountId": "varchar",
    "Amount": "double",
    "CloseDate": "date",
    "CreatedDate": "timestamp",
    "Description": "varchar",
    "ForecastCategoryName": "varchar",
    "Forecast_Notes__c": "varchar",
    "IsClosed": "boolean",
    "IsWon": "boolean",
    "LastModifiedDate": "timestamp",
    "LeadSource": "varchar",
    "Name": "varchar",
    "OwnerId": "varchar",
    "Probability": "double",
    "StageName": "varchar",
    "Type": "varchar",
}
BASE_FIELDS = set(FIELD_TYPES) - {"Description", "Forecast_Notes__c"}
STAGES = {
    "Prospecting": (10.0, "Pipeline"),
    "Qualification": (20.0, "Pipeline"),
    "Negotiation": (80.0, "Commit"),
    "Closed Won": (100.0, "Closed"),
    "Closed Lost": (0.0, "Omitted"),
}
OWNERS = [f"005U0000000000{n}" for n in range(4)]


def iso(ts: datetime) -> str:
    return ts.strftime("%Y-%m-%dT%H:%M:%S.") + f"{ts.microsecond // 1000:03d}Z"


def snake(name: str) -> str:
    """The column of an API name, as the project names it (StageName -> stage_name)."""
    out = []
    for i, ch in enumerate(name):
        if ch.isupper() and i and (name[i - 1].islower() or name[i - 1].isdigit()):
            out.append("_")
        out.append(ch.lower())
    return "".join(out)


# -- the simulated org ------------------------------------------------------------------------


@dataclass
class Scenario:
    number: int
    seed: int
    payloads: list[tuple[str, dict]] = field(default_factory=list)  # (topic, payload)
    truth: dict[str, dict] = field(default_factory=dict)  # record id -> fields, IsDeleted
    purged: set[str] = field(default_factory=set)
    reconciled: set[str] = field(default_factory=set)
    cases: set[str] = field(default_factory=set)
    log: list[str] = field(default_factory=list)


class Sim:
    """A tiny org that emits change events and snapshot reads as Salesforce and the extractor do."""

    def __init__(self, number: int, seed: int) -> None:
        self.rnd = random.Random(seed)
        self.sc = Scenario(number, seed)
        self.now = datetime(2026, 1, 1) + timedelta(seconds=self.rnd.randrange(86_400 * 30))
        self.commit = 5_000_000 + self.rnd.randrange(1000)
        self.replay = 0
        self.pending: set[str] = set()  # ids to create
        self.deleted_at: dict[str, datetime] = {}  # soft-deleted or purged -> deletion instant
        n = self.rnd.randint(1, 4)
        self.ids = [f"{PLACEHOLDER}{number:04d}{k}" for k in range(n)]
        self.pending = set(self.ids)

    # clock
    def tick(self) -> None:
        if self.rnd.random() < 0.35:
            self.sc.cases.add("a change at the previous change's instant")
            return
        self.now += timedelta(
            seconds=self.rnd.randrange(0, 3000), milliseconds=self.rnd.randrange(1, 1000)
        )

    def after_read(self) -> None:
        # A read sees the end of its instant: the next change is strictly later (a read between
        # two commits of one millisecond is outside the spec's ordering, SPEC_NOTES).
        self.now += timedelta(milliseconds=self.rnd.randrange(1, 5000))

    # events
    def emit(self, change: str, ids: list[str], body: dict, changed=(), nulled=(), diff=()) -> None:
        self.commit += self.rnd.randrange(1, 40)
        self.replay += 1
        header = {
            "entityName": "Opportunity",
            "recordIds": ids,
            "changeType": change,
            "changeOrigin": "com/salesforce/api/rest/60.0",
            "transactionKey": f"tx{self.sc.number}-{self.commit}",
            "sequenceNumber": 1,
            "commitTimestamp": int((self.now - datetime(1970, 1, 1)).total_seconds() * 1000),
            "commitNumber": self.commit,
            "commitUser": OWNERS[0],
            "changedFields": list(changed),
            "nulledFields": list(nulled),
            "diffFields": list(diff),
        }
        self.sc.payloads.append(
            (
                CDC,
                {
                    "schema": "opp-schema-1",
                    "payload": {"ChangeEventHeader": header, **body},
                    "event": {"replayId": self.replay},
                },
            )
        )
        self.sc.log.append(f"{iso(self.now)} #{self.commit} {change} {ids} {sorted(body)}")

    def read(self, source: str, records: list[dict]) -> None:
        for r in records:
            self.sc.payloads.append(
                (
                    RECORDS,
                    {
                        "sobject": "Opportunity",
                        "source": source,
                        "schema_version": "5f0a1b2c3d4e",
                        "extracted_at": iso(self.now),
                        "job_id": "750X" if source == "bulk" else None,
                        "record": r,
                    },
                )
            )
        self.sc.log.append(f"{iso(self.now)} read {source} {[r['Id'] for r in records]}")

    # state
    def live(self) -> list[str]:
        return [i for i in self.ids if i in self.sc.truth and not self.sc.truth[i]["IsDeleted"]]

    def binned(self) -> list[str]:
        return [
            i
            for i in self.ids
            if i in self.sc.truth and self.sc.truth[i]["IsDeleted"] and i not in self.sc.purged
        ]

    def snapshot_of(self, rid: str) -> dict:
        r = self.sc.truth[rid]
        return {"Id": rid, **{k: r[k] for k in sorted(r)}}

    def stamp(self, rid: str) -> None:
        self.sc.truth[rid]["LastModifiedDate"] = iso(self.now)
        self.sc.truth[rid]["SystemModstamp"] = iso(self.now)

    # changes
    def create(self) -> None:
        rid = sorted(self.pending)[0]
        self.pending.discard(rid)
        self.tick()
        stage = self.rnd.choice(list(STAGES))
        prob, cat = STAGES[stage]
        rec = {
            "AccountId": f"001A{self.rnd.randrange(5):014d}",
            "Amount": float(self.rnd.randrange(1, 200) * 500),
            "CloseDate": (
                self.now.date() + timedelta(days=self.rnd.randrange(10, 200))
            ).isoformat(),
            "CreatedDate": iso(self.now),
            "ForecastCategoryName": cat,
            "IsClosed": stage.startswith("Closed"),
            "IsDeleted": False,
            "IsWon": stage == "Closed Won",
            "LeadSource": self.rnd.choice(["Web", "Partner", None]),
            "Name": f"Deal {self.sc.number}-{rid[-1]}",
            "OwnerId": self.rnd.choice(OWNERS),
            "Probability": prob,
            "StageName": stage,
            "Type": self.rnd.choice(["New Business", "Renewal", None]),
            "Description": self.rnd.choice([None, "first call went well"]),
            "Forecast_Notes__c": None,
        }
        self.sc.truth[rid] = rec
        self.stamp(rid)
        body = {k: v for k, v in rec.items() if v is not None and k != "IsDeleted"}
        self.emit("CREATE", [rid], body)

    def changes(self, rec: dict) -> dict:
        out: dict = {}
        for _ in range(self.rnd.randint(1, 3)):
            k = self.rnd.randrange(6)
            if k == 0:
                out["Amount"] = round(
                    float(rec["Amount"] or 1000) * self.rnd.choice([0.5, 1.1, 2]), 2
                )
            elif k == 1:
                stage = self.rnd.choice(list(STAGES))
                prob, cat = STAGES[stage]
                out.update(
                    StageName=stage,
                    Probability=prob,
                    ForecastCategoryName=cat,
                    IsClosed=stage.startswith("Closed"),
                    IsWon=stage == "Closed Won",
                )
            elif k == 2:
                out["OwnerId"] = self.rnd.choice(OWNERS)
            elif k == 3:
                slipped = date.fromisoformat(rec["CloseDate"]) + timedelta(
                    days=self.rnd.choice([7, 30])
                )
                out["CloseDate"] = slipped.isoformat()
            elif k == 4:
                out["LeadSource"] = None if rec["LeadSource"] else self.rnd.choice(["Web", "Event"])
            else:
                out["Forecast_Notes__c"] = None if rec["Forecast_Notes__c"] else "chase legal"
        return {k: v for k, v in out.items() if rec.get(k) != v}

    def update(self) -> None:
        rid = self.rnd.choice(self.live())
        rec = self.sc.truth[rid]
        changes = self.changes(rec)
        if not changes:
            return
        self.tick()
        rec.update(changes)
        self.stamp(rid)
        nulled = [k for k, v in changes.items() if v is None]
        if nulled:
            self.sc.cases.add("a nulled field")
        body = {k: v for k, v in changes.items() if v is not None}
        body.update(LastModifiedDate=rec["LastModifiedDate"], SystemModstamp=rec["SystemModstamp"])
        changed = [*changes, "LastModifiedDate", "SystemModstamp"]
        self.emit("UPDATE", [rid], body, changed, nulled)

    def diff_update(self) -> None:
        """A long text change CDC sends as a diff: never applied; the extractor re-fetches."""
        rid = self.rnd.choice(self.live())
        rec = self.sc.truth[rid]
        self.tick()
        rec["Description"] = f"{rec['Description'] or ''} and more {self.commit}".strip()
        self.stamp(rid)
        body = {
            "Description": "@@ -1,3 +1,9 @@ (a diff)",
            "LastModifiedDate": rec["LastModifiedDate"],
            "SystemModstamp": rec["SystemModstamp"],
        }
        self.emit(
            "UPDATE",
            [rid],
            body,
            ["Description", "LastModifiedDate", "SystemModstamp"],
            (),
            ["Description"],
        )
        self.sc.cases.add("a diff field")
        self.read("refetch", [self.snapshot_of(rid)])  # the extractor re-fetches the record
        self.after_read()

    def reassign(self) -> None:
        ids = sorted(self.rnd.sample(self.live(), self.rnd.randint(2, len(self.live()))))
        owner = self.rnd.choice(OWNERS)
        self.tick()
        for rid in ids:
            self.sc.truth[rid]["OwnerId"] = owner
            self.stamp(rid)
        stamp = iso(self.now)
        self.emit(
            "UPDATE",
            ids,
            {"OwnerId": owner, "LastModifiedDate": stamp, "SystemModstamp": stamp},
            ["OwnerId", "LastModifiedDate", "SystemModstamp"],
        )
        self.sc.cases.add("a change event naming several records")

    def delete(self) -> None:
        rid = self.rnd.choice(self.live())
        self.tick()
        self.sc.truth[rid]["IsDeleted"] = True
        self.stamp(rid)
        self.deleted_at[rid] = self.now
        self.emit("DELETE", [rid], {})

    def undelete(self) -> None:
        rid = self.rnd.choice(self.binned())
        self.tick()
        self.sc.truth[rid]["IsDeleted"] = False
        self.stamp(rid)
        del self.deleted_at[rid]
        rec = self.sc.truth[rid]
        body = {}
        if self.rnd.random() < 0.5:  # the record as it was, or no fields at all
            body = {k: v for k, v in rec.items() if v is not None and k != "IsDeleted"}
        self.emit("UNDELETE", [rid], body)
        self.sc.cases.add("an undelete")

    def hard_delete(self) -> None:
        candidates = self.live() + self.binned()
        rid = self.rnd.choice(candidates)
        self.tick()
        if not self.sc.truth[rid]["IsDeleted"]:
            self.sc.truth[rid]["IsDeleted"] = True
            self.stamp(rid)
            self.deleted_at[rid] = self.now
            self.emit("DELETE", [rid], {})
        self.sc.purged.add(rid)
        self.sc.cases.add("a hard delete")

    # reads
    def snapshot(self) -> None:
        present = [i for i in self.ids if i in self.sc.truth and i not in self.sc.purged]
        if not present:
            return
        sources = self.rnd.choice([["bulk"], ["rest"], ["bulk", "rest"]])
        for source in sources:
            chosen = present if self.rnd.random() < 0.6 else self.rnd.sample(present, 1)
            self.read(source, [self.snapshot_of(i) for i in chosen])
        if any(self.sc.truth[i]["SystemModstamp"] == iso(self.now) for i in present):
            self.sc.cases.add("a snapshot at a change event's instant")
        self.after_read()

    def get_deleted(self) -> None:
        gone = sorted(self.deleted_at)
        if not gone:
            return
        self.read("get_deleted", [{"Id": i, "deletedDate": iso(self.deleted_at[i])} for i in gone])
        self.sc.cases.add("a getDeleted read")
        self.after_read()

    def reconcile(self) -> None:
        todo = sorted(self.sc.purged - self.sc.reconciled)
        if not todo:
            return
        self.read("reconcile", [{"Id": i} for i in todo])
        self.sc.reconciled.update(todo)
        self.sc.cases.add("a reconcile tombstone")
        self.after_read()

    def run(self, steps: int) -> Scenario:
        for _ in range(steps):
            options = []
            if self.pending:
                options += [self.create] * (6 if not self.sc.truth else 2)
            live = self.live()
            if live:
                options += [self.update] * 6 + [self.delete, self.hard_delete, self.diff_update]
            if len(live) >= 2:
                options += [self.reassign] * 2
            if self.binned():
                options += [self.undelete] * 2 + [self.hard_delete]
            options += [self.snapshot] * 3 + [self.get_deleted, self.reconcile]
            self.rnd.choice(options)()
        commits = Counter(
            (p["payload"]["ChangeEventHeader"]["commitTimestamp"], rid)
            for t, p in self.sc.payloads
            if t == CDC
            for rid in p["payload"]["ChangeEventHeader"]["recordIds"]
        )
        if any(n > 1 for n in commits.values()):
            self.sc.cases.add("two commits on one record at one instant")
        return self.sc


def scenario_from_seed(seed: int, number: int) -> Scenario:
    rnd = random.Random(seed)
    return Sim(number, seed).run(rnd.randint(5, 18))


CASES = {
    "a change at the previous change's instant",
    "a nulled field",
    "a diff field",
    "a change event naming several records",
    "an undelete",
    "a hard delete",
    "a snapshot at a change event's instant",
    "a getDeleted read",
    "a reconcile tombstone",
    "two commits on one record at one instant",
}
# Scenario seeds every warehouse example includes, so each case above is built on every run.
REGRESSION_SEEDS = [1, 2, 3, 4, 5, 7]


# -- delivery ---------------------------------------------------------------------------------


def instantiate(payloads: list[tuple[str, dict]], letter: str) -> list[tuple[str, dict]]:
    """The same payloads with ids in the `letter` namespace."""
    return [
        (topic, json.loads(json.dumps(p).replace(PLACEHOLDER, f"006{letter}")))
        for topic, p in payloads
    ]


def land(stream: list[tuple[str, dict]], settings_: Settings, name: str) -> None:
    root = settings_.warehouse_path.parent
    for topic in (RECORDS, CDC):
        lines = [json.dumps(p) for t, p in stream if t == topic]
        if lines:
            path = root / f"{name}.{topic}.jsonl"
            path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
            ingest_files([path], topic, settings_)


def query(settings_: Settings, sql: str) -> tuple[list[str], list[tuple]]:
    con = duckdb.connect(str(settings_.warehouse_path), read_only=True)
    try:
        cur = con.execute(sql)
        return [d[0] for d in cur.description], cur.fetchall()
    finally:
        con.close()


# -- comparison -------------------------------------------------------------------------------


def typed(name: str, value: object) -> object:
    if value is None:
        return None
    kind = FIELD_TYPES.get(name, "varchar")
    if kind == "timestamp":
        return ref.parse_instant(value)
    if kind == "date":
        return date.fromisoformat(value)
    if kind == "double":
        return float(value)
    return value


def mart_rows(settings_: Settings, letter: str) -> tuple[list[str], dict[str, dict]]:
    cols, rows = query(settings_, "select * from marts.sfdc_opportunities")
    out = {}
    for row in rows:
        r = dict(zip(cols, row, strict=True))
        rid = r.pop("opportunity_id")
        if rid.startswith(f"006{letter}"):
            out[rid.replace(f"006{letter}", PLACEHOLDER)] = r
    return cols, out


def history_rows(settings_: Settings, letter: str) -> dict[str, list[tuple]]:
    _, rows = query(
        settings_,
        f"""select opportunity_id, version_seq, valid_from, valid_to, is_current, change_type,
                   source, commit_number
            from intermediate.int_salesforce__opportunity_history
            where opportunity_id like '006{letter}%' order by opportunity_id, version_seq""",
    )
    out: dict[str, list[tuple]] = {}
    for rid, seq, vf, vt, current, change, source, commit in rows:
        kind = "snapshot" if source in ref.SNAPSHOT_SOURCES else source
        out.setdefault(rid.replace(f"006{letter}", PLACEHOLDER), []).append(
            (seq, vf, vt, current, change, ref.SOURCE_RANK[kind], commit)
        )
    return out


def expected_rows(payloads: list[dict], columns: list[str]) -> dict[str, dict]:
    by_column = {snake(n): n for n in FIELD_TYPES}
    fields = [by_column[c] for c in columns if c in by_column]
    out = {}
    for rid, row in ref.current_rows(ref.fold(payloads), fields).items():
        out[rid] = {
            **{snake(n): typed(n, row[n]) for n in fields},
            "is_deleted": row["is_deleted"],
            "deleted_at": row["deleted_at"],
            "is_hard_deleted": row["is_hard_deleted"],
            "system_modstamp": row["system_modstamp"],
        }
    return out


def expected_history(payloads: list[dict]) -> dict[str, list[tuple]]:
    out = {}
    for rid, st_ in ref.fold(payloads).items():
        out[rid] = [
            (
                n,
                h.valid_from,
                h.valid_to,
                h.is_current,
                h.version.change_type,
                h.version.rank,
                h.version.commit_number,
            )
            for n, h in enumerate(st_.history, start=1)
        ]
    return out


def history_shape(rows: list[tuple]) -> list[tuple]:
    """What the history must agree on whatever the hash order within a tie: the version count,
    each version's window, source rank and commit number in sequence order, and which kinds of
    change happened at each instant."""
    return [
        (seq, vf, vt, cur, rank, commit) for seq, vf, vt, cur, _, rank, commit in rows
    ] + sorted((row[1], row[4]) for row in rows)


def describe(scenarios: list[Scenario], rid: str) -> str:
    number = int(rid[len(PLACEHOLDER) : len(PLACEHOLDER) + 4])
    sc = next(s for s in scenarios if s.number == number)
    return f"scenario_from_seed({sc.seed}, {sc.number}):\n  " + "\n  ".join(sc.log)


def assert_matches(
    scenarios: list[Scenario],
    payloads: list[dict],
    settings_: Settings,
    letter: str,
    what: str,
) -> dict[str, dict]:
    columns, got = mart_rows(settings_, letter)
    fields = [c for c in columns if c not in ("opportunity_id",)]
    want = expected_rows(payloads, fields)
    assert sorted(got) == sorted(want), f"{what}: record ids differ"
    for rid in sorted(want):
        assert got[rid] == want[rid], (
            f"{what}: {rid} differs\n{describe(scenarios, rid)}\n"
            + "\n".join(
                f"  {k}: warehouse {got[rid].get(k)!r} reference {v!r}"
                for k, v in want[rid].items()
                if got[rid].get(k) != v
            )
        )
    got_h, want_h = history_rows(settings_, letter), expected_history(payloads)
    assert sorted(got_h) == sorted(want_h), f"{what}: history ids differ"
    for rid in sorted(want_h):
        assert history_shape(got_h[rid]) == history_shape(want_h[rid]), (
            f"{what}: history of {rid} differs\n{describe(scenarios, rid)}\n"
            f"warehouse {got_h[rid]}\nreference {want_h[rid]}"
        )
    return got


# -- the reference alone: cheap, many examples ------------------------------------------------


def test_regression_seeds_cover_every_case() -> None:
    covered = set().union(*(scenario_from_seed(s, n).cases for n, s in enumerate(REGRESSION_SEEDS)))
    if covered != CASES:
        found = {}
        for seed in range(1, 2000):
            for case in scenario_from_seed(seed, 0).cases - covered:
                found.setdefault(case, seed)
        pytest.fail(
            f"REGRESSION_SEEDS miss {sorted(CASES - covered)}; seeds that have them: {found}"
        )


@settings(max_examples=120, deadline=None)
@given(st.integers(0, 2**32 - 1), st.randoms(use_true_random=False))
def test_reference_fold_is_order_and_replay_independent_and_matches_the_org(
    seed: int, rnd: random.Random
) -> None:
    sc = scenario_from_seed(seed, 0)
    payloads = [p for _, p in sc.payloads]
    assert not ref.ambiguous_ties(payloads), "the generator made a hash-order-dependent tie"
    truth = ref.fold(payloads)
    noisy = payloads + rnd.choices(payloads, k=len(payloads) // 2) if payloads else []
    rnd.shuffle(noisy)
    again = ref.fold(noisy)
    fields = sorted(FIELD_TYPES)
    assert ref.current_rows(again, fields) == ref.current_rows(truth, fields)
    assert expected_history(noisy) == expected_history(payloads)
    # The fold of every change event and read equals the simulated org.
    for rid, rec in sc.truth.items():
        cur = truth[rid].current
        # (DELETE and a field-less UNDELETE carry no LastModifiedDate: not comparable.)
        for name in set(FIELD_TYPES) - {"LastModifiedDate"}:
            assert cur.values.get(name) == rec.get(name), (rid, name, sc.log)
        assert cur.is_deleted == rec["IsDeleted"], (rid, sc.log)
        assert cur.is_hard_deleted == (rid in sc.reconciled), (rid, sc.log)
        if rec["IsDeleted"] and rid not in sc.reconciled:
            assert cur.deleted_at is not None
    assert set(truth) == set(sc.truth)


# -- the warehouse ------------------------------------------------------------------------------


@pytest.mark.dbt
@settings(
    max_examples=WAREHOUSE_EXAMPLES,
    deadline=None,
    phases=[Phase.explicit, Phase.reuse, Phase.generate],
    database=EXAMPLES,
    suppress_health_check=list(HealthCheck),
)
@given(
    seeds=st.lists(
        st.integers(0, 2**32 - 1), min_size=SCENARIOS_PER_EXAMPLE, max_size=SCENARIOS_PER_EXAMPLE
    ),
    split_seed=st.integers(0, 2**32 - 1),
    second_full_refresh=st.booleans(),
)
def test_marts_equal_the_reference_whatever_the_order_replays_and_batches(
    seeds: list[int],
    split_seed: int,
    second_full_refresh: bool,
    tmp_path_factory: pytest.TempPathFactory,
    dbt_target_path: Path,
) -> None:
    # Hypothesis' first example is every seed 0 (one scenario repeated): skip it.
    assume(any(seeds))
    all_seeds = [*REGRESSION_SEEDS, *seeds]
    note(
        f"scenario seeds: {all_seeds}; split seed {split_seed}; full refresh {second_full_refresh}"
    )
    scenarios = [scenario_from_seed(s, n) for n, s in enumerate(all_seeds)]
    generic = [tp for sc in scenarios for tp in sc.payloads]
    assert not ref.ambiguous_ties([p for _, p in generic])
    root = tmp_path_factory.mktemp("sf-property")
    settings_ = Settings(
        warehouse_path=root / "w.duckdb", stage_dir=root / "stage", dbt_target_path=dbt_target_path
    )
    rnd = random.Random(split_seed)

    canonical = instantiate(generic, "C")
    permuted = instantiate(generic, "P")
    stream = permuted + rnd.sample(permuted, k=len(permuted) // 3)  # replays and duplicates
    rnd.shuffle(stream)
    cut = rnd.randrange(len(stream) // 4, 3 * len(stream) // 4)
    first, second = stream[:cut], stream[cut:]
    # A replayed file of part of the first batch arrives again with the second.
    second += rnd.sample(first, k=len(first) // 4)

    # Batch 1: the canonical copy whole, the permuted copy's first part.
    land(canonical, settings_, "canonical")
    land(first, settings_, "batch1")
    result = build(
        settings_, full_refresh=True, select=MODELS, exclude=NO_UNIT, quiet=True, check=False
    )
    assert result.returncode == 0, result.counts()
    canonical_rows = assert_matches(scenarios, [p for _, p in generic], settings_, "C", "canonical")
    first_generic = [json.loads(json.dumps(p).replace("006P", PLACEHOLDER)) for _, p in first]
    assert_matches(scenarios, first_generic, settings_, "P", "after batch 1")

    # Batch 2: the rest, with replays; an incremental or a full-refresh build.
    land(second, settings_, "batch2")
    result = build(
        settings_,
        full_refresh=second_full_refresh,
        select=MODELS,
        exclude=NO_UNIT,
        quiet=True,
        check=False,
    )
    assert result.returncode == 0, result.counts()
    permuted_rows = assert_matches(
        scenarios, [p for _, p in generic], settings_, "P", "after batch 2"
    )
    # Any permutation and replay gives the rows of the canonical single batch.
    assert permuted_rows == canonical_rows
    _, canonical_again = mart_rows(settings_, "C")
    assert canonical_again == canonical_rows
    # The field list: the base fields plus the snapshot records' keys (docs/salesforce_models.md).
    columns, _ = mart_rows(settings_, "C")
    snapshot_keys = {
        k
        for t, p in generic
        if t == RECORDS and p["source"] in ref.SNAPSHOT_SOURCES
        for k in p["record"]
    }
    want_fields = {snake(n) for n in (BASE_FIELDS | snapshot_keys) - set(ref.NOT_FIELDS)}
    assert set(columns) == {
        "opportunity_id",
        *want_fields,
        "is_deleted",
        "deleted_at",
        "is_hard_deleted",
        "system_modstamp",
    }
