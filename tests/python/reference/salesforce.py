"""An independent reference fold of Salesforce record versions (docs/salesforce.md, "Payloads" and
"Ordering"; docs/salesforce_models.md, "Versions and the merge").

The warehouse folds versions set-based (window functions over a content hash). This module does
the obvious thing instead: turn every raw payload into one version per record id, drop exact
duplicates, sort each record's versions, and replay them one by one over a dictionary of field
values. It is written from the two documents, not from the SQL.

Input: the payloads of one object's two topics, any order, duplicates allowed:
- `salesforce.records.<Object>`: `{"source": bulk|rest|refetch|get_deleted|reconcile,
  "extracted_at", "record": {...}}`;
- `salesforce.cdc.<Object>`: the Streaming API change event `{"payload": {"ChangeEventHeader":
  {...}, <fields>}, "event": {...}}`.

Output (`fold`): per record id, the list of versions in order (the SCD2 history) and the current
state: every field's value at the latest version that sets it, `is_deleted`, `deleted_at`,
`is_hard_deleted`, `system_modstamp`. Field values stay JSON values (the caller types them).

Choices where the documents leave room (each is listed in `SPEC_NOTES`):
- Sort key: docs/salesforce_models.md's `(system_modstamp, source rank, commit_number nulls
  first, tie)`; docs/salesforce.md lists commit_number before the source rank.
- The final tie-break is "the content hash", whose function is not specified; here it is the
  canonical JSON of the version's content. Versions that tie on everything before it and whose
  order changes the result are reported by `ambiguous_ties` (a generator must avoid them: the
  outcome is then an arbitrary but fixed function of the hash).
- deleted_at is the instant of the latest version that says "deleted" (DELETE, get_deleted,
  reconcile, a snapshot with IsDeleted=true) while the record stays deleted.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from itertools import permutations
from typing import Any

SNAPSHOT_SOURCES = ("bulk", "rest", "refetch")
# The columns every version carries itself rather than as a field.
NOT_FIELDS = ("Id", "IsDeleted", "SystemModstamp")
SOURCE_RANK = {"cdc": 0, "snapshot": 1, "get_deleted": 2, "reconcile": 3}
COMPOUND_PARTS = ("FirstName", "LastName", "MiddleName", "Salutation", "Suffix")

SPEC_NOTES = [
    "docs/salesforce.md orders by (system_modstamp, commit_number, source rank, hash); "
    "docs/salesforce_models.md and the model descriptions by (system_modstamp, source rank, "
    "commit_number nulls first, hash) / (system_modstamp, commit_number nulls first, source "
    "rank, hash). This reference uses the brief's and salesforce_models.md's order.",
    "The content hash function (the last tie-break) is unspecified: two different versions of "
    "one record at one instant, one rank and one commit number merge in an arbitrary order.",
    "A snapshot read between two commits of one record within the same millisecond sorts after "
    "both (rank 1 > 0) and so states the older values as current.",
    "deleted_at 'the instant of the latest deletion while deleted': taken as the latest version "
    "that says deleted (a reconcile after a DELETE moves it to the reconcile's extracted_at).",
]


def parse_instant(text: object) -> datetime | None:
    """An ISO-8601 text (Z, +hh:mm, +hhmm or none: UTC) as a naive UTC datetime."""
    if not isinstance(text, str):
        return None
    value = text.strip().replace("Z", "+00:00")
    if len(value) > 5 and value[-5] in "+-" and value[-3] != ":" and "T" in value:
        value = value[:-2] + ":" + value[-2:]  # +0000 -> +00:00
    try:
        ts = datetime.fromisoformat(value)
    except ValueError:
        return None
    return ts.astimezone(UTC).replace(tzinfo=None) if ts.tzinfo else ts


@dataclass(frozen=True)
class Version:
    record_id: str
    change_type: str  # SNAPSHOT, CREATE, UPDATE, DELETE, UNDELETE, HARD_DELETE
    source: str  # cdc, bulk, rest, refetch, get_deleted, reconcile
    system_modstamp: datetime
    commit_number: int | None
    rank: int
    sets: tuple[tuple[str, Any], ...]  # (field, value) the version sets, sorted by field
    record_is_deleted: bool | None  # a snapshot's IsDeleted, when it carries one

    @property
    def content(self) -> str:
        """Canonical content: what "the same version" means (source and arrival excluded)."""
        return json.dumps(
            [
                self.change_type,
                self.system_modstamp.isoformat(),
                self.commit_number,
                [[k, v] for k, v in self.sets],
                self.record_is_deleted,
            ],
            sort_keys=True,
            default=str,
        )

    def sort_key(self) -> tuple:
        commit = (0, 0) if self.commit_number is None else (1, self.commit_number)
        return (self.system_modstamp, self.rank, commit, self.content)

    def tie_key(self) -> tuple:
        return self.sort_key()[:3]

    @property
    def deleted_state(self) -> bool | None:
        if self.change_type in ("DELETE", "HARD_DELETE"):
            return True
        if self.change_type in ("CREATE", "UNDELETE"):
            return False
        if self.change_type == "SNAPSHOT":
            return self.record_is_deleted
        return None


def _flatten_name(body: dict) -> dict:
    """CDC nests a compound Name as an object of its parts: flatten them to top-level fields."""
    out = dict(body)
    name = out.get("Name")
    if isinstance(name, dict):
        del out["Name"]
        for part, value in name.items():
            out[part] = value
    return out


def _field_names(names: Iterable[str]) -> list[str]:
    return [n.split(".", 1)[1] if n.startswith("Name.") else n for n in names]


def versions_of(payload: dict) -> list[Version]:
    """One version per record id a payload names (none for GAP_* or a payload without time)."""
    if "record" in payload:
        return _record_versions(payload)
    if isinstance(payload.get("payload"), dict):
        return _cdc_versions(payload)
    return []


def _record_versions(payload: dict) -> list[Version]:
    source = payload.get("source")
    record = payload.get("record") or {}
    rid = record.get("Id")
    if rid is None:
        return []
    if source == "get_deleted":
        at = parse_instant(record.get("deletedDate"))
        change, rank, sets, is_deleted = "DELETE", SOURCE_RANK["get_deleted"], (), None
    elif source == "reconcile":
        at = parse_instant(payload.get("extracted_at"))
        change, rank, sets, is_deleted = "HARD_DELETE", SOURCE_RANK["reconcile"], (), None
    elif source in SNAPSHOT_SOURCES:
        at = parse_instant(record.get("SystemModstamp"))
        change, rank = "SNAPSHOT", SOURCE_RANK["snapshot"]
        sets = tuple(sorted((k, v) for k, v in record.items() if k not in NOT_FIELDS))
        is_deleted = record.get("IsDeleted") if isinstance(record.get("IsDeleted"), bool) else None
    else:
        return []
    if at is None:
        return []
    return [Version(rid, change, source, at, None, rank, sets, is_deleted)]


def _cdc_versions(event: dict) -> list[Version]:
    body = event["payload"]
    header = body.get("ChangeEventHeader") or {}
    change = header.get("changeType")
    if change not in ("CREATE", "UPDATE", "DELETE", "UNDELETE"):
        return []  # GAP_*: the extractor re-fetches the records
    fields = _flatten_name({k: v for k, v in body.items() if k != "ChangeEventHeader"})
    at = parse_instant(fields.get("SystemModstamp"))
    if at is None and header.get("commitTimestamp") is not None:
        at = datetime.fromtimestamp(header["commitTimestamp"] / 1000, UTC).replace(tzinfo=None)
    if at is None:
        return []
    changed = _field_names(header.get("changedFields") or [])
    nulled = set(_field_names(header.get("nulledFields") or []))
    diff = set(_field_names(header.get("diffFields") or []))
    if change in ("CREATE", "UNDELETE"):
        named = set(fields) | set(changed) | nulled
    elif change == "UPDATE":
        named = set(changed) | nulled
    else:
        named = set()
    sets = {}
    for name in named - diff:
        if name in NOT_FIELDS:
            continue
        sets[name] = None if name in nulled else fields.get(name)
    commit = header.get("commitNumber")
    return [
        Version(
            rid,
            change,
            "cdc",
            at,
            int(commit) if commit is not None else None,
            SOURCE_RANK["cdc"],
            tuple(sorted(sets.items())),
            None,
        )
        for rid in dict.fromkeys(header.get("recordIds") or [])
    ]


@dataclass
class HistoryRow:
    version: Version
    values: dict[str, Any]
    is_deleted: bool
    deleted_at: datetime | None
    is_hard_deleted: bool
    valid_from: datetime
    valid_to: datetime | None = None

    @property
    def is_current(self) -> bool:
        return self.valid_to is None


@dataclass
class RecordState:
    record_id: str
    history: list[HistoryRow] = field(default_factory=list)

    @property
    def current(self) -> HistoryRow:
        return self.history[-1]


def _replay(record_id: str, versions: list[Version]) -> RecordState:
    state = RecordState(record_id)
    values: dict[str, Any] = {}
    is_deleted, deleted_at, hard = False, None, False
    for v in versions:
        values.update(v.sets)
        said = v.deleted_state
        if said is True:
            is_deleted, deleted_at = True, v.system_modstamp
        elif said is False:
            is_deleted, deleted_at = False, None
        hard = hard or v.change_type == "HARD_DELETE"
        state.history.append(
            HistoryRow(v, dict(values), is_deleted, deleted_at, hard, v.system_modstamp)
        )
    for row, nxt in zip(state.history, state.history[1:], strict=False):
        row.valid_to = nxt.valid_from
    return state


def ordered_versions(payloads: Iterable[dict]) -> dict[str, list[Version]]:
    """Every record's distinct versions, in order."""
    by_record: dict[str, dict[str, Version]] = defaultdict(dict)
    for payload in payloads:
        for v in versions_of(payload):
            by_record[v.record_id].setdefault(v.content, v)
    return {rid: sorted(vs.values(), key=Version.sort_key) for rid, vs in by_record.items()}


