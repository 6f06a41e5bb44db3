"""Settings of the processes that run the steps (the runner, its kernels, a dashboard server).

Transparent huge pages: DuckDB asks the kernel for huge pages for its large allocations (its
hash tables: ``Allocator::TryAllocateHuge`` calls ``madvise(MADV_HUGEPAGE)``), as does Arrow's
mimalloc for the 1 GiB it reserves; every query gets fresh memory that Linux zeroes 2 MiB at a
time on first touch, often for pages the query barely uses. On this machine (THP
``madvise``, defrag ``madvise``) that zeroing was a third of the CPU time of a feature-table build at 1M
customers: 6.9-15.8 s of system time per build against 3.2-3.7 s with huge pages off, and
the build about 20 % faster by the wall clock; the tables are the same (benchmarks/NOTES.md).
:func:`no_huge_pages` turns them off for this process; children (kernels started by the
runner or the dashboard server) inherit the setting.
"""

from __future__ import annotations

import ctypes
import sys

__all__ = ["huge_pages_enabled", "no_huge_pages"]

PR_SET_THP_DISABLE = 41  # <linux/prctl.h>
PR_GET_THP_DISABLE = 42


def _prctl(option: int, value: int) -> int | None:
    """``prctl(option, value, 0, 0, 0)``, or None off Linux or where libc has no prctl."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        # the process's own symbols: libc is loaded (no ldconfig lookup for it)
        return int(ctypes.CDLL(None, use_errno=True).prctl(option, value, 0, 0, 0))
    except (OSError, AttributeError):
        return None


def no_huge_pages() -> bool:
    """Turn transparent huge pages off for this process and the processes it starts
    (``prctl(PR_SET_THP_DISABLE)``, Linux 3.15+). True when the setting took; False
    elsewhere (another OS, or a kernel without it): nothing changes then but speed."""
    return _prctl(PR_SET_THP_DISABLE, 1) == 0


def huge_pages_enabled() -> bool | None:
    """Whether transparent huge pages may be used by this process (None off Linux)."""
    found = _prctl(PR_GET_THP_DISABLE, 0)
    return None if found is None or found < 0 else found == 0
