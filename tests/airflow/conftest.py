"""Airflow tests: run with `.venv-airflow/bin/python -m pytest tests/airflow` (Airflow 3.x) or
`.venv-airflow2/bin/python -m pytest tests/airflow` (2.11). Airflow's home and metadata database
go to a temporary directory, set before anything imports Airflow."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import textwrap
from collections.abc import Iterator
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


def dag_test(
    env: dict[str, str],
    dag_id: str,
    *,
    dags_dir: Path = DAGS_DIR,
    body: str = 'print("STATE", dag.test().state)',
    timeout: float = 1200,
) -> subprocess.CompletedProcess:
    """`dag.test()` of `dag_id` in a fresh interpreter of this venv (Airflow reads its config,
    from `env`, at import): `body` runs with `dag` loaded from `dags_dir`; stdout and stderr
    are captured."""
    code = "\n".join(
        [
            "import sys",
            f"sys.path.insert(0, {str(PROJECT_DIR)!r})",
            "from pathlib import Path",
            "from tests.airflow._dagbag import load_dagbag",
            f"dag = load_dagbag(Path({str(dags_dir)!r})).dags[{dag_id!r}]",
            textwrap.dedent(body),
        ]
    )
    return subprocess.run(
        [sys.executable, "-c", code],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


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


# The Kafka mock cluster (ingest.kafka.mock_cluster, over TCP on loopback), plus one control
# a test needs and `python -m ingest.kafka.mock_cluster` has no reason to offer:
# `fail-commits N` on stdin makes the next N OffsetCommit requests fail (librdkafka's mock error
# injection), which is a consumer dying after its raw load and before its offset commit, as far
# as the consumer can tell.
_MOCK_CLUSTER = """
import ctypes, sys
from ingest.kafka.mock_cluster import MockCluster

OFFSET_COMMIT_API = 8
INVALID_COMMIT_OFFSET_SIZE = 28  # not retried by the client: the commit call raises
cluster = MockCluster()
print("REVOPS_KAFKA_BOOTSTRAP=" + cluster.start(), flush=True)
push = cluster._lib.rd_kafka_mock_push_request_errors_array
push.argtypes = [ctypes.c_void_p, ctypes.c_int16, ctypes.c_size_t, ctypes.POINTER(ctypes.c_int)]
push.restype = None
for line in sys.stdin:
    n = int(line.split()[1])
    errors = (ctypes.c_int * n)(*[INVALID_COMMIT_OFFSET_SIZE] * n)
    push(cluster._cluster, OFFSET_COMMIT_API, n, errors)
    print("armed", flush=True)
cluster.close()
"""


class Kafka:
    def __init__(self, proc: subprocess.Popen, bootstrap: str) -> None:
        self.proc = proc
        self.bootstrap = bootstrap

    def fail_next_commits(self, n: int) -> None:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write(f"fail-commits {n}\n")
        self.proc.stdin.flush()
        assert self.proc.stdout.readline().strip() == "armed"


@pytest.fixture
def kafka() -> Iterator[Kafka]:
    proc = subprocess.Popen(
        [str(REVOPS_PYTHON), "-c", _MOCK_CLUSTER],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        cwd=PROJECT_DIR,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        if not line.startswith("REVOPS_KAFKA_BOOTSTRAP="):
            pytest.fail(f"the Kafka mock cluster did not start: {line!r}")
        yield Kafka(proc, line.split("=", 1)[1].strip())
    finally:
        assert proc.stdin is not None
        proc.stdin.close()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
