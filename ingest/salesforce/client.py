"""A thin Salesforce client: OAuth token, simple-salesforce, retries and the API budget.

The token comes from `<login url>/services/oauth2/token` (password grant, or JWT bearer with a
key file) over a `requests.Session` that verifies TLS with the configured CA bundle (or the
system's). Every API call goes through `call`, which counts it and retries 503
SERVER_UNAVAILABLE and 403 REQUEST_LIMIT_EXCEEDED with exponential backoff and jitter.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

import requests
from simple_salesforce import Salesforce
from simple_salesforce.exceptions import SalesforceError

from ingest.settings import SalesforceSettings

log = logging.getLogger("revops.salesforce")
T = TypeVar("T")
_RETRYABLE = {(503, "SERVER_UNAVAILABLE"), (403, "REQUEST_LIMIT_EXCEEDED")}


class SalesforceSyncError(RuntimeError):
    """A Salesforce failure an operator can act on: one line, no secrets."""


class BudgetExhausted(SalesforceSyncError):
    def __init__(self, used: int, maximum: int, share: float) -> None:
        super().__init__(
            f"API budget reached: {used:,} of {maximum:,} daily requests used (stop at {share:.0%})"
        )
        self.used, self.maximum, self.share = used, maximum, share


def error_code(exc: SalesforceError) -> str:
    content = exc.content
    try:
        body = content if isinstance(content, list | dict) else None
        if body is None and content:
            import orjson

            body = orjson.loads(content)
        if isinstance(body, list) and body:
            return str(body[0].get("errorCode", ""))
        if isinstance(body, dict):
            return str(body.get("errorCode", ""))
    except Exception:
        return ""
    return ""


@dataclass
class ThrottleEvent:
    status: int
    code: str
    retries: int


@dataclass
class SalesforceClient:
    settings: SalesforceSettings
    sf: Any = None
    calls: int = 0
    budget_used: int = 0
    budget_max: int = 0
    throttles: list[ThrottleEvent] = field(default_factory=list)
    sleep: Callable[[float], None] = time.sleep
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @classmethod
    def connect(cls, settings: SalesforceSettings) -> SalesforceClient:
        settings.check()
        session = _VerifyingSession(settings.ca_bundle)
        token = _token(settings, session)
        sf = Salesforce(
            instance_url=token.get("instance_url") or settings.instance_url,
            session_id=token["access_token"],
            session=session,
            version=settings.api_version,
        )
        return cls(settings, sf)

    # -- calls --------------------------------------------------------------------------------

    def call(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """`fn(*args, **kwargs)`, counted, retried on throttling (then re-raised)."""
        attempt = 0
        while True:
            with self._lock:
                self.calls += 1
                if self.budget_max and self.budget_used + self.calls > self.budget_limit:
                    raise BudgetExhausted(
                        self.budget_used + self.calls,
                        self.budget_max,
                        self.settings.api_budget_share,
                    )
            try:
                return fn(*args, **kwargs)
            except SalesforceError as exc:
                code = error_code(exc)
                if (exc.status, code) not in _RETRYABLE or attempt >= self.settings.max_retries:
                    raise SalesforceSyncError(
                        f"Salesforce {exc.status} {code or 'error'} at "
                        f"{_path(exc.url)} after {attempt} retries"
                    ) from None
                attempt += 1
                with self._lock:
                    self.throttles.append(ThrottleEvent(exc.status, code, attempt))
                delay = min(30.0, 0.05 * 2**attempt) * (0.5 + random.random())
                log.warning("salesforce %s %s: retry %d in %.2fs", exc.status, code, attempt, delay)
                self.sleep(delay)
            except requests.RequestException as exc:
                raise SalesforceSyncError(
                    f"cannot reach Salesforce: {type(exc).__name__}"
                ) from None

    @property
    def budget_limit(self) -> int:
        return int(self.budget_max * self.settings.api_budget_share)

    def read_budget(self) -> tuple[int, int]:
        """DailyApiRequests (used, max) from `limits()`; resets the per-run call count."""
        limits = self.call(self.sf.limits)
        daily = limits.get("DailyApiRequests", {})
        maximum = int(daily.get("Max", 0))
        used = maximum - int(daily.get("Remaining", maximum))
        with self._lock:
            self.budget_used, self.budget_max, self.calls = used, maximum, 0
        if maximum and used >= self.budget_limit:
            raise BudgetExhausted(used, maximum, self.settings.api_budget_share)
        return used, maximum

    def sobject(self, name: str) -> Any:
        return getattr(self.sf, name)

    def describe(self, name: str) -> dict:
        return self.call(self.sobject(name).describe)

    def query_all_page(self, soql: str | None = None, next_url: str | None = None) -> dict:
        if next_url:
            return self.call(
                self.sf.query_more, next_url, identifier_is_url=True, include_deleted=True
            )
        return self.call(self.sf.query, soql, include_deleted=True)

    def query_all(self, soql: str) -> list[dict]:
        out: list[dict] = []
        page = self.query_all_page(soql)
        out.extend(page.get("records", []))
        while not page.get("done", True) and page.get("nextRecordsUrl"):
            page = self.query_all_page(next_url=page["nextRecordsUrl"])
            out.extend(page.get("records", []))
        return out

    def query(self, soql: str) -> dict:
        return self.call(self.sf.query, soql)

    def bulk_query_all(
        self, name: str, soql: str, max_records: int = 50_000, timeout_s: float = 3600.0
    ) -> tuple[str, list[str]]:
        """Bulk API 2.0 queryAll: (job id, the CSV result pages). Every request (create, poll,
        each result page) is retried on its own, so a 503 mid-download loses nothing."""
        from simple_salesforce.bulk2 import ColumnDelimiter, JobState, LineEnding, Operation

        client = getattr(self.sf.bulk2, name)._client
        job = self.call(
            client.create_job, Operation.query_all, soql, ColumnDelimiter.COMMA, LineEnding.LF
        )
        job_id = job["id"]
        delay, deadline = 0.02, time.monotonic() + timeout_s
        while True:
            info = self.call(client.get_job, job_id, True)
            state = info.get("state")
            if state == JobState.job_complete:
                break
            if state in (JobState.aborted, JobState.failed):
                raise SalesforceSyncError(
                    f"Bulk job {job_id} {state}: {info.get('errorMessage') or ''}".strip()
                )
            if time.monotonic() > deadline:
                raise SalesforceSyncError(f"Bulk job {job_id} still {state} after {timeout_s}s")
            self.sleep(delay)
            delay = min(delay * 2, 5.0)
        pages: list[str] = []
        locator = ""
        while True:
            result = self.call(client.get_query_results, job_id, locator, max_records)
            pages.append(result["records"])
            locator = result["locator"]
            if not locator:
                return job_id, pages

    def deleted(self, name: str, start: Any, end: Any) -> dict:
        return self.call(self.sobject(name).deleted, start, end)


class _VerifyingSession(requests.Session):
    """A session that verifies TLS with the configured bundle on every request: requests lets
    REQUESTS_CA_BUNDLE / CURL_CA_BUNDLE override a session's `verify`, so it is pinned here."""

    def __init__(self, ca_bundle: object | None) -> None:
        super().__init__()
        self.verify = str(ca_bundle) if ca_bundle else True
        self._pinned = bool(ca_bundle)

    def merge_environment_settings(self, url, proxies, stream, verify, cert):  # type: ignore[no-untyped-def]
        merged = super().merge_environment_settings(url, proxies, stream, verify, cert)
        if self._pinned:
            merged["verify"] = self.verify
        return merged


