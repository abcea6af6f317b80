"""The emulator's HTTPS server: the REST, Bulk API 2.0 and OAuth endpoints simple-salesforce
calls, plus a small admin API under `/_emulator/` (docs/salesforce_emulator.md)."""

from __future__ import annotations

import base64
import hashlib
import json
import re
import secrets
import ssl
import tempfile
import threading
import time
from collections import Counter
from dataclasses import replace
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

import orjson

from ingest.salesforce.emulator.org import Org, OrgError, parse_ts, sf_id, ts
from ingest.settings import SalesforceSettings

PAGE_SIZE = 2000
MAX_OPEN_CURSORS = 100
_DATA = re.compile(r"^/services/data/v(?P<version>\d+\.\d+)(?P<rest>/.*)?$")


class _Job:
    def __init__(
        self, job_id: str, operation: str, query: object, cursor: str, total: int, info: dict
    ) -> None:
        self.id = job_id
        self.operation = operation
        self.query = query
        self.cursor = cursor
        self.total = total
        self.info = info
        self.polls = 0


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], emulator: Emulator) -> None:
        self.emulator = emulator
        super().__init__(address, _Handler)

    def finish_request(self, request, client_address) -> None:  # type: ignore[no-untyped-def]
        try:
            request = self.emulator._ssl.wrap_socket(request, server_side=True)
        except (ssl.SSLError, OSError):
            return
        super().finish_request(request, client_address)

    def handle_error(self, request, client_address) -> None:  # type: ignore[no-untyped-def]
        pass


