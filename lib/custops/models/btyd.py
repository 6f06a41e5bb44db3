"""Buy-till-you-die models (BG/NBD, MBG/NBD, Pareto/NBD purchases; Gamma-Gamma spend) by MLE.

This module answers "how many more purchases will each customer make, is the customer still
active, and what is the customer's discounted value over a horizon" from the three numbers per
customer the models need:

* ``frequency`` (x): number of **repeat** purchases (purchases after the first one; a customer
  with a single purchase has ``frequency == 0``);
* ``recency`` (t_x): time from the first purchase to the last purchase (0 when ``frequency == 0``);
* ``T``: time from the first purchase to the end of the observation window (the customer's age).

``recency`` and ``T`` share one time unit, chosen by the caller (days in custops; the CDNOW
benchmark uses weeks) and recorded as ``time_unit``. All parameters that have a time dimension
(``alpha``, and the Pareto/NBD's ``beta``) are in that unit.

Models
------
``BetaGeoFitter``
    BG/NBD (Fader, Hardie & Lee 2005, "Counting your customers the easy way", Marketing
    Science 24(2)). While active, a customer buys as a Poisson process with rate
    ``lambda ~ Gamma(shape=r, rate=alpha)``; after each repeat purchase the customer becomes
    inactive with probability ``p ~ Beta(a, b)``.
``ModifiedBetaGeoFitter``
    MBG/NBD (Batislam, Denizel & Filiztekin 2007): the BG/NBD with a dropout chance right after
    the first purchase too, so customers without repeat purchases can be inactive.
``ParetoNBDFitter``
    Pareto/NBD (Schmittlein, Morrison & Colombo 1987; Fader & Hardie's 2005 note): purchases as
    in the BG/NBD, and an exponential lifetime with rate ``mu ~ Gamma(shape=s, rate=beta)``.
``GammaGammaFitter``
    Gamma-Gamma spend model (Colombo & Jiang 1999; Fader, Hardie & Lee 2005, "RFM and CLV";
    Fader & Hardie 2013 note "The Gamma-Gamma model of monetary value"). Each transaction value
    is ``Gamma(shape=p, rate=nu)`` and ``nu ~ Gamma(shape=q, rate=gamma)`` across customers.

The fitters follow scikit-learn conventions: ``__init__`` stores options, ``fit`` returns
``self``, fitted attributes end in ``_``. The likelihood is evaluated once per distinct
customer pattern (counts as weights) with an analytic gradient (the Pareto/NBD's Gaussian
hypergeometric term is evaluated once per distinct (x, t), with some central differences in r
and s), and optimized with L-BFGS-B in log-parameter space: far quicker than lifetimes'
per-customer likelihood, with the same estimates.

Every fitter has ``health()``, a list of findings ``{"code", "severity", **numbers}`` (e.g.
``not_converged``, ``boundary``, ``few_repeat_buyers``), and ``usable`` (no finding of
severity ``"error"``): a fit that is not usable must not drive decisions.
:func:`btyd_pair_health` does the same for a purchase model with its spend model, and
:func:`compare_btyd` / :func:`best_btyd` choose a purchase model on a holdout period.

Example
-------
>>> data = simulate_bgnbd(5000, r=0.8, alpha=20.0, a=0.6, b=3.0, T=365.0, seed=0)
>>> bgf = BetaGeoFitter(time_unit="days").fit(data["frequency"], data["recency"], data["T"])
>>> sorted(bgf.params_)
['a', 'alpha', 'b', 'r']
>>> p_alive = bgf.conditional_probability_alive(data["frequency"], data["recency"], data["T"])

With daily order data, count purchases on distinct days (two orders on one day are one
purchase), as the published benchmarks and lifetimes do.
"""

from __future__ import annotations

import math
import time
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike
from scipy import optimize, special

from custops.errors import CustopsError, DataError, ParameterError

__all__ = [
    "BTYDDataError",
    "BTYDParameterError",
    "BTYD_MODELS",
    "BetaGeoFitter",
    "ConvergenceWarning",
    "GammaGammaFitter",
    "ModelNotFittedError",
    "ModifiedBetaGeoFitter",
    "ParetoNBDFitter",
    "best_btyd",
    "bgnbd_log_likelihood",
    "btyd_pair_health",
    "compare_btyd",
    "customer_lifetime_value",
    "fit_gamma_gamma",
    "gamma_gamma_log_likelihood",
    "mbgnbd_log_likelihood",
    "pareto_nbd_log_likelihood",
    "simulate_bgnbd",
    "simulate_mbgnbd",
    "simulate_pareto_nbd",
]

_FORMAT_VERSION = 1
# Log-parameter box for L-BFGS-B: exp(+-30) covers every realistic scale and keeps exp() finite.
_LOG_PARAM_BOUND = 30.0
_DAYS_PER_TIME_UNIT = {
    "d": 1.0,
    "day": 1.0,
    "days": 1.0,
    "w": 7.0,
    "week": 7.0,
    "weeks": 7.0,
}


class BTYDDataError(DataError, ValueError):
    """The frequency / recency / T / monetary inputs cannot be used as given."""


class BTYDParameterError(ParameterError, ValueError):
    """An option or model parameter is out of range."""


class ModelNotFittedError(CustopsError, AttributeError):
    """A prediction was asked of a model that has not been fitted or loaded."""


class ConvergenceWarning(UserWarning):
    """The optimizer stopped before reaching a maximum of the likelihood."""


# --------------------------------------------------------------------------------------------
# Input checks
# --------------------------------------------------------------------------------------------


def _as_float_vector(values: ArrayLike, name: str) -> np.ndarray:
    """Return ``values`` as a 1-D float64 array, or raise naming the input and the bad rows."""
    try:
        array = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise BTYDDataError(f"`{name}` must be numeric; could not convert it: {exc}") from exc
    if array.ndim == 0:
        array = array.reshape(1)
    if array.ndim != 1:
        raise BTYDDataError(f"`{name}` must be one-dimensional; got shape {array.shape}.")
    bad = ~np.isfinite(array)
    if bad.any():
        raise BTYDDataError(
            f"`{name}` has {int(bad.sum())} missing or infinite value(s), e.g. at positions "
            f"{_first_positions(bad)}. Fill or drop those customers before fitting."
        )
    return array


def _first_positions(mask: np.ndarray, limit: int = 5) -> list[int]:
    return [int(i) for i in np.flatnonzero(mask)[:limit]]


def _check_same_length(**arrays: np.ndarray) -> int:
    lengths = {name: len(array) for name, array in arrays.items()}
    if len(set(lengths.values())) > 1:
        raise BTYDDataError(f"inputs must have the same length; got {lengths}.")
    return next(iter(lengths.values()))


