"""`revops ingest salesforce --cdc`: the CDC topics into raw, then gaps and overflows repaired.

1. The topics `salesforce.cdc.<Object>` of the selected objects that have CDC are consumed with
   the project's Kafka consumer (`ingest.kafka.consumer.consume`: stage → raw, offsets committed
   only after the raw load; `until_idle` stops at the high watermarks seen at assignment).
2. Gaps are then read **from raw**, not from what this run consumed, so a GAP event that came in
   a replayed file (`revops ingest file ... --topic salesforce.cdc.<Object>`) is handled too:
   every GAP_CREATE / GAP_UPDATE / GAP_DELETE / GAP_UNDELETE whose raw position has no `gap`
   entry in the sync log yet has its recordIds re-fetched over REST queryAll (deleted records
   come back with IsDeleted = true), at most 200 ids per query. The re-fetched records (source
   `refetch`) and the `gap` entry land in one `land_batch` call (one raw transaction), so a gap
   is never marked handled before its data is in raw. Ids queryAll no longer returns (purged)
   are listed in the entry's `missing`; getDeleted and reconcile tombstone them.
3. Every GAP_OVERFLOW without an `overflow` entry re-syncs its object over REST
   (`SystemModstamp >= window_start`, window_start = the earliest overflow's commitTimestamp
   minus the look-back, or the object's checkpoint minus the look-back if that is earlier), with
   the `overflow` entries landed together with the last page.

A second run finds every gap handled and makes no Salesforce call at all.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

import orjson

from ingest.envelope import SourceMessage
from ingest.salesforce import records as rec
from ingest.salesforce.client import BudgetExhausted, SalesforceClient
from ingest.salesforce.sync import DEFAULT_SINCE, REFETCH_BATCH, ObjectResult, Syncer
from ingest.settings import Settings
from ingest.topics import SALESFORCE_CDC_OBJECTS, salesforce_raw_table
from ingest.warehouse import Warehouse

GAP_TYPES = frozenset({"GAP_CREATE", "GAP_UPDATE", "GAP_DELETE", "GAP_UNDELETE"})
OVERFLOW = "GAP_OVERFLOW"


def cdc_topic(sobject: str) -> str:
    return f"salesforce.cdc.{sobject}"


@dataclass(frozen=True)
class GapEvent:
    position: str  # the raw position of the CDC event (Kafka or replayed file)
    change_type: str
    record_ids: tuple[str, ...]
    commit_timestamp: int | None  # epoch ms


@dataclass
class CdcResult:
    sobject: str
    events: int = 0  # new CDC rows in raw this run (from Kafka)
    gaps: int = 0  # GAP_* events handled this run
    refetched: int = 0  # records re-fetched for them
    missing: int = 0  # ids queryAll no longer returns
    overflows: int = 0  # GAP_OVERFLOW events handled this run
    overflow_records: int = 0
    pending_gaps: int = 0  # still unhandled (budget stop, interrupted)
    stopped: str | None = None

    def summary(self) -> str:
        parts = [
            f"{self.sobject}: cdc {self.events:,} events landed",
            f"{self.gaps:,} gaps re-fetched ({self.refetched:,} records, {self.missing:,} missing)",
            f"{self.overflows:,} overflows ({self.overflow_records:,} records re-synced)",
        ]
        if self.pending_gaps:
            parts.append(f"{self.pending_gaps:,} gaps left for the next run")
        if self.stopped:
            parts.append(f"STOPPED: {self.stopped}")
        return "; ".join(parts)


def cdc_objects(objects: Sequence[str]) -> list[str]:
    return [o for o in objects if o in SALESFORCE_CDC_OBJECTS]


def gap_events(warehouse: Warehouse, sobject: str) -> tuple[int, list[GapEvent]]:
    """(CDC messages raw holds for the object, its GAP_* events in load order). Only rows whose
    JSON mentions `GAP_` are read back (the filter runs in the warehouse); parsing decides."""
    topic = cdc_topic(sobject)
    total = warehouse.count_positions(topic, "", 0, 2**62)
    rows = warehouse.fetch_payloads(salesforce_raw_table(sobject), topic, like="%GAP_%")
    gaps = []
    for position, text in rows:
        try:
            event = orjson.loads(text)
            header = (event.get("payload") or {}).get("ChangeEventHeader") or {}
        except (orjson.JSONDecodeError, AttributeError):
            continue
        change_type = str(header.get("changeType") or "")
        if change_type in GAP_TYPES or change_type == OVERFLOW:
            ts = header.get("commitTimestamp")
            gaps.append(
                GapEvent(
                    position,
                    change_type,
                    tuple(str(i) for i in header.get("recordIds") or []),
                    int(ts) if isinstance(ts, int | float) else None,
                )
            )
    return total, gaps


def _ms_to_datetime(ms: int) -> datetime:
    return datetime(1970, 1, 1, tzinfo=UTC) + timedelta(milliseconds=ms)


class CdcRepair:
    """Gap and overflow handling for one run, on top of a `Syncer` (its client, budget,
    sync-log entries and serialised landing)."""

    def __init__(self, syncer: Syncer) -> None:
        self.syncer = syncer
        self.budget_checked = False

    def _check_budget(self) -> None:
        if not self.budget_checked:
            self.syncer.client.read_budget()
            self.budget_checked = True

    def gaps(self, sobject: str, events: list[GapEvent], result: CdcResult) -> None:
        todo = [
            e
            for e in events
            if e.change_type in GAP_TYPES and e.position not in self.syncer.state.gaps_handled
        ]
        if not todo:
            return
        self._check_budget()
        # Versions raw already holds are skipped by `Syncer.land`; `known` only keeps one run
        # from re-fetching a record twice for two gaps.
        known: set[str] = set()
        # Consecutive gaps are grouped up to REFETCH_BATCH distinct ids (a larger gap alone);
        # each group is one land_batch: its records and its gap entries.
        group: list[GapEvent] = []
        ids: dict[str, None] = {}
        for event in todo:
            new = [i for i in event.record_ids if i not in ids]
            if group and len(ids) + len(new) > REFETCH_BATCH:
                self._refetch_group(sobject, group, list(ids), known, result)
                group, ids = [], {}
            group.append(event)
            ids.update(dict.fromkeys(event.record_ids))
        if group:
            self._refetch_group(sobject, group, list(ids), known, result)

    def _refetch_group(
        self,
        sobject: str,
        group: list[GapEvent],
        ids: list[str],
        known: set[str],
        result: CdcResult,
    ) -> None:
        s = self.syncer
        object_result = ObjectResult(sobject, "cdc")
        version, records, missing = s.refetch(sobject, ids, object_result) if ids else ("", [], [])
        messages = [
            m
            for m in rec.record_messages(sobject, "refetch", version, records, s.now())
            if m.source_position not in known
        ]
        known.update(m.source_position for m in messages)
        by_id = {r["Id"]: r for r in records}
        gone = set(missing)
        for event in group:
            messages.append(
                s.entry(
                    "gap",
                    sobject,
                    change_type=event.change_type,
                    record_ids=list(event.record_ids),
                    replay_position=event.position,
                    refetched=[i for i in event.record_ids if i in by_id],
                    missing=[i for i in event.record_ids if i in gone],
                    schema_version=version or None,
                )
            )
        s.land(messages)
        s.state.gaps_handled.update(e.position for e in group)
        result.gaps += len(group)
        result.refetched += len(records)
        result.missing += len(missing)

    def overflows(self, sobject: str, events: list[GapEvent], result: CdcResult) -> None:
        s = self.syncer
        todo = [
            e
            for e in events
            if e.change_type == OVERFLOW and e.position not in s.state.overflows_handled
        ]
        if not todo:
            return
        self._check_budget()
        lookback = timedelta(seconds=s.settings.salesforce.lookback_seconds)
        stamps = [_ms_to_datetime(e.commit_timestamp) for e in todo if e.commit_timestamp]
        window_start = min(stamps) - lookback if stamps else DEFAULT_SINCE
        # Never later than where the incremental sync would start: the re-sync lands
        # `incremental` checkpoints, which must not skip what lies between the two.
        cp = s.state.latest(sobject, ("incremental", "backfill"))
        resume = (
            rec.parse_datetime(cp["watermark"]) - lookback
            if cp and cp.get("watermark")
            else DEFAULT_SINCE
        )
        window_start = min(window_start, resume)

        def entries(watermark: str | None) -> list[SourceMessage]:
            end = watermark or (rec.iso_utc(max(stamps)) if stamps else None)
            return [
                s.entry(
                    "overflow",
                    sobject,
                    window_start=rec.iso_utc(window_start),
                    window_end=end,
                    replay_position=e.position,
                    commit_timestamp=e.commit_timestamp,
                )
                for e in todo
            ]

        synced = s.incremental(sobject, since=window_start, mode="overflow", last_page=entries)
        s.state.overflows_handled.update(e.position for e in todo)
        result.overflows += len(todo)
        result.overflow_records += synced.records


def run_cdc(
    settings: Settings,
    warehouse: Warehouse,
    client: SalesforceClient,
    objects: Sequence[str],
    bootstrap: str,
    *,
    until_idle: bool = False,
    out: Callable[[str], None] = print,
    consume_kwargs: dict | None = None,
) -> list[CdcResult]:
    """Consume the objects' CDC topics, then handle the gaps and overflows raw holds."""
    from ingest.kafka.consumer import consume

    selected = cdc_objects(objects)
    results = {o: CdcResult(o) for o in selected}
    before = {o: gap_events(warehouse, o)[0] for o in selected}
    # Its own consumer group: sharing `revops ingest kafka`'s group with a different topic set
    # would make the two consumers rebalance each other on every run.
    cdc_settings = replace(settings, consumer_group=f"{settings.consumer_group}.salesforce-cdc")
    consumed = consume(
        cdc_settings,
        [cdc_topic(o) for o in selected],
        bootstrap,
        until_idle=until_idle,
        warehouse=warehouse,
        **(consume_kwargs or {}),
    )
    out(consumed.summary())
    scanned = {}
    for o in selected:
        total, events = gap_events(warehouse, o)
        results[o].events = total - before[o]
        scanned[o] = events

    syncer = Syncer(settings, warehouse, client, out=out)
    repair = CdcRepair(syncer)
    stop: BudgetExhausted | None = None
    if consumed.stopped_by == "signal":
        out("interrupted: gaps and overflows are left for the next run")
    else:
        for o in selected:
            try:
                repair.gaps(o, scanned[o], results[o])
                repair.overflows(o, scanned[o], results[o])
            except BudgetExhausted as exc:
                stop = exc
                results[o].stopped = str(exc)
                break
    for o in selected:
        results[o].pending_gaps = sum(
            1
            for e in scanned[o]
            if e.position
            not in (
                syncer.state.overflows_handled
                if e.change_type == OVERFLOW
                else syncer.state.gaps_handled
            )
        )
    for t in client.throttles:
        syncer.land(
            [syncer.entry("throttled", None, status=t.status, error_code=t.code, retries=t.retries)]
        )
    for o in selected:
        out(results[o].summary())
    if stop is not None:
        syncer.record_budget_stop(stop, [o for o in selected if results[o].pending_gaps])
    if consumed.position_conflicts:
        from ingest.salesforce.client import SalesforceSyncError

        raise SalesforceSyncError(
            f"{consumed.position_conflicts:,} CDC message(s) sit at positions raw already holds "
            "with other content (a recreated topic or a changed cluster?); they are in "
            "raw.ingest_quarantine with reason 'position conflict: ...'"
        )
    return list(results.values())
