"""A real local Airflow 3 (`airflow standalone`: api-server, scheduler, dag-processor, triggerer)
on SQLite with the project's DAGs: the REST API lists all six DAGs without import errors, and a
real browser (Debian's chromium, headless, through chromedriver) logs in through the login form
and sees them on the DAG list. The screenshot goes to target/airflow-ui.png (the CI artifact).

What this proves that the DagBag test cannot: the dag-processor of a running deployment (a
bundle, its own process, the real config) parses the folder, the API serves it, and the UI
renders it. Timings (startup, time until every DAG is parsed) are printed, not asserted."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.airflow.conftest import DAGS_DIR, PROJECT_DIR

EXPECTED_DAGS = {
    "load_events_microbatch",
    "sync_salesforce",
    "reprocess_late_events",
    "backfill",
    "data_quality_watchdog",
    "publish_docs",
}
AIRFLOW_BIN = PROJECT_DIR / ".venv-airflow" / "bin" / "airflow"
CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
SCREENSHOT = PROJECT_DIR / "target" / "airflow-ui.png"
STARTUP_TIMEOUT_S = 120
PARSE_TIMEOUT_S = 90
# Without the background-networking flags chromium calls out at start (component updates,
# sync, QUIC probes); on a closed network those calls make it refuse connections.
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--window-size=1400,1800",
)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class LocalAirflow:
    url: str
    password: str
    log_path: Path
    started_s: float

    def last_log_lines(self, n: int = 40) -> str:
        try:
            lines = self.log_path.read_text(errors="replace").splitlines()
        except OSError:
            return "(no log)"
        return "\n".join(lines[-n:])

    def request(self, path: str, token: str | None = None, body: dict | None = None) -> dict:
        headers = {"Content-Type": "application/json"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.url + path, data=data, headers=headers)
        with urllib.request.urlopen(req, timeout=10) as resp:
            return json.loads(resp.read())

    def token(self) -> str:
        body = {"username": "admin", "password": self.password}
        return self.request("/auth/token", body=body)["access_token"]


def _airflow_env(home: Path, port: int, password_file: Path) -> dict[str, str]:
    """The environment `make airflow` sets, with every port free and the home a temp dir.

    The conftest's unit-test mode is dropped: it would swap in Airflow's test config (another
    database, other defaults), and this is meant to be the deployment's own configuration."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW__")}
    env.update(
        AIRFLOW_HOME=str(home),
        AIRFLOW__CORE__DAGS_FOLDER=str(DAGS_DIR),
        AIRFLOW__CORE__LOAD_EXAMPLES="false",
        AIRFLOW__API__HOST="127.0.0.1",
        AIRFLOW__API__PORT=str(port),
        # The scheduler's and the triggerer's log servers default to fixed ports (8793/8794):
        # a second Airflow on the machine (make airflow) would collide with them.
        AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT=str(_free_port()),
        AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT=str(_free_port()),
        AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS="admin:admin",
        AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE=str(password_file),
        AIRFLOW__COSMOS__ENABLE_TELEMETRY="False",
        AIRFLOW__USAGE_DATA_COLLECTION__ENABLED="False",
        AIRFLOW__OPENLINEAGE__TRANSPORT=json.dumps(
            {"type": "file", "log_file_path": str(home / "openlineage.jsonl"), "append": True}
        ),
        DO_NOT_TRACK="1",
        SCARF_NO_ANALYTICS="true",
        REVOPS_WAREHOUSE=str(home / "wh" / "revops.duckdb"),
        REVOPS_STAGE=str(home / "wh" / "stage"),
        PATH=f"{AIRFLOW_BIN.parent}:{os.environ.get('PATH', '')}",
    )
    env.setdefault("REVOPS_DBT_MANIFEST", str(PROJECT_DIR / "target/cosmos/manifest.json"))
    return env


def _stop(proc: subprocess.Popen) -> None:
    """SIGTERM to the whole process group (standalone and every component it forked), then
    SIGKILL to what is left after 30 s, so no scheduler outlives the test."""
    if proc.poll() is None:
        try:
            os.killpg(proc.pid, signal.SIGTERM)
        except ProcessLookupError:
            return
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=30)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=10)


