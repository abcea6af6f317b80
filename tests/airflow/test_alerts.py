"""The failure callback posts Slack's webhook JSON to the URL of the `revops_alerts` connection:
here a real HTTP server on loopback."""

from __future__ import annotations

import json
from types import SimpleNamespace

import pytest


def _context():
    ti = SimpleNamespace(
        dag_id="load_events_microbatch",
        task_id="consume_kafka",
        run_id="scheduled__2026-12-02T15:00:00+00:00",
        try_number=4,
        log_url="http://localhost:8080/log",
    )
    return {"ti": ti, "exception": RuntimeError("revops ingest kafka exited 2: broker down")}


@pytest.mark.parametrize("shape", ["extra", "host_url", "slack_password"])
def test_failure_posts_slack_json(receiver, monkeypatch, shape):
    from _alerts import on_failure_alert

    base, received = receiver
    conn = {
        "extra": {"conn_type": "http", "extra": {"webhook_url": f"{base}/hooks/T/B/X"}},
        "host_url": {"conn_type": "http", "host": f"{base}/hooks/T/B/X"},
        "slack_password": {"conn_type": "http", "host": f"{base}/hooks", "password": "T/B/X"},
    }[shape]
    monkeypatch.setenv("AIRFLOW_CONN_REVOPS_ALERTS", json.dumps(conn))
    on_failure_alert(_context())
    assert len(received) == 1
    message = received[0]
    assert message["path"] == "/hooks/T/B/X"
    assert message["content_type"] == "application/json"
    body = message["json"]
    assert "load_events_microbatch.consume_kafka failed" in body["text"]
    assert "broker down" in body["text"]
    kinds = [b["type"] for b in body["blocks"]]
    assert kinds[:3] == ["header", "section", "section"]
    fields = " ".join(f["text"] for f in body["blocks"][1]["fields"])
    assert "scheduled__2026-12-02T15:00:00+00:00" in fields and "4" in fields


def test_no_connection_logs_and_never_raises(monkeypatch, caplog):
    from _alerts import on_failure_alert

    monkeypatch.delenv("AIRFLOW_CONN_REVOPS_ALERTS", raising=False)
    monkeypatch.setenv("REVOPS_ALERTS_CONN_ID", "revops_alerts_missing")
    on_failure_alert(_context())  # no exception
    assert "no alert sent" in caplog.text


def test_unreachable_webhook_never_raises_nor_logs_the_url(monkeypatch, caplog):
    from _alerts import on_failure_alert

    secret = "http://127.0.0.1:9/hooks/SECRET-TOKEN"
    conn = json.dumps({"conn_type": "http", "host": secret})
    monkeypatch.setenv("AIRFLOW_CONN_REVOPS_ALERTS", conn)
    on_failure_alert(_context())
    assert "failed" in caplog.text
    assert "SECRET-TOKEN" not in caplog.text


def test_deadline_miss_posts_slack_json(receiver, monkeypatch):
    """The deadline callback, called the way Airflow 3's triggerer calls it (awaited, with the
    simple context the scheduler hands over), posts its alert to the same webhook."""
    import asyncio

    from _alerts import on_deadline_missed

    base, received = receiver
    monkeypatch.setenv(
        "AIRFLOW_CONN_REVOPS_ALERTS", json.dumps({"conn_type": "http", "host": base})
    )
    context = {
        "dag_run": {
            "dag_id": "load_events_microbatch",
            "dag_run_id": "scheduled__2026-12-07T09:00:00+00:00",
            "state": "running",
            "queued_at": "2026-12-07T09:05:00+00:00",
        },
        "deadline": {"id": "d1", "deadline_time": "2026-12-07T09:20:00+00:00"},
    }
    asyncio.run(on_deadline_missed(context=context, what="membership SLA at risk"))
    assert len(received) == 1
    body = received[0]["json"]
    assert "load_events_microbatch missed its deadline" in body["text"]
    assert "membership SLA at risk" in body["text"] and "2026-12-07T09:20:00" in body["text"]
    fields = " ".join(f["text"] for f in body["blocks"][1]["fields"])
    assert "scheduled__2026-12-07T09:00:00+00:00" in fields and "running" in fields


def test_scheduled_dags_carry_run_deadlines(manifest):
    """On Airflow 3 the SLA-bound DAGs declare a DeadlineAlert calling the alert callback."""
    from pathlib import Path

    from _compat import AIRFLOW_3

    from tests.airflow._dagbag import load_dagbag
    from tests.airflow.conftest import DAGS_DIR

    if not AIRFLOW_3:
        pytest.skip("run deadlines are an Airflow 3 feature (dags/README.md)")
    bag = load_dagbag(Path(DAGS_DIR))
    expected = {"load_events_microbatch": 15, "sync_salesforce": 10, "data_quality_watchdog": 50}
    for dag_id, minutes in expected.items():
        deadlines = bag.dags[dag_id].deadline
        deadlines = deadlines if isinstance(deadlines, list) else [deadlines]
        assert len(deadlines) == 1, dag_id
        (alert,) = deadlines
        assert alert.interval.total_seconds() == minutes * 60, dag_id
        assert alert.callback.path == "_alerts.on_deadline_missed", dag_id