def _path(url: str | None) -> str:
    if not url:
        return "?"
    return url.split("?", 1)[0].split("/services/", 1)[-1]


def _token(settings: SalesforceSettings, session: requests.Session) -> dict:
    if settings.jwt_key_file is not None:
        import jwt

        claims = {
            "iss": settings.client_id,
            "sub": settings.username,
            "aud": settings.login_url or settings.instance_url,
            "exp": int(time.time()) + 180,
        }
        assertion = jwt.encode(claims, settings.jwt_key_file.read_text(), algorithm="RS256")
        data = {"grant_type": "urn:ietf:params:oauth:grant-type:jwt-bearer", "assertion": assertion}
    else:
        data = {
            "grant_type": "password",
            "client_id": settings.client_id or "",
            "client_secret": settings.client_secret or "",
            "username": settings.username or "",
            "password": (settings.password or "") + (settings.security_token or ""),
        }
    try:
        response = session.post(settings.token_url, data=data, timeout=60)
    except requests.exceptions.SSLError:
        raise SalesforceSyncError(
            f"TLS verification failed for {settings.token_url} "
            "(set REVOPS_SALESFORCE_CA_BUNDLE to the CA that signed it)"
        ) from None
    except requests.RequestException as exc:
        raise SalesforceSyncError(
            f"cannot reach {settings.token_url}: {type(exc).__name__}"
        ) from None
    if response.status_code != 200:
        try:
            reason = response.json().get("error", "")
        except ValueError:
            reason = ""
        raise SalesforceSyncError(
            f"Salesforce login failed at {settings.token_url}: HTTP {response.status_code} {reason}"
        )
    return response.json()
