"""One revops process at a time per warehouse, said in one line — or waited for.

DuckDB allows one writer per file; a second writer fails deep inside dbt or the loader with a
raw lock error. Every writing command takes an advisory lock on `<warehouse>.lock` first (it
records the holder's pid), so the second one says who holds the warehouse and exits, or waits a
bounded time (`--wait SECONDS`, which schedulers prefer). The kernel drops the lock when the
holder exits, however it exits: a stale lock file never blocks anyone.
"""

from __future__ import annotations

import fcntl
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from ingest.warehouse import WarehouseLockedError


def lock_path(warehouse_path: Path | str) -> Path:
    return Path(f"{warehouse_path}.lock")


def _holder(fd: int) -> str:
    try:
        text = os.pread(fd, 64, 0).decode("ascii", "replace").strip()
    except OSError:
        text = ""
    return text if text.isdigit() else "unknown"


@contextmanager
def warehouse_lock(
    warehouse_path: Path | str, *, wait_s: float = 0.0, poll_s: float = 0.2
) -> Iterator[None]:
    """Hold the warehouse for this process; raise WarehouseLockedError if another revops
    process still holds it after `wait_s` seconds."""
    path = lock_path(warehouse_path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        deadline = time.monotonic() + max(wait_s, 0.0)
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    waited = f" after waiting {wait_s:g} s" if wait_s > 0 else ""
                    raise WarehouseLockedError(
                        f"another revops process (pid {_holder(fd)}) holds warehouse "
                        f"{warehouse_path}{waited}; retry when it finishes "
                        "(or pass --wait SECONDS)"
                    ) from None
                time.sleep(poll_s)
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        try:
            yield
        finally:
            os.ftruncate(fd, 0)
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)
