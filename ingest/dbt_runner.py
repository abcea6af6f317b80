"""Run dbt with the project's profile against the configured warehouse.

dbt runs in a child process so that its global state (adapters, logging) never leaks into the
caller, and so the DuckDB file lock is released when it exits.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from ingest.settings import Settings


class DbtError(RuntimeError):
    pass


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
    env = dict(os.environ)
    env["REVOPS_WAREHOUSE"] = str(Path(settings.warehouse_path).resolve())
    env["DBT_PROFILES_DIR"] = str(settings.dbt_profiles_dir)
    env.setdefault("DBT_SEND_ANONYMOUS_USAGE_STATS", "false")
    if settings.dbt_target:
        env["REVOPS_DBT_TARGET"] = settings.dbt_target
    return env


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
    cmd = [
        str(Path(sys.executable).parent / "dbt"),
        *args,
        "--project-dir",
        str(settings.dbt_project_dir),
        "--profiles-dir",
        str(settings.dbt_profiles_dir),
    ]
    if settings.dbt_target_path:
        target_path = target_path.resolve()
        cmd += ["--target-path", str(target_path), "--log-path", str(target_path / "logs")]
    if vars:
        cmd += ["--vars", json.dumps(vars)]
    proc = subprocess.Popen(
        cmd,
        cwd=settings.dbt_project_dir,
        env=dbt_env(settings),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    tail: list[str] = []
    assert proc.stdout is not None
    for line in proc.stdout:
        tail = [*tail[-40:], line.rstrip()]
        if on_line:
            on_line(line.rstrip())
        elif not quiet:
            print(line, end="", flush=True)
    returncode = proc.wait()
    results_file = target_path / "run_results.json"
    run_results = json.loads(results_file.read_text()) if results_file.exists() else None
    result = DbtResult(returncode, run_results)
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
    vars: dict | None = None,
    quiet: bool = False,
    check: bool = True,
) -> DbtResult:
    """`dbt build`; with as_known_at, a full rebuild from raw rows loaded up to that instant."""
    args = ["build"]
    all_vars = dict(vars or {})
    if as_known_at:
        all_vars["as_known_at"] = as_known_at
        full_refresh = True
    if full_refresh:
        args.append("--full-refresh")
    if select:
        args += ["--select", select]
    if exclude:
        args += ["--exclude", exclude]
    return run_dbt(settings, args, vars=all_vars or None, quiet=quiet, check=check)
