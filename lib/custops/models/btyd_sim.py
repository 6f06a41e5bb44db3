"""Simulators of the BTYD purchase models: customers drawn from BG/NBD, MBG/NBD or Pareto/NBD.

Used to check the fitters and the scoring formulas against their own models (tests, the
benchmark) and to make examples; :mod:`custops.models.btyd` re-exports them.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from custops.models.btyd_fit import BTYDParameterError, _check_option

__all__ = ["simulate_bgnbd", "simulate_mbgnbd", "simulate_pareto_nbd"]


def _simulation_setup(
    n: int, params: dict[str, float], T: float | ArrayLike, holdout_length: float | None
) -> tuple[int, np.ndarray, float | None]:
    if int(n) != n or n < 1:
        raise BTYDParameterError(f"`n` must be a whole number >= 1; got {n!r}.")
    n = int(n)
    for name, value in params.items():
        _check_option(name, value, minimum=0.0, strict=True)
    age = np.broadcast_to(np.asarray(T, dtype=np.float64), (n,)).copy()
    if not np.all(np.isfinite(age)) or (age <= 0).any():
        raise BTYDParameterError("`T` must be finite and > 0.")
    if holdout_length is not None:
        holdout_length = _check_option("holdout_length", holdout_length, minimum=0.0, strict=True)
    return n, age, holdout_length


def _simulate_beta_geo(
    n: int,
    r: float,
    alpha: float,
    a: float,
    b: float,
    T: float | ArrayLike,
    seed: int | np.random.Generator,
    holdout_length: float | None,
    extra_trials: int,
) -> dict[str, np.ndarray]:
    """BG/NBD (extra_trials=0) or MBG/NBD (extra_trials=1) customers; see simulate_bgnbd."""
    params = {"r": r, "alpha": alpha, "a": a, "b": b}
    n, age, holdout_length = _simulation_setup(n, params, T, holdout_length)
    rng = np.random.default_rng(seed)
    rate = rng.gamma(r, 1.0 / alpha, size=n)
    dropout = rng.beta(a, b, size=n)
    purchases_before_dropout = rng.geometric(np.clip(dropout, 1e-300, 1.0)) - extra_trials
    purchases_by_t = rng.poisson(rate * age)
    x = np.minimum(purchases_before_dropout, purchases_by_t).astype(np.int64)
    recency = np.zeros(n)
    positive = x > 0
    recency[positive] = age[positive] * rng.beta(
        x[positive], purchases_by_t[positive] - x[positive] + 1
    )
    out = {"frequency": x, "recency": recency, "T": age}
    if holdout_length is not None:
        # Active at T iff fewer purchases than the customer would make before dropping out;
        # the remaining count is again geometric, so the same draw continues.
        purchases_in_holdout = rng.poisson(rate * holdout_length)
        active = purchases_by_t < purchases_before_dropout
        out["holdout_frequency"] = np.where(
            active, np.minimum(purchases_before_dropout - x, purchases_in_holdout), 0
        ).astype(np.int64)
    return out


def simulate_bgnbd(
    n: int,
    r: float,
    alpha: float,
    a: float,
    b: float,
    T: float | ArrayLike,
    seed: int | np.random.Generator,
    holdout_length: float | None = None,
) -> dict[str, np.ndarray]:
    """Draw (frequency, recency, T) for ``n`` customers from the BG/NBD.

    Each customer gets lambda ~ Gamma(r, rate=alpha) and p ~ Beta(a, b); the number of repeat
    purchases the customer would make before dropping out is K ~ Geometric(p) on {1, 2, ...}
    and the purchases by T number N ~ Poisson(lambda T), so x = min(K, N). Given N, purchase
    times are uniform on (0, T), so t_x = T * Beta(x, N - x + 1) for x > 0.

    Parameters
    ----------
    n : int
        Number of customers.
    r, alpha, a, b : float
        Model parameters (> 0); ``alpha`` in the unit of ``T``.
    T : float or array-like of length n
        Age of each customer (time from first purchase to the end of the window), > 0.
    seed : int or numpy.random.Generator
        Random state.
    holdout_length : float, optional
        If given, also draw each customer's repeat purchases in (T, T + holdout_length]
        (the calibration draws are the same as without it).

    Returns
    -------
    dict
        ``{"frequency": int64 array, "recency": float array, "T": float array}`` (continuous
        times; round them yourself to mimic daily data), plus ``"holdout_frequency"`` (int64)
        with ``holdout_length``.
    """
    return _simulate_beta_geo(n, r, alpha, a, b, T, seed, holdout_length, extra_trials=0)


def simulate_mbgnbd(
    n: int,
    r: float,
    alpha: float,
    a: float,
    b: float,
    T: float | ArrayLike,
    seed: int | np.random.Generator,
    holdout_length: float | None = None,
) -> dict[str, np.ndarray]:
    """Draw (frequency, recency, T) for ``n`` customers from the MBG/NBD.

    As :func:`simulate_bgnbd`, except that the customer may drop out right after the first
    purchase too: K ~ Geometric(p) on {0, 1, ...}. Arguments and result as there.
    """
    return _simulate_beta_geo(n, r, alpha, a, b, T, seed, holdout_length, extra_trials=1)


def simulate_pareto_nbd(
    n: int,
    r: float,
    alpha: float,
    s: float,
    beta: float,
    T: float | ArrayLike,
    seed: int | np.random.Generator,
    holdout_length: float | None = None,
) -> dict[str, np.ndarray]:
    """Draw (frequency, recency, T) for ``n`` customers from the Pareto/NBD.

    Each customer gets lambda ~ Gamma(r, rate=alpha), mu ~ Gamma(s, rate=beta) and a lifetime
    tau ~ Exponential(mu); the repeat purchases by T number x ~ Poisson(lambda min(tau, T)) and
    t_x = min(tau, T) * Beta(x, 1) (the last of x uniform times) for x > 0. Arguments and
    result as in :func:`simulate_bgnbd` (``alpha`` and ``beta`` in the unit of ``T``).
    """
    params = {"r": r, "alpha": alpha, "s": s, "beta": beta}
    n, age, holdout_length = _simulation_setup(n, params, T, holdout_length)
    rng = np.random.default_rng(seed)
    rate = rng.gamma(r, 1.0 / alpha, size=n)
    dropout_rate = rng.gamma(s, 1.0 / beta, size=n)
    lifetime = rng.exponential(1.0, size=n) / np.maximum(dropout_rate, 1e-300)
    active_time = np.minimum(lifetime, age)
    x = rng.poisson(rate * active_time).astype(np.int64)
    recency = np.zeros(n)
    positive = x > 0
    recency[positive] = active_time[positive] * rng.beta(x[positive], 1.0)
    out = {"frequency": x, "recency": recency, "T": age}
    if holdout_length is not None:
        holdout_time = np.clip(lifetime - age, 0.0, holdout_length)
        out["holdout_frequency"] = rng.poisson(rate * holdout_time).astype(np.int64)
    return out