class Emulator:
    """Serve `org` over HTTPS on 127.0.0.1 (`instance_url` is https://localhost:PORT).

    Use as a context manager or `start()` / `stop()`. `ca_bundle` is the PEM of the throwaway CA
    that signed the server certificate (pass it as `verify=`)."""

    def __init__(
        self, org: Org, port: int = 0, ca_dir: str | Path | None = None, page_size: int = PAGE_SIZE
    ) -> None:
        import trustme

        self.org = org
        self.page_size = page_size
        self.port = port
        self.stats: Counter[str] = Counter()
        self.tokens: set[str] = set()
        self.jobs: dict[str, _Job] = {}
        self._job_seq = 0
        self._ca = trustme.CA()
        cert = self._ca.issue_cert("localhost", "127.0.0.1")
        self._ssl = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        cert.configure_cert(self._ssl)
        self._tmp = None
        if ca_dir is None:
            self._tmp = tempfile.TemporaryDirectory(prefix="revops_sf_emulator_")
            ca_dir = self._tmp.name
        Path(ca_dir).mkdir(parents=True, exist_ok=True)
        self.ca_bundle = str(Path(ca_dir) / "salesforce-emulator-ca.pem")
        self._ca.cert_pem.write_to_path(self.ca_bundle)
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self.access_token = self.issue_token()

    # -- lifecycle -------------------------------------------------------------------------------

    def start(self) -> Emulator:
        self._server = _Server(("127.0.0.1", self.port), self)
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="sf-emulator", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> Emulator:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
        if self._tmp is not None:
            self._tmp.cleanup()

    @property
    def instance_url(self) -> str:
        return f"https://localhost:{self.port}"

    def client_settings(self, base: SalesforceSettings | None = None) -> SalesforceSettings:
        """Settings that reach this emulator (it accepts any credentials), over `base`'s
        budget, pacing and retry settings."""
        return replace(
            base or SalesforceSettings(),
            instance_url=self.instance_url,
            login_url=None,
            username="dev@revops.example",
            password="emulator",
            client_id="revops-dev",
            client_secret="emulator",
            ca_bundle=Path(self.ca_bundle),
        )

    def issue_token(self) -> str:
        token = "00D5g000000EMUL!" + secrets.token_urlsafe(24)
        self.tokens.add(token)
        return token

    # -- controls (delegated to the org) ----------------------------------------------------------

    def throttle(self, calls: int = 1, status: int = 403, delay: float = 0.0) -> None:
        self.org.throttle(calls, status, delay)

    def set_daily_limit(self, maximum: int, remaining: int | None = None) -> None:
        self.org.set_daily_limit(maximum, remaining)

    # -- request handling -----------------------------------------------------------------------

    def token_response(self) -> dict:
        token = self.issue_token()
        issued = str(int(time.time() * 1000))
        signature = base64.b64encode(hashlib.sha256((token + issued).encode()).digest()).decode()
        return {
            "access_token": token,
            "instance_url": self.instance_url,
            "id": f"{self.instance_url}/id/00D5g000000EMULEAA/0055g0000000000AAA",
            "token_type": "Bearer",
            "issued_at": issued,
            "signature": signature,
            "scope": "api full",
        }

    def dispatch(
        self, method: str, path: str, query: dict, body: bytes, batch_size: int = 0
    ) -> tuple[int, dict, bytes]:
        m = _DATA.match(path)
        if not m:
            raise OrgError(404, "NOT_FOUND", "The requested resource does not exist")
        version = m.group("version")
        parts = [unquote(p) for p in (m.group("rest") or "/").strip("/").split("/") if p]
        if not parts:
            return self._json(
                [{"label": "Emulator", "url": f"/services/data/v{version}", "version": version}]
            )
        head = parts[0]
        if head == "limits":
            self.stats["limits"] += 1
            return self._json(self.org.limits())
        if head in ("query", "queryAll"):
            return self._query(head, parts[1:], query, version, batch_size)
        if head == "sobjects" and len(parts) >= 2:
            return self._sobjects(parts[1:], query)
        if head == "jobs" and len(parts) >= 2 and parts[1] == "query":
            return self._jobs(method, parts[2:], query, body, version)
        raise OrgError(404, "NOT_FOUND", "The requested resource does not exist")

    @staticmethod
    def _json(value: object, status: int = 200) -> tuple[int, dict, bytes]:
        return status, {"Content-Type": "application/json;charset=UTF-8"}, orjson.dumps(value)

    def _query(
        self, head: str, rest: list[str], params: dict, version: str, batch_size: int = 0
    ) -> tuple[int, dict, bytes]:
        include_deleted = head == "queryAll"
        if rest:
            self.stats[f"{head}More"] += 1
            cursor, _, offset = rest[0].rpartition("-")
            job = self.jobs.get(f"q/{cursor}")
            if job is None or not offset.isdigit():
                raise OrgError(400, "INVALID_QUERY_LOCATOR", "invalid query locator")
            return self._query_page(job, int(offset), head, version)
        self.stats[head] += 1
        soql = params.get("q", [""])[0]
        parsed, _sql, _params = self.org.prepare(soql, include_deleted)
        if parsed.aggregates:
            total, records = self.org.aggregate(soql, include_deleted)
            return self._json({"totalSize": total, "done": True, "records": records})
        parsed, cursor, total = self.org.open_cursor(soql, include_deleted)
        job = _Job(cursor, head, parsed, cursor, total, {})
        job.polls = batch_size  # REST cursors keep their page size here
        self.jobs[f"q/{cursor}"] = job
        open_cursors = [key for key in self.jobs if key.startswith("q/")]
        for key in open_cursors[:-MAX_OPEN_CURSORS]:  # abandoned cursors expire, oldest first
            self.org.close_cursor(self.jobs.pop(key).cursor)
        return self._query_page(job, 0, head, version)

    def _query_page(
        self, job: _Job, offset: int, head: str, version: str
    ) -> tuple[int, dict, bytes]:
        size = job.polls or self.page_size
        records = self.org.cursor_page(job.query, job.cursor, offset, size)  # type: ignore[arg-type]
        done = offset + size >= job.total
        out: dict = {"totalSize": job.total, "done": done, "records": records}
        if done:
            self.jobs.pop(f"q/{job.cursor}", None)
            self.org.close_cursor(job.cursor)
        else:
            out["nextRecordsUrl"] = f"/services/data/v{version}/{head}/{job.cursor}-{offset + size}"
        return self._json(out)

    def _sobjects(self, parts: list[str], params: dict) -> tuple[int, dict, bytes]:
        sobject = parts[0]
        if len(parts) == 1:
            self.stats["sobject"] += 1
            info = self.org.describe(sobject)
            return self._json(
                {
                    "objectDescribe": {k: v for k, v in info.items() if k != "fields"},
                    "recentItems": [],
                }
            )
        action = parts[1]
        if action == "describe":
            self.stats["describe"] += 1
            return self._json(self.org.describe(sobject))
        if action in ("updated", "deleted"):
            self.stats[action] += 1
            try:
                start = parse_ts(params["start"][0])
                end = parse_ts(params["end"][0])
            except (KeyError, ValueError):
                raise OrgError(
                    400, "INVALID_REPLICATION_DATE", "start and end must be ISO-8601 datetimes"
                ) from None
            fn = self.org.updated_ids if action == "updated" else self.org.deleted_ids
            return self._json(fn(sobject, start, end))
        self.stats["sobject_get"] += 1
        fields = params.get("fields", [""])[0]
        return self._json(
            self.org.get_record(
                sobject, action, [f.strip() for f in fields.split(",") if f.strip()] or None
            )
        )

    def _jobs(
        self, method: str, parts: list[str], params: dict, body: bytes, version: str
    ) -> tuple[int, dict, bytes]:
        if not parts:
            if method == "GET":
                self.stats["bulk2_list"] += 1
                jobs = [j.info for j in self.jobs.values() if not j.id.startswith("q/")]
                return self._json({"done": True, "records": jobs, "nextRecordsUrl": None})
            self.stats["bulk2_create"] += 1
            try:
                spec = json.loads(body or b"{}")
                operation = spec["operation"]
                soql = spec["query"]
            except (ValueError, KeyError):
                raise OrgError(400, "INVALIDJOB", "operation and query are required") from None
            if operation not in ("query", "queryAll"):
                raise OrgError(400, "INVALIDJOB", f"unsupported operation {operation}")
            parsed, _sql, _params = self.org.prepare(soql, operation == "queryAll")
            if parsed.aggregates:
                raise OrgError(
                    400, "INVALIDJOB", "Aggregate queries are not supported by Bulk API 2.0"
                )
            parsed, cursor, total = self.org.open_cursor(soql, operation == "queryAll")
            self._job_seq += 1
            job_id = sf_id("750", self._job_seq)
            now = ts(datetime.now().astimezone())
            info = {
                "id": job_id,
                "operation": operation,
                "object": parsed.sobject,
                "createdById": "0055g0000000000AAA",
                "createdDate": now,
                "systemModstamp": now,
                "state": "UploadComplete",
                "concurrencyMode": "Parallel",
                "contentType": "CSV",
                "apiVersion": float(version),
                "lineEnding": spec.get("lineEnding", "LF"),
                "columnDelimiter": spec.get("columnDelimiter", "COMMA"),
            }
            self.jobs[job_id] = _Job(job_id, operation, parsed, cursor, total, info)
            return self._json(info)
        job = self.jobs.get(parts[0])
        if job is None:
            raise OrgError(404, "NOT_FOUND", f"no such job {parts[0]}")
        if len(parts) == 1:
            if method == "DELETE":
                self.stats["bulk2_delete"] += 1
                self.jobs.pop(job.id, None)
                self.org.close_cursor(job.cursor)
                return 204, {}, b""
            if method == "PATCH":
                self.stats["bulk2_patch"] += 1
                job.info["state"] = json.loads(body or b"{}").get("state", job.info["state"])
                return self._json(job.info)
            self.stats["bulk2_get"] += 1
            job.polls += 1
            if job.info["state"] in ("UploadComplete", "InProgress"):
                job.info["state"] = "InProgress" if job.polls == 1 else "JobComplete"
            info = dict(
                job.info,
                numberRecordsProcessed=job.total if job.info["state"] == "JobComplete" else 0,
            )
            return self._json(dict(info, retries=0, totalProcessingTime=5))
        if parts[1] != "results":
            raise OrgError(404, "NOT_FOUND", "The requested resource does not exist")
        self.stats["bulk2_results"] += 1
        if job.info["state"] != "JobComplete":
            raise OrgError(400, "INVALIDJOBSTATE", "the job is not complete yet")
        try:
            size = int(params.get("maxRecords", ["50000"])[0])
            locator = params.get("locator", [""])[0]
            offset = int(base64.b64decode(locator).decode()) if locator else 0
        except ValueError:
            raise OrgError(400, "INVALIDLOCATOR", "invalid locator") from None
        size = max(1, min(size, 1_000_000))
        records = self.org.cursor_page(job.query, job.cursor, offset, size, rest=False)  # type: ignore[arg-type]
        fields = job.query.fields  # type: ignore[attr-defined]
        lines = [",".join(f'"{f}"' for f in fields)]
        for rec in records:
            lines.append(",".join(_csv_cell(rec[f]) for f in fields))
        nxt = offset + size
        locator = base64.b64encode(str(nxt).encode()).decode() if nxt < job.total else "null"
        headers = {
            "Content-Type": "text/csv",
            "Sforce-Locator": locator,
            "Sforce-NumberOfRecords": str(len(records)),
        }
        return 200, headers, ("\n".join(lines) + "\n").encode()

    # -- admin ------------------------------------------------------------------------------------

    def admin(self, method: str, path: str, body: bytes) -> tuple[int, dict, bytes]:
        spec = json.loads(body or b"{}") if method == "POST" else {}
        action = path.removeprefix("/_emulator/").strip("/")
        org = self.org
        if action == "stats":
            return self._json(
                {"stats": dict(self.stats), "limits": org.limits(), "now": ts(org.now)}
            )
        if action == "advance":
            return self._json({"changes": org.advance(int(spec.get("changes", 1)))})
        if action == "throttle":
            org.throttle(
                int(spec.get("calls", 1)), int(spec.get("status", 403)), float(spec.get("delay", 0))
            )
            return self._json({"ok": True})
        if action == "limits":
            org.set_daily_limit(int(spec["max"]), spec.get("remaining"))
            return self._json(org.limits())
        if action == "drift":
            return self._json({"drift": org.drift()})
        if action == "gap":
            done = org.inject_gap(
                spec.get("sobject", "Opportunity"),
                spec.get("kind", "GAP_UPDATE"),
                int(spec.get("count", 1)),
            )
            return self._json({"gap": done})
        raise OrgError(404, "NOT_FOUND", f"unknown admin action {action!r}")


