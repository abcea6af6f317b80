"""The Salesforce sync: describe, backfill (Bulk API 2.0), incremental (REST), deletes.

Every chunk or page of records is landed together with its `checkpoint` sync-log entry in one
`land_batch` call (one raw transaction), so a checkpoint never names data raw does not hold;
the next run resumes from the latest checkpoint it reads back from `raw.salesforce_sync_log`.
API calls of different objects run in parallel (up to `max_concurrency`); landing is
serialised (the DuckDB writer has one connection).
"""

from __future__ import annotations

import itertools
import threading
import uuid
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import orjson

from ingest.envelope import SourceMessage
from ingest.landing import land_batch
from ingest.salesforce import records as rec
from ingest.salesforce.client import BudgetExhausted, SalesforceClient
from ingest.settings import Settings
from ingest.topics import SALESFORCE_OBJECTS, TOPICS, salesforce_raw_table
from ingest.warehouse import Warehouse

DEFAULT_SINCE = datetime(2000, 1, 1, tzinfo=UTC)
DELETED_WINDOW = timedelta(days=30)
REFETCH_BATCH = 200  # ids per `WHERE Id IN (...)` re-fetch query


@dataclass
class ObjectResult:
    sobject: str
    mode: str
    records: int = 0
    inserted: int = 0
    deleted: int = 0
    tombstones: int = 0
    schema_version: str = ""
    drift: dict = field(default_factory=dict)
    watermark: str | None = None
    stopped: str | None = None  # why the object stopped early (budget)

    def summary(self) -> str:
        parts = [
            f"{self.sobject}: {self.mode} {self.records:,} records read, "
            f"{self.inserted:,} new raw rows",
            f"schema {self.schema_version}",
        ]
        if self.deleted:
            parts.append(f"{self.deleted:,} deleted (getDeleted)")
        if self.tombstones:
            parts.append(f"{self.tombstones:,} reconcile tombstones")
        if self.watermark:
            parts.append(f"watermark {self.watermark}")
        for kind, names in self.drift.items():
            parts.append(f"drift {kind}: {', '.join(names)}")
        if self.stopped:
            parts.append(f"STOPPED: {self.stopped}")
        return "; ".join(parts)


@dataclass
class SyncState:
    """What raw knows: the latest describe per object and the checkpoints."""

    describes: dict[str, dict] = field(default_factory=dict)
    checkpoints: list[dict] = field(default_factory=list)
    gaps_handled: set[str] = field(default_factory=set)
    overflows_handled: set[str] = field(default_factory=set)  # GAP_OVERFLOW raw positions

    @classmethod
    def read(cls, warehouse: Warehouse) -> SyncState:
        state = cls()
        for _, text in warehouse.fetch_payloads("salesforce_describe"):
            payload = orjson.loads(text)
            state.describes[payload["sobject"]] = payload
        for _, text in warehouse.fetch_payloads("salesforce_sync_log"):
            payload = orjson.loads(text)
            if payload.get("kind") == "checkpoint":
                state.checkpoints.append(payload)
            elif payload.get("kind") == "gap" and payload.get("replay_position"):
                state.gaps_handled.add(payload["replay_position"])
            elif payload.get("kind") == "overflow" and payload.get("replay_position"):
                state.overflows_handled.add(payload["replay_position"])
        return state

    def latest(self, sobject: str, modes: Sequence[str]) -> dict | None:
        best = None
        for cp in self.checkpoints:
            if cp.get("sobject") != sobject or cp.get("mode") not in modes:
                continue
            key = (cp.get("watermark") or "", cp.get("watermark_id") or "")
            if best is None or key >= (best.get("watermark") or "", best.get("watermark_id") or ""):
                best = cp
        return best

    def latest_chunk_end(self, sobject: str) -> str | None:
        ends = [
            cp["chunk_end"]
            for cp in self.checkpoints
            if cp.get("sobject") == sobject and cp.get("mode") == "backfill" and cp.get("chunk_end")
        ]
        return max(ends) if ends else None