def fold(payloads: Iterable[dict]) -> dict[str, RecordState]:
    """Per record id: its history and current state (tombstones included)."""
    return {rid: _replay(rid, vs) for rid, vs in ordered_versions(payloads).items()}


def ambiguous_ties(payloads: Iterable[dict], limit: int = 6) -> list[tuple[str, datetime]]:
    """Records whose current state depends on the unspecified hash order: a group of different
    versions tying on (system_modstamp, rank, commit_number) whose permutations end differently."""
    out = []
    for rid, versions in ordered_versions(payloads).items():
        i = 0
        while i < len(versions):
            j = i
            while j < len(versions) and versions[j].tie_key() == versions[i].tie_key():
                j += 1
            if j - i > limit:
                out.append((rid, versions[i].system_modstamp))
            elif j - i > 1:
                ends = set()
                for perm in permutations(versions[i:j]):
                    end = _replay(rid, [*versions[:i], *perm, *versions[j:]]).current
                    ends.add(
                        json.dumps(
                            [sorted(end.values.items()), end.is_deleted, str(end.deleted_at)],
                            default=str,
                        )
                    )
                if len(ends) > 1:
                    out.append((rid, versions[i].system_modstamp))
            i = j
    return out


def current_rows(states: dict[str, RecordState], fields: Iterable[str]) -> dict[str, dict]:
    """The current state as a mart row per record: `fields` (API names, unset -> None), then
    is_deleted, deleted_at, is_hard_deleted, system_modstamp."""
    names = list(fields)
    out = {}
    for rid, st in states.items():
        cur = st.current
        row = {name: cur.values.get(name) for name in names}
        row.update(
            is_deleted=cur.is_deleted,
            deleted_at=cur.deleted_at if cur.is_deleted else None,
            is_hard_deleted=cur.is_hard_deleted,
            system_modstamp=cur.version.system_modstamp,
        )
        out[rid] = row
    return out
