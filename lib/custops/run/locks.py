"""Several processes writing one run folder: file locks and whole-file writes.

The report runner may execute two notebooks at once (:func:`custops.run.runner.run_report`,
``jobs``). Each notebook's kernel is its own process with its own
:class:`~custops.run.context.RunContext` over the same run folder, so:

- an artifact is made by one process while the others wait for it and then read it
  (:func:`file_lock` around "stored? else make and store"), never made twice at once;
- the files every step updates (``catalog.json``, ``health.json``) are read, changed and
  written under a lock, and every file another process may read is written whole
  (:func:`write_whole`: a temporary file renamed into place), so a reader sees the old file
  or the new one, never half of one.

Locks are ``flock`` locks on files under ``<artifacts>/.locks/``: the system lets them go
when their process ends, so a killed kernel never leaves a run locked. Where ``fcntl`` does
not exist (Windows) the lock is a no-op and the runner runs one notebook at a time.
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Iterator
from pathlib import Path

try:
    import fcntl
except ImportError:  # Windows: no flock; the runner then never runs notebooks at once
    fcntl = None

__all__ = ["CAN_LOCK", "LOCKS", "file_lock", "write_whole"]

LOCKS = ".locks"  # the folder of lock files, inside a run's artifacts folder
CAN_LOCK = fcntl is not None

# flock locks belong to an open file, not a thread: two threads of one process holding the
# same lock file open would both wait on each other's file. One threading lock per path
# orders the threads of this process first.
_thread_locks: dict[str, threading.Lock] = {}
_registry_lock = threading.Lock()


@contextlib.contextmanager
def file_lock(folder: Path | None, name: str) -> Iterator[None]:
    """Hold lock ``name`` of the artifacts folder ``folder`` (None: nothing to lock)."""
    if folder is None or not CAN_LOCK:
        yield
        return
    locks = folder / LOCKS
    locks.mkdir(parents=True, exist_ok=True)
    path = locks / f"{name}.lock"
    with _registry_lock:
        local = _thread_locks.setdefault(str(path), threading.Lock())
    with local, open(path, "a") as handle:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


def write_whole(path: Path, write) -> None:
    """Write ``path`` through ``write(temporary_path)`` and rename it into place: another
    process reading ``path`` meanwhile sees the previous file (or none), never a part."""
    path.parent.mkdir(parents=True, exist_ok=True)
    # Named by process and thread (not mkstemp, whose 0600 mode the file would keep).
    temporary = path.with_name(f".{path.name}.{os.getpid()}-{threading.get_ident()}.part")
    try:
        write(temporary)
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
