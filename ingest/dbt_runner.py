"""Run dbt with the project's profile against the configured warehouse.

dbt runs in a child process so that its global state (adapters, logging) never leaks into the
caller, and so the DuckDB file lock is released when it exits. The child runs in its own process
group: SIGINT and SIGTERM sent to revops are forwarded to it (dbt cancels its queries and exits),
and on Linux it is also told to stop when revops dies without a chance to forward anything
(kill -9), so it never keeps holding the warehouse. What a hard kill leaves: the model being
built is rolled back by DuckDB on the next open; incremental watermarks are written after their
model, so the next run redoes exactly the interrupted work.
"""

from __future__ import annotations

import ctypes
import json
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path

from ingest.settings import Settings
from ingest.warehouse import lock_error_message

_FORWARDED = (signal.SIGINT, signal.SIGTERM)


class DbtError(RuntimeError):
    pass


class DbtInterrupted(DbtError):
    """dbt stopped because revops was asked to stop (the signal was forwarded to it)."""

    def __init__(self, signum: int) -> None:
        super().__init__(f"dbt interrupted by {signal.Signals(signum).name}")
        self.signum = signum


def _die_with_parent() -> None:
    """In the child before exec: its own process group, and SIGTERM when the parent dies."""
    os.setpgrp()
    if sys.platform.startswith("linux"):
        pr_set_pdeathsig = 1
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(pr_set_pdeathsig, signal.SIGTERM, 0, 0, 0)


class _SignalForwarder:
    """Forwards SIGINT/SIGTERM to the child's process group while it runs. Installed before the
    child starts, so a signal that arrives while it is starting is forwarded once it exists."""

    def __init__(self) -> None:
        self.received: list[int] = []
        self.proc: subprocess.Popen | None = None

    def handle(self, signum: int, _frame: object) -> None:
        self.received.append(signum)
        self._forward(signum)

    def _forward(self, signum: int) -> None:
        if self.proc is not None:
            with suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signum)

    def started(self, proc: subprocess.Popen) -> None:
        self.proc = proc
        for signum in self.received:
            self._forward(signum)


@contextmanager
def _forwarding_signals() -> Iterator[_SignalForwarder]:
    forwarder = _SignalForwarder()
    if threading.current_thread() is not threading.main_thread():
        yield forwarder
        return
    previous = {sig: signal.signal(sig, forwarder.handle) for sig in _FORWARDED}
    try:
        yield forwarder
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


@dataclass
class DbtResult:
    returncode: int
    run_results: dict | None

    def counts(self) -> dict[str, int]:
        """Statuses of every node dbt ran: pass/fail/warn/error/success/skipped."""
        out: dict[str, int] = {}
        for r in (self.run_results or {}).get("results", []):
            out[r["status"]] = out.get(r["status"], 0) + 1
        return out


def dbt_env(settings: Settings) -> dict[str, str]:
    """dbt's environment: the caller's, plus what `settings` says about the warehouse (they may
    have been built in code, not read from this environment), so the profile reads the same
    warehouse the loader wrote. The Snowflake secrets go to the child only, never to a log."""
    env = dict(os.environ)
    env["REVOPS_WAREHOUSE"] = str(Path(settings.warehouse_path).resolve())
    env["DBT_PROFILES_DIR"] = str(settings.dbt_profiles_dir)
    env["REVOPS_DUCKDB_MEMORY_LIMIT"] = settings.duckdb_memory_limit
    env.setdefault("DBT_SEND_ANONYMOUS_USAGE_STATS", "false")
    if settings.dbt_target:
        env["REVOPS_DBT_TARGET"] = settings.dbt_target
    sf = settings.snowflake
    exported = {
        "SNOWFLAKE_ACCOUNT": sf.account,
        "SNOWFLAKE_USER": sf.user,
        "SNOWFLAKE_PASSWORD": sf.password,
        "SNOWFLAKE_PRIVATE_KEY_PATH": sf.private_key_path,
        "SNOWFLAKE_PRIVATE_KEY_PASSPHRASE": sf.private_key_passphrase,
        "SNOWFLAKE_ROLE": sf.role,
        "SNOWFLAKE_WAREHOUSE": sf.warehouse,
        "SNOWFLAKE_DATABASE": sf.database,
        "SNOWFLAKE_HOST": sf.host,
        "SNOWFLAKE_PORT": sf.port,
        "SNOWFLAKE_PROTOCOL": sf.protocol,
    }
    env.update({name: str(value) for name, value in exported.items() if value is not None})
    return env


