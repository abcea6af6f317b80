"""What an operator meets: one line and a meaningful exit code for every failure, one writer per
warehouse (said, or waited for), dbt stopped with revops, audit rebuilds at any instant."""

from __future__ import annotations

import io
import json
import logging
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb
import pytest

from ingest.cli import main
from ingest.dbt_runner import build, run_dbt
from ingest.file_source import ingest_files
from ingest.locking import warehouse_lock
from ingest.logs import configure_logging
from ingest.settings import Settings
from ingest.warehouse import DuckDBWarehouse, WarehouseLockedError

TOPIC = "admin.membership.v1"
EVENTS = [
    {
        "event_id": "c1",
        "event_type": "TEAM_CREATED",
        "team_id": "t1",
        "team_name": "One",
        "effective_at": "2026-01-01T00:00:00Z",
        "emitted_at": "2026-01-01T00:00:00Z",
    },
    {
        "event_id": "a1",
        "event_type": "MEMBERSHIP_ADDED",
        "repl_id": "r1",
        "team_id": "t1",
        "role": "primary",
        "effective_at": "2026-01-02T00:00:00Z",
        "emitted_at": "2026-01-02T00:00:00Z",
    },
]


def events_file(tmp_path: Path) -> Path:
    path = tmp_path / "events.jsonl"
    path.write_text("".join(json.dumps(e) + "\n" for e in EVENTS))
    return path


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    warehouse = tmp_path / "w.duckdb"
    monkeypatch.setenv("REVOPS_WAREHOUSE", str(warehouse))
    monkeypatch.setenv("REVOPS_STAGE", str(tmp_path / "stage"))
    return warehouse


