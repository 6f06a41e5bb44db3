"""The machinery under the buy-till-you-die models: input checks, likelihoods evaluated on
distinct customer patterns (with analytic gradients), the maximum-likelihood search, and the
fitter base class (options, results, health findings, to_dict/from_dict)."""

from __future__ import annotations

import math
import time
import warnings
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np
from numpy.typing import ArrayLike
from scipy import optimize, special

from custops.errors import CustopsError, DataError, ParameterError
from custops.models.btyd_health import _HealthChecks, _hessian_condition
from custops.models.hypergeometric import log_hyp2f1_1

__all__ = ["BTYDDataError", "BTYDParameterError", "ConvergenceWarning",
           "ModelNotFittedError"]

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
    """The frequency / recency / T / monetary inputs cannot be used as given.

    Errors that come from the data rather than the call (no repeat buyers, nothing to fit)
    also carry ``reason_key``, a label key (``nc.btyd_*``) with its fields ``reason_params``,
    so a report says why in its own language (:meth:`record`)."""

    def __init__(self, message: str, *, reason_key: str | None = None, **params: Any) -> None:
        super().__init__(message)
        self.reason_key = reason_key
        self.reason_params = params

    def record(self) -> dict[str, Any]:
        """The reason as a run's health entry stores it: the English message, and the key and
        fields that say it in any language when there is one."""
        out: dict[str, Any] = {"reason": str(self)}
        if self.reason_key:
            out.update(reason_key=self.reason_key, reason_params=dict(self.reason_params))
        return out


class BTYDParameterError(ParameterError, ValueError):
    """An option or model parameter is out of range."""


class ModelNotFittedError(CustopsError, AttributeError):
    """A prediction was asked of a model that has not been fitted or loaded."""


class ConvergenceWarning(UserWarning):
    """The optimizer stopped before reaching a maximum of the likelihood."""


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
    nothing overflows however large x is. :func:`log_hyp2f1_1` evaluates it and its
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
    log_h, grad_h = log_hyp2f1_1(b_param, c, z, eps, gradient)
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


@dataclass(frozen=True)
class _FitResult:
    params: np.ndarray
    log_likelihood: float
    converged: bool
    n_iter: int
    n_evaluations: int
    message: str
    hessian_condition: float = math.nan


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
    condition = _hessian_condition(log_likelihood_and_gradient, params) if converged else math.nan
    return _FitResult(params, float(ll), converged, int(result.nit), int(result.nfev), message,
                      condition)


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


def _check_horizon(t: ArrayLike, what: str) -> np.ndarray:
    horizon = np.asarray(t, dtype=np.float64)
    if np.any(horizon < 0) or not np.all(np.isfinite(horizon)):
        raise BTYDParameterError(f"{what} must be finite and >= 0.")
    return horizon


class _MaximumLikelihoodFitter(_HealthChecks):
    """What the BTYD fitters share: options, the fit's results, (de)serialization, repr, and
    (from :class:`~custops.models.btyd_health._HealthChecks`) health."""

    _param_names: tuple[str, ...] = ()
    # Fit statistics kept in to_dict()["diagnostics"] (attribute names without the trailing _).
    _diagnostic_names: ClassVar[tuple[str, ...]] = ()
    #: Short model name used in findings and by :func:`compare_btyd`.
    model_key: ClassVar[str] = ""
    #: Edge of the optimiser's log-parameter box, for the ``boundary`` finding.
    _box_bound: ClassVar[float] = _LOG_PARAM_BOUND

    def _fitted_params(self) -> dict[str, float]:
        return _require_fitted(self)

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
        # None when not computed (no convergence), so artifacts never hold NaN
        self.hessian_condition_ = (None if math.isnan(result.hessian_condition)
                                   else result.hessian_condition)
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

    def _repr_extra(self) -> str:
        return ""

    def __repr__(self) -> str:
        params = getattr(self, "params_", None)
        shown = ", ".join(f"{k}={v:.4g}" for k, v in params.items()) if params else "not fitted"
        return f"{type(self).__name__}({shown}{self._repr_extra()})"


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
