"""The Gaussian hypergeometric function 2F1(1, b; c; z) in log space, exact near z = 1 (where
scipy's ``hyp2f1`` is slow and can be wrong): what the Pareto/NBD likelihood needs."""

from __future__ import annotations

import math

import numpy as np
from scipy import special

__all__ = ["log_hyp2f1_1"]

# Step in b and c for the central differences of ln 2F1(1, b; c; z) (see log_hyp2f1_1).
_HYP2F1_PARAM_STEP = 1e-5



# 2F1(1, b; c; z) is evaluated by scipy for z <= 1 - _NEAR_ONE and by _log_hyp2f1_1_near_one
# for larger z; _SERIES_MAX_C bounds c for its series, _RECURRENCE_MAX its recurrences.
_NEAR_ONE = 0.1



_SERIES_MAX_C = 25.0



_SERIES_TERMS = 48



_RECURRENCE_MAX = 2000.0



def log_hyp2f1_1(
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
    textbook connection formula. The gradient (as in :func:`log_hyp2f1_1`) is analytic but
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
    """ln F(1, b; c; 1 - eps) for 0 < eps < 0.1, with the gradient of :func:`log_hyp2f1_1`.

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
    gradient as in :func:`log_hyp2f1_1`; the result is at (b + steps, c + steps) or
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