def _csv_cell(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        value = "true" if value else "false"
    elif isinstance(value, float) and value.is_integer():
        value = repr(value)
    return '"' + str(value).replace('"', '""') + '"'


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def log_message(self, format: str, *args: object) -> None:
        pass

    def _send(self, status: int, headers: dict, body: bytes) -> None:
        self.send_response(status)
        emu = self.server.emulator
        used = emu.org.daily_used
        self.send_header("Sforce-Limit-Info", f"api-usage={used}/{emu.org.daily_max}")
        for key, value in headers.items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if body:
            self.wfile.write(body)

    def _error(self, exc: OrgError) -> None:
        self._send(
            exc.status, {"Content-Type": "application/json;charset=UTF-8"}, orjson.dumps(exc.body())
        )

    def _handle(self, method: str) -> None:
        emu = self.server.emulator
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        split = urlsplit(self.path)
        path = split.path
        query = parse_qs(split.query, keep_blank_values=True)
        try:
            if path.startswith("/_emulator/"):
                self._send(*emu.admin(method, path, body))
                return
            if path.rstrip("/") == "/services/oauth2/token" and method == "POST":
                form = parse_qs(body.decode(errors="replace"))
                grant = form.get("grant_type", [""])[0]
                if grant not in (
                    "password",
                    "urn:ietf:params:oauth:grant-type:jwt-bearer",
                    "client_credentials",
                    "refresh_token",
                ):
                    self._send(
                        400,
                        {"Content-Type": "application/json"},
                        orjson.dumps(
                            {
                                "error": "unsupported_grant_type",
                                "error_description": "grant type not supported",
                            }
                        ),
                    )
                    return
                emu.stats["oauth"] += 1
                self._send(*emu._json(emu.token_response()))
                return
            auth = self.headers.get("Authorization", "")
            token = (
                auth.split(" ", 1)[1].strip()
                if auth.lower().startswith(("bearer ", "oauth "))
                else ""
            )
            if token not in emu.tokens:
                raise OrgError(401, "INVALID_SESSION_ID", "Session expired or invalid")
            pending = emu.org.admit_call()
            if pending is not None:
                if pending.status == 403:
                    raise OrgError(403, "REQUEST_LIMIT_EXCEEDED", "TotalRequests Limit exceeded.")
                if pending.status == 503:
                    raise OrgError(
                        503, "SERVER_UNAVAILABLE", "Server temporarily unavailable, please retry."
                    )
                time.sleep(pending.delay)
            options = re.search(r"batchSize=(\d+)", self.headers.get("Sforce-Query-Options", ""))
            batch = min(max(int(options.group(1)), 200), 2000) if options else 0
            self._send(*emu.dispatch(method, path, query, body, batch))
        except OrgError as exc:
            self._error(exc)
        except (ValueError, KeyError, TypeError) as exc:
            self._error(OrgError(400, "MALFORMED_REQUEST", str(exc)))

    def do_GET(self) -> None:
        self._handle("GET")

    def do_POST(self) -> None:
        self._handle("POST")

    def do_PATCH(self) -> None:
        self._handle("PATCH")

    def do_DELETE(self) -> None:
        self._handle("DELETE")
