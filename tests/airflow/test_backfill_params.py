"""The backfill DAG's params: bad ones fail at once, with one line naming what is wrong."""

from __future__ import annotations

import json
import subprocess
from datetime import date

import pytest

from tests.airflow.conftest import REVOPS_PYTHON

TODAY = date(2026, 6, 1)
GOOD = {"source": "salesforce:Opportunity", "start": "2026-01-01", "end": "2026-01-15"}


def _validate(**params):
    from _backfill import validate

    return validate({**GOOD, **params}, today=TODAY)


def test_good_params_chunk_by_week():
    plan = _validate(chunk="week")
    assert plan.kind == "salesforce" and plan.name == "Opportunity"
    assert plan.chunks() == [
        {"start": "2026-01-01", "end": "2026-01-08"},
        {"start": "2026-01-08", "end": "2026-01-15"},
    ]
    assert len(_validate(chunk="day").chunks()) == 14
    assert (
        _validate(source="kafka:admin.membership.v1").build_select
        == "@stg_admin_service__membership_events"
    )


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"source": "admin.membership.v1"}, "param 'source' must be kafka:<topic>"),
        ({"source": "kafka:admin.membership.v9"}, "unknown Kafka topic 'admin.membership.v9'"),
        ({"source": "salesforce:Opp"}, "unknown Salesforce object 'Opp'"),
        ({"source": "s3:bucket"}, "unknown source kind 's3'"),
        ({"start": "2026-02-01"}, "'start' (2026-02-01) must be before 'end' (2026-01-15)"),
        ({"start": "yesterday"}, "param 'start' is not an ISO date: 'yesterday'"),
        ({"end": None}, "param 'end' is required"),
        ({"end": "2027-01-01"}, "'end' (2027-01-01) is in the future"),
        ({"chunk": "month"}, "param 'chunk' must be day or week"),
        ({"full_refresh": "yes"}, "param 'full_refresh' must be true or false"),
    ],
)
def test_bad_params_say_what_is_wrong(params, message):
    from _backfill import BackfillParamError

    with pytest.raises(BackfillParamError) as err:
        _validate(**params)
    assert message in str(err.value)


def test_dag_fails_fast_without_retries(manifest):
    """The DAG's first task turns a bad param into AirflowFailException (no retry), and the
    trigger form's schema already refuses a source without a kind."""
    import backfill
    from _compat import AirflowFailException

    with pytest.raises(AirflowFailException, match="backfill: bad params: param 'source'"):
        backfill._plan({**GOOD, "source": "nonsense"})
    dag = backfill.backfill()  # the decorated factory builds the DAG again
    assert dag.get_task("validate_params").retries == 0
    with pytest.raises(Exception, match="does not match"):  # ParamValidationError
        dag.params["source"] = "nonsense"
        dag.params.validate()


@pytest.mark.skipif(not REVOPS_PYTHON.exists(), reason="the project venv (.venv) is not installed")
def test_lists_match_the_project():
    """dags/_backfill.py mirrors ingest.topics: the project's venv says what it really has."""
    from _backfill import EVENT_TOPICS, SALESFORCE_OBJECTS

    out = subprocess.run(
        [
            str(REVOPS_PYTHON),
            "-c",
            "import json; from ingest.topics import EVENT_TOPICS, SALESFORCE_OBJECTS; "
            "print(json.dumps([list(EVENT_TOPICS), list(SALESFORCE_OBJECTS)]))",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    topics, objects = json.loads(out.stdout)
    assert list(EVENT_TOPICS) == topics
    assert list(SALESFORCE_OBJECTS) == objects


def test_replay_files_of_a_week_chunk_are_every_day_in_it(tmp_path):
    """A week chunk replays all seven days' files, no day of the next chunk, none twice."""
    from _backfill import replay_files, validate

    topic = "admin.membership.v1"
    folder = tmp_path / topic
    folder.mkdir()
    names = [f"2026-01-{day:02d}.jsonl" for day in range(1, 16)]
    names += ["part-2026-01-03-0002.jsonl", "notes.jsonl", "2026-01-05.json"]
    for name in names:
        (folder / name).write_text("{}\n")
    plan = validate({"source": f"kafka:{topic}", "start": "2026-01-01", "end": "2026-01-15",
                     "chunk": "week"}, today=TODAY)  # fmt: skip
    chosen = [
        [p.name for p in replay_files(tmp_path, topic, c["start"], c["end"])] for c in plan.chunks()
    ]
    assert chosen[0] == [
        "2026-01-01.jsonl", "2026-01-02.jsonl", "2026-01-03.jsonl", "part-2026-01-03-0002.jsonl",
        "2026-01-04.jsonl", "2026-01-05.jsonl", "2026-01-06.jsonl", "2026-01-07.jsonl",
    ]  # fmt: skip
    assert chosen[1] == [f"2026-01-{day:02d}.jsonl" for day in range(8, 15)]
    assert replay_files(tmp_path, "zendesk.ticket_events.v1", "2026-01-01", "2026-01-08") == []
