"""Buy-till-you-die models (BG/NBD purchases, Gamma-Gamma spend) fitted by maximum likelihood.

This module answers "how many more purchases will each customer make, is the customer still
active, and what is the customer's discounted value over a horizon" from the three numbers per
customer the models need:

* ``frequency`` (x): number of **repeat** purchases (purchases after the first one; a customer
  with a single purchase has ``frequency == 0``);
* ``recency`` (t_x): time from the first purchase to the last purchase (0 when ``frequency == 0``);
* ``T``: time from the first purchase to the end of the observation window (the customer's age).

``recency`` and ``T`` share one time unit, chosen by the caller (days in custops; the CDNOW
benchmark uses weeks) and recorded as ``time_unit``. All parameters that have a time dimension
(``alpha``) are in that unit.

Models
------
``BetaGeoFitter``
    BG/NBD (Fader, Hardie & Lee 2005, "Counting your customers the easy way", Marketing
    Science 24(2)). While active, a customer buys as a Poisson process with rate
    ``lambda ~ Gamma(shape=r, rate=alpha)``; after each repeat purchase the customer becomes
    inactive with probability ``p ~ Beta(a, b)``.
``GammaGammaFitter``
    Gamma-Gamma spend model (Colombo & Jiang 1999; Fader, Hardie & Lee 2005, "RFM and CLV";
    Fader & Hardie 2013 note "The Gamma-Gamma model of monetary value"). Each transaction value
    is ``Gamma(shape=p, rate=nu)`` and ``nu ~ Gamma(shape=q, rate=gamma)`` across customers.

Both fitters follow scikit-learn conventions: ``__init__`` stores options, ``fit`` returns
``self``, fitted attributes end in ``_``. The likelihood is evaluated once per distinct
customer pattern (counts as weights) with an analytic gradient, and optimized with L-BFGS-B in
log-parameter space: far quicker than lifetimes' per-customer likelihood, with the same
estimates.

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
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import ArrayLike
from scipy import optimize, special

from custops.errors import CustopsError, DataError, ParameterError

__all__ = [
    "BTYDDataError",
    "BTYDParameterError",
    "BetaGeoFitter",
    "ConvergenceWarning",
    "GammaGammaFitter",
    "ModelNotFittedError",
    "bgnbd_log_likelihood",
    "customer_lifetime_value",
    "gamma_gamma_log_likelihood",
    "simulate_bgnbd",
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
    """

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
        positive = x_pat > 0
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

    def log_likelihood_and_gradient(self, r: float, alpha: float, a: float, b: float):
        """Total BG/NBD log-likelihood and its gradient with respect to (r, alpha, a, b).

        Per customer (Fader, Hardie & Lee 2005, eq. 6):
        ln L = ln G(r+x) - ln G(r) + r ln(alpha) + ln B(a, b+x) - ln B(a, b)
               - (r+x) ln(alpha+T) + ln(1 + [x>0] exp(d)),
        d = ln a - ln(b+x-1) - (r+x) [ln(alpha+t_x) - ln(alpha+T)].
        The derivative of ln(1 + exp(d)) is w * dd/dtheta with w = expit(d).
        """
        digamma, gammaln = special.digamma, special.gammaln
        xv, nx = self.x_values, self.x_counts
        n = self.n_customers
        # Terms in x only.
        ll = float(
            nx
            @ (
                gammaln(r + xv)
                - gammaln(r)
                + gammaln(b + xv)
                - gammaln(b)
                + gammaln(a + b)
                - gammaln(a + b + xv)
            )
        )
        psi_ab_diff = digamma(a + b) - digamma(a + b + xv)
        grad_r = float(nx @ (digamma(r + xv) - digamma(r)))
        grad_a = float(nx @ psi_ab_diff)
        grad_b = float(nx @ (digamma(b + xv) - digamma(b) + psi_ab_diff))
        # r ln(alpha) - (r+x) ln(alpha+T), summed per distinct T.
        log_alpha_age = np.log(alpha + self.age_values)
        inv_alpha_age = 1.0 / (alpha + self.age_values)
        weight_age = r * self.age_counts + self.age_x_sums
        ll += n * r * math.log(alpha) - float(weight_age @ log_alpha_age)
        grad_r += n * math.log(alpha) - float(self.age_counts @ log_alpha_age)
        grad_alpha = n * r / alpha - float(weight_age @ inv_alpha_age)
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
            log_b_x_over_a = np.log(b + self.pos_x_values - 1.0) - math.log(a)
            np.multiply(r_plus_x, log_diff, out=minus_d)
            minus_d += np.take(log_b_x_over_a, self.pos_x_index, out=e)
            # d >= ln(a) - ln(b+x-1) because t_x <= T, so exp(-d) overflows only for absurd
            # a/(b+x-1) < exp(-700) (impossible inside the optimizer's box).
            if float(log_b_x_over_a.max()) < 700.0:
                np.exp(minus_d, out=e)
                e += 1.0
                weight = np.reciprocal(e, out=scratch["w"])  # expit(d)
                np.log(e, out=e)  # ln(1 + exp(-d)); softplus(d) = d + ln(1 + exp(-d))
                ll += float(c @ e) - float(c @ minus_d)
            else:
                ll += float(c @ np.logaddexp(0.0, -minus_d))
                weight = special.expit(-minus_d)
            cw = np.multiply(c, weight, out=weight)
            grad_r -= float(cw @ log_diff)
            grad_alpha -= float(cw @ np.multiply(r_plus_x, inv_diff, out=inv_diff))
            cw_by_x = np.bincount(self.pos_x_index, weights=cw, minlength=len(self.pos_x_values))
            grad_a += float(cw_by_x.sum()) / a
            grad_b -= float(cw_by_x @ (1.0 / (b + self.pos_x_values - 1.0)))
        return ll, np.array([grad_r, grad_alpha, grad_a, grad_b])


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
        ll = float(
            c
            @ (
                gammaln(px + q)
                - gammaln(px)
                - gammaln(q)
                + q * math.log(gamma)
                + (px - 1.0) * self.log_spend
                + px * self.log_x
                - (px + q) * log_scale
            )
        )
        psi_pxq = digamma(px + q)
        grad_p = float(c @ (x * (psi_pxq - digamma(px) + self.log_spend + self.log_x - log_scale)))
        grad_q = float(c @ (psi_pxq - digamma(q) + math.log(gamma) - log_scale))
        grad_gamma = float(c @ (q / gamma - (px + q) / (gamma + x * self.spend)))
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
        value = (-ll + penalty_weight * float(params @ params)) / scale
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
    theta = _check_positive_params(params, ("r", "alpha", "a", "b"))
    x, t_x, age = _check_rfm(frequency, recency, T)
    w = _check_weights(weights, len(x))
    data = _BGNBDData.build(x, t_x, age, w)
    ll, _ = data.log_likelihood_and_gradient(*theta.values())
    return ll


