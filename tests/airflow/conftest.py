"""Airflow tests: run with `.venv-airflow/bin/python -m pytest tests/airflow` (Airflow 3.x) or
`.venv-airflow2/bin/python -m pytest tests/airflow` (2.11). Airflow's home and metadata database
go to a temporary directory, set before anything imports Airflow."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

PROJECT_DIR = Path(__file__).resolve().parents[2]
DAGS_DIR = PROJECT_DIR / "dags"
REVOPS_PYTHON = PROJECT_DIR / ".venv" / "bin" / "python"
MANIFEST = PROJECT_DIR / "target" / "cosmos" / "manifest.json"

_home = tempfile.mkdtemp(prefix="revops-airflow-test-")
os.environ["AIRFLOW_HOME"] = _home
os.environ["AIRFLOW__CORE__DAGS_FOLDER"] = str(DAGS_DIR)
os.environ["AIRFLOW__CORE__LOAD_EXAMPLES"] = "false"
os.environ["AIRFLOW__CORE__UNIT_TEST_MODE"] = "true"
# No usage telemetry to public endpoints (Cosmos, Airflow): the tests talk to loopback only.
os.environ["AIRFLOW__COSMOS__ENABLE_TELEMETRY"] = "False"
os.environ["AIRFLOW__USAGE_DATA_COLLECTION__ENABLED"] = "False"
os.environ["DO_NOT_TRACK"] = "1"
os.environ["SCARF_NO_ANALYTICS"] = "true"
os.environ.setdefault("REVOPS_DBT_MANIFEST", str(MANIFEST))
if str(DAGS_DIR) not in sys.path:
    sys.path.insert(0, str(DAGS_DIR))


def ensure_manifest() -> Path:
    """target/cosmos/manifest.json, from `dbt parse` in the project's venv when missing."""
    manifest = Path(os.environ["REVOPS_DBT_MANIFEST"])
    if not manifest.exists():
        dbt = PROJECT_DIR / ".venv" / "bin" / "dbt"
        if not dbt.exists():
            pytest.fail(f"{manifest} is missing and {dbt} is not installed (make install)")
        subprocess.run(
            [
                str(dbt),
                "parse",
                "--quiet",
                *("--project-dir", str(PROJECT_DIR)),
                *("--profiles-dir", str(PROJECT_DIR / "profiles")),
                *("--target-path", str(manifest.parent)),
                *("--log-path", str(manifest.parent / "logs")),
            ],
            check=True,
            cwd=PROJECT_DIR,
        )
    return manifest


@pytest.fixture(scope="session")
def manifest() -> Path:
    return ensure_manifest()


@pytest.fixture
def receiver():
    """A webhook on loopback: its base URL, and every request posted to it (path, content type,
    JSON body)."""
    import json
    import threading
    from http.server import BaseHTTPRequestHandler, HTTPServer

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