@pytest.fixture(scope="module")
def local_airflow(tmp_path_factory, manifest) -> Iterator[LocalAirflow]:
    home = tmp_path_factory.mktemp("airflow-home")
    port = _free_port()
    password = "revops-" + os.urandom(6).hex()
    password_file = home / "passwords.json"
    password_file.write_text(json.dumps({"admin": password}))
    log_path = home / "standalone.log"
    t0 = time.monotonic()
    with log_path.open("w") as log:
        proc = subprocess.Popen(
            [str(AIRFLOW_BIN), "standalone"],
            cwd=PROJECT_DIR,
            env=_airflow_env(home, port, password_file),
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    airflow = LocalAirflow(f"http://127.0.0.1:{port}", password, log_path, 0.0)
    try:
        deadline = t0 + STARTUP_TIMEOUT_S
        health: dict = {}
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                pytest.fail(
                    f"airflow standalone exited {proc.returncode}:\n{airflow.last_log_lines()}"
                )
            try:
                health = airflow.request("/api/v2/monitor/health")
                statuses = {name: part.get("status") for name, part in health.items()}
                if statuses and all(s == "healthy" for s in statuses.values()):
                    break
            except (urllib.error.URLError, ConnectionError, TimeoutError, ValueError):
                pass
            time.sleep(1)
        else:
            pytest.fail(
                f"Airflow not healthy after {STARTUP_TIMEOUT_S} s (last health: {health}); "
                f"last log lines:\n{airflow.last_log_lines()}"
            )
        airflow.started_s = time.monotonic() - t0
        print(f"\nairflow standalone healthy after {airflow.started_s:.1f} s")
        yield airflow
    finally:
        _stop(proc)


@pytest.fixture(scope="module")
def parsed_dags(local_airflow) -> dict:
    """The API's DAG list once the dag-processor has parsed all six files (bounded wait)."""
    token = local_airflow.token()
    t0 = time.monotonic()
    listed: set[str] = set()
    while time.monotonic() < t0 + PARSE_TIMEOUT_S:
        dags = local_airflow.request("/api/v2/dags?limit=100", token)
        listed = {d["dag_id"] for d in dags["dags"]}
        if listed >= EXPECTED_DAGS:
            waited = time.monotonic() - t0
            print(f"all {len(EXPECTED_DAGS)} DAGs parsed {waited:.1f} s after healthy")
            return dags
        time.sleep(1)
    errors = local_airflow.request("/api/v2/importErrors", token)
    pytest.fail(
        f"after {PARSE_TIMEOUT_S} s the API lists {sorted(listed)}, missing "
        f"{sorted(EXPECTED_DAGS - listed)}; import errors: {errors}; "
        f"last log lines:\n{local_airflow.last_log_lines()}"
    )


def test_api_lists_every_dag_file(local_airflow, parsed_dags):
    listed = {d["dag_id"]: d for d in parsed_dags["dags"]}
    assert set(listed) == EXPECTED_DAGS
    # one DAG per file, each from its own file in dags/
    for dag_id, dag in listed.items():
        assert Path(dag["fileloc"]).name == f"{dag_id}.py", dag["fileloc"]
        assert dag["is_stale"] is False, dag_id
    assert {t["name"] for t in listed["load_events_microbatch"]["tags"]} >= {"kafka", "dbt"}


def test_api_reports_no_import_errors(local_airflow, parsed_dags):
    errors = local_airflow.request("/api/v2/importErrors", local_airflow.token())
    assert errors["total_entries"] == 0, errors["import_errors"]


def _browser():
    missing = [str(p) for p in (CHROMIUM, CHROMEDRIVER) if not p.exists()]
    if missing:
        pytest.fail(
            f"{', '.join(missing)} missing: the UI check needs Debian's chromium and its driver "
            "(apt-get install -y chromium chromium-driver; make test-airflow does it)"
        )
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in CHROMIUM_FLAGS:
        options.add_argument(flag)
    profile = tempfile.mkdtemp(prefix="revops-chromium-")
    options.add_argument(f"--user-data-dir={profile}")
    driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
    return driver, profile


def test_ui_login_and_dag_list_in_a_real_browser(local_airflow, parsed_dags):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    t0 = time.monotonic()
    driver, profile = _browser()
    try:
        wait = WebDriverWait(driver, 30)
        driver.get(local_airflow.url + "/")
        # Not logged in: the UI sends the browser to the simple auth manager's login form.
        wait.until(ec.presence_of_element_located((By.NAME, "username")))
        assert "/auth/login" in driver.current_url
        driver.find_element(By.NAME, "username").send_keys("admin")
        driver.find_element(By.NAME, "password").send_keys(local_airflow.password)
        driver.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
        wait.until(lambda d: "/auth/login" not in d.current_url)
        driver.get(local_airflow.url + "/dags")

        def every_dag_shown(d) -> bool:
            text = d.find_element(By.TAG_NAME, "body").text
            return all(dag_id in text for dag_id in EXPECTED_DAGS)

        try:
            wait.until(every_dag_shown)
        finally:
            SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
            driver.save_screenshot(str(SCREENSHOT))
        body = driver.find_element(By.TAG_NAME, "body").text
        assert f"{len(EXPECTED_DAGS)} Dags" in body, body[:500]
        print(f"UI login and DAG list in {time.monotonic() - t0:.1f} s; screenshot {SCREENSHOT}")
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)
