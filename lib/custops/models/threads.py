"""Thread limits for the compiled libraries the steps use (scikit-learn's OpenMP loops)."""

from __future__ import annotations

from threadpoolctl import threadpool_limits

__all__ = ["SMALL_FIT_ROWS", "openmp_threads"]

SMALL_FIT_ROWS = 200_000  # fits on fewer rows than this run OpenMP on one thread


def openmp_threads(n_rows: int):
    """A context manager limiting OpenMP to one thread for small fits.

    On a shared machine scikit-learn's OpenMP workers spin-wait for a busy core, which makes a
    small gradient-boosting fit many times slower with two threads than with one. Large fits
    keep the default (all cores).
    """

    return threadpool_limits(1 if n_rows < SMALL_FIT_ROWS else None, user_api="openmp")