def dbt_command(settings: Settings, args: Sequence[str], vars: dict | None = None) -> list[str]:
    """The dbt command line: the project, its profiles, the target when one is configured."""
    cmd = [
        str(Path(sys.executable).parent / "dbt"),
        *args,
        "--project-dir",
        str(settings.dbt_project_dir),
        "--profiles-dir",
        str(settings.dbt_profiles_dir),
    ]
    if settings.dbt_target:
        cmd += ["--target", settings.dbt_target]
    if settings.dbt_target_path:
        target_path = Path(settings.dbt_target_path).resolve()
        cmd += ["--target-path", str(target_path), "--log-path", str(target_path / "logs")]
    if vars:
        cmd += ["--vars", json.dumps(vars)]
    return cmd


def run_dbt(
    settings: Settings,
    args: Sequence[str],
    *,
    vars: dict | None = None,
    check: bool = True,
    quiet: bool = False,
    on_line: Callable[[str], None] | None = None,
) -> DbtResult:
    """Run `dbt <args>`; stream its output unless quiet; raise DbtError on failure if check."""
    target_path = Path(settings.dbt_target_path or Path(settings.dbt_project_dir) / "target")
    if settings.dbt_target_path:
        target_path = target_path.resolve()
    cmd = dbt_command(settings, args, vars)
    # A run that dies before writing its results must not be reported with an earlier run's.
    results_file = target_path / "run_results.json"
    results_file.unlink(missing_ok=True)
    tail: list[str] = []
    locked: str | None = None
    with _forwarding_signals() as forwarder:
        proc = subprocess.Popen(
            cmd,
            cwd=settings.dbt_project_dir,
            env=dbt_env(settings),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            preexec_fn=_die_with_parent,
        )
        forwarder.started(proc)
        assert proc.stdout is not None
        for line in proc.stdout:
            tail = [*tail[-40:], line.rstrip()]
            locked = locked or lock_error_message(settings.warehouse_path, line)
            if on_line:
                on_line(line.rstrip())
            elif not quiet:
                print(line, end="", flush=True)
        returncode = proc.wait()
    if forwarder.received:
        raise DbtInterrupted(forwarder.received[0])
    run_results = json.loads(results_file.read_text()) if results_file.exists() else None
    result = DbtResult(returncode, run_results)
    if locked and returncode != 0:
        raise DbtError(locked)
    if check and returncode != 0:
        detail = "\n".join(tail[-15:]) if quiet else ""
        raise DbtError(f"dbt {' '.join(args)} failed (exit {returncode})\n{detail}".rstrip())
    return result


def build(
    settings: Settings,
    *,
    full_refresh: bool = False,
    as_known_at: str | None = None,
    select: str | None = None,
    exclude: str | None = None,
    indirect_selection: str | None = None,
    vars: dict | None = None,
    quiet: bool = False,
    check: bool = True,
    on_line: Callable[[str], None] | None = None,
) -> DbtResult:
    """`dbt build`; with as_known_at, a full rebuild from raw rows loaded up to that instant.

    An audit rebuild runs no unit tests: they test the SQL on mocked rows, which the knowledge-
    time filter would filter too, and the SQL is the same as in the ordinary build.
    """
    args = ["build"]
    all_vars = dict(vars or {})
    if as_known_at:
        all_vars["as_known_at"] = as_known_at
        full_refresh = True
        args += ["--exclude-resource-type", "unit_test"]
    if full_refresh:
        args.append("--full-refresh")
    if select:
        args += ["--select", select]
    if exclude:
        args += ["--exclude", exclude]
    if indirect_selection:
        args += ["--indirect-selection", indirect_selection]
    return run_dbt(settings, args, vars=all_vars or None, quiet=quiet, check=check, on_line=on_line)
