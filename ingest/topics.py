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


# Salesforce: the objects synchronised, and the ones Change Data Capture covers in our org (Task
# and Event come from Bulk/REST only). Each object has one raw table, `raw.salesforce_<snake>`,
# fed by two topics: `salesforce.cdc.<Object>` (the Streaming API's change events, via Kafka or a
# replayed file) and `salesforce.records.<Object>` (records the extractor read through Bulk API
# 2.0 or REST, and delete tombstones). See docs/salesforce.md.
SALESFORCE_OBJECTS: dict[str, str] = {
    "Account": "account",
    "Contact": "contact",
    "Lead": "lead",
    "Opportunity": "opportunity",
    "OpportunityLineItem": "opportunity_line_item",
    "User": "user",
    "Task": "task",
    "Event": "event",
}
SALESFORCE_CDC_OBJECTS: tuple[str, ...] = (
    "Account",
    "Contact",
    "Lead",
    "Opportunity",
    "OpportunityLineItem",
    "User",
)


def salesforce_raw_table(sobject: str) -> str:
    return f"salesforce_{SALESFORCE_OBJECTS[sobject]}"


def _salesforce_topics() -> tuple[Topic, ...]:
    topics: list[Topic] = []
    for sobject, snake in SALESFORCE_OBJECTS.items():
        if sobject in SALESFORCE_CDC_OBJECTS:
            topics.append(
                Topic(
                    name=f"salesforce.cdc.{sobject}",
                    source=f"salesforce_{snake}",
                    raw_table=f"salesforce_{snake}",
                    event_id_field="event.replayId",
                    schema_file="salesforce.cdc.schema.json",
                )
            )
        topics.append(
            Topic(
                name=f"salesforce.records.{sobject}",
                source=f"salesforce_{snake}",
                raw_table=f"salesforce_{snake}",
                event_id_field="record.Id",
                schema_file="salesforce.records.schema.json",
            )
        )
    topics.append(
        Topic(
            name="salesforce.describe",
            source="salesforce_describe",
            raw_table="salesforce_describe",
            event_id_field="schema_version",
            schema_file="salesforce.describe.schema.json",
        )
    )
    topics.append(
        Topic(
            name="salesforce.sync",
            source="salesforce_sync",
            raw_table="salesforce_sync_log",
            event_id_field="entry_id",
            schema_file="salesforce.sync.schema.json",
        )
    )
    return tuple(topics)


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
        *_salesforce_topics(),
    )
}
# The event streams with a versioned contract of their own (docs/contracts.md); the Salesforce
# topics carry Salesforce's shapes, documented in docs/salesforce.md.
EVENT_TOPICS: tuple[str, ...] = tuple(t for t in TOPICS if not t.startswith("salesforce."))

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