class Syncer:
    def __init__(
        self,
        settings: Settings,
        warehouse: Warehouse,
        client: SalesforceClient,
        *,
        out: Callable[[str], None] = print,
        run_id: str | None = None,
        chunk_days: float = 30.0,
    ) -> None:
        self.settings = settings
        self.warehouse = warehouse
        self.client = client
        self.out = out
        self.run_id = run_id or f"{datetime.now(UTC):%Y%m%dT%H%M%SZ}-{uuid.uuid4().hex[:8]}"
        self.chunk = timedelta(days=chunk_days)
        self._seq = itertools.count(1)
        self._land_lock = threading.Lock()
        self.state = SyncState.read(warehouse)
        self.budget_stopped: BudgetExhausted | None = None

    # -- helpers ----------------------------------------------------------------------------

    @staticmethod
    def now() -> str:
        return rec.iso_utc(datetime.now(UTC))

    def entry(self, kind: str, sobject: str | None, **extra: object) -> SourceMessage:
        with self._land_lock:
            seq = next(self._seq)
        return rec.sync_message(self.run_id, seq, kind, sobject, self.now(), **extra)

    def land(self, messages: list[SourceMessage]) -> int:
        if not messages:
            return 0
        with self._land_lock:
            messages = self._unseen(messages)
            return land_batch(messages, self.settings, self.warehouse).rows_inserted

    def _unseen(self, messages: list[SourceMessage]) -> list[SourceMessage]:
        """Drop record versions raw already holds. A version is its position (object, Id,
        SystemModstamp); reading it again (the look-back, a re-backfill) differs only in
        `extracted_at` / `job_id`, so the first read is kept and the re-read is not a conflict."""
        by_table: dict[str, list[str]] = {}
        for m in messages:
            if m.topic.startswith("salesforce.records."):
                by_table.setdefault(TOPICS[m.topic].raw_table, []).append(m.source_position)
        seen: set[str] = set()
        for table, positions in by_table.items():
            seen |= self.warehouse.existing_positions(table, positions)
        return [m for m in messages if m.source_position not in seen] if seen else messages

    # -- describe ---------------------------------------------------------------------------

    def describe(self, sobject: str, result: ObjectResult) -> tuple[str, list[str], dict]:
        described = self.client.describe(sobject)
        fields = rec.trim_describe(described)
        version = rec.schema_version(fields)
        previous = self.state.describes.get(sobject)
        if previous and previous.get("schema_version") != version:
            result.drift = rec.describe_drift(previous.get("fields"), fields)
        if not previous or previous.get("schema_version") != version:
            # The same version again would be the same position with another `described_at`:
            # a position conflict in quarantine, not a new schema version.
            message = rec.describe_message(sobject, version, fields, self.now())
            self.land([message])
            self.state.describes[sobject] = orjson.loads(message.value)
        result.schema_version = version
        return version, rec.extraction_fields(fields), rec.field_types(fields)

    # -- modes ------------------------------------------------------------------------------

    def backfill(
        self, sobject: str, since: datetime | None, until: datetime | None
    ) -> ObjectResult:
        result = ObjectResult(sobject, "backfill")
        version, names, types = self.describe(sobject, result)
        start = since or DEFAULT_SINCE
        resume = self.state.latest_chunk_end(sobject)
        if resume and rec.parse_datetime(resume) > start:
            start = rec.parse_datetime(resume)
        earliest = self.earliest_modstamp(sobject)
        if earliest is None:
            start = until or datetime.now(UTC)  # nothing to read: one checkpoint-free pass
        elif earliest > start:
            start = earliest  # no empty chunks (and their Bulk jobs) before the first record
        end_all = until or datetime.now(UTC)
        select = ", ".join(names)
        while start < end_all:
            end = min(start + self.chunk, end_all)
            soql = (
                f"SELECT {select} FROM {sobject} WHERE SystemModstamp >= "
                f"{rec.soql_datetime(start)} AND SystemModstamp < {rec.soql_datetime(end)}"
            )
            rows: list[dict] = []
            job_id, pages = self.client.bulk_query_all(sobject, soql)
            for page in pages:
                rows.extend(rec.csv_records(page, types))
            messages = rec.record_messages(sobject, "bulk", version, rows, self.now(), job_id)
            wm = max(((r["SystemModstamp"], r["Id"]) for r in rows), default=(None, None))
            messages.append(
                self.entry(
                    "checkpoint",
                    sobject,
                    mode="backfill",
                    watermark=wm[0],
                    watermark_id=wm[1],
                    chunk_start=rec.iso_utc(start),
                    chunk_end=rec.iso_utc(end),
                    records=len(rows),
                )
            )
            result.inserted += self.land(messages)
            result.records += len(rows)
            if wm[0]:
                result.watermark = wm[0]
            start = end
        return result

    def earliest_modstamp(self, sobject: str) -> datetime | None:
        """The oldest SystemModstamp of the object, deleted records included: one REST call."""
        page = self.client.query_all_page(
            f"SELECT Id, SystemModstamp FROM {sobject} ORDER BY SystemModstamp LIMIT 1"
        )
        rows = page.get("records") or []
        return rec.parse_datetime(rows[0]["SystemModstamp"]) if rows else None

    def incremental(
        self,
        sobject: str,
        since: datetime | None = None,
        mode: str = "incremental",
        last_page: Callable[[str | None], list[SourceMessage]] | None = None,
    ) -> ObjectResult:
        """REST queryAll of `SystemModstamp >= since` (default: the latest checkpoint minus the
        look-back), one landed batch per page with its checkpoint. `last_page(watermark)` gives
        messages landed in the same batch as the last page (e.g. the CDC `overflow` entry)."""
        result = ObjectResult(sobject, mode)
        version, names, types = self.describe(sobject, result)
        lookback = timedelta(seconds=self.settings.salesforce.lookback_seconds)
        if since is None:
            cp = self.state.latest(sobject, ("incremental", "backfill"))
            since = (
                rec.parse_datetime(cp["watermark"]) - lookback
                if cp and cp.get("watermark")
                else DEFAULT_SINCE
            )
            prior = (cp.get("watermark"), cp.get("watermark_id")) if cp else (None, None)
        else:
            prior = (None, None)
        soql = (
            f"SELECT {', '.join(names)} FROM {sobject} WHERE SystemModstamp >= "
            f"{rec.soql_datetime(since)} ORDER BY SystemModstamp, Id"
        )
        wm = prior
        page = self.client.query_all_page(soql)
        while True:
            rows = [rec.type_record(r, types) for r in page.get("records", [])]
            for r in rows:
                key = (r.get("SystemModstamp"), r["Id"])
                if wm[0] is None or key > (wm[0], wm[1] or ""):
                    wm = key
            messages = rec.record_messages(sobject, "rest", version, rows, self.now())
            messages.append(
                self.entry(
                    "checkpoint",
                    sobject,
                    mode="incremental",
                    watermark=wm[0],
                    watermark_id=wm[1],
                    chunk_start=rec.iso_utc(since),
                    chunk_end=None,
                    records=len(rows),
                )
            )
            last = page.get("done", True) or not page.get("nextRecordsUrl")
            if last and last_page is not None:
                messages.extend(last_page(wm[0]))
            result.inserted += self.land(messages)
            result.records += len(rows)
            if last:
                break
            page = self.client.query_all_page(next_url=page["nextRecordsUrl"])
        result.watermark = wm[0]
        return result

    def refetch(
        self, sobject: str, ids: Sequence[str], result: ObjectResult
    ) -> tuple[str, list[dict], list[str]]:
        """Re-read records by Id over REST queryAll (deleted ones come back with IsDeleted),
        `REFETCH_BATCH` ids per query: (schema version, typed records, ids not returned:
        hard-deleted or purged)."""
        version, names, types = self.describe(sobject, result)
        wanted = list(dict.fromkeys(ids))
        valid = [i for i in wanted if i.isascii() and i.isalnum()]  # never quote-injected
        found: dict[str, dict] = {}
        for start in range(0, len(valid), REFETCH_BATCH):
            batch = valid[start : start + REFETCH_BATCH]
            quoted = ", ".join(f"'{i}'" for i in batch)
            soql = f"SELECT {', '.join(names)} FROM {sobject} WHERE Id IN ({quoted})"
            for raw in self.client.query_all(soql):
                record = rec.type_record(raw, types)
                found[record["Id"]] = record
        missing = [i for i in wanted if i not in found]
        return version, [found[i] for i in wanted if i in found], missing

    def hard_deletes(self, sobject: str, result: ObjectResult) -> None:
        now = datetime.now(UTC).replace(microsecond=0)
        cp = self.state.latest(sobject, ("deleted",))
        start = rec.parse_datetime(cp["watermark"]) if cp and cp.get("watermark") else None
        floor = now - DELETED_WINDOW + timedelta(minutes=1)
        if start is None or start < floor:
            start = floor
        answer = self.client.deleted(sobject, start, now)
        deleted = [
            {"Id": d["id"], "deletedDate": rec.normalise_datetime(d["deletedDate"])}
            for d in answer.get("deletedRecords", [])
        ]
        messages = rec.record_messages(
            sobject, "get_deleted", result.schema_version, deleted, self.now()
        )
        latest = answer.get("latestDateCovered")
        messages.append(
            self.entry(
                "checkpoint",
                sobject,
                mode="deleted",
                watermark=rec.normalise_datetime(latest) if latest else rec.iso_utc(now),
                watermark_id=None,
                chunk_start=rec.iso_utc(start),
                chunk_end=rec.iso_utc(now),
                records=len(deleted),
            )
        )
        result.inserted += self.land(messages)
        result.deleted = len(deleted)

    def known_ids(self, sobject: str) -> set[str]:
        """Ids raw knows for an object: record positions (not tombstones) and CDC recordIds."""
        ids: set[str] = set()
        gone: set[str] = set()
        table = salesforce_raw_table(sobject)
        with self._land_lock:  # one DuckDB connection: reads are serialised with the loads
            rows = self.warehouse.fetch_payloads(table)
        for position, text in rows:
            if position.startswith("salesforce:"):
                source, _, _, record_id = position[len("salesforce:") :].split("/")[:4]
                (gone if source == "reconcile" else ids).add(record_id)
            else:
                header = orjson.loads(text).get("payload", {}).get("ChangeEventHeader", {})
                if not str(header.get("changeType", "")).startswith("GAP_"):
                    ids.update(header.get("recordIds", []))
        return ids - gone

    def reconcile(self, sobject: str, result: ObjectResult) -> None:
        source_ids = {r["Id"] for r in self.client.query_all(f"SELECT Id FROM {sobject}")}
        missing = sorted(self.known_ids(sobject) - source_ids)
        tombstones = [{"Id": i} for i in missing]
        messages = rec.record_messages(
            sobject, "reconcile", result.schema_version, tombstones, self.now()
        )
        messages.append(
            self.entry(
                "checkpoint",
                sobject,
                mode="reconcile",
                watermark=self.now(),
                watermark_id=None,
                chunk_start=None,
                chunk_end=None,
                records=len(tombstones),
            )
        )
        result.inserted += self.land(messages)
        result.tombstones = len(tombstones)

    def aggregate(self, sobject: str) -> None:
        if sobject == "Opportunity":
            answer = self.client.query("SELECT COUNT(), SUM(Amount) FROM Opportunity")
            row = {
                k: v for k, v in ((answer.get("records") or [{}])[0]).items() if k != "attributes"
            }
            values = list(row.values())
            count = answer.get("totalSize")
            if len(values) >= 2:
                count, total = values[0], values[1]
            else:
                total = values[0] if values else None
        else:
            answer = self.client.query(f"SELECT COUNT() FROM {sobject}")
            count, total = answer.get("totalSize"), None
        self.land(
            [
                self.entry(
                    "source_aggregate", sobject, count=count, sum_amount=total, as_of=self.now()
                )
            ]
        )

    # -- the run ----------------------------------------------------------------------------

    def run_object(
        self,
        sobject: str,
        *,
        backfill: bool,
        since: datetime | None,
        until: datetime | None,
        reconcile: bool,
    ) -> ObjectResult:
        result = ObjectResult(sobject, "backfill" if backfill else "incremental")
        try:
            result = self.backfill(sobject, since, until) if backfill else self.incremental(sobject)
            self.hard_deletes(sobject, result)
            if reconcile:
                self.reconcile(sobject, result)
            self.aggregate(sobject)
        except BudgetExhausted as exc:
            self.budget_stopped = exc
            result.stopped = str(exc)
        return result

    def run(
        self,
        objects: Sequence[str],
        *,
        backfill: bool = False,
        since: datetime | None = None,
        until: datetime | None = None,
        reconcile: bool = False,
    ) -> list[ObjectResult]:
        try:
            self.client.read_budget()
        except BudgetExhausted as exc:
            self.record_budget_stop(exc, objects)
            return []
        workers = max(1, self.settings.salesforce.max_concurrency)
        with ThreadPoolExecutor(max_workers=workers) as pool:
            futures = [
                pool.submit(
                    self.run_object,
                    o,
                    backfill=backfill,
                    since=since,
                    until=until,
                    reconcile=reconcile,
                )
                for o in objects
            ]
            results = [f.result() for f in futures]
        for t in self.client.throttles:
            self.land(
                [
                    self.entry(
                        "throttled", None, status=t.status, error_code=t.code, retries=t.retries
                    )
                ]
            )
        for r in results:
            self.out(r.summary())
        if self.budget_stopped:
            self.record_budget_stop(self.budget_stopped, [r.sobject for r in results if r.stopped])
        return results

    def record_budget_stop(self, exc: BudgetExhausted, remaining: Sequence[str]) -> None:
        self.land(
            [
                self.entry(
                    "budget_stop",
                    None,
                    used=exc.used,
                    max=exc.maximum,
                    share=exc.share,
                    remaining=list(remaining),
                )
            ]
        )
        self.out(
            f"budget stop: {exc}; checkpoints hold what was landed; not finished: "
            f"{', '.join(remaining) or 'nothing'} (rerun after the daily limit resets)"
        )


def parse_objects(value: str | None) -> list[str]:
    if not value:
        return list(SALESFORCE_OBJECTS)
    names = [v.strip() for v in value.split(",") if v.strip()]
    unknown = [n for n in names if n not in SALESFORCE_OBJECTS]
    if unknown:
        raise ValueError(
            f"unknown Salesforce object(s) {', '.join(unknown)}; "
            f"choose from {', '.join(SALESFORCE_OBJECTS)}"
        )
    return names
