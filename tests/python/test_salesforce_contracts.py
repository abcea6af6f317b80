"""The Salesforce topics' schemas and the examples in docs/salesforce.md agree."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from jsonschema import Draft202012Validator

from ingest.topics import (
    SALESFORCE_CDC_OBJECTS,
    SALESFORCE_OBJECTS,
    TOPICS,
    load_schema,
    salesforce_raw_table,
)

DOC = Path(__file__).resolve().parents[2] / "docs" / "salesforce.md"
SALESFORCE_TOPICS = sorted(t for t in TOPICS if t.startswith("salesforce."))


@pytest.mark.parametrize("topic", SALESFORCE_TOPICS)
def test_schema_is_a_documented_draft_2020_12_schema(topic: str) -> None:
    schema = load_schema(topic)
    Draft202012Validator.check_schema(schema)
    # One schema per family: salesforce.cdc.<Object> -> salesforce.cdc; describe and sync as named.
    family = topic.rsplit(".", 1)[0] if topic.count(".") == 2 else topic
    assert schema["title"] == family
    assert schema["$id"] == f"urn:revops:contract:{family}"
    assert schema["additionalProperties"] is True  # new Salesforce fields are kept
    undocumented = [n for n, p in schema["properties"].items() if not p.get("description")]
    assert not undocumented, undocumented


def test_every_object_has_a_records_topic_and_cdc_only_where_captured() -> None:
    for sobject in SALESFORCE_OBJECTS:
        records = TOPICS[f"salesforce.records.{sobject}"]
        assert records.raw_table == salesforce_raw_table(sobject)
        cdc = TOPICS.get(f"salesforce.cdc.{sobject}")
        assert (cdc is not None) == (sobject in SALESFORCE_CDC_OBJECTS)
        if cdc:
            assert (cdc.raw_table, cdc.source) == (records.raw_table, records.source)
    assert "salesforce.cdc.Task" not in TOPICS and "salesforce.cdc.Event" not in TOPICS


def test_documented_examples_satisfy_their_schema() -> None:
    text = DOC.read_text()
    examples = {
        title.strip(): re.findall(r"```json\n(.*?)```", body, flags=re.S)
        for title, body in (s.split("\n", 1) for s in re.split(r"^### ", text, flags=re.M)[1:])
    }
    checked = 0
    for title, blocks in examples.items():
        topic = title.split(":")[0].strip("` ").replace("<Object>", "Opportunity")
        for block in blocks:
            errors = list(Draft202012Validator(load_schema(topic)).iter_errors(json.loads(block)))
            assert not errors, (title, [e.message for e in errors])
            checked += 1
    assert checked == 2