class _MaximumLikelihoodFitter:
    """What the BTYD fitters share: options, the fit's results, (de)serialization, repr."""

    _param_names: tuple[str, ...] = ()

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
        return model

    def _repr_extra(self) -> str:
        return ""

    def __repr__(self) -> str:
        params = getattr(self, "params_", None)
        shown = ", ".join(f"{k}={v:.4g}" for k, v in params.items()) if params else "not fitted"
        return f"{type(self).__name__}({shown}{self._repr_extra()})"


class BetaGeoFitter(_MaximumLikelihoodFitter):
    """BG/NBD model of repeat purchases, fitted by maximum likelihood.

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
    """

    _param_names = ("r", "alpha", "a", "b")

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
    ) -> BetaGeoFitter:
        """Fit the BG/NBD by maximum likelihood.

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
        BetaGeoFitter
            ``self``, with ``params_``, ``log_likelihood_`` and the other fitted attributes.

        Raises
        ------
        BTYDDataError
            (a ``ValueError``) if the inputs are inconsistent or contain no repeat purchases.
        """
        started = time.perf_counter()
        penalizer, tol = self._checked_options()
        x, t_x, age = _check_rfm(frequency, recency, T)
        w = _check_weights(weights, len(x))
        data = _BGNBDData.build(x, t_x, age, w)
        if data.n_customers <= 0:
            raise BTYDDataError("no customers to fit (all weights are 0 or the input is empty).")
        if data.pos_counts.size == 0:
            raise BTYDDataError(
                "no customer has a repeat purchase (frequency > 0): the BG/NBD cannot be "
                "estimated. Use a longer observation window."
            )
        result = _maximize(
            data.log_likelihood_and_gradient,
            self._starting_values(data),
            data.n_customers,
            penalizer,
            tol,
            int(self.max_iter),
            "BG/NBD",
        )
        self.n_patterns_ = data.n_patterns
        self._store(result, data.n_customers, started)
        return self

    def _starting_values(self, data: _BGNBDData) -> np.ndarray:
        if self.initial_params is not None:
            theta = _check_positive_params(self.initial_params, self._param_names)
            return np.array(list(theta.values()))
        total_age = float(data.age_counts @ data.age_values)
        total_repeat = float(data.x_counts @ data.x_values)
        # With r = 1 the mean purchase rate is 1/alpha: match it to repeat purchases per unit time.
        alpha = max(total_age / total_repeat, 1e-6) if total_age > 0 else 1.0
        return np.array([1.0, alpha, 1.0, 1.0])

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

    def conditional_expected_number_of_purchases_up_to_time(
        self, t: ArrayLike, frequency: ArrayLike, recency: ArrayLike, T: ArrayLike
    ) -> np.ndarray:
        """Expected repeat purchases in the next ``t`` time units given each customer's history.

        Equation (10) of Fader, Hardie & Lee (2005), with the hypergeometric term rewritten by
        Euler's transformation so it stays finite for large x.

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
        r, alpha, a, b = _fitted_values(self)
        x, t_x, age = _check_rfm(frequency, recency, T)
        horizon = np.asarray(t, dtype=np.float64)
        if np.any(horizon < 0) or not np.all(np.isfinite(horizon)):
            raise BTYDParameterError("`t` (future period length) must be finite and >= 0.")
        expected_if_alive = _bgnbd_expected_if_alive(horizon, x, age, r, alpha, a, b)
        return expected_if_alive * self.conditional_probability_alive(x, t_x, age)

    def expected_number_of_purchases_up_to_time(self, t: ArrayLike) -> np.ndarray:
        """Expected repeat purchases in (0, t] for a new customer (eq. 9 of the BG/NBD paper).

        Parameters
        ----------
        t : float or array-like
            Time since the first purchase, in ``time_unit``.

        Returns
        -------
        numpy.ndarray
            E[X(t)] for each ``t``.
        """
        r, alpha, a, b = _fitted_values(self)
        horizon = np.asarray(t, dtype=np.float64)
        if np.any(horizon < 0) or not np.all(np.isfinite(horizon)):
            raise BTYDParameterError("`t` must be finite and >= 0.")
        return _bgnbd_expected_if_alive(horizon, 0.0, 0.0, r, alpha, a, b)

    # -- artifacts ---------------------------------------------------------------------------

    def _payload_extra(self) -> dict[str, Any]:
        return {"time_unit": self.time_unit}

    @classmethod
    def _from_payload(cls, payload: dict[str, Any]) -> BetaGeoFitter:
        return cls(time_unit=payload.get("time_unit", "days"), **payload.get("options", {}))

    def _repr_extra(self) -> str:
        return f"; time_unit={self.time_unit!r}"


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
    frequency: ArrayLike, monetary_value: ArrayLike, *, for_fit: bool
) -> tuple[np.ndarray, np.ndarray]:
    x = _as_float_vector(frequency, "frequency")
    spend = _as_float_vector(monetary_value, "monetary_value")
    _check_same_length(frequency=x, monetary_value=spend)
    if (x < 0).any() or (x != np.floor(x)).any():
        bad = (x < 0) | (x != np.floor(x))
        raise BTYDDataError(
            f"`frequency` must be a whole number >= 0; bad at positions {_first_positions(bad)}."
        )
    if for_fit:
        bad = (x <= 0) | (spend <= 0)
        if bad.any():
            raise BTYDDataError(
                f"the Gamma-Gamma model is fitted on repeat customers only (frequency > 0) with "
                f"a positive average spend (monetary_value > 0); {int(bad.sum())} row(s) are not, "
                f"e.g. at positions {_first_positions(bad)}. Keep rows with frequency > 0 and "
                "monetary_value > 0 before calling fit()."
            )
    else:
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

    Assumes spend per transaction is independent of the purchase process (check the correlation
    between frequency and average spend before relying on it).

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
    converged_ : bool
        Whether the optimizer converged.
    """

    _param_names = ("p", "q", "gamma")

    def fit(
        self,
        frequency: ArrayLike,
        monetary_value: ArrayLike,
        weights: ArrayLike | None = None,
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

        Returns
        -------
        GammaGammaFitter
            ``self`` with ``params_`` and ``log_likelihood_``.

        Raises
        ------
        BTYDDataError
            (a ``ValueError``) if any row has frequency == 0 or monetary_value <= 0.
        """
        started = time.perf_counter()
        penalizer, tol = self._checked_options()
        x, spend = _check_spend(frequency, monetary_value, for_fit=True)
        data = _GammaGammaData.build(x, spend, _check_weights(weights, len(x)))
        if data.n_customers <= 0:
            raise BTYDDataError("no customers to fit (empty input or all weights are 0).")
        if self.initial_params is not None:
            start = np.array(
                list(_check_positive_params(self.initial_params, self._param_names).values())
            )
        else:
            mean_spend = float(data.counts @ data.spend) / data.n_customers
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
        self._store(result, data.n_customers, started)
        return self

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
        bgf: BetaGeoFitter,
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


def _days_per_unit(bgf: BetaGeoFitter, freq: str | None) -> float:
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
            f"freq={freq!r} disagrees with the BG/NBD model's time_unit={bgf.time_unit!r}; "
            "recency, T and the model must share one unit."
        )
    return unit


def customer_lifetime_value(
    bgf: BetaGeoFitter,
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

    where E[Y(tau) | ...] is the BG/NBD conditional expected number of purchases in the next
    tau days (:meth:`BetaGeoFitter.conditional_expected_number_of_purchases_up_to_time`) and
    m is the Gamma-Gamma expected average spend
    (:meth:`GammaGammaFitter.conditional_expected_average_profit`). Each step's purchases are
    discounted from the end of the step, compounding annually on a 365-day year. With
    ``step_days=30`` and a horizon of M * 30 days this equals lifetimes'
    ``customer_lifetime_value(time=M, discount_rate=(1 + d) ** (30 / 365) - 1, freq="D")``.

    Parameters
    ----------
    bgf : BetaGeoFitter
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
        Unit of recency and T. Default: the BG/NBD model's ``time_unit``; an explicit value
        that disagrees with it is an error.
    step_days : float, default 30
        Length of a discounting step in days.

    Returns
    -------
    numpy.ndarray
        CLV per customer, in currency units.
    """
    horizon = _check_option("time_horizon_days", time_horizon_days, minimum=0.0, strict=True)
    rate = _check_option("discount_rate_annual", discount_rate_annual, minimum=0.0, strict=False)
    step = _check_option("step_days", step_days, minimum=0.0, strict=True)
    days_per_unit = _days_per_unit(bgf, freq)
    x, t_x, age = _check_rfm(frequency, recency, T)
    spend = ggf.conditional_expected_average_profit(x, monetary_value)
    r, alpha, a, b = _fitted_values(bgf)

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
        cumulative = _bgnbd_expected_if_alive(tau / days_per_unit, px, page, r, alpha, a, b)
        discounted += (cumulative - previous) / (1.0 + rate) ** (tau / 365.0)
        previous = cumulative
    return spend * (p_alive * discounted)[inverse]


# --------------------------------------------------------------------------------------------
# Simulation
# --------------------------------------------------------------------------------------------


def simulate_bgnbd(
    n: int,
    r: float,
    alpha: float,
    a: float,
    b: float,
    T: float | ArrayLike,
    seed: int | np.random.Generator,
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

    Returns
    -------
    dict
        ``{"frequency": int64 array, "recency": float array, "T": float array}`` (continuous
        times; round them yourself to mimic daily data).
    """
    if int(n) != n or n < 1:
        raise BTYDParameterError(f"`n` must be a whole number >= 1; got {n!r}.")
    n = int(n)
    for name, value in {"r": r, "alpha": alpha, "a": a, "b": b}.items():
        _check_option(name, value, minimum=0.0, strict=True)
    age = np.broadcast_to(np.asarray(T, dtype=np.float64), (n,)).copy()
    if not np.all(np.isfinite(age)) or (age <= 0).any():
        raise BTYDParameterError("`T` must be finite and > 0.")
    rng = np.random.default_rng(seed)
    rate = rng.gamma(r, 1.0 / alpha, size=n)
    dropout = rng.beta(a, b, size=n)
    purchases_before_dropout = rng.geometric(np.clip(dropout, 1e-300, 1.0))
    purchases_by_t = rng.poisson(rate * age)
    x = np.minimum(purchases_before_dropout, purchases_by_t).astype(np.int64)
    recency = np.zeros(n)
    positive = x > 0
    recency[positive] = age[positive] * rng.beta(
        x[positive], purchases_by_t[positive] - x[positive] + 1
    )
    return {"frequency": x, "recency": recency, "T": age}
