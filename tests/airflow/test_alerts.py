"""The failure callback posts Slack's webhook JSON to the URL of the `revops_alerts` connection:
here a real HTTP server on loopback."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer
from types import SimpleNamespace

import pytest


@pytest.fixture
def receiver():
    received: list[dict] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers["Content-Length"]))
            received.append(
                {
                    "path": self.path,
                    "content_type": self.headers["Content-Type"],
                    "json": json.loads(body),
                }
            )
            self.send_response(200)
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *args):
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}", received
    finally:
        server.shutdown()
        server.server_close()


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