def one_error_line(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1, lines
    assert "Traceback" not in err
    return lines[0]


@contextmanager
def duckdb_file_held(path: Path) -> Iterator[int]:
    """Another (non-revops) process with the DuckDB file open while the block runs; its pid."""
    DuckDBWarehouse(path).close()
    script = textwrap.dedent(
        f"""
        import duckdb, sys
        con = duckdb.connect({str(path)!r})
        print("ready", flush=True)
        sys.stdin.read()
        """
    )
    other = subprocess.Popen(
        [sys.executable, "-c", script], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    try:
        assert other.stdout is not None and other.stdout.readline().strip() == "ready"
        yield other.pid
    finally:
        other.communicate("", timeout=10)


class TestOneWriterPerWarehouse:
    def test_a_second_writer_says_who_holds_the_warehouse(
        self, env: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        with warehouse_lock(env):
            code = main(["ingest", "file", str(events_file(tmp_path)), "--topic", TOPIC])
        line = one_error_line(capsys.readouterr().err)
        assert code == 2
        assert f"another revops process (pid {os.getpid()}) holds warehouse {env}" in line
        assert "--wait" in line

    def test_wait_gives_up_after_the_bound(
        self, env: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        started = time.monotonic()
        with warehouse_lock(env):
            code = main(["build", "--wait", "0.6"])
        assert code == 2 and time.monotonic() - started >= 0.6
        assert "after waiting 0.6 s" in one_error_line(capsys.readouterr().err)

    def test_wait_proceeds_once_the_holder_is_done(
        self, env: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        path = events_file(tmp_path)
        held, release = threading.Event(), threading.Event()

        def holder() -> None:
            with warehouse_lock(env):
                held.set()
                release.wait(10)

        thread = threading.Thread(target=holder)
        thread.start()
        held.wait(10)
        threading.Timer(0.5, release.set).start()
        code = main(["ingest", "file", str(path), "--topic", TOPIC, "--wait", "20"])
        thread.join()
        assert code == 0, capsys.readouterr().err
        assert "2 new raw rows" in capsys.readouterr().out

    def test_a_process_holding_the_duckdb_file_is_named(
        self, env: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """Not a revops process (an analyst's shell, say): DuckDB's own lock, in one line."""
        with duckdb_file_held(env) as pid:
            with pytest.raises(WarehouseLockedError, match=f"locked by pid {pid}"):
                DuckDBWarehouse(env)
            code = main(["ingest", "file", str(events_file(tmp_path)), "--topic", TOPIC])
            line = one_error_line(capsys.readouterr().err)
        assert code == 2 and f"warehouse {env} is locked by pid {pid}" in line

    @pytest.mark.dbt
    def test_dbt_meeting_a_locked_file_says_so(
        self, env: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        with duckdb_file_held(env) as pid:
            code = main(["build"])
        err = capsys.readouterr().err
        assert code == 2
        assert f"revops: error: warehouse {env} is locked by pid {pid}" in err


class TestExitCodes:
    def test_a_bad_environment_variable_is_one_line_naming_it(
        self, env: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setenv("REVOPS_BATCH_MAX_MESSAGES", "lots")
        assert main(["build"]) == 2
        line = one_error_line(capsys.readouterr().err)
        assert "REVOPS_BATCH_MAX_MESSAGES" in line and "lots" in line

    def test_an_internal_error_is_exit_1_and_one_line(
        self, env: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
    ) -> None:
        import ingest.file_source

        def broken(*args: object, **kwargs: object) -> None:
            raise ZeroDivisionError("division by zero")

        monkeypatch.setattr(ingest.file_source, "ingest_files", broken)
        monkeypatch.delenv("REVOPS_DEBUG", raising=False)
        assert main(["ingest", "file", __file__, "--topic", TOPIC]) == 1
        line = one_error_line(capsys.readouterr().err)
        assert "internal error: ZeroDivisionError" in line and "REVOPS_DEBUG=1" in line

    def test_a_directory_that_is_not_a_replay_folder_says_so(
        self, env: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        empty = tmp_path / "empty"
        empty.mkdir()
        assert main(["ingest", "file", str(empty), "--topic", TOPIC]) == 2
        assert "a directory with no *.jsonl files" in one_error_line(capsys.readouterr().err)


class TestLogging:
    def test_json_lines_for_log_shippers(self) -> None:
        stream = io.StringIO()
        handler = configure_logging("INFO", "json", stream=stream)
        try:
            logging.getLogger("revops.test").info("batch %s landed", "b1")
            logging.getLogger("revops.test").debug("not at INFO")
        finally:
            logging.getLogger().removeHandler(handler)
        (line,) = stream.getvalue().splitlines()
        entry = json.loads(line)
        assert entry["level"] == "INFO" and entry["logger"] == "revops.test"
        assert entry["message"] == "batch b1 landed"
        assert entry["ts"].endswith("Z")


def children(pid: int) -> list[int]:
    try:
        text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    except FileNotFoundError:
        return []
    return [int(p) for p in text.split()]


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state != "Z"


def wait_until(predicate: object, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():  # type: ignore[operator]
            return True
        time.sleep(0.1)
    return False


@pytest.mark.dbt
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
@pytest.mark.parametrize("how", [signal.SIGTERM, signal.SIGKILL])
def test_dbt_stops_with_revops(how: signal.Signals, tmp_path: Path, dbt_target_path: Path) -> None:
    """SIGTERM is forwarded (revops exits 143 after dbt); after kill -9 the kernel tells dbt."""
    environ = {
        **os.environ,
        "REVOPS_WAREHOUSE": str(tmp_path / "w.duckdb"),
        "REVOPS_STAGE": str(tmp_path / "stage"),
        "REVOPS_DBT_TARGET_PATH": str(tmp_path / "target"),
    }
    revops = Path(sys.executable).parent / "revops"
    proc = subprocess.Popen(
        [str(revops), "build"], env=environ, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    try:
        assert wait_until(lambda: children(proc.pid), 60), "dbt never started"
        (dbt_pid,) = children(proc.pid)
        os.kill(proc.pid, how)
        code = proc.wait(timeout=60)
        # A build of this empty warehouse takes far longer than this: dbt was stopped, not done.
        assert wait_until(lambda: not alive(dbt_pid), 5), "dbt outlived revops"
        if how == signal.SIGTERM:
            assert code == 128 + signal.SIGTERM
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait()


@pytest.mark.dbt
def test_run_results_of_an_earlier_run_are_never_reported(
    tmp_path: Path, dbt_target_path: Path
) -> None:
    settings = Settings(warehouse_path=tmp_path / "w.duckdb", dbt_target_path=tmp_path / "t")
    (tmp_path / "t").mkdir()
    (tmp_path / "t" / "run_results.json").write_text('{"results": [{"status": "pass"}]}')
    result = run_dbt(settings, ["build", "--no-such-flag"], check=False, quiet=True)
    assert result.returncode != 0
    assert result.run_results is None and result.counts() == {}


@pytest.mark.dbt
def test_audit_rebuilds_at_any_instant_and_a_quote_in_the_file_name(
    tmp_path: Path, dbt_target_path: Path
) -> None:
    """Before any load the snapshot is empty (and unit tests, whose mocked rows the knowledge-time
    filter would hide, do not run in an audit rebuild); a `'` in the path breaks nothing."""
    folder = tmp_path / "o'brien"
    settings = Settings(
        warehouse_path=folder / "rev'ops.duckdb",
        stage_dir=folder / "stage",
        dbt_target_path=dbt_target_path,
    )
    landed = ingest_files([events_file(tmp_path)], TOPIC, settings)
    assert landed.rows_inserted == 2
    early = build(settings, as_known_at="2025-12-31 23:59:59", quiet=True, check=False)
    assert early.returncode == 0, early.counts()
    assert early.counts().get("error", 0) == 0
    built = build(settings, full_refresh=True, quiet=True, check=False)
    assert built.returncode == 0, built.counts()
    con = duckdb.connect(str(settings.warehouse_path), read_only=True)
    try:
        as_of = "marts_as_of_20251231t235959"
        assert con.execute(
            f"select count(*) from {as_of}.bridge_repl_team_membership"
        ).fetchone() == (0,)
        assert con.execute(
            "select repl_id, team_id from marts.bridge_repl_team_membership"
        ).fetchall() == [("r1", "t1")]
    finally:
        con.close()


@pytest.mark.dbt
def test_rows_loaded_after_the_clock_stepped_back_reach_staging(
    tmp_path: Path, warehouse_settings: Settings
) -> None:
    """Staging reads rows loaded after the newest it holds: a load stamped in the past (NTP, a
    restored VM) would be skipped for good, so the knowledge time must not go back."""
    from datetime import datetime

    from ingest.file_source import iter_file_messages
    from ingest.landing import land_batch

    settings = warehouse_settings
    first, second = tmp_path / "1.jsonl", tmp_path / "2.jsonl"
    first.write_text(json.dumps(EVENTS[0]) + "\n")
    second.write_text(json.dumps(EVENTS[1]) + "\n")
    staging = "stg_admin_service__membership_events"
    ticks = iter([datetime(2026, 5, 1, 12, 0), datetime(2026, 5, 1, 11, 0)])
    with DuckDBWarehouse(settings.warehouse_path, clock=lambda: next(ticks)) as wh:
        land_batch(list(iter_file_messages(first, TOPIC)), settings, wh)
    assert build(settings, select=staging, quiet=True, check=False).returncode == 0
    with DuckDBWarehouse(settings.warehouse_path, clock=lambda: next(ticks)) as wh:
        land_batch(list(iter_file_messages(second, TOPIC)), settings, wh)
    assert build(settings, select=staging, quiet=True, check=False).returncode == 0
    con = duckdb.connect(str(settings.warehouse_path), read_only=True)
    try:
        ids = con.execute(f"select event_id from staging.{staging} order by 1").fetchall()
    finally:
        con.close()
    assert ids == [("a1",), ("c1",)]
