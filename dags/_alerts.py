"""Failure alerts: a Slack-compatible JSON message posted to a webhook from an Airflow connection.

The webhook lives in the Airflow connection `revops_alerts` (another id via the environment
variable `REVOPS_ALERTS_CONN_ID`), never in a DAG file. Any of these shapes works:

- `AIRFLOW_CONN_REVOPS_ALERTS='{"conn_type": "http", "extra": {"webhook_url": "https://..."}}'`
- host holding the whole URL: `{"conn_type": "http", "host": "https://hooks.slack.com/services/T/B/X"}`
- the Slack provider's convention: host `https://hooks.slack.com/services`, password `T/B/X`
- a plain URI: `AIRFLOW_CONN_REVOPS_ALERTS=http://127.0.0.1:8080/hook` (scheme from conn_type)

The body is Slack's incoming-webhook format (`text` plus `blocks`), which Mattermost, Rocket.Chat,
Teams workflows and most alert relays accept too. The URL is a credential: it is never logged.
An alert that cannot be sent is logged and swallowed, so it never masks the task's own error.
Only the standard library is used (no provider to install, nothing heavy at parse time).
"""

from __future__ import annotations

import json
import logging
import os
import urllib.request
from collections.abc import Mapping
from typing import Any

log = logging.getLogger(__name__)

DEFAULT_CONN_ID = "revops_alerts"
TIMEOUT_S = 10.0


def alerts_conn_id() -> str:
    return os.environ.get("REVOPS_ALERTS_CONN_ID") or DEFAULT_CONN_ID


def webhook_url(conn: Any) -> str:
    """The webhook URL an Airflow connection describes (see the module docstring)."""
    extra = conn.extra_dejson if hasattr(conn, "extra_dejson") else {}
    if extra.get("webhook_url"):
        return str(extra["webhook_url"])
    host = (conn.host or "").strip()
    if host.startswith(("http://", "https://")):
        url = host
    else:
        if not host:
            raise ValueError("the alerts connection has neither extra.webhook_url nor a host")
        scheme = extra.get("scheme") or (
            conn.conn_type if conn.conn_type in ("http", "https") else "https"
        )
        port = f":{conn.port}" if conn.port else ""
        path = f"/{conn.schema.lstrip('/')}" if conn.schema else ""
        url = f"{scheme}://{host}{port}{path}"
    if conn.password and conn.password not in url:
        url = f"{url.rstrip('/')}/{conn.password.lstrip('/')}"
    return url


def _text(value: object, limit: int = 1500) -> str:
    text = str(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def build_payload(context: Mapping[str, Any]) -> dict[str, Any]:
    """Slack's incoming-webhook JSON for a failed task (or DAG run) context."""
    ti = context.get("ti") or context.get("task_instance")
    dag_run = context.get("dag_run")
    dag_id = getattr(ti, "dag_id", None) or getattr(dag_run, "dag_id", None) or "?"
    task_id = getattr(ti, "task_id", None)
    run_id = getattr(ti, "run_id", None) or getattr(dag_run, "run_id", None) or "?"
    try_number = getattr(ti, "try_number", None)
    error = context.get("exception") or context.get("reason") or "failed"
    log_url = getattr(ti, "log_url", None)
    where = f"{dag_id}.{task_id}" if task_id else dag_id
    headline = f":red_circle: revops: {where} failed"
    fields = [
        {"type": "mrkdwn", "text": f"*DAG*\n{dag_id}"},
        {"type": "mrkdwn", "text": f"*Task*\n{task_id or '(DAG run)'}"},
        {"type": "mrkdwn", "text": f"*Run*\n{run_id}"},
        {"type": "mrkdwn", "text": f"*Try*\n{try_number if try_number is not None else '-'}"},
    ]
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": _text(headline, 150)}},
        {"type": "section", "fields": fields},
        {"type": "section", "text": {"type": "mrkdwn", "text": f"```{_text(error)}```"}},
    ]
    if log_url:
        blocks.append(
            {"type": "context", "elements": [{"type": "mrkdwn", "text": f"<{log_url}|task log>"}]}
        )
    return {"text": f"{headline}: {_text(error, 300)}", "blocks": blocks}


def post(url: str, payload: Mapping[str, Any], timeout_s: float = TIMEOUT_S) -> int:
    request = urllib.request.Request(
        url,
        data=json.dumps(payload).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=timeout_s) as response:
        return response.status


def send(payload: Mapping[str, Any]) -> bool:
    """Post `payload` to the webhook of the alerts connection; log, never raise."""
    from _compat import BaseHook

    conn_id = alerts_conn_id()
    try:
        url = webhook_url(BaseHook.get_connection(conn_id))
    except Exception as exc:  # not configured: say so in the log, do not fail the callback
        log.warning("no alert sent: connection %r unusable (%s)", conn_id, type(exc).__name__)
        return False
    try:
        status = post(url, payload)
        log.info("alert posted through connection %r (HTTP %s)", conn_id, status)
        return True
    except Exception as exc:
        # The URL is a credential: name the connection, not the URL.
        log.warning("alert through connection %r failed: %s", conn_id, type(exc).__name__)
        return False


def on_failure_alert(context: Mapping[str, Any]) -> None:
    """`on_failure_callback` of every task: post the alert; never raise."""
    send(build_payload(context))


def deadline_payload(context: Mapping[str, Any] | None, what: str) -> dict[str, Any]:
    """Slack's webhook JSON for a DAG run past its deadline. `context` is what Airflow 3 hands a
    deadline callback: `dag_run` (the run as the REST API shows it) and `deadline`."""
    dag_run = (context or {}).get("dag_run") or {}
    deadline = (context or {}).get("deadline") or {}
    dag_id = dag_run.get("dag_id") or "?"
    run_id = dag_run.get("dag_run_id") or dag_run.get("run_id") or "?"
    headline = f":warning: revops: {dag_id} missed its deadline"
    detail = f"{what} (deadline {deadline.get('deadline_time', '?')}, run {run_id})"
    fields = [
        {"type": "mrkdwn", "text": f"*DAG*\n{dag_id}"},
        {"type": "mrkdwn", "text": f"*Run*\n{run_id}"},
        {"type": "mrkdwn", "text": f"*State*\n{dag_run.get('state', '?')}"},
        {"type": "mrkdwn", "text": f"*Queued at*\n{dag_run.get('queued_at', '?')}"},
    ]
    return {
        "text": f"{headline}: {_text(detail, 300)}",
        "blocks": [
            {"type": "header", "text": {"type": "plain_text", "text": _text(headline, 150)}},
            {"type": "section", "fields": fields},
            {"type": "section", "text": {"type": "mrkdwn", "text": _text(detail)}},
        ],
    }


async def on_deadline_missed(context: Mapping[str, Any] | None = None, what: str = "") -> None:
    """The deadline callback (Airflow 3 `DeadlineAlert`, run by the triggerer): post the alert
    from a worker thread, so the triggerer's event loop never waits on the webhook."""
    import asyncio

    await asyncio.to_thread(send, deadline_payload(context, what))