def _check_rfm(
    frequency: ArrayLike, recency: ArrayLike, T: ArrayLike
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Validate (frequency, recency, T) as the BG/NBD defines them; return float arrays."""
    x = _as_float_vector(frequency, "frequency")
    t_x = _as_float_vector(recency, "recency")
    age = _as_float_vector(T, "T")
    _check_same_length(frequency=x, recency=t_x, T=age)
    checks = [
        (x < 0, "`frequency` (repeat purchases) must be >= 0"),
        (x != np.floor(x), "`frequency` must be a whole number of repeat purchases"),
        (t_x < 0, "`recency` must be >= 0"),
        (t_x > age, "`recency` must not exceed `T` (last purchase after the end of the window)"),
        (
            (x == 0) & (t_x != 0),
            "`recency` must be 0 when `frequency` is 0 (recency is measured from the first "
            "purchase to the last repeat purchase)",
        ),
    ]
    for mask, message in checks:
        if mask.any():
            raise BTYDDataError(
                f"{message}; {int(mask.sum())} row(s) break this, e.g. at positions "
                f"{_first_positions(mask)}."
            )
    return x, t_x, age


def _check_weights(weights: ArrayLike | None, n_rows: int) -> np.ndarray | None:
    if weights is None:
        return None
    w = _as_float_vector(weights, "weights")
    _check_same_length(weights=w, data=np.empty(n_rows))
    if (w < 0).any():
        raise BTYDDataError(
            f"`weights` (customers per row) must be >= 0; negative at positions "
            f"{_first_positions(w < 0)}."
        )
    return w


def _check_option(name: str, value: float, *, minimum: float, strict: bool) -> float:
    value = float(value)
    if not math.isfinite(value) or value < minimum or (strict and value == minimum):
        relation = ">" if strict else ">="
        raise BTYDParameterError(
            f"`{name}` must be a finite number {relation} {minimum}; got {value}."
        )
    return value


def _check_positive_params(params: dict[str, float], names: tuple[str, ...]) -> dict[str, float]:
    missing = [name for name in names if name not in params]
    if missing:
        raise BTYDParameterError(f"model parameters {missing} are missing; expected {list(names)}.")
    out = {name: _check_option(name, params[name], minimum=0.0, strict=True) for name in names}
    return out


def _dot(a: np.ndarray, b: np.ndarray) -> float:
    """Sum of a * b for 1-D arrays, without BLAS.

    A threaded BLAS dot product can stall for far longer than the arithmetic takes when the
    cores are busy (e.g. a model trained in another thread), and the likelihood needs many.
    """
    return float(np.einsum("i,i->", a, b))


# --------------------------------------------------------------------------------------------
# Distinct customer patterns
# --------------------------------------------------------------------------------------------


def _factorize(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Return (sorted distinct values, integer code per row).

    Whole numbers in a modest range (days, weeks, counts) are coded by offset, which avoids a
    sort; other values go through ``np.unique``.
    """
    if values.size == 0:
        return values.copy(), np.zeros(0, dtype=np.int64)
    low, high = float(values.min()), float(values.max())
    if high - low <= 2_000_000 and np.array_equal(values, np.floor(values)):
        codes = (values - low).astype(np.int64)
        return np.arange(low, high + 1.0), codes
    distinct, codes = np.unique(values, return_inverse=True)
    return distinct, codes.astype(np.int64)


def _distinct_rows(
    columns: list[np.ndarray], weights: np.ndarray | None, need_inverse: bool = False
) -> tuple[list[np.ndarray], list[np.ndarray], np.ndarray, np.ndarray | None]:
    """Group rows that are equal in every column.

    Returns, for each column, the table of its distinct values and each pattern's index into
    that table; the number of customers (summed weights) per pattern; and, if asked, each
    row's pattern number.
    """
    tables, codes = zip(*(_factorize(column) for column in columns), strict=True)
    sizes = [len(table) for table in tables]
    if math.prod(sizes) < 2**62:
        key = codes[0]
        for size, code in zip(sizes[1:], codes[1:], strict=True):
            key = key * size + code
        if weights is None and not need_inverse:
            keys, counts = np.unique(key, return_counts=True)
            counts = counts.astype(np.float64)
            inverse = None
        else:
            keys, inverse = np.unique(key, return_inverse=True)
            counts = np.bincount(inverse, weights=weights, minlength=len(keys))
        pattern_codes = []
        for size in reversed(sizes[1:]):
            keys, code = np.divmod(keys, size)
            pattern_codes.append(code)
        pattern_codes.append(keys)
        pattern_codes.reverse()
    else:  # too many distinct values to pack into one int64 key
        stacked = np.column_stack(codes)
        unique_rows, inverse = np.unique(stacked, axis=0, return_inverse=True)
        inverse = inverse.ravel()
        counts = np.bincount(inverse, weights=weights, minlength=len(unique_rows))
        pattern_codes = [unique_rows[:, j] for j in range(len(columns))]
    if weights is not None:
        keep = counts > 0
        if not keep.all():
            if inverse is not None:
                renumber = np.cumsum(keep) - 1
                inverse = np.where(keep[inverse], renumber[inverse], -1)
            counts = counts[keep]
            pattern_codes = [code[keep] for code in pattern_codes]
    return list(tables), pattern_codes, counts, inverse


def _used_values(table: np.ndarray, codes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Drop the entries of ``table`` that no code points to; renumber ``codes`` to match."""
    used = np.zeros(len(table), dtype=bool)
    used[codes] = True
    if used.all():
        return table, codes
    renumber = np.cumsum(used) - 1
    return table[used], renumber[codes]


@dataclass(frozen=True)
class _BGNBDData:
    """Sufficient statistics of (frequency, recency, T) for the BG/NBD likelihood.

    Terms that depend on x only or on T only are summed per distinct x or T; only customers
    with x > 0 need a per-pattern term (the logaddexp of the two ways to explain the data).
    The ``pos_*`` arrays describe those patterns (every pattern for the MBG/NBD subclass).
    """

    # Dropout chances before the first repeat purchase: 0 (BG/NBD) or 1 (MBG/NBD, which lets
    # a customer drop out right after the first purchase too).
    _extra_trials: ClassVar[float] = 0.0

    n_customers: float
    n_patterns: int
    x_values: np.ndarray  # distinct frequencies
    x_counts: np.ndarray  # customers per distinct frequency
    age_values: np.ndarray  # distinct T
    age_counts: np.ndarray  # customers per distinct T
    age_x_sums: np.ndarray  # sum of x over customers per distinct T
    recency_values: np.ndarray  # distinct recency among x > 0
    pos_x_values: np.ndarray  # distinct x > 0
    pos_x: np.ndarray  # per x > 0 pattern: x
    pos_x_index: np.ndarray  # per pattern: index into pos_x_values
    pos_recency_index: np.ndarray  # per pattern: index into recency_values
    pos_age_index: np.ndarray  # per pattern: index into age_values
    pos_counts: np.ndarray  # per pattern: customers
    # Scratch arrays reused across likelihood evaluations (allocating pattern-sized arrays on
    # every call costs as much as the arithmetic).
    _scratch: dict[str, np.ndarray] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def build(
        cls, x: np.ndarray, t_x: np.ndarray, age: np.ndarray, weights: np.ndarray | None
    ) -> _BGNBDData:
        (x_tab, t_tab, age_tab), (ix, it, iage), counts, _ = _distinct_rows([x, t_x, age], weights)
        x_values, ix = _used_values(x_tab, ix)
        x_counts = np.bincount(ix, weights=counts, minlength=len(x_values))
        age_values, iage = _used_values(age_tab, iage)
        age_counts = np.bincount(iage, weights=counts, minlength=len(age_values))
        x_pat = x_values[ix]
        age_x_sums = np.bincount(iage, weights=counts * x_pat, minlength=len(age_values))
        positive = x_pat > 0 if cls._extra_trials == 0 else np.ones(len(x_pat), dtype=bool)
        pos_x_values, pos_x_index = _used_values(x_values, ix[positive])
        recency_values, pos_recency_index = _used_values(t_tab, it[positive])
        return cls(
            n_customers=float(counts.sum()),
            n_patterns=len(counts),
            x_values=x_values,
            x_counts=x_counts,
            age_values=age_values,
            age_counts=age_counts,
            age_x_sums=age_x_sums,
            recency_values=recency_values,
            pos_x_values=pos_x_values,
            pos_x=pos_x_values[pos_x_index],
            pos_x_index=pos_x_index.astype(np.intp),
            pos_recency_index=pos_recency_index.astype(np.intp),
            pos_age_index=iage[positive].astype(np.intp),
            pos_counts=counts[positive],
        )

    @property
    def total_age(self) -> float:
        """Sum of T over the customers."""
        return _dot(self.age_counts, self.age_values)

    def log_likelihood_and_gradient(self, r: float, alpha: float, a: float, b: float):
        """Total BG/NBD log-likelihood and its gradient with respect to (r, alpha, a, b).

        Per customer (Fader, Hardie & Lee 2005, eq. 6):
        ln L = ln G(r+x) - ln G(r) + r ln(alpha) + ln B(a, b+x) - ln B(a, b)
               - (r+x) ln(alpha+T) + ln(1 + [x>0] exp(d)),
        d = ln a - ln(b+x-1) - (r+x) [ln(alpha+t_x) - ln(alpha+T)].
        The derivative of ln(1 + exp(d)) is w * dd/dtheta with w = expit(d).
        The MBG/NBD (``_extra_trials = 1``) has b+x+1 for b+x and b+x for b+x-1, and the
        exp(d) term for every customer.
        """
        digamma, gammaln = special.digamma, special.gammaln
        xv, nx = self.x_values, self.x_counts
        n = self.n_customers
        xe = xv + self._extra_trials  # dropout trials survived by an active customer
        # Terms in x only.
        ll = _dot(
            nx,
            gammaln(r + xv)
            - gammaln(r)
            + gammaln(b + xe)
            - gammaln(b)
            + gammaln(a + b)
            - gammaln(a + b + xe),
        )
        psi_ab_diff = digamma(a + b) - digamma(a + b + xe)
        grad_r = _dot(nx, digamma(r + xv) - digamma(r))
        grad_a = _dot(nx, psi_ab_diff)
        grad_b = _dot(nx, digamma(b + xe) - digamma(b) + psi_ab_diff)
        # r ln(alpha) - (r+x) ln(alpha+T), summed per distinct T.
        log_alpha_age = np.log(alpha + self.age_values)
        inv_alpha_age = 1.0 / (alpha + self.age_values)
        weight_age = r * self.age_counts + self.age_x_sums
        ll += n * r * math.log(alpha) - _dot(weight_age, log_alpha_age)
        grad_r += n * math.log(alpha) - _dot(self.age_counts, log_alpha_age)
        grad_alpha = n * r / alpha - _dot(weight_age, inv_alpha_age)
        # ln(1 + exp(d)) for customers with repeat purchases.
        if self.pos_counts.size:
            c = self.pos_counts
            scratch = self._scratch
            if not scratch:
                scratch.update(
                    {k: np.empty_like(c) for k in ("log_diff", "inv_diff", "rx", "nd", "e", "w")}
                )
            log_diff, inv_diff, r_plus_x = scratch["log_diff"], scratch["inv_diff"], scratch["rx"]
            minus_d, e = scratch["nd"], scratch["e"]
            # log_diff = ln(alpha+t_x) - ln(alpha+T) <= 0; inv_diff = 1/(alpha+t_x) - 1/(alpha+T)
            np.take(np.log(alpha + self.recency_values), self.pos_recency_index, out=log_diff)
            log_diff -= np.take(log_alpha_age, self.pos_age_index, out=e)
            np.take(1.0 / (alpha + self.recency_values), self.pos_recency_index, out=inv_diff)
            inv_diff -= np.take(inv_alpha_age, self.pos_age_index, out=e)
            np.add(self.pos_x, r, out=r_plus_x)
            # -d = (r+x) log_diff + ln(b+x-1) - ln(a)
            b_x = b + self.pos_x_values - 1.0 + self._extra_trials
            log_b_x_over_a = np.log(b_x) - math.log(a)
            np.multiply(r_plus_x, log_diff, out=minus_d)
            minus_d += np.take(log_b_x_over_a, self.pos_x_index, out=e)
            # d >= ln(a) - ln(b+x-1) because t_x <= T, so exp(-d) overflows only for absurd
            # a/(b+x-1) < exp(-700) (impossible inside the optimizer's box).
            if float(log_b_x_over_a.max()) < 700.0:
                np.exp(minus_d, out=e)
                e += 1.0
                weight = np.reciprocal(e, out=scratch["w"])  # expit(d)
                np.log(e, out=e)  # ln(1 + exp(-d)); softplus(d) = d + ln(1 + exp(-d))
                ll += _dot(c, e) - _dot(c, minus_d)
            else:
                ll += _dot(c, np.logaddexp(0.0, -minus_d))
                weight = special.expit(-minus_d)
            cw = np.multiply(c, weight, out=weight)
            grad_r -= _dot(cw, log_diff)
            grad_alpha -= _dot(cw, np.multiply(r_plus_x, inv_diff, out=inv_diff))
            cw_by_x = np.bincount(self.pos_x_index, weights=cw, minlength=len(self.pos_x_values))
            grad_a += float(cw_by_x.sum()) / a
            grad_b -= _dot(cw_by_x, 1.0 / b_x)
        return ll, np.array([grad_r, grad_alpha, grad_a, grad_b])


@dataclass(frozen=True)
class _MBGNBDData(_BGNBDData):
    """Sufficient statistics for the MBG/NBD likelihood (Batislam, Denizel & Filiztekin 2007).

    Per customer: ln L = ln G(r+x) - ln G(r) + r ln(alpha) + ln B(a, b+x+1) - ln B(a, b)
    - (r+x) ln(alpha+T) + ln(1 + exp(d)), d = ln a - ln(b+x) - (r+x) [ln(alpha+t_x) -
    ln(alpha+T)], for every customer (a customer may drop out before any repeat purchase).
    """

    _extra_trials: ClassVar[float] = 1.0


# Step in b and c for the central differences of ln 2F1(1, b; c; z) (see _log_hyp2f1_1).
_HYP2F1_PARAM_STEP = 1e-5
# 2F1(1, b; c; z) is evaluated by scipy for z <= 1 - _NEAR_ONE and by _log_hyp2f1_1_near_one
# for larger z; _SERIES_MAX_C bounds c for its series, _RECURRENCE_MAX its recurrences.
_NEAR_ONE = 0.1
_SERIES_MAX_C = 25.0
_SERIES_TERMS = 48
_RECURRENCE_MAX = 2000.0


def _log_hyp2f1_1(
    b: np.ndarray, c: np.ndarray, z: np.ndarray, eps: np.ndarray, gradient: bool = False
) -> tuple[np.ndarray, np.ndarray | None]:
    """ln F, F = 2F1(1, b; c; z), for 0 <= z < 1, b > 0, c > 1; ``eps`` is 1 - z computed directly.

    Returns ln F and, with ``gradient``, the stacked derivatives of ln F in (b and c moved
    together, c alone, z). scipy's 2F1 is exact to rounding for z <= 0.9 (its derivatives in
    b and c are central differences there, in z it is dF/dz = b/c 2F1(2, b+1; c+1; z)); near
    1 its real path is slow and both its paths lose all accuracy when c - 1 - b is close to an
    integer, so z > 0.9 goes to :func:`_log_hyp2f1_1_near_one`.
    """
    b, c, z, eps = (np.array(v, dtype=np.float64) for v in np.broadcast_arrays(b, c, z, eps))
    log_f = np.empty(b.shape)
    grad = np.empty((3,) + b.shape) if gradient else None
    near = eps < _NEAR_ONE
    far = ~near
    if far.any():
        bf, cf, zf = b[far], c[far], z[far]
        log_f[far] = np.log(special.hyp2f1(1.0, bf, cf, zf))
        if gradient:
            step, f = _HYP2F1_PARAM_STEP, special.hyp2f1
            grad[0][far] = (
                np.log(f(1.0, bf + step, cf + step, zf)) - np.log(f(1.0, bf - step, cf - step, zf))
            ) / (2.0 * step)
            grad[1][far] = (np.log(f(1.0, bf, cf + step, zf)) - np.log(f(1.0, bf, cf - step, zf))) / (
                2.0 * step
            )
            grad[2][far] = bf / cf * f(2.0, bf + 1.0, cf + 1.0, zf) / np.exp(log_f[far])
    if near.any():
        value, derivatives = _log_hyp2f1_1_near_one(b[near], c[near], eps[near], gradient)
        log_f[near] = value
        if gradient:
            grad[:, near] = derivatives
    return log_f, grad


def _log_hyp2f1_1_series(
    b: np.ndarray, c: np.ndarray, eps: np.ndarray, gradient: bool
) -> tuple[np.ndarray, np.ndarray | None]:
    """ln F(1, b; c; 1 - eps) for 0 < eps <= 0.1 and c <= _SERIES_MAX_C, with derivatives.

    With d = c - 1 - b, the identity d/dz[z^(c-1) (1-z)^-d F] = (c-1) z^(c-2) (1-z)^(-d-1)
    (DLMF 15.5.4 at a = 1) gives, with e0 = 0.1 and z0 = 1 - e0,
        F(z) = (c-1) z^(1-c) [A + sum_k binom(c-2, k) (-1)^k T_k],
        A = eps^d z0^(c-1) e0^-d F(z0) / (c-1),   T_k = eps^d int_eps^e0 v^(k-d-1) dv,
    F(z0) from scipy, and T_k = eps^k L expm1(y)/y with L = ln(e0/eps), y = (k-d) L, or
    T_k = (eps^d e0^(k-d) - eps^k)/(k-d) when y > 1: no pole when d is an integer, unlike the
    textbook connection formula. The gradient (as in :func:`_log_hyp2f1_1`) is analytic but
    for the derivatives of ln F(z0) in b and c (central differences, once per distinct pair).
    """
    d = c - 1.0 - b
    log_eps = np.log(eps)
    log_e0 = math.log(_NEAR_ONE)
    span = log_e0 - log_eps  # ln(e0 / eps) >= 0
    z0 = 1.0 - _NEAR_ONE
    # F(z0) depends on (b, c) only (on x, in the Pareto/NBD): one scipy call per distinct pair.
    pairs, pair_index = np.unique(b + 1j * c, return_inverse=True)
    pb, pc = pairs.real, pairs.imag
    hyp = special.hyp2f1
    log_a = -d * span + (c - 1.0) * math.log(z0) + np.log(hyp(1.0, pb, pc, z0))[pair_index]
    log_a -= np.log(c - 1.0)
    anchor = np.exp(log_a)
    # Terms shrink like (c e0)^k / k!: stop once that is below 1e-18.
    log_rate = math.log(float(np.max(c)) * _NEAR_ONE)
    n_terms = 2
    while n_terms < _SERIES_TERMS and n_terms * log_rate - math.lgamma(n_terms + 1) > -41.5:
        n_terms += 1
    total = np.zeros_like(c)
    total_c = np.zeros_like(c)  # d/dc at fixed d
    total_d = np.zeros_like(c)  # d/dd at fixed c
    total_e = np.zeros_like(c)  # d/deps
    coef, dcoef = np.ones_like(c), np.zeros_like(c)  # binom(c-2, k) (-1)^k and its c-derivative
    eps_k = np.ones_like(eps)  # eps^k
    tail = np.exp(d * (log_eps - log_e0))  # eps^d e0^(k-d) / e0^k
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        for k in range(n_terms):
            m = k - d
            y = m * span
            tiny = np.abs(y) < 1e-3
            safe_m = np.where(m == 0.0, 1.0, m)
            tail_k = tail * _NEAR_ONE**k  # eps^d e0^(k-d)
            phi = np.where(
                tiny,
                1.0 + y * (0.5 + y * (1.0 / 6.0 + y / 24.0)),
                np.expm1(np.minimum(y, 1.0)) / np.where(y == 0.0, 1.0, y),
            )
            term = np.where(y <= 1.0, eps_k * span * phi, (tail_k - eps_k) / safe_m)
            total += coef * term
            if gradient:
                d_term_d = np.where(
                    tiny,
                    -eps_k * span * span * (0.5 + y * (1.0 / 3.0 + y / 8.0)),
                    (term - span * tail_k) / safe_m,
                )
                total_c += dcoef * term
                total_d += coef * d_term_d
                total_e += coef * (k * term - tail_k) / eps
                dcoef = -(dcoef * (c - 2.0 - k) + coef) / (k + 1.0)
            coef = -coef * (c - 2.0 - k) / (k + 1.0)
            eps_k = eps_k * eps
    total += anchor
    log_f = np.log(c - 1.0) - (c - 1.0) * np.log1p(-eps) + np.log(total)
    if not gradient:
        return log_f, None
    step = _HYP2F1_PARAM_STEP
    f_both = (
        np.log(hyp(1.0, pb + step, pc + step, z0)) - np.log(hyp(1.0, pb - step, pc - step, z0))
    ) / (2.0 * step)
    f_c = (np.log(hyp(1.0, pb, pc + step, z0)) - np.log(hyp(1.0, pb, pc - step, z0))) / (2.0 * step)
    f_both, f_b = f_both[pair_index], (f_both - f_c)[pair_index]
    total_c += anchor * (math.log(z0) + f_both - 1.0 / (c - 1.0))
    total_d += anchor * (-span - f_b)
    total_e += anchor * d / eps
    g_c = 1.0 / (c - 1.0) - np.log1p(-eps) + total_c / total  # b and c together
    g_d = total_d / total
    g_e = (c - 1.0) / (1.0 - eps) + total_e / total
    return log_f, np.stack([g_c, g_c + g_d, -g_e])


def _log_hyp2f1_1_near_one(
    b: np.ndarray, c: np.ndarray, eps: np.ndarray, gradient: bool
) -> tuple[np.ndarray, np.ndarray | None]:
    """ln F(1, b; c; 1 - eps) for 0 < eps < 0.1, with the gradient of :func:`_log_hyp2f1_1`.

    c <= 25: :func:`_log_hyp2f1_1_series`. Larger c from there by the contiguous relations
    F(b, c+1) = c (1 - eps F(b, c)) / (z (c - b)) (stable once c - 1 - b >= 5) or
    F(b+1, c+1) = c (F(b, c) - 1) / (z b) (for c - 1 - b <= 2), z = 1 - eps, both
    following from the same identity, with their derivatives carried along;
    :func:`_log_hyp2f1_1_quadrature` for what is left (c - 1 - b and b both large, or beyond
    the recurrences' reach).
    """
    d = c - 1.0 - b
    log_f = np.empty(b.shape)
    grad = np.empty((3,) + b.shape) if gradient else None
    series = c <= _SERIES_MAX_C
    up_c = ~series & (b <= _SERIES_MAX_C - 6.0) & (c <= _RECURRENCE_MAX)
    up_b = ~series & ~up_c & (d <= 2.0) & (b <= _RECURRENCE_MAX)
    rest = ~(series | up_c | up_b)
    if series.any():
        log_f[series], g = _log_hyp2f1_1_series(b[series], c[series], eps[series], gradient)
        if gradient:
            grad[:, series] = g
    for mask, in_c in ((up_c, True), (up_b, False)):
        if not mask.any():
            continue
        bb, cc, ee = b[mask], c[mask], eps[mask]
        if in_c:
            steps = np.ceil(cc - _SERIES_MAX_C)
            b_start, c_start = bb, cc - steps
        else:
            steps = np.ceil(bb - (_SERIES_MAX_C - 1.0 - d[mask]))
            b_start, c_start = bb - steps, cc - steps
        value, g = _log_hyp2f1_1_series(b_start, c_start, ee, gradient)
        log_f[mask], g = _recur(steps, value, g, b_start, c_start, ee, in_c)
        if gradient:
            grad[:, mask] = g
    if rest.any():
        bb, cc, ee = b[rest], c[rest], eps[rest]
        log_f[rest] = _log_hyp2f1_1_quadrature(bb, cc, ee)
        if gradient:
            step, quad = _HYP2F1_PARAM_STEP, _log_hyp2f1_1_quadrature
            grad[0][rest] = (quad(bb + step, cc + step, ee) - quad(bb - step, cc - step, ee)) / (
                2.0 * step
            )
            grad[1][rest] = (quad(bb, cc + step, ee) - quad(bb, cc - step, ee)) / (2.0 * step)
            up, down = ee * math.exp(step), ee * math.exp(-step)
            grad[2][rest] = -(quad(bb, cc, up) - quad(bb, cc, down)) / (2.0 * step * ee)
    return log_f, grad


def _recur(
    steps: np.ndarray,
    log_f: np.ndarray,
    grad: np.ndarray | None,
    b: np.ndarray,
    c: np.ndarray,
    eps: np.ndarray,
    up_in_c: bool,
) -> tuple[np.ndarray, np.ndarray | None]:
    """Apply a contiguous relation of F = 2F1(1, b; c; 1 - eps) ``steps`` times per element.

    ``up_in_c``: F(b, c+1) = c (1 - eps F) / (z (c - b)); otherwise F(b+1, c+1) =
    c (F - 1) / (z b), z = 1 - eps. ``log_f`` and ``grad`` are ln F at the start (b, c) and its
    gradient as in :func:`_log_hyp2f1_1`; the result is at (b + steps, c + steps) or
    (b, c + steps). The derivatives in the end point's b, c and eps are carried along (the start
    moves with the end point). Elements are sorted by steps, so each pass touches only those
    still moving.
    """
    order = np.argsort(-steps, kind="stable")
    n_steps = steps[order].astype(np.int64)
    b, c, eps = b[order].copy(), c[order].copy(), eps[order]
    z = 1.0 - eps
    f = np.exp(log_f[order])
    if grad is not None:
        g = grad[:, order]
        f_c = f * g[1]  # dF/dc at fixed b
        f_b = f * g[0] - f_c  # dF/db at fixed c
        f_e = -f * g[2]  # dF/deps
    n_active = len(f)
    for j in range(int(n_steps[0]) if n_active else 0):
        while n_active and n_steps[n_active - 1] <= j:
            n_active -= 1
        k = slice(0, n_active)
        fk, bk, ck, ek, zk = f[k], b[k], c[k], eps[k], z[k]
        if up_in_c:
            numerator, denominator = ck * (1.0 - ek * fk), zk * (ck - bk)
            new = numerator / denominator
            if grad is not None:
                fb, fc, fe = f_b[k], f_c[k], f_e[k]
                f_b[k] = (-ck * ek * fb + new * zk) / denominator
                f_c[k] = ((1.0 - ek * fk) - ck * ek * fc - new * zk) / denominator
                f_e[k] = (-ck * (fk + ek * fe) + new * (ck - bk)) / denominator
            c[k] += 1.0
        else:
            numerator, denominator = ck * (fk - 1.0), zk * bk
            new = numerator / denominator
            if grad is not None:
                fb, fc, fe = f_b[k], f_c[k], f_e[k]
                f_b[k] = (ck * fb - new * zk) / denominator
                f_c[k] = ((fk - 1.0) + ck * fc) / denominator
                f_e[k] = (ck * fe + new * bk) / denominator
            b[k] += 1.0
            c[k] += 1.0
        f[k] = new
    out = np.empty_like(f)
    out[order] = np.log(f)
    if grad is None:
        return out, None
    grad_out = np.empty_like(grad)
    grad_out[:, order] = np.stack([(f_b + f_c) / f, f_c / f, -f_e / f])
    return out, grad_out


def _log_hyp2f1_1_quadrature(b: np.ndarray, c: np.ndarray, eps: np.ndarray) -> np.ndarray:
    """ln 2F1(1, b; c; 1 - eps) by double-exponential quadrature of Euler's integral.

    2F1(1, b; c; 1 - eps) = (c-1) (1-eps)^-b int_0^inf exp(-d y - b ln(1 + e' e^y)) dy with
    d = c - 1 - b and e' = eps / (1 - eps): a positive, smooth integrand, integrated with the
    exp-sinh rule y = exp(pi/2 sinh t) (for the few points the other methods do not cover).
    """
    t = np.arange(-4.5, 4.0, 1.0 / 64.0)
    y = np.exp(0.5 * np.pi * np.sinh(t))
    weights = 0.5 * np.pi * np.cosh(t) * y / 64.0
    d = (c - 1.0 - b)[:, None]
    log_e = (np.log(eps) - np.log1p(-eps))[:, None]
    log_f = -d * y - b[:, None] * np.logaddexp(0.0, y + log_e)
    top = log_f.max(axis=1, keepdims=True)
    integral = np.log(np.exp(log_f - top) @ weights) + top[:, 0]
    return np.log(c - 1.0) - b * np.log1p(-eps) + integral


def _pareto_log_q(
    r: float,
    alpha: float,
    s: float,
    beta: float,
    x: np.ndarray,
    t: np.ndarray,
    log_alpha_t: np.ndarray,
    log_beta_t: np.ndarray,
    gradient: bool,
) -> tuple[np.ndarray, np.ndarray | None]:
    """ln Q(x, t) = ln[G(t) / E(t)] - ln[s / (r+s+x)] and, if asked, its gradient in (r, alpha, s, beta).

    Fader & Hardie's (2005) note writes G(t) (r+s+x)/s as (alpha+t)^-(r+s+x)
    2F1(r+s+x, s+1; r+s+x+1; (alpha-beta)/(alpha+t)) when alpha >= beta and as
    (beta+t)^-(r+s+x) 2F1(r+s+x, r+x; r+s+x+1; (beta-alpha)/(beta+t)) when alpha < beta, so that
    the argument z is in [0, 1). Euler's transformation 2F1(a, b; a+1; z) = (1-z)^(1-b)
    2F1(1, a+1-b; a+1; z) then gives
        Q = H(r+x; z)                              for alpha >= beta,
        Q = (1-z) H(s+1; z) = (alpha+t)/(beta+t) H(s+1; z)  for alpha < beta,
    with H(B; z) = 2F1(1, B; r+s+x+1; z), a series of positive terms between 1 and 1/(1-z):
    nothing overflows however large x is. :func:`_log_hyp2f1_1` evaluates it and its
    derivatives in B and C = r+s+x+1 (which r and s move) and in z.
    """
    c = r + s + x + 1.0
    if alpha >= beta:
        b_param = r + x
        scale = alpha + t
        z = (alpha - beta) / scale
        eps = (beta + t) / scale
        log_base = 0.0
    else:
        b_param = np.full_like(c, s + 1.0)
        scale = beta + t
        z = (beta - alpha) / scale
        eps = (alpha + t) / scale
        log_base = log_alpha_t - log_beta_t
    log_h, grad_h = _log_hyp2f1_1(b_param, c, z, eps, gradient)
    log_q = log_base + log_h
    if not gradient:
        return log_q, None
    d_both, d_c, dlogh_dz = grad_h
    if alpha >= beta:  # z = (alpha-beta)/(alpha+t); B = r+x
        d_alpha = dlogh_dz * (beta + t) / scale**2
        d_beta = -dlogh_dz / scale
        d_r, d_s = d_both, d_c
    else:  # z = (beta-alpha)/(beta+t); B = s+1; ln(1-z) = ln(alpha+t) - ln(beta+t)
        d_alpha = 1.0 / (alpha + t) - dlogh_dz / scale
        d_beta = -1.0 / scale + dlogh_dz * (alpha + t) / scale**2
        d_r, d_s = d_c, d_both
    return log_q, np.stack([d_r, d_alpha, d_s, d_beta])


def _pareto_probability_alive(
    r: float, alpha: float, s: float, beta: float, x: np.ndarray, t_x: np.ndarray, age: np.ndarray
) -> np.ndarray:
    """Per customer E(T) / [E(T) + G(t_x) - G(T)] (see _ParetoNBDData), once per distinct (x, t)."""
    data = _ParetoNBDData.build(x, t_x, age, None, keep_rows=True)
    px, pt = data.point_x, data.point_t
    log_alpha_t, log_beta_t = np.log(alpha + pt), np.log(beta + pt)
    log_q, _ = _pareto_log_q(r, alpha, s, beta, px, pt, log_alpha_t, log_beta_t, False)
    log_e = -(r + px) * log_alpha_t - s * log_beta_t
    log_ratio = np.minimum(math.log(s) - np.log(r + s + px) + log_q, -1e-300)  # ln(G/E) < 0
    log_e_age = log_e[data.age_point]
    log_l = np.logaddexp(
        log_e_age + np.log(-np.expm1(log_ratio[data.age_point])),
        (log_e + log_ratio)[data.recency_point],
    )
    return np.minimum(np.exp(log_e_age - log_l), 1.0)[data.row_pattern]


@dataclass(frozen=True)
class _ParetoNBDData:
    """Sufficient statistics of (frequency, recency, T) for the Pareto/NBD likelihood.

    Per customer (Fader & Hardie 2005, "A note on deriving the Pareto/NBD model and related
    expressions", eq. 22, written with the dropout time integrated out explicitly):
        L = G(r+x) / G(r) alpha^r beta^s [E(T) + G(t_x) - G(T)],
        E(t) = (alpha+t)^-(r+x) (beta+t)^-s,
        G(t) = s int_t^inf (alpha+u)^-(r+x) (beta+u)^-(s+1) du = E(t) s/(r+s+x) Q(t)
    (E(T): alive at T; G(t_x) - G(T): dropped out between t_x and T), with Q from
    :func:`_pareto_log_q`. G(T) <= E(T), so E(T) - G(T) = E(T) (1 - s/(r+s+x) Q(T)) is
    computed with expm1 and never by cancellation. E and Q depend on (x, t) only: they are
    evaluated once per distinct (x, t) "point", t a recency or an age, and the patterns
    combine them with a few array operations.
    """

    n_customers: float
    n_patterns: int
    x_values: np.ndarray  # distinct frequencies
    x_counts: np.ndarray  # customers per distinct frequency
    point_x: np.ndarray  # per distinct (x, t): x
    point_t: np.ndarray  # per distinct (x, t): t
    recency_point: np.ndarray  # per pattern: index of (x, t_x) among the points
    age_point: np.ndarray  # per pattern: index of (x, T) among the points
    counts: np.ndarray  # per pattern: customers
    recency_point_counts: np.ndarray  # per point: customers whose (x, t_x) it is
    total_age: float  # sum of T over the customers
    row_pattern: np.ndarray | None = None  # per input row: its pattern (``keep_rows``)

    @classmethod
    def build(
        cls,
        x: np.ndarray,
        t_x: np.ndarray,
        age: np.ndarray,
        weights: np.ndarray | None,
        keep_rows: bool = False,
    ) -> _ParetoNBDData:
        (x_tab, t_tab, age_tab), (ix, it, iage), counts, row_pattern = _distinct_rows(
            [x, t_x, age], weights, need_inverse=keep_rows
        )
        times = np.union1d(t_tab, age_tab)
        n_times = len(times)
        recency_key = ix * n_times + np.searchsorted(times, t_tab)[it]
        age_key = ix * n_times + np.searchsorted(times, age_tab)[iage]
        all_keys = np.concatenate([recency_key, age_key])
        n_keys = len(x_tab) * n_times
        if n_keys <= max(4 * len(all_keys), 1 << 20):  # dense key space: no sort needed
            used = np.zeros(n_keys, dtype=bool)
            used[all_keys] = True
            keys = np.flatnonzero(used)
            inverse = (np.cumsum(used) - 1)[all_keys]
        else:
            keys, inverse = np.unique(all_keys, return_inverse=True)
        x_values, ix_used = _used_values(x_tab, ix)
        recency_point = inverse[: len(counts)].astype(np.intp)
        return cls(
            n_customers=float(counts.sum()),
            n_patterns=len(counts),
            x_values=x_values,
            x_counts=np.bincount(ix_used, weights=counts, minlength=len(x_values)),
            point_x=x_tab[keys // n_times],
            point_t=times[keys % n_times],
            recency_point=recency_point,
            age_point=inverse[len(counts) :].astype(np.intp),
            counts=counts,
            recency_point_counts=np.bincount(recency_point, weights=counts, minlength=len(keys)),
            total_age=_dot(counts, age_tab[iage]),
            row_pattern=row_pattern,
        )

    def log_likelihood_and_gradient(self, r: float, alpha: float, s: float, beta: float):
        """Total Pareto/NBD log-likelihood and its gradient with respect to (r, alpha, s, beta)."""
        digamma, gammaln = special.digamma, special.gammaln
        xv, nx, n = self.x_values, self.x_counts, self.n_customers
        px, pt = self.point_x, self.point_t
        # Per point: ln E, ln(G/E) = ln(s/(r+s+x)) + ln Q, and their gradients.
        log_alpha_t = np.log(alpha + pt)
        log_beta_t = np.log(beta + pt)
        r_x = r + px
        log_e = -r_x * log_alpha_t - s * log_beta_t
        log_q, grad_log_q = _pareto_log_q(
            r, alpha, s, beta, px, pt, log_alpha_t, log_beta_t, gradient=True
        )
        inv_rsx = 1.0 / (r_x + s)
        # ln(G/E) <= 0; capping it just below 0 keeps ln(E - G) finite where rounding says G = E.
        log_ratio = np.minimum(math.log(s) + np.log(inv_rsx) + log_q, -1e-300)
        log_not_dropped = log_e + np.log(-np.expm1(log_ratio))  # ln(E - G)
        odds_dropped = 1.0 / np.expm1(-log_ratio)  # G / (E - G)
        # Per pattern: ln L = ln(E(T) - G(T) + G(t_x)) = ln(E(T) - G(T)) + softplus(v), with
        # v = ln G(t_x) - ln(E(T) - G(T)); w = exp(-softplus(v)) is the first term's share.
        c = self.counts
        log_first = np.take(log_not_dropped, self.age_point)
        v = np.take(log_e + log_ratio, self.recency_point)
        v -= log_first
        softplus = np.logaddexp(0.0, v, out=v)
        ll = _dot(c, log_first) + _dot(c, softplus)
        w_first = np.exp(np.negative(softplus, out=softplus), out=softplus)
        ll += _dot(nx, gammaln(r + xv) - gammaln(r)) + n * (
            r * math.log(alpha) + s * math.log(beta)
        )
        # d ln L = w d ln(E(T) - G(T)) + (1 - w) d ln G(t_x), where
        # d ln(E - G) = d ln E - G/(E - G) d ln(G/E) and d ln G = d ln E + d ln(G/E);
        # the pattern weights are summed per point.
        n_points = len(px)
        cw = np.multiply(c, w_first, out=w_first)
        at_age = np.bincount(self.age_point, weights=cw, minlength=n_points)
        at_recency = self.recency_point_counts - np.bincount(
            self.recency_point, weights=cw, minlength=n_points
        )
        coef_e = at_recency + at_age
        coef_ratio = at_recency - odds_dropped * at_age
        grad = grad_log_q @ coef_ratio
        grad[0] += _dot(coef_e, -log_alpha_t) - _dot(coef_ratio, inv_rsx)
        grad[1] -= _dot(coef_e, r_x / (alpha + pt))
        grad[2] += _dot(coef_e, -log_beta_t) + float(coef_ratio.sum()) / s - _dot(
            coef_ratio, inv_rsx
        )
        grad[3] -= s * _dot(coef_e, 1.0 / (beta + pt))
        grad[0] += _dot(nx, digamma(r + xv) - digamma(r)) + n * math.log(alpha)
        grad[1] += n * r / alpha
        grad[2] += n * math.log(beta)
        grad[3] += n * s / beta
        return ll, grad


@dataclass(frozen=True)
class _GammaGammaData:
    """Distinct (x, average spend) pairs with customer counts, for the Gamma-Gamma likelihood."""

    n_customers: float
    x: np.ndarray
    log_x: np.ndarray
    spend: np.ndarray
    log_spend: np.ndarray
    counts: np.ndarray

    @classmethod
    def build(cls, x: np.ndarray, spend: np.ndarray, weights: np.ndarray | None) -> _GammaGammaData:
        (x_tab, m_tab), (ix, im), counts, _ = _distinct_rows([x, spend], weights)
        xs, ms = x_tab[ix], m_tab[im]
        return cls(float(counts.sum()), xs, np.log(xs), ms, np.log(ms), counts)

    def log_likelihood_and_gradient(self, p: float, q: float, gamma: float):
        """Total Gamma-Gamma log-likelihood of the average spends and its gradient in (p, q, gamma).

        Per customer (Fader & Hardie 2013, eq. 4 as a density of the average spend z):
        ln f = ln G(px+q) - ln G(px) - ln G(q) + q ln(gamma) + (px-1) ln z + px ln x
               - (px+q) ln(gamma + x z).
        """
        digamma, gammaln = special.digamma, special.gammaln
        x, c = self.x, self.counts
        px = p * x
        log_scale = np.log(gamma + x * self.spend)
        ll = _dot(
            c,
            gammaln(px + q)
            - gammaln(px)
            - gammaln(q)
            + q * math.log(gamma)
            + (px - 1.0) * self.log_spend
            + px * self.log_x
            - (px + q) * log_scale,
        )
        psi_pxq = digamma(px + q)
        grad_p = _dot(c, x * (psi_pxq - digamma(px) + self.log_spend + self.log_x - log_scale))
        grad_q = _dot(c, psi_pxq - digamma(q) + math.log(gamma) - log_scale)
        grad_gamma = _dot(c, q / gamma - (px + q) / (gamma + x * self.spend))
        return ll, np.array([grad_p, grad_q, grad_gamma])


# --------------------------------------------------------------------------------------------
# Optimization
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _FitResult:
    params: np.ndarray
    log_likelihood: float
    converged: bool
    n_iter: int
    n_evaluations: int
    message: str


def _maximize(
    log_likelihood_and_gradient,
    start: np.ndarray,
    n_customers: float,
    penalizer_coef: float,
    tol: float,
    max_iter: int,
    model_name: str,
) -> _FitResult:
    """Maximize a log-likelihood over positive parameters with L-BFGS-B on log(params).

    The objective is the negative log-likelihood plus ``n_customers * penalizer_coef *
    sum(params**2)`` (lifetimes' penalty on the per-customer average), divided by
    ``|log-likelihood at the start|`` so that it starts near 1 and the relative tolerance
    ``tol`` means the same for any number of customers and any purchase rate.
    """
    start_ll, _ = log_likelihood_and_gradient(*start)
    scale = abs(start_ll) if np.isfinite(start_ll) and start_ll != 0 else n_customers
    penalty_weight = n_customers * penalizer_coef

    def objective(log_params: np.ndarray) -> tuple[float, np.ndarray]:
        params = np.exp(log_params)
        ll, grad = log_likelihood_and_gradient(*params)
        value = (-ll + penalty_weight * _dot(params, params)) / scale
        # Chain rule for theta = exp(phi): d/dphi = theta * d/dtheta (same line after the fit).
        grad_log = params * (-grad + 2.0 * penalty_weight * params) / scale
        if not np.isfinite(value) or not np.all(np.isfinite(grad_log)):
            return np.inf, np.zeros_like(log_params)
        return value, grad_log

    bounds = [(-_LOG_PARAM_BOUND, _LOG_PARAM_BOUND)] * len(start)
    result = optimize.minimize(
        objective,
        np.log(start),
        jac=True,
        method="L-BFGS-B",
        bounds=bounds,
        options={"maxiter": max_iter, "ftol": tol, "gtol": 1e-9, "maxcor": 20},
    )
    params = np.exp(result.x)
    ll, grad = log_likelihood_and_gradient(*params)
    grad_log = params * (-grad + 2.0 * penalty_weight * params) / scale
    # A line search can stop "abnormally" at the optimum when the objective is flat to rounding;
    # a vanishing gradient still means the maximum was reached.
    stationary = bool(np.max(np.abs(grad_log)) <= 1e-7)
    at_bound = np.any(np.abs(result.x) >= _LOG_PARAM_BOUND - 1e-6)
    converged = (bool(result.success) or stationary) and bool(np.isfinite(ll)) and not at_bound
    message = str(result.message)
    if at_bound:
        message = (
            "a parameter reached exp(+-30): the data do not identify the model "
            "(e.g. almost no repeat purchases)"
        )
    if not converged:
        warnings.warn(
            f"{model_name} fit did not converge after {result.nit} iterations: {message}. "
            "Check the inputs (time unit, repeat-purchase counts) or raise `max_iter`.",
            ConvergenceWarning,
            stacklevel=3,
        )
    return _FitResult(params, float(ll), converged, int(result.nit), int(result.nfev), message)


def _require_fitted(model: Any) -> dict[str, float]:
    params = getattr(model, "params_", None)
    if params is None:
        raise ModelNotFittedError(
            f"this {type(model).__name__} has no parameters yet: call fit() or from_dict() first."
        )
    return params


def _as_count(total: float) -> int | float:
    """Customers as an int when the weights were whole numbers (the usual case)."""
    return int(total) if float(total).is_integer() else float(total)


def _fitted_values(model: Any) -> tuple[float, ...]:
    """The fitted parameters in the model's canonical order (r, alpha, a, b or p, q, gamma)."""
    params = _require_fitted(model)
    return tuple(float(params[name]) for name in model._param_names)


# --------------------------------------------------------------------------------------------
# BG/NBD
# --------------------------------------------------------------------------------------------


def _purchase_log_likelihood(
    data_class: type,
    names: tuple[str, ...],
    params: dict[str, float],
    frequency: ArrayLike,
    recency: ArrayLike,
    T: ArrayLike,
    weights: ArrayLike | None,
) -> float:
    theta = _check_positive_params(params, names)
    x, t_x, age = _check_rfm(frequency, recency, T)
    w = _check_weights(weights, len(x))
    data = data_class.build(x, t_x, age, w)
    ll, _ = data.log_likelihood_and_gradient(*theta.values())
    return ll


def bgnbd_log_likelihood(
    params: dict[str, float],
    frequency: ArrayLike,
    recency: ArrayLike,
    T: ArrayLike,
    weights: ArrayLike | None = None,
) -> float:
    """Total BG/NBD log-likelihood (the paper's LL, e.g. -9582.4 on CDNOW at the MLE).

    Parameters
    ----------
    params : dict
        ``{"r", "alpha", "a", "b"}``, all > 0; ``alpha`` in the unit of ``recency`` and ``T``.
    frequency, recency, T : array-like, one value per customer
        Repeat purchases (whole number >= 0), time of last purchase and age, both measured from
        the first purchase in one time unit.
    weights : array-like, optional
        Customers represented by each row (default 1 each).

    Returns
    -------
    float
        Sum over customers of the log-likelihood.
    """
    return _purchase_log_likelihood(
        _BGNBDData, ("r", "alpha", "a", "b"), params, frequency, recency, T, weights
    )


def mbgnbd_log_likelihood(
    params: dict[str, float],
    frequency: ArrayLike,
    recency: ArrayLike,
    T: ArrayLike,
    weights: ArrayLike | None = None,
) -> float:
    """Total MBG/NBD log-likelihood; arguments as in :func:`bgnbd_log_likelihood`."""
    return _purchase_log_likelihood(
        _MBGNBDData, ("r", "alpha", "a", "b"), params, frequency, recency, T, weights
    )


def pareto_nbd_log_likelihood(
    params: dict[str, float],
    frequency: ArrayLike,
    recency: ArrayLike,
    T: ArrayLike,
    weights: ArrayLike | None = None,
) -> float:
    """Total Pareto/NBD log-likelihood (-9595.0 on CDNOW at Fader, Hardie & Lee's MLE).

    ``params`` is ``{"r", "alpha", "s", "beta"}``, all > 0, ``alpha`` and ``beta`` in the unit
    of ``recency`` and ``T``; the other arguments are as in :func:`bgnbd_log_likelihood`.
    """
    return _purchase_log_likelihood(
        _ParetoNBDData, ("r", "alpha", "s", "beta"), params, frequency, recency, T, weights
    )


def _finding(code: str, severity: str, **numbers: Any) -> dict[str, Any]:
    """A health finding: a code, a severity and the numbers behind it (None values dropped)."""
    return {"code": code, "severity": severity, **{k: v for k, v in numbers.items() if v is not None}}


def _check_horizon(t: ArrayLike, what: str) -> np.ndarray:
    horizon = np.asarray(t, dtype=np.float64)
    if np.any(horizon < 0) or not np.all(np.isfinite(horizon)):
        raise BTYDParameterError(f"{what} must be finite and >= 0.")
    return horizon


class _MaximumLikelihoodFitter:
    """What the BTYD fitters share: options, the fit's results, (de)serialization, repr, health.

    The thresholds used by :meth:`health` are class attributes; override them on a subclass or
    an instance to change them.
    """

    _param_names: tuple[str, ...] = ()
    # Fit statistics kept in to_dict()["diagnostics"] (attribute names without the trailing _).
    _diagnostic_names: ClassVar[tuple[str, ...]] = ()
    #: Short model name used in findings and by :func:`compare_btyd`.
    model_key: ClassVar[str] = ""

    #: Fewer customers with a repeat purchase than this: ``few_repeat_buyers`` error (the
    #: dropout and spend parameters rest on the repeat buyers alone).
    min_repeat_buyers: int = 30
    #: A share of repeat buyers below this: ``few_repeat_buyers`` warning (window too short?).
    min_repeat_share: float = 0.05
    #: Dropout probability below this (per purchase for BG/NBD and MBG/NBD, within the mean
    #: customer age for Pareto/NBD): ``boundary`` error with ``limit="no_dropout"``.
    min_dropout: float = 1e-3
    #: A Gamma shape (r, s, q) or Beta concentration (a + b) above this (a coefficient of
    #: variation of a few %): ``boundary`` warning (the population is treated as homogeneous).
    max_shape: float = 1e3

    def __init__(self, penalizer_coef: float = 0.0, tol: float = 1e-12, max_iter: int = 1000,
                 initial_params: dict[str, float] | None = None) -> None:
        self.penalizer_coef = penalizer_coef
        self.tol = tol
        self.max_iter = max_iter
        self.initial_params = initial_params

    def _checked_options(self) -> tuple[float, float]:
        """(penalizer, tol), validated."""
        return (_check_option("penalizer_coef", self.penalizer_coef, minimum=0.0, strict=False),
                _check_option("tol", self.tol, minimum=0.0, strict=True))

    def _initial_values(self, data: Any) -> np.ndarray:
        if self.initial_params is not None:
            theta = _check_positive_params(self.initial_params, self._param_names)
            return np.array(list(theta.values()))
        return self._default_start(data)

    def _default_start(self, data: Any) -> np.ndarray:
        raise NotImplementedError

    def _store(self, result: _FitResult, n_customers: float, started: float) -> None:
        self.params_ = dict(zip(self._param_names, map(float, result.params), strict=True))
        self.log_likelihood_ = result.log_likelihood
        self.n_customers_ = _as_count(n_customers)
        self.converged_ = result.converged
        self.n_iter_ = result.n_iter
        self.optimizer_message_ = result.message
        self.fit_seconds_ = time.perf_counter() - started

    def _payload_extra(self) -> dict[str, Any]:
        return {}

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready description of the fitted model (options, parameters, fit summary)."""
        params = _require_fitted(self)
        return {
            "model": type(self).__name__,
            "format_version": _FORMAT_VERSION,
            **self._payload_extra(),
            "options": {
                "penalizer_coef": float(self.penalizer_coef),
                "tol": float(self.tol),
                "max_iter": int(self.max_iter),
            },
            "params": dict(params),
            "log_likelihood": getattr(self, "log_likelihood_", None),
            "n_customers": getattr(self, "n_customers_", None),
            "converged": getattr(self, "converged_", None),
            "diagnostics": {
                name: getattr(self, f"{name}_", None) for name in self._diagnostic_names
            },
        }

    @classmethod
    def _from_payload(cls, payload: dict[str, Any]):
        return cls(**payload.get("options", {}))

    @classmethod
    def from_dict(cls, payload: dict[str, Any]):
        """Rebuild a fitted model from :meth:`to_dict` output (e.g. after ``json.load``)."""
        _check_payload(payload, cls.__name__)
        model = cls._from_payload(payload)
        model.params_ = _check_positive_params(payload["params"], cls._param_names)
        model.log_likelihood_ = payload.get("log_likelihood")
        model.n_customers_ = payload.get("n_customers")
        model.converged_ = payload.get("converged")
        diagnostics = payload.get("diagnostics") or {}
        for name in cls._diagnostic_names:
            setattr(model, f"{name}_", diagnostics.get(name))
        return model

    # -- health ------------------------------------------------------------------------------

    def _repeat_buyers(self) -> float | None:
        return getattr(self, "n_repeat_buyers_", None)

    def _model_findings(self, params: dict[str, float]) -> list[dict[str, Any]]:
        return []

    def health(self) -> list[dict[str, Any]]:
        """Problems with this fit, as ``{"code", "severity", **numbers}`` dicts (empty: none).

        Codes (the words for them are made by the caller):

        * ``not_converged`` (error): the optimizer did not reach a maximum (``n_iter``).
        * ``boundary``: a parameter at the edge of its range, ``limit`` saying which edge:
          ``"box"`` (error; ``parameter`` ran to exp(+-30)), ``"no_dropout"`` (error; the
          estimated dropout probability ``value`` is below ``threshold`` =
          :attr:`min_dropout`: no evidence that customers stop buying, so P(alive) is not
          informative), ``"homogeneous_purchase_rate"`` (r), ``"homogeneous_dropout_rate"``
          (Pareto/NBD s), ``"homogeneous_dropout_probability"`` (BG/NBD and MBG/NBD a + b),
          ``"homogeneous_spend"`` (Gamma-Gamma q) (warnings: a Gamma shape or Beta
          concentration ``value`` above :attr:`max_shape`, i.e. no heterogeneity left: r and
          alpha, or a and b, or s and beta, run off to infinity together), and
          ``"infinite_mean_spend"`` (error; Gamma-Gamma q <= 1).
        * ``few_repeat_buyers``: ``n_repeat_buyers`` below :attr:`min_repeat_buyers` (error),
          or their ``share`` of the customers below :attr:`min_repeat_share` (warning).
        * Gamma-Gamma only: ``nonpositive_spend_excluded`` (warning; ``n_excluded`` customers
          dropped for a zero or negative average spend) and ``spend_frequency_correlation``
          (warning; ``value`` = Pearson correlation of frequency and average spend, beyond
          +-``threshold``: the model assumes they are independent).

        A fit with an ``error`` finding must not be used for decisions (see :attr:`usable`).
        Checks that need fit statistics a loaded artifact lacks are skipped.
        """
        params = _require_fitted(self)
        findings: list[dict[str, Any]] = []
        if getattr(self, "converged_", None) is False:
            findings.append(_finding("not_converged", "error", n_iter=getattr(self, "n_iter_", None)))
        for name, value in params.items():
            if abs(math.log(value)) >= _LOG_PARAM_BOUND - 1e-6:
                findings.append(
                    _finding("boundary", "error", limit="box", parameter=name, value=value)
                )
        findings.extend(self._model_findings(params))
        n_repeat = self._repeat_buyers()
        n_total = getattr(self, "n_customers_", None)
        if n_repeat is not None:
            share = n_repeat / n_total if n_total else None
            if n_repeat < self.min_repeat_buyers:
                findings.append(
                    _finding(
                        "few_repeat_buyers",
                        "error",
                        n_repeat_buyers=n_repeat,
                        share=share,
                        threshold=self.min_repeat_buyers,
                    )
                )
            elif share is not None and share < self.min_repeat_share:
                findings.append(
                    _finding(
                        "few_repeat_buyers",
                        "warning",
                        n_repeat_buyers=n_repeat,
                        share=share,
                        threshold=self.min_repeat_share,
                    )
                )
        return findings

    @property
    def usable(self) -> bool:
        """True when :meth:`health` reports no error: the fit may be used for decisions."""
        return not any(finding["severity"] == "error" for finding in self.health())

    def _repr_extra(self) -> str:
        return ""

    def __repr__(self) -> str:
        params = getattr(self, "params_", None)
        shown = ", ".join(f"{k}={v:.4g}" for k, v in params.items()) if params else "not fitted"
        return f"{type(self).__name__}({shown}{self._repr_extra()})"


class _PurchaseModelFitter(_MaximumLikelihoodFitter):
    """What the purchase models (BG/NBD, MBG/NBD, Pareto/NBD) share: fit, predictions, artifacts.

    Subclasses set ``_data_class`` (sufficient statistics with ``log_likelihood_and_gradient``)
    and ``_model_label``, and define ``_default_start``, ``conditional_probability_alive``,
    ``_expected_if_alive`` and ``expected_number_of_purchases_up_to_time``.
    """

    _data_class: ClassVar[type]
    _model_label: ClassVar[str] = ""
    _diagnostic_names = ("n_repeat_buyers", "mean_age")

    def __init__(
        self,
        time_unit: str = "days",
        penalizer_coef: float = 0.0,
        tol: float = 1e-12,
        max_iter: int = 1000,
        initial_params: dict[str, float] | None = None,
    ) -> None:
        super().__init__(penalizer_coef, tol, max_iter, initial_params)
        self.time_unit = time_unit

    def fit(
        self,
        frequency: ArrayLike,
        recency: ArrayLike,
        T: ArrayLike,
        weights: ArrayLike | None = None,
    ):
        """Fit the model by maximum likelihood.

        Parameters
        ----------
        frequency : array-like of int, one per customer
            Repeat purchases x (whole number >= 0; the first purchase is not counted).
        recency : array-like of float
            t_x: time from first to last purchase, in ``time_unit``; 0 when x == 0.
        T : array-like of float
            Customer age: time from first purchase to the end of the window, in ``time_unit``;
            ``recency <= T``.
        weights : array-like, optional
            Customers represented by each row (for pre-aggregated data); default 1 each.

        Returns
        -------
        self
            With ``params_``, ``log_likelihood_`` and the other fitted attributes.

        Raises
        ------
        BTYDDataError
            (a ``ValueError``) if the inputs are inconsistent or contain no repeat purchases.
        """
        started = time.perf_counter()
        penalizer, tol = self._checked_options()
        x, t_x, age = _check_rfm(frequency, recency, T)
        w = _check_weights(weights, len(x))
        data = self._data_class.build(x, t_x, age, w)
        if data.n_customers <= 0:
            raise BTYDDataError("no customers to fit (all weights are 0 or the input is empty).")
        n_repeat = float(data.x_counts[data.x_values > 0].sum())
        if n_repeat <= 0:
            raise BTYDDataError(
                f"no customer has a repeat purchase (frequency > 0): the {self._model_label} "
                "cannot be estimated. Use a longer observation window."
            )
        result = _maximize(
            data.log_likelihood_and_gradient,
            self._initial_values(data),
            data.n_customers,
            penalizer,
            tol,
            int(self.max_iter),
            self._model_label,
        )
        self.n_patterns_ = data.n_patterns
        self.n_repeat_buyers_ = _as_count(n_repeat)
        self.mean_age_ = data.total_age / data.n_customers
        self._store(result, data.n_customers, started)
        return self

    def _rate_start(self, data: Any) -> float:
        """alpha for r = 1: matches the mean purchase rate 1/alpha to repeat purchases per time."""
        total_repeat = _dot(data.x_counts, data.x_values)
        return max(data.total_age / total_repeat, 1e-6) if data.total_age > 0 else 1.0

    # -- predictions ------------------------------------------------------------------------

    def conditional_probability_alive(
        self, frequency: ArrayLike, recency: ArrayLike, T: ArrayLike
    ) -> np.ndarray:
        raise NotImplementedError

    def _expected_if_alive(self, t: ArrayLike, x: ArrayLike, age: ArrayLike) -> np.ndarray:
        raise NotImplementedError

    def _new_customer_active_share(self) -> float:
        """Share of new customers still active right after their first purchase."""
        return 1.0

    def expected_number_of_purchases_up_to_time(self, t: ArrayLike) -> np.ndarray:
        """Expected repeat purchases in (0, t] for a new customer (eq. 9 of the BG/NBD paper
        for BG/NBD).

        Parameters
        ----------
        t : float or array-like
            Time since the first purchase, in ``time_unit``.

        Returns
        -------
        numpy.ndarray
            E[X(t)] for each ``t``.
        """
        horizon = _check_horizon(t, "`t`")
        return self._new_customer_active_share() * self._expected_if_alive(horizon, 0.0, 0.0)

    def conditional_expected_number_of_purchases_up_to_time(
        self, t: ArrayLike, frequency: ArrayLike, recency: ArrayLike, T: ArrayLike
    ) -> np.ndarray:
        """Expected repeat purchases in the next ``t`` time units given each customer's history.

        E[Y(t) | x, t_x, T] = E[Y(t) | alive at T, x, T] * P(alive | x, t_x, T); the first
        factor is the model's (see the class docstring).

        Parameters
        ----------
        t : float or array-like
            Length of the future period in ``time_unit`` (broadcast against the customers).
        frequency, recency, T : array-like
            As in :meth:`fit`.

        Returns
        -------
        numpy.ndarray
            Expected purchases in (T, T + t] per customer.
        """
        _require_fitted(self)
        x, t_x, age = _check_rfm(frequency, recency, T)
        horizon = _check_horizon(t, "`t` (future period length)")
        expected_if_alive = self._expected_if_alive(horizon, x, age)
        return expected_if_alive * self.conditional_probability_alive(x, t_x, age)

    # -- health ------------------------------------------------------------------------------

    def _dropout_finding(self, value: float | None) -> list[dict[str, Any]]:
        if value is None or value >= self.min_dropout:
            return []
        return [
            _finding("boundary", "error", limit="no_dropout", value=value, threshold=self.min_dropout)
        ]

    def _shape_finding(self, limit: str, value: float) -> list[dict[str, Any]]:
        if value <= self.max_shape:
            return []
        return [_finding("boundary", "warning", limit=limit, value=value, threshold=self.max_shape)]

    # -- artifacts ---------------------------------------------------------------------------

    def _payload_extra(self) -> dict[str, Any]:
        return {"time_unit": self.time_unit}

    @classmethod
    def _from_payload(cls, payload: dict[str, Any]):
        return cls(time_unit=payload.get("time_unit", "days"), **payload.get("options", {}))

    def _repr_extra(self) -> str:
        return f"; time_unit={self.time_unit!r}"


class BetaGeoFitter(_PurchaseModelFitter):
    """BG/NBD model of repeat purchases, fitted by maximum likelihood.

    Fader, Hardie & Lee (2005): while active a customer buys as a Poisson process with rate
    lambda ~ Gamma(r, alpha); after each repeat purchase the customer drops out with
    probability p ~ Beta(a, b). Given that the customer is active at T, the expected purchases
    in the next t are (a+b+x-1)/(a-1) [1 - ((alpha+T)/(alpha+T+t))^(r+x)
    2F1(r+x, b+x; a+b+x-1; t/(alpha+T+t))] (their eq. 10 divided by P(alive)).

    Parameters
    ----------
    time_unit : str, default "days"
        Unit of ``recency`` and ``T`` (and of ``alpha``), recorded for artifacts and used by
        :func:`customer_lifetime_value` ("days"/"D" or "weeks"/"W" are understood there).
    penalizer_coef : float, default 0.0
        L2 penalty ``penalizer_coef * (r**2 + alpha**2 + a**2 + b**2)`` added to the
        per-customer average negative log-likelihood (as in lifetimes). 0 gives the MLE.
    tol : float, default 1e-12
        L-BFGS-B ``ftol``: stop when an iteration improves the log-likelihood by less than
        ``tol`` times its value at the start.
    max_iter : int, default 1000
        Maximum L-BFGS-B iterations.
    initial_params : dict, optional
        Starting ``{"r", "alpha", "a", "b"}``; by default r=1, a=1, b=1 and alpha set from the
        data's purchase rate (``r * sum(T) / sum(x)``), so days-scale data start near the optimum.

    Attributes
    ----------
    params_ : dict
        Fitted ``{"r", "alpha", "a", "b"}``.
    log_likelihood_ : float
        Total log-likelihood at ``params_`` (the paper's LL, not a per-customer average).
    n_customers_ : int or float
        Customers used (sum of weights; an int unless weights are fractional).
    n_repeat_buyers_ : int or float
        Customers with frequency > 0.
    mean_age_ : float
        Mean T of the customers, in ``time_unit``.
    n_patterns_ : int
        Distinct (frequency, recency, T) patterns the likelihood was evaluated on.
    converged_ : bool
        Whether the optimizer reached a maximum (L-BFGS-B converged or the gradient vanished,
        and no parameter ran off to 0 or infinity); a :class:`ConvergenceWarning` is emitted
        if not.
    n_iter_ : int
        L-BFGS-B iterations.
    fit_seconds_ : float
        Wall time of ``fit``.

    :meth:`health` lists problems with the fit and :attr:`usable` says whether there is none
    that rules it out.
    """

    _param_names = ("r", "alpha", "a", "b")
    _data_class = _BGNBDData
    _model_label = "BG/NBD"
    model_key = "bgnbd"

    def _default_start(self, data: _BGNBDData) -> np.ndarray:
        return np.array([1.0, self._rate_start(data), 1.0, 1.0])

    # -- predictions ------------------------------------------------------------------------

    def conditional_probability_alive(
        self, frequency: ArrayLike, recency: ArrayLike, T: ArrayLike
    ) -> np.ndarray:
        """Probability that each customer is still active at the end of the window.

        P(alive | x, t_x, T) = 1 / (1 + [x>0] a/(b+x-1) ((alpha+T)/(alpha+t_x))^(r+x))
        (Fader, Hardie & Lee 2005; Hardie note 021). Customers with x == 0 cannot have dropped
        out (dropout happens only after a repeat purchase), so their probability is exactly 1.

        Parameters
        ----------
        frequency, recency, T : array-like
            As in :meth:`fit`, in the fitted ``time_unit``.

        Returns
        -------
        numpy.ndarray
            One probability per customer.
        """
        r, alpha, a, b = _fitted_values(self)
        x, t_x, age = _check_rfm(frequency, recency, T)
        positive = x > 0
        log_odds_dead = np.zeros_like(x)
        log_odds_dead[positive] = (
            np.log(a)
            - np.log(b + x[positive] - 1.0)
            + (r + x[positive]) * (np.log(alpha + age[positive]) - np.log(alpha + t_x[positive]))
        )
        return np.where(positive, special.expit(-log_odds_dead), 1.0)

    def _expected_if_alive(self, t: ArrayLike, x: ArrayLike, age: ArrayLike) -> np.ndarray:
        r, alpha, a, b = _fitted_values(self)
        return _bgnbd_expected_if_alive(t, x, age, r, alpha, a, b)


    def _model_findings(self, params: dict[str, float]) -> list[dict[str, Any]]:
        a, b = params["a"], params["b"]
        return (
            self._dropout_finding(a / (a + b))
            + self._shape_finding("homogeneous_purchase_rate", params["r"])
            + self._shape_finding("homogeneous_dropout_probability", a + b)
        )


class ModifiedBetaGeoFitter(_PurchaseModelFitter):
    """MBG/NBD model of repeat purchases, fitted by maximum likelihood.

    Batislam, Denizel & Filiztekin (2007, "Empirical validation and comparison of models for
    customer base analysis", IJRM 24(3)), with Wagner & Hoppe's (2008) erratum: the BG/NBD,
    except that a customer may also drop out right after the first purchase, so p ~ Beta(a, b)
    is tried once more than in the BG/NBD and customers without repeat purchases can be
    inactive. Per customer

        L = B(a, b+x+1)/B(a, b) G(r+x) alpha^r / (G(r) (alpha+T)^(r+x))
            [1 + a/(b+x) ((alpha+T)/(alpha+t_x))^(r+x)],
        P(alive | x, t_x, T) = 1 / (1 + a/(b+x) ((alpha+T)/(alpha+t_x))^(r+x)),
        E[Y(t) | alive] = (a+b+x)/(a-1) [1 - ((alpha+T)/(alpha+T+t))^(r+x)
                          2F1(r+x, b+x+1; a+b+x; t/(alpha+T+t))],
        E[X(t)] = b/(a-1) [1 - (alpha/(alpha+t))^r 2F1(r, b+1; a+b; t/(alpha+t))].

    Parameters, attributes and methods are those of :class:`BetaGeoFitter` (parameters
    ``{"r", "alpha", "a", "b"}``). On CDNOW (weeks) the MLE is r = 0.525, alpha = 6.183,
    a = 0.891, b = 1.614 (BTYDplus; lifetimes' tests).
    """

    _param_names = ("r", "alpha", "a", "b")
    _data_class = _MBGNBDData
    _model_label = "MBG/NBD"
    model_key = "mbgnbd"

    def _default_start(self, data: _MBGNBDData) -> np.ndarray:
        return np.array([1.0, self._rate_start(data), 1.0, 1.0])

    def conditional_probability_alive(
        self, frequency: ArrayLike, recency: ArrayLike, T: ArrayLike
    ) -> np.ndarray:
        """Probability that each customer is still active at the end of the window.

        1 / (1 + a/(b+x) ((alpha+T)/(alpha+t_x))^(r+x)), below 1 also for x == 0.

        Parameters
        ----------
        frequency, recency, T : array-like
            As in :meth:`fit`, in the fitted ``time_unit``.

        Returns
        -------
        numpy.ndarray
            One probability per customer.
        """
        r, alpha, a, b = _fitted_values(self)
        x, t_x, age = _check_rfm(frequency, recency, T)
        log_odds_dead = (
            math.log(a) - np.log(b + x) + (r + x) * (np.log(alpha + age) - np.log(alpha + t_x))
        )
        return special.expit(-log_odds_dead)

    def _expected_if_alive(self, t: ArrayLike, x: ArrayLike, age: ArrayLike) -> np.ndarray:
        r, alpha, a, b = _fitted_values(self)
        # An active customer has survived x+1 dropout trials: the BG/NBD formula with b+1.
        return _bgnbd_expected_if_alive(t, x, age, r, alpha, a, b + 1.0)

    def _new_customer_active_share(self) -> float:
        # Active after the first purchase with probability b/(a+b), then p ~ Beta(a, b+1).
        _, _, a, b = _fitted_values(self)
        return b / (a + b)

    def _model_findings(self, params: dict[str, float]) -> list[dict[str, Any]]:
        a, b = params["a"], params["b"]
        return (
            self._dropout_finding(a / (a + b))
            + self._shape_finding("homogeneous_purchase_rate", params["r"])
            + self._shape_finding("homogeneous_dropout_probability", a + b)
        )


class ParetoNBDFitter(_PurchaseModelFitter):
    """Pareto/NBD model of repeat purchases, fitted by maximum likelihood.

    Schmittlein, Morrison & Colombo (1987), in the formulation of Fader & Hardie's 2005 note
    "A note on deriving the Pareto/NBD model and related expressions": while active a customer
    buys as a Poisson process with rate lambda ~ Gamma(r, alpha) and stays active for an
    exponential time with rate mu ~ Gamma(s, beta), independently of lambda. Per customer

        L = G(r+x) alpha^r beta^s / G(r) [(alpha+T)^-(r+x) (beta+T)^-s + s/(r+s+x) A_0],
        P(alive | x, t_x, T) = G(r+x) alpha^r beta^s / G(r) (alpha+T)^-(r+x) (beta+T)^-s / L,
        E[Y(t) | alive] = (r+x)(beta+T) / ((alpha+T)(s-1)) [1 - ((beta+T)/(beta+T+t))^(s-1)],
        E[X(t)] = r beta / (alpha (s-1)) [1 - (beta/(beta+t))^(s-1)]

    (the limits ln((beta+T+t)/(beta+T)) for s = 1), where A_0 is the note's difference of two
    Gaussian hypergeometric functions, evaluated on the branch that keeps the argument in
    [0, 1) (alpha >= beta or alpha < beta) and transformed so that it cannot overflow (see
    :class:`_ParetoNBDData`). On CDNOW (weeks) the MLE is r = 0.5534, alpha = 10.5802,
    s = 0.6061, beta = 11.6562, LL = -9595.0 (Fader, Hardie & Lee 2005).

    Parameters
    ----------
    time_unit : str, default "days"
        Unit of ``recency`` and ``T`` (and of ``alpha`` and ``beta``).
    penalizer_coef, tol, max_iter : as in :class:`BetaGeoFitter`
    initial_params : dict, optional
        Starting ``{"r", "alpha", "s", "beta"}``; by default r = s = 1, alpha from the
        purchase rate and beta = mean T.

    Attributes
    ----------
    params_ : dict
        Fitted ``{"r", "alpha", "s", "beta"}``.
    log_likelihood_, n_customers_, n_repeat_buyers_, mean_age_, n_patterns_, converged_,
    n_iter_, fit_seconds_
        As in :class:`BetaGeoFitter`.
    """

    _param_names = ("r", "alpha", "s", "beta")
    _data_class = _ParetoNBDData
    _model_label = "Pareto/NBD"
    model_key = "pnbd"

    def _default_start(self, data: _ParetoNBDData) -> np.ndarray:
        mean_age = data.total_age / data.n_customers
        return np.array([1.0, self._rate_start(data), 1.0, mean_age if mean_age > 0 else 1.0])

    def conditional_probability_alive(
        self, frequency: ArrayLike, recency: ArrayLike, T: ArrayLike
    ) -> np.ndarray:
        """Probability that each customer is still active at the end of the window.

        Parameters
        ----------
        frequency, recency, T : array-like
            As in :meth:`fit`, in the fitted ``time_unit``.

        Returns
        -------
        numpy.ndarray
            One probability per customer (below 1 also for x == 0).
        """
        r, alpha, s, beta = _fitted_values(self)
        x, t_x, age = _check_rfm(frequency, recency, T)
        return _pareto_probability_alive(r, alpha, s, beta, x, t_x, age)

    def _expected_if_alive(self, t: ArrayLike, x: ArrayLike, age: ArrayLike) -> np.ndarray:
        r, alpha, s, beta = _fitted_values(self)
        return _pnbd_expected_if_alive(t, x, age, r, alpha, s, beta)


    def _model_findings(self, params: dict[str, float]) -> list[dict[str, Any]]:
        s, beta = params["s"], params["beta"]
        mean_age = getattr(self, "mean_age_", None)
        # P(a new customer drops out within the mean age) = 1 - (beta/(beta+age))^s.
        dropout = None if mean_age is None else float(-np.expm1(-s * np.log1p(mean_age / beta)))
        return (
            self._dropout_finding(dropout)
            + self._shape_finding("homogeneous_purchase_rate", params["r"])
            + self._shape_finding("homogeneous_dropout_rate", s)
        )


def _pnbd_expected_if_alive(
    t: ArrayLike, x: ArrayLike, age: ArrayLike, r: float, alpha: float, s: float, beta: float
) -> np.ndarray:
    """(r+x)/(alpha+T) (beta+T) [1 - ((beta+T)/(beta+T+t))^(s-1)] / (s-1).

    Written as (r+x)/(alpha+T) (beta+T) (-expm1(-(s-1) g)) / (s-1) with g = ln(1 + t/(beta+T)),
    which is accurate for s near 1 and equals (r+x)/(alpha+T) (beta+T) g at s = 1.
    """
    t, x, age = np.broadcast_arrays(
        np.asarray(t, dtype=np.float64),
        np.asarray(x, dtype=np.float64),
        np.asarray(age, dtype=np.float64),
    )
    growth = np.log1p(t / (beta + age))
    if s == 1.0:
        lifetime = growth
    else:
        with np.errstate(over="ignore"):
            lifetime = -np.expm1(-(s - 1.0) * growth) / (s - 1.0)
    return (r + x) / (alpha + age) * (beta + age) * lifetime


def _bgnbd_expected_if_alive(
    t: np.ndarray, x: ArrayLike, age: ArrayLike, r: float, alpha: float, a: float, b: float
) -> np.ndarray:
    """(a+b+x-1)/(a-1) * [1 - ((alpha+T)/(alpha+T+t))^(r+x) 2F1(r+x, b+x; a+b+x-1; z)].

    With z = t/(alpha+T+t), Euler's transformation gives
    (1-z)^(r+x) 2F1(r+x, b+x; c; z) = (1-z)^(a-1) 2F1(a+b-1-r, a-1; c; z), c = a+b+x-1,
    whose series has small parameters and does not overflow for large x.
    """
    t, x, age = np.broadcast_arrays(
        np.asarray(t, dtype=np.float64),
        np.asarray(x, dtype=np.float64),
        np.asarray(age, dtype=np.float64),
    )
    z = t / (alpha + age + t)
    c = a + b + x - 1.0
    with np.errstate(over="ignore", invalid="ignore"):
        tail = np.exp((a - 1.0) * np.log1p(-z)) * special.hyp2f1(a + b - 1.0 - r, a - 1.0, c, z)
        bad = ~np.isfinite(tail)
        if bad.any():  # fall back to the untransformed series where the transformed one fails
            zb, xb = z[bad], x[bad]
            tail[bad] = np.exp((r + xb) * np.log1p(-zb)) * special.hyp2f1(
                r + xb, b + xb, c[bad], zb
            )
    return c / (a - 1.0) * (1.0 - tail)


# --------------------------------------------------------------------------------------------
# Gamma-Gamma
# --------------------------------------------------------------------------------------------


def _check_spend(
    frequency: ArrayLike, monetary_value: ArrayLike, *, for_fit: bool, strict_spend: bool = True
) -> tuple[np.ndarray, np.ndarray]:
    """Validate frequency and average spend; ``strict_spend=False`` lets spends <= 0 through."""
    x = _as_float_vector(frequency, "frequency")
    spend = _as_float_vector(monetary_value, "monetary_value")
    _check_same_length(frequency=x, monetary_value=spend)
    if (x < 0).any() or (x != np.floor(x)).any():
        bad = (x < 0) | (x != np.floor(x))
        raise BTYDDataError(
            f"`frequency` must be a whole number >= 0; bad at positions {_first_positions(bad)}."
        )
    if for_fit and not strict_spend:
        bad = x <= 0
        if bad.any():
            raise BTYDDataError(
                f"the Gamma-Gamma model is fitted on repeat customers only (frequency > 0); "
                f"{int(bad.sum())} row(s) are not, e.g. at positions {_first_positions(bad)}. "
                "Keep rows with frequency > 0 (fit_gamma_gamma does) before calling fit()."
            )
    elif for_fit:
        bad = (x <= 0) | (spend <= 0)
        if bad.any():
            raise BTYDDataError(
                f"the Gamma-Gamma model is fitted on repeat customers only (frequency > 0) with "
                f"a positive average spend (monetary_value > 0); {int(bad.sum())} row(s) are not, "
                f"e.g. at positions {_first_positions(bad)}. Keep rows with frequency > 0 and "
                "monetary_value > 0 before calling fit()."
            )
    elif strict_spend:
        bad = (x > 0) & (spend <= 0)
        if bad.any():
            raise BTYDDataError(
                f"`monetary_value` must be > 0 for customers with frequency > 0; "
                f"{int(bad.sum())} row(s) are not, e.g. at positions {_first_positions(bad)}."
            )
    return x, spend


def gamma_gamma_log_likelihood(
    params: dict[str, float],
    frequency: ArrayLike,
    monetary_value: ArrayLike,
    weights: ArrayLike | None = None,
) -> float:
    """Total Gamma-Gamma log-likelihood of repeat customers' average spends.

    Parameters
    ----------
    params : dict
        ``{"p", "q", "gamma"}``, all > 0; ``gamma`` in currency units.
    frequency : array-like
        Repeat purchases x > 0.
    monetary_value : array-like
        Average value of the repeat purchases (> 0), in currency units.
    weights : array-like, optional
        Customers represented by each row.

    Returns
    -------
    float
        Sum over customers of ln f(average spend | x).
    """
    theta = _check_positive_params(params, ("p", "q", "gamma"))
    x, spend = _check_spend(frequency, monetary_value, for_fit=True)
    data = _GammaGammaData.build(x, spend, _check_weights(weights, len(x)))
    ll, _ = data.log_likelihood_and_gradient(*theta.values())
    return ll


class GammaGammaFitter(_MaximumLikelihoodFitter):
    """Gamma-Gamma model of the average transaction value, fitted by maximum likelihood.

    Assumes spend per transaction is independent of the purchase process: the fit records the
    correlation between frequency and average spend, and :meth:`health` warns when it is
    strong.

    Parameters
    ----------
    penalizer_coef : float, default 0.0
        L2 penalty ``penalizer_coef * (p**2 + q**2 + gamma**2)`` on the per-customer average
        negative log-likelihood.
    tol : float, default 1e-12
        L-BFGS-B ``ftol``, relative to the log-likelihood at the start (see BetaGeoFitter).
    max_iter : int, default 1000
        Maximum L-BFGS-B iterations.
    initial_params : dict, optional
        Starting ``{"p", "q", "gamma"}``; default p=1, q=2, gamma=mean spend (the prior mean
        spend p*gamma/(q-1) then equals the observed mean).

    Attributes
    ----------
    params_ : dict
        Fitted ``{"p", "q", "gamma"}`` (Fader & Hardie's p, q, gamma; lifetimes calls gamma "v").
    log_likelihood_ : float
        Total log-likelihood (Fader & Hardie's LL; -4055.9 on CDNOW's 946 repeat buyers).
    n_customers_ : float
        Customers used.
    n_excluded_ : int or float
        Customers dropped for a zero or negative average spend (``exclude_nonpositive=True``).
    spend_frequency_correlation_ : float or None
        Pearson correlation of frequency and average spend over the customers used (None when
        it is undefined).
    converged_ : bool
        Whether the optimizer converged.
    """

    _param_names = ("p", "q", "gamma")
    _diagnostic_names = ("n_excluded", "spend_frequency_correlation")
    model_key = "gamma_gamma"
    #: |correlation of frequency and average spend| above this: ``spend_frequency_correlation``
    #: warning (the model assumes independence).
    max_spend_frequency_correlation: float = 0.3

    def fit(
        self,
        frequency: ArrayLike,
        monetary_value: ArrayLike,
        weights: ArrayLike | None = None,
        *,
        exclude_nonpositive: bool = False,
    ) -> GammaGammaFitter:
        """Fit the Gamma-Gamma model.

        Parameters
        ----------
        frequency : array-like of int
            Repeat purchases x; every row must have x > 0.
        monetary_value : array-like of float
            Average value of the customer's repeat purchases (> 0), in currency units.
        weights : array-like, optional
            Customers represented by each row.
        exclude_nonpositive : bool, default False
            Drop the customers whose average spend is zero or negative (refunds, free orders)
            and count them in ``n_excluded_`` (reported by :meth:`health`) instead of raising.
            :func:`fit_gamma_gamma` does this by default.

        Returns
        -------
        GammaGammaFitter
            ``self`` with ``params_`` and ``log_likelihood_``.

        Raises
        ------
        BTYDDataError
            (a ``ValueError``) if any row has frequency == 0, or monetary_value <= 0 without
            ``exclude_nonpositive``, or no customer is left.
        """
        started = time.perf_counter()
        penalizer, tol = self._checked_options()
        x, spend = _check_spend(
            frequency, monetary_value, for_fit=True, strict_spend=not exclude_nonpositive
        )
        w = _check_weights(weights, len(x))
        n_excluded = 0.0
        if exclude_nonpositive:
            drop = spend <= 0
            if drop.any():
                n_excluded = float(drop.sum() if w is None else w[drop].sum())
                keep = ~drop
                x, spend = x[keep], spend[keep]
                w = None if w is None else w[keep]
        data = _GammaGammaData.build(x, spend, w)
        if data.n_customers <= 0:
            excluded = f" ({_as_count(n_excluded)} had a spend <= 0)" if n_excluded else ""
            raise BTYDDataError(
                f"no customers to fit (empty input, all weights are 0, or no positive "
                f"spend{excluded})."
            )
        if self.initial_params is not None:
            start = np.array(
                list(_check_positive_params(self.initial_params, self._param_names).values())
            )
        else:
            mean_spend = _dot(data.counts, data.spend) / data.n_customers
            start = np.array([1.0, 2.0, mean_spend])
        result = _maximize(
            data.log_likelihood_and_gradient,
            start,
            data.n_customers,
            penalizer,
            tol,
            int(self.max_iter),
            "Gamma-Gamma",
        )
        self.n_excluded_ = _as_count(n_excluded)
        self.spend_frequency_correlation_ = _weighted_correlation(x, spend, w)
        self._store(result, data.n_customers, started)
        return self

    def _repeat_buyers(self) -> float | None:
        return getattr(self, "n_customers_", None)  # fitted on repeat buyers only

    def _model_findings(self, params: dict[str, float]) -> list[dict[str, Any]]:
        findings = []
        q = params["q"]
        if q <= 1.0:
            findings.append(
                _finding("boundary", "error", limit="infinite_mean_spend", value=q, threshold=1.0)
            )
        elif q > self.max_shape:
            findings.append(
                _finding(
                    "boundary", "warning", limit="homogeneous_spend", value=q, threshold=self.max_shape
                )
            )
        n_excluded = getattr(self, "n_excluded_", None)
        if n_excluded:
            findings.append(_finding("nonpositive_spend_excluded", "warning", n_excluded=n_excluded))
        correlation = getattr(self, "spend_frequency_correlation_", None)
        if correlation is not None and abs(correlation) > self.max_spend_frequency_correlation:
            findings.append(
                _finding(
                    "spend_frequency_correlation",
                    "warning",
                    value=correlation,
                    threshold=self.max_spend_frequency_correlation,
                )
            )
        return findings

    def conditional_expected_average_profit(
        self, frequency: ArrayLike, monetary_value: ArrayLike
    ) -> np.ndarray:
        """Expected value of each customer's future transactions, given their history.

        E[Z | x, zbar] = p (gamma + x zbar) / (p x + q - 1)
                       = w zbar + (1 - w) p gamma / (q - 1),  w = p x / (p x + q - 1)
        (Fader & Hardie 2013, eq. 5). Customers with x == 0 get the population mean
        p gamma / (q - 1), which needs q > 1.

        Parameters
        ----------
        frequency : array-like
            Repeat purchases x >= 0.
        monetary_value : array-like
            Average repeat-purchase value (> 0 when x > 0; ignored when x == 0), currency units.

        Returns
        -------
        numpy.ndarray
            Expected average transaction value per customer, in currency units.
        """
        p, q, gamma = _fitted_values(self)
        x, spend = _check_spend(frequency, monetary_value, for_fit=False)
        if q <= 1 and (x == 0).any():
            raise BTYDParameterError(
                f"q = {q:.3g} <= 1: the population mean spend p*gamma/(q-1) is infinite, so "
                "customers without repeat purchases have no expected spend. Refit with more data "
                "or a penalizer."
            )
        px = p * x
        spend = np.where(x > 0, spend, 0.0)
        return p * (gamma + x * spend) / (px + q - 1.0)

    def customer_lifetime_value(
        self,
        bgf: BetaGeoFitter | ModifiedBetaGeoFitter | ParetoNBDFitter,
        frequency: ArrayLike,
        recency: ArrayLike,
        T: ArrayLike,
        monetary_value: ArrayLike,
        time_horizon_days: float,
        discount_rate_annual: float,
        freq: str | None = None,
        step_days: float = 30.0,
    ) -> np.ndarray:
        """Discounted expected spend of each customer over the next ``time_horizon_days``.

        See :func:`customer_lifetime_value` for the exact definition.
        """
        return customer_lifetime_value(
            bgf,
            self,
            frequency,
            recency,
            T,
            monetary_value,
            time_horizon_days=time_horizon_days,
            discount_rate_annual=discount_rate_annual,
            freq=freq,
            step_days=step_days,
        )


def _weighted_correlation(a: np.ndarray, b: np.ndarray, w: np.ndarray | None) -> float | None:
    """Pearson correlation of a and b with weights w; None if undefined (< 3 rows, constant)."""
    if len(a) < 3:
        return None
    weights = np.ones(len(a)) if w is None else w
    total = float(weights.sum())
    if total <= 0:
        return None
    da = a - _dot(weights, a) / total
    db = b - _dot(weights, b) / total
    var_a, var_b = _dot(weights, da * da), _dot(weights, db * db)
    if var_a <= 0 or var_b <= 0:
        return None
    return _dot(weights, da * db) / math.sqrt(var_a * var_b)


def fit_gamma_gamma(
    frequency: ArrayLike,
    monetary_value: ArrayLike,
    weights: ArrayLike | None = None,
    *,
    exclude_nonpositive: bool = True,
    **options: Any,
) -> GammaGammaFitter:
    """Fit the Gamma-Gamma model on all customers' (frequency, average spend), as used in practice.

    Keeps the customers with a repeat purchase (frequency > 0; the others have no average
    repeat spend) and, with ``exclude_nonpositive`` (the default), drops those whose average
    spend is zero or negative, counting them in ``n_excluded_``; ``exclude_nonpositive=False``
    raises on them instead.

    Parameters
    ----------
    frequency : array-like of int
        Repeat purchases x >= 0, one per customer.
    monetary_value : array-like of float
        Average value of the repeat purchases (ignored when x == 0), currency units.
    weights : array-like, optional
        Customers represented by each row.
    exclude_nonpositive : bool, default True
        Drop customers with x > 0 and a spend <= 0 instead of raising.
    **options
        Passed to :class:`GammaGammaFitter` (``penalizer_coef``, ``tol``, ...).

    Returns
    -------
    GammaGammaFitter
        The fitted model; see :meth:`GammaGammaFitter.health`.

    Raises
    ------
    BTYDDataError
        If no customer has a repeat purchase with a usable spend.
    """
    x, spend = _check_spend(
        frequency, monetary_value, for_fit=False, strict_spend=not exclude_nonpositive
    )
    w = _check_weights(weights, len(x))
    repeat = x > 0 if w is None else (x > 0) & (w > 0)
    if not repeat.any():
        raise BTYDDataError(
            "no customer has a repeat purchase (frequency > 0): the Gamma-Gamma model needs "
            "repeat customers' average spends. Use a longer observation window."
        )
    return GammaGammaFitter(**options).fit(
        x[repeat],
        spend[repeat],
        None if w is None else w[repeat],
        exclude_nonpositive=exclude_nonpositive,
    )


def btyd_pair_health(
    purchase_model: BetaGeoFitter | ModifiedBetaGeoFitter | ParetoNBDFitter,
    spend_model: GammaGammaFitter | None = None,
) -> list[dict[str, Any]]:
    """Health findings of a purchase model and its Gamma-Gamma spend model, as one list.

    Each finding of :meth:`BetaGeoFitter.health` / :meth:`GammaGammaFitter.health` gets a
    ``"model"`` entry (``"bgnbd"``, ``"mbgnbd"``, ``"pnbd"`` or ``"gamma_gamma"``). The pair
    (e.g. for customer lifetime value) may be used for decisions only when no finding has
    severity ``"error"``.
    """
    findings = [{**f, "model": purchase_model.model_key} for f in purchase_model.health()]
    if spend_model is not None:
        findings += [{**f, "model": spend_model.model_key} for f in spend_model.health()]
    return findings


def _check_payload(payload: dict[str, Any], model: str) -> None:
    if not isinstance(payload, dict) or payload.get("model") != model:
        found = payload.get("model") if isinstance(payload, dict) else type(payload).__name__
        raise BTYDDataError(f"this artifact is not a {model} (found model={found!r}).")
    if payload.get("format_version") != _FORMAT_VERSION:
        raise BTYDDataError(
            f"{model} artifact has format_version={payload.get('format_version')!r}; this "
            f"version of custops reads format_version={_FORMAT_VERSION}."
        )
    if "params" not in payload:
        raise BTYDDataError(f"{model} artifact has no 'params'.")


# --------------------------------------------------------------------------------------------
# Customer lifetime value
# --------------------------------------------------------------------------------------------


def _days_per_unit(bgf: _PurchaseModelFitter, freq: str | None) -> float:
    model_unit = _DAYS_PER_TIME_UNIT.get(str(bgf.time_unit).strip().lower())
    if freq is None:
        if model_unit is None:
            raise BTYDParameterError(
                f"cannot tell how many days one {bgf.time_unit!r} is: pass freq='D' (days) or "
                "freq='W' (weeks) for the unit of recency and T."
            )
        return model_unit
    unit = _DAYS_PER_TIME_UNIT.get(str(freq).strip().lower())
    if unit is None:
        raise BTYDParameterError(f"freq must be 'D' (days) or 'W' (weeks); got {freq!r}.")
    if model_unit is not None and model_unit != unit:
        raise BTYDParameterError(
            f"freq={freq!r} disagrees with the purchase model's time_unit={bgf.time_unit!r}; "
            "recency, T and the model must share one unit."
        )
    return unit


def customer_lifetime_value(
    bgf: BetaGeoFitter | ModifiedBetaGeoFitter | ParetoNBDFitter,
    ggf: GammaGammaFitter,
    frequency: ArrayLike,
    recency: ArrayLike,
    T: ArrayLike,
    monetary_value: ArrayLike,
    time_horizon_days: float,
    discount_rate_annual: float,
    freq: str | None = None,
    step_days: float = 30.0,
) -> np.ndarray:
    """Discounted expected spend of each customer over the next ``time_horizon_days``.

    The horizon is cut into steps of ``step_days`` (30 = "months", as lifetimes does; 1 =
    daily); the last step is shorter when the horizon is not a multiple. With step ends
    tau_k = min(k * step_days, H) for k = 1..K, K = ceil(H / step_days), tau_0 = 0:

        CLV = sum_k  m * (E[Y(tau_k) | x, t_x, T] - E[Y(tau_{k-1}) | x, t_x, T])
                     / (1 + discount_rate_annual) ** (tau_k / 365)

    where E[Y(tau) | ...] is the purchase model's conditional expected number of purchases in
    the next tau days (:meth:`BetaGeoFitter.conditional_expected_number_of_purchases_up_to_time`;
    MBG/NBD and Pareto/NBD fits are accepted too) and
    m is the Gamma-Gamma expected average spend
    (:meth:`GammaGammaFitter.conditional_expected_average_profit`). Each step's purchases are
    discounted from the end of the step, compounding annually on a 365-day year. With
    ``step_days=30`` and a horizon of M * 30 days this equals lifetimes'
    ``customer_lifetime_value(time=M, discount_rate=(1 + d) ** (30 / 365) - 1, freq="D")``.

    Parameters
    ----------
    bgf : BetaGeoFitter, ModifiedBetaGeoFitter or ParetoNBDFitter
        Fitted purchase model.
    ggf : GammaGammaFitter
        Fitted spend model.
    frequency, recency, T : array-like, one value per customer
        As in :meth:`BetaGeoFitter.fit`, in the model's time unit.
    monetary_value : array-like
        Average repeat-purchase value, currency units (ignored when frequency == 0).
    time_horizon_days : float
        Horizon H in days (> 0).
    discount_rate_annual : float
        Annual discount rate d (e.g. 0.10 for 10 % a year), >= 0.
    freq : {"D", "W"}, optional
        Unit of recency and T. Default: the purchase model's ``time_unit``; an explicit value
        that disagrees with it is an error.
    step_days : float, default 30
        Length of a discounting step in days.

    Returns
    -------
    numpy.ndarray
        CLV per customer, in currency units.
    """
    if not isinstance(bgf, _PurchaseModelFitter):
        raise BTYDParameterError(
            f"`bgf` must be a fitted BetaGeoFitter, ModifiedBetaGeoFitter or ParetoNBDFitter; "
            f"got {type(bgf).__name__}."
        )
    _require_fitted(bgf)
    horizon = _check_option("time_horizon_days", time_horizon_days, minimum=0.0, strict=True)
    rate = _check_option("discount_rate_annual", discount_rate_annual, minimum=0.0, strict=False)
    step = _check_option("step_days", step_days, minimum=0.0, strict=True)
    days_per_unit = _days_per_unit(bgf, freq)
    x, t_x, age = _check_rfm(frequency, recency, T)
    spend = ggf.conditional_expected_average_profit(x, monetary_value)

    # Expected purchases depend on (x, t_x, T) only: evaluate once per distinct pattern.
    (x_tab, t_tab, age_tab), (ix, it, iage), _, inverse = _distinct_rows(
        [x, t_x, age], None, need_inverse=True
    )
    px, pt, page = x_tab[ix], t_tab[it], age_tab[iage]
    p_alive = bgf.conditional_probability_alive(px, pt, page)
    n_steps = math.ceil(horizon / step - 1e-12)
    step_ends = np.minimum(np.arange(1, n_steps + 1) * step, horizon)
    discounted = np.zeros(len(px))
    previous = np.zeros(len(px))
    for tau in step_ends:
        cumulative = bgf._expected_if_alive(tau / days_per_unit, px, page)
        discounted += (cumulative - previous) / (1.0 + rate) ** (tau / 365.0)
        previous = cumulative
    return spend * (p_alive * discounted)[inverse]


# --------------------------------------------------------------------------------------------
# Choosing a purchase model on a holdout period
# --------------------------------------------------------------------------------------------

# Simplest first: ties in compare_btyd go to the earlier model.
BTYD_MODELS: dict[str, type[_PurchaseModelFitter]] = {
    "bgnbd": BetaGeoFitter,
    "mbgnbd": ModifiedBetaGeoFitter,
    "pnbd": ParetoNBDFitter,
}


def compare_btyd(
    calibration: Mapping[str, ArrayLike] | pd.DataFrame,
    holdout_orders: ArrayLike,
    holdout_length: float,
    models: tuple[str, ...] | list[str] = ("bgnbd", "mbgnbd", "pnbd"),
    *,
    time_unit: str = "days",
) -> pd.DataFrame:
    """Fit BTYD purchase models on a calibration period and score their holdout forecasts.

    Each model is fitted on the calibration (frequency, recency, T) and predicts every
    customer's repeat orders in the ``holdout_length`` that follows the calibration period
    (:meth:`~BetaGeoFitter.conditional_expected_number_of_purchases_up_to_time`), which is
    compared with the orders the customer actually placed there.

    Parameters
    ----------
    calibration : mapping or DataFrame
        ``"frequency"``, ``"recency"`` and ``"T"`` per customer over the calibration period,
        as for :meth:`BetaGeoFitter.fit`.
    holdout_orders : array-like
        Repeat orders of each customer in (T, T + holdout_length] (same order as
        ``calibration``; >= 0).
    holdout_length : float
        Length of the holdout period, in ``time_unit`` (> 0).
    models : sequence of str, default ("bgnbd", "mbgnbd", "pnbd")
        Keys of :data:`BTYD_MODELS` to compare.
    time_unit : str, default "days"
        Unit of recency, T and ``holdout_length``, recorded in the fitted models.

    Returns
    -------
    pandas.DataFrame
        One row per model, in the order of ``models``, with columns ``model`` (key),
        ``usable`` (no error finding, see :meth:`BetaGeoFitter.health`), ``findings`` (tuple
        of the finding codes), ``converged``, ``log_likelihood``, ``params`` (dict),
        ``predicted_orders`` and ``actual_orders`` (holdout totals), ``rmse`` and ``mae``
        (per-customer error of the predicted holdout orders). :func:`best_btyd` picks one.

    Raises
    ------
    BTYDDataError
        If the inputs are inconsistent, or cannot be fitted (e.g. no repeat purchases).
    BTYDParameterError
        If a model key is unknown or ``holdout_length`` is not > 0.
    """
    unknown = [key for key in models if key not in BTYD_MODELS]
    if unknown or not len(models):
        raise BTYDParameterError(
            f"models must be a non-empty selection of {list(BTYD_MODELS)}; unknown: {unknown}."
        )
    try:
        columns = [calibration[name] for name in ("frequency", "recency", "T")]
    except (KeyError, TypeError, IndexError) as exc:
        raise BTYDDataError(
            "`calibration` must provide 'frequency', 'recency' and 'T' (a dict of arrays or a "
            f"DataFrame); missing {exc}."
        ) from exc
    x, t_x, age = _check_rfm(*columns)
    actual = _as_float_vector(holdout_orders, "holdout_orders")
    _check_same_length(calibration=x, holdout_orders=actual)
    if (actual < 0).any():
        raise BTYDDataError(
            f"`holdout_orders` must be >= 0; negative at positions {_first_positions(actual < 0)}."
        )
    horizon = _check_option("holdout_length", holdout_length, minimum=0.0, strict=True)
    rows = []
    for key in models:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)  # reported by health()
            model = BTYD_MODELS[key](time_unit=time_unit).fit(x, t_x, age)
        findings = model.health()
        predicted = model.conditional_expected_number_of_purchases_up_to_time(horizon, x, t_x, age)
        error = predicted - actual
        rows.append(
            {
                "model": key,
                "usable": not any(f["severity"] == "error" for f in findings),
                "findings": tuple(f["code"] for f in findings),
                "converged": bool(model.converged_),
                "log_likelihood": model.log_likelihood_,
                "params": dict(model.params_),
                "predicted_orders": float(predicted.sum()),
                "actual_orders": float(actual.sum()),
                "rmse": float(np.sqrt(np.mean(error * error))),
                "mae": float(np.mean(np.abs(error))),
            }
        )
    return pd.DataFrame(rows)


def best_btyd(table: pd.DataFrame, metric: str = "rmse", rel_tol: float = 1e-3) -> str | None:
    """The usable model of a :func:`compare_btyd` table with the lowest per-customer error.

    Models whose ``metric`` is within ``rel_tol`` (relative) of the lowest tie, and a tie goes
    to the simpler model: BG/NBD, then MBG/NBD, then Pareto/NBD (the order of
    :data:`BTYD_MODELS`).

    Parameters
    ----------
    table : pandas.DataFrame
        Output of :func:`compare_btyd` (columns ``model``, ``usable`` and ``metric``).
    metric : {"rmse", "mae"}, default "rmse"
        Per-customer error to minimize.
    rel_tol : float, default 1e-3
        Relative difference below which two errors count as a tie.

    Returns
    -------
    str or None
        The chosen model key, or None when no model is usable.
    """
    rel_tol = _check_option("rel_tol", rel_tol, minimum=0.0, strict=False)
    missing = {"model", "usable", metric} - set(table.columns)
    if missing:
        raise BTYDDataError(f"`table` lacks column(s) {sorted(missing)}; pass compare_btyd output.")
    scores = table[metric].to_numpy(dtype=np.float64)
    candidates = table["usable"].to_numpy(dtype=bool) & np.isfinite(scores)
    if not candidates.any():
        return None
    best = float(scores[candidates].min())
    tied = candidates & (scores <= best + rel_tol * abs(best))
    order = {key: i for i, key in enumerate(BTYD_MODELS)}
    return min(table["model"][tied], key=lambda key: (order.get(key, len(order)), str(key)))


# --------------------------------------------------------------------------------------------
# Simulation
# --------------------------------------------------------------------------------------------


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
