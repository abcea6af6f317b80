"""The backfill DAG's parameters: validation and chunking (pure functions, no Airflow needed).

`source` is one of
- `kafka:<topic>` — replays the topic's exported JSONL files, one per day
  (`$REVOPS_REPLAY_DIR/<topic>/<YYYY-MM-DD>.jsonl`, default `warehouse/replay`), through the same
  stage → raw path as the consumer (`revops ingest file`: a file raw already holds is a no-op);
- `salesforce:<Object>` — `revops ingest salesforce --objects <Object> --backfill --since --until`;
- `dbt:<selection>` — no landing, only the rebuild of the selection.
then one `revops build` (of the source's downstream selection, `--full-refresh` if asked).

The lists below mirror `ingest.topics` (the Airflow venv does not import `ingest`);
tests/airflow/test_backfill_params.py fails when they drift.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

EVENT_TOPICS = ("admin.membership.v1", "okta.system_log.v1", "zendesk.ticket_events.v1")
SALESFORCE_OBJECTS = (
    "Account",
    "Contact",
    "Lead",
    "Opportunity",
    "OpportunityLineItem",
    "User",
    "Task",
    "Event",
)
# The staging model of each topic: the rebuild after a landing selects `@<staging model>` (its
# descendants and their other parents, as the micro-batch does), so a backfill into a warehouse
# that holds no other source yet builds too.
TOPIC_STAGING_MODEL = {
    "admin.membership.v1": "stg_admin_service__membership_events",
    "okta.system_log.v1": "stg_okta__system_log_events",
    "zendesk.ticket_events.v1": "stg_zendesk__ticket_events",
}
CHUNK_UNITS = {"day": 1, "week": 7}
MAX_DAYS = 3660


class BackfillParamError(ValueError):
    pass


@dataclass(frozen=True)
class BackfillPlan:
    kind: str  # kafka | salesforce | dbt
    name: str  # topic, object or dbt selection
    start: date
    end: date  # exclusive
    chunk: str
    full_refresh: bool

    @property
    def build_select(self) -> str:
        if self.kind == "kafka":
            return f"@{TOPIC_STAGING_MODEL[self.name]}"
        if self.kind == "salesforce":
            # `@`: the Salesforce models, their descendants and those descendants' other parents
            # (the membership models the opportunity attribution joins), so a backfill into an
            # empty warehouse builds too; on a built one the extra parents are incremental no-ops.
            return "@source:salesforce"
        return self.name

    def chunks(self) -> list[dict[str, str]]:
        step = timedelta(days=CHUNK_UNITS[self.chunk])
        out, cursor = [], self.start
        while cursor < self.end:
            nxt = min(cursor + step, self.end)
            out.append({"start": cursor.isoformat(), "end": nxt.isoformat()})
            cursor = nxt
        return out


_FILE_DAY = re.compile(r"(\d{4}-\d{2}-\d{2})")


def replay_files(replay_dir: Path, topic: str, start: str, end: str) -> list[Path]:
    """The topic's replay files of the days in [start, end): `<replay_dir>/<topic>/*.jsonl` whose
    name holds a date (`2026-01-05.jsonl`, `part-2026-01-05-0001.jsonl`), in date then name
    order. A file whose name holds no date belongs to no chunk and is never replayed."""
    first, stop = date.fromisoformat(start), date.fromisoformat(end)
    chosen = []
    for path in (replay_dir / topic).glob("*.jsonl"):
        match = _FILE_DAY.search(path.name)
        if not match:
            continue
        try:
            day = date.fromisoformat(match.group(1))
        except ValueError:
            continue
        if first <= day < stop:
            chosen.append((day, path.name, path))
    return [path for _, _, path in sorted(chosen)]


def _date(params: dict, key: str) -> date:
    value = params.get(key)
    if not value:
        raise BackfillParamError(f"param {key!r} is required (an ISO date, e.g. 2026-01-31)")
    try:
        return date.fromisoformat(str(value))
    except ValueError:
        raise BackfillParamError(
            f"param {key!r} is not an ISO date: {value!r} (e.g. 2026-01-31)"
        ) from None


def validate(params: dict, *, today: date | None = None) -> BackfillPlan:
    """The plan `params` describe, or BackfillParamError with one line saying what is wrong."""
    source = str(params.get("source") or "").strip()
    kind, sep, name = source.partition(":")
    if not sep or not name:
        raise BackfillParamError(
            f"param 'source' must be kafka:<topic>, salesforce:<Object> or dbt:<selection>, "
            f"not {source!r}"
        )
    if kind == "kafka" and name not in EVENT_TOPICS:
        raise BackfillParamError(
            f"unknown Kafka topic {name!r}; choose from {', '.join(EVENT_TOPICS)}"
        )
    if kind == "salesforce" and name not in SALESFORCE_OBJECTS:
        raise BackfillParamError(
            f"unknown Salesforce object {name!r}; choose from {', '.join(SALESFORCE_OBJECTS)}"
        )
    if kind not in ("kafka", "salesforce", "dbt"):
        raise BackfillParamError(
            f"unknown source kind {kind!r} in {source!r}; use kafka:, salesforce: or dbt:"
        )
    start, end = _date(params, "start"), _date(params, "end")
    if start >= end:
        raise BackfillParamError(
            f"'start' ({start}) must be before 'end' ({end}); end is exclusive"
        )
    today = today or date.today()
    if end > today + timedelta(days=1):
        raise BackfillParamError(f"'end' ({end}) is in the future (today is {today})")
    if (end - start).days > MAX_DAYS:
        raise BackfillParamError(f"range of {(end - start).days} days exceeds {MAX_DAYS}")
    chunk = str(params.get("chunk") or "day")
    if chunk not in CHUNK_UNITS:
        raise BackfillParamError(f"param 'chunk' must be day or week, not {chunk!r}")
    full_refresh = params.get("full_refresh", False)
    if not isinstance(full_refresh, bool):
        raise BackfillParamError(
            f"param 'full_refresh' must be true or false, not {full_refresh!r}"
        )
    return BackfillPlan(kind, name, start, end, chunk, full_refresh)
