"""The registry of event contracts: which topic lands in which stage folder and raw table.

Adding a source means adding one `Topic` here, a JSON Schema in `ingest/contracts/` and a
staging model; the stage writer, the raw loader and the consumer are shared.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from importlib import resources


@dataclass(frozen=True)
class Topic:
    name: str
    source: str  # stage folder and dbt source name
    raw_table: str  # table in schema `raw`
    event_id_field: str  # payload field that identifies an event (used by tests and docs)
    schema_file: str  # JSON Schema in ingest/contracts/


TOPICS: dict[str, Topic] = {
    t.name: t
    for t in (
        Topic(
            name="admin.membership.v1",
            source="admin_service",
            raw_table="admin_membership_events",
            event_id_field="event_id",
            schema_file="admin.membership.v1.schema.json",
        ),
        Topic(
            name="okta.system_log.v1",
            source="okta",
            raw_table="okta_system_log",
            event_id_field="uuid",
            schema_file="okta.system_log.v1.schema.json",
        ),
        Topic(
            name="zendesk.ticket_events.v1",
            source="zendesk",
            raw_table="zendesk_ticket_events",
            event_id_field="id",
            schema_file="zendesk.ticket_events.v1.schema.json",
        ),
    )
}

QUARANTINE_SOURCE = "quarantine"
QUARANTINE_TABLE = "ingest_quarantine"


class UnknownTopicError(ValueError):
    pass


def get_topic(name: str) -> Topic:
    try:
        return TOPICS[name]
    except KeyError:
        known = ", ".join(sorted(TOPICS))
        raise UnknownTopicError(f"unknown topic {name!r}; known topics: {known}") from None


@cache
def load_schema(topic: str) -> dict:
    """The JSON Schema of a topic's payload (documentation and contract tests)."""
    text = resources.files("ingest.contracts").joinpath(get_topic(topic).schema_file).read_text()
    return json.loads(text)
