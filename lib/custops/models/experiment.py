"""Experiments: randomized holdouts, their size (power) and the readout of finished campaigns.

Pure functions on NumPy arrays and pandas frames; no I/O, no plotting.

``holdout_mask`` draws a reproducible randomized control group from a hash of (campaign, seed,
customer id). ``power_two_proportions``, ``minimum_detectable_effect`` and
``holdout_size_for_effect`` size it (two-sided two-proportion z-test, normal approximation).
``campaign_readout`` reports conversion lift (Newcombe hybrid-score interval), revenue per
customer (Welch interval), incremental revenue and ROI per segment.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from custops.models.assignment import OptimizeDataError, OptimizeParameterError

# scipy.stats and scipy.optimize (~1.5 s of CPU to import) load in the functions that use
# them: a dashboard kernel imports this module through the run catalogue and never sizes a
# holdout.

__all__ = ["HoldoutSize", "campaign_readout", "holdout_mask", "holdout_size_for_effect",
           "minimum_detectable_effect", "power_two_proportions"]


def holdout_mask(
    customer_ids: Iterable,
    campaign_id: str | int,
    share: float,
    *,
    seed: int = 0,
    exact: bool = False,
) -> np.ndarray:
    """Randomized holdout (control group, 对照组) that is reproducible per customer.

    Each customer gets a uniform number ``u`` in [0, 1) from the BLAKE2b hash of
    ``"{campaign_id}\\x1f{seed}\\x1f{customer_id}"`` (ids are converted with ``str``, so the
    integer 42 and the string ``"42"`` are the same customer, but the float 42.0 is not). The
    draw depends only on (customer, campaign, seed): the same on every run and machine,
    whatever the order of the list and whoever else is in it.

    Parameters
    ----------
    customer_ids : iterable
        Customer identifiers (no missing values).
    campaign_id : str or int
        The campaign; different campaigns draw independent holdouts.
    share : float
        Holdout share in [0, 1].
    seed : int
        Redraws the whole holdout when changed.
    exact : bool
        ``False``: customer is held out iff ``u < share`` (the realized share is Binomial around
        ``share``; membership depends on nobody else). ``True``: exactly
        ``floor(share * n + 0.5)`` customers, those with the smallest hashes (membership then
        depends on who else is in the list).

    Returns
    -------
    numpy.ndarray of bool
        ``True`` = hold out (do not contact), aligned with ``customer_ids``.
    """
    share = float(share)
    if not 0.0 <= share <= 1.0:
        raise OptimizeParameterError(f"`share` must lie in [0, 1]; got {share}.")
    ids = list(customer_ids)
    if ids and pd.isna(pd.Series(ids, dtype=object)).any():
        raise OptimizeDataError("`customer_ids` has missing values; every customer needs an id.")
    prefix = f"{campaign_id}\x1f{seed}\x1f".encode()
    hashes = np.fromiter(
        (
            int.from_bytes(hashlib.blake2b(prefix + str(i).encode(), digest_size=8).digest(), "big")
            for i in ids
        ),
        dtype=np.uint64,
        count=len(ids),
    )
    if exact:
        mask = np.zeros(len(ids), dtype=bool)
        mask[np.argsort(hashes, kind="stable")[: math.floor(share * len(ids) + 0.5)]] = True
        return mask
    uniform = (hashes >> np.uint64(11)).astype(np.float64) * 2.0**-53  # 53 random bits
    return uniform < share


def _check_rate(value: float, name: str) -> float:
    value = float(value)
    if not 0.0 < value < 1.0:
        raise OptimizeParameterError(f"`{name}` must lie strictly between 0 and 1; got {value}.")
    return value


def power_two_proportions(
    n_treatment: float,
    n_control: float,
    baseline_rate: float,
    effect: float,
    *,
    alpha: float = 0.05,
) -> float:
    """Power of the two-sided two-proportion z-test (normal approximation).

    With control rate ``p_c = baseline_rate``, treatment rate ``p_t = p_c + effect`` and the
    pooled rate ``p = (n_t p_t + n_c p_c) / (n_t + n_c)``::

        se_0 = sqrt(p (1 - p) (1/n_t + 1/n_c))            # under H0 (pooled)
        se_1 = sqrt(p_t (1 - p_t) / n_t + p_c (1 - p_c) / n_c)   # under H1
        power = Phi((|effect| - z_{1-alpha/2} se_0) / se_1)

    (the far tail, rejecting in the wrong direction, is ignored as usual).

    Returns
    -------
    float
        Probability of a significant result; NaN when an arm is empty.
    """
    from scipy import stats  # noqa: PLC0415 - on first use (see the top)

    p_control = _check_rate(baseline_rate, "baseline_rate")
    p_treatment = _check_rate(p_control + effect, "baseline_rate + effect")
    alpha = _check_rate(alpha, "alpha")
    if n_treatment <= 0 or n_control <= 0:
        return math.nan
    z_alpha = stats.norm.ppf(1 - alpha / 2)
    pooled = (n_treatment * p_treatment + n_control * p_control) / (n_treatment + n_control)
    se_null = math.sqrt(pooled * (1 - pooled) * (1 / n_treatment + 1 / n_control))
    se_alternative = math.sqrt(
        p_treatment * (1 - p_treatment) / n_treatment + p_control * (1 - p_control) / n_control
    )
    return float(stats.norm.cdf((abs(effect) - z_alpha * se_null) / se_alternative))


def minimum_detectable_effect(
    n_treatment: float,
    n_control: float,
    baseline_rate: float,
    *,
    alpha: float = 0.05,
    power: float = 0.8,
) -> float:
    """Smallest absolute lift in conversion rate detected with the given power.

    Solves ``effect = z_{1-alpha/2} se_0(effect) + z_{power} se_1(effect)`` for ``effect > 0``
    (see :func:`power_two_proportions` for ``se_0``, ``se_1``); both standard errors depend on
    the effect through ``p_t = baseline_rate + effect``. For equal arms of ``n`` this inverts the
    textbook sample size ``n = (z_{1-alpha/2} sqrt(2 p q) + z_power sqrt(p_c q_c + p_t q_t))^2 /
    effect^2`` with ``p`` the mean of the two rates (baseline 0.10, effect 0.02, alpha 0.05,
    power 0.8 gives n = 3,841 per arm).

    Returns
    -------
    float
        Absolute effect (e.g. 0.02 = two percentage points); ``inf`` when not even a lift to a
        100% rate is detectable, NaN when an arm is empty.
    """
    from scipy import optimize, stats  # noqa: PLC0415 - on first use (see the top)

    p_control = _check_rate(baseline_rate, "baseline_rate")
    alpha = _check_rate(alpha, "alpha")
    power = _check_rate(power, "power")
    if n_treatment <= 0 or n_control <= 0:
        return math.nan
    z_alpha, z_power = stats.norm.ppf(1 - alpha / 2), stats.norm.ppf(power)

    def shortfall(effect: float) -> float:
        p_treatment = p_control + effect
        pooled = (n_treatment * p_treatment + n_control * p_control) / (n_treatment + n_control)
        se_null = math.sqrt(pooled * (1 - pooled) * (1 / n_treatment + 1 / n_control))
        se_alternative = math.sqrt(
            p_treatment * (1 - p_treatment) / n_treatment + p_control * (1 - p_control) / n_control
        )
        return effect - z_alpha * se_null - z_power * se_alternative

    largest = 1.0 - p_control
    if shortfall(largest) < 0:
        return math.inf
    return float(optimize.brentq(shortfall, 1e-12, largest, xtol=1e-12, rtol=1e-12))


@dataclass(frozen=True)
class HoldoutSize:
    """How to split ``n_total`` customers so a given lift is detectable.

    Attributes
    ----------
    n_control, n_treatment : int
        Holdout (control) and contacted (treatment) sizes.
    control_share : float
        ``n_control / n_total``.
    power : float
        Power achieved with this split.
    feasible : bool
        False when no split reaches the requested power; the split shown is then the one with
        the most power.
    """

    n_control: int
    n_treatment: int
    control_share: float
    power: float
    feasible: bool


def holdout_size_for_effect(
    n_total: int,
    baseline_rate: float,
    effect: float,
    *,
    alpha: float = 0.05,
    power: float = 0.8,
) -> HoldoutSize:
    """Smallest holdout out of ``n_total`` customers that detects ``effect`` with ``power``.

    Power (:func:`power_two_proportions`) rises with the holdout up to a near-even split, so
    the smallest sufficient control size is found by bisection on ``1 .. n_peak`` where
    ``n_peak`` is the most powerful split.

    Parameters
    ----------
    n_total : int
        Customers available for the campaign (treatment + holdout).
    baseline_rate : float
        Conversion rate without contact (the control's expected rate).
    effect : float
        Absolute lift to detect (``baseline_rate + effect`` must lie in (0, 1)).
    alpha, power : float
        Two-sided significance level and required power.
    """
    from scipy import optimize  # noqa: PLC0415 - on first use (see the top)

    n_total = int(n_total)
    if n_total < 2:
        raise OptimizeParameterError(f"`n_total` must be at least 2; got {n_total}.")
    if effect == 0:
        raise OptimizeParameterError("`effect` must be non-zero.")
    target = _check_rate(power, "power")

    def power_at(n_control: float) -> float:
        return power_two_proportions(
            n_total - n_control, n_control, baseline_rate, effect, alpha=alpha
        )

    peak = optimize.minimize_scalar(
        lambda n_control: -power_at(n_control), bounds=(1, n_total - 1), method="bounded"
    )
    candidates = {min(max(int(f(peak.x)), 1), n_total - 1) for f in (math.floor, math.ceil)}
    n_peak = max(candidates, key=power_at)
    if power_at(n_peak) < target:
        return HoldoutSize(n_peak, n_total - n_peak, n_peak / n_total, power_at(n_peak), False)
    low, high = 1, n_peak  # power_at(high) >= target
    if power_at(low) >= target:
        high = low
    while high - low > 1:
        middle = (low + high) // 2
        if power_at(middle) >= target:
            high = middle
        else:
            low = middle
    return HoldoutSize(high, n_total - high, high / n_total, power_at(high), True)


def _validate_cols(frame: pd.DataFrame, columns: Sequence[str]) -> None:
    missing = [column for column in columns if column not in frame.columns]
    if missing:
        raise OptimizeDataError(
            f"campaign results are missing column(s) {missing}; found {list(frame.columns)}. "
            "Rename the columns or pass their names (group_col=..., converted_col=...)."
        )


def _wilson_interval(successes: np.ndarray, n: np.ndarray, z: float):
    with np.errstate(divide="ignore", invalid="ignore"):
        rate = successes / n
        centre = (rate + z**2 / (2 * n)) / (1 + z**2 / n)
        half = z * np.sqrt(rate * (1 - rate) / n + z**2 / (4 * n**2)) / (1 + z**2 / n)
    return centre - half, centre + half


def campaign_readout(
    frame: pd.DataFrame,
    *,
    group_col: str = "group",
    converted_col: str = "converted",
    revenue_col: str | None = "revenue",
    cost_col: str | None = None,
    by: str | Sequence[str] | None = None,
    alpha: float = 0.05,
    treatment_label: object = "treatment",
    control_label: object = "control",
) -> pd.DataFrame:
    """Campaign results per segment: lift with confidence intervals, incremental revenue, ROI.

    Parameters
    ----------
    frame : pandas.DataFrame
        One row per customer in the campaign. Required columns: ``group_col`` (values
        ``treatment_label`` / ``control_label``), ``converted_col`` (0/1 or bool), and, when
        given, ``revenue_col`` (revenue per customer in the measurement window; missing = 0),
        ``cost_col`` (contact cost per customer) and the ``by`` columns.
    group_col, converted_col, revenue_col, cost_col : str
        Column names; ``revenue_col=None`` skips the revenue figures.
    by : str or list of str, optional
        Segment columns; ``None`` gives one overall row.
    alpha : float
        1 - confidence level of the intervals.
    treatment_label, control_label
        Values of ``group_col`` that mark the two arms.

    Returns
    -------
    pandas.DataFrame
        One row per segment (``by`` columns first) with ``n_treatment``, ``n_control``,
        ``conversions_treatment``, ``conversions_control``, ``rate_treatment``,
        ``rate_control``, ``lift`` (absolute difference of rates) with ``lift_low`` /
        ``lift_high`` (Newcombe hybrid-score interval, Wilson intervals per arm combined -- keeps
        its coverage near 0% and 100% where Wald fails), ``lift_p_value`` (pooled two-proportion
        z-test), ``relative_lift`` (``rate_t / rate_c - 1``), ``revenue_per_customer_treatment``
        / ``_control``, ``revenue_diff`` with ``revenue_diff_low`` / ``_high`` (Welch),
        ``incremental_revenue`` (``revenue_diff * n_treatment``, with ``_low`` / ``_high``),
        ``cost`` (sum of ``cost_col`` over the treatment arm) and ``roi``
        (``(incremental_revenue - cost) / cost``). Figures that need an arm that is empty (or,
        for Welch, has fewer than 2 customers) are NaN.
    """
    from scipy import stats  # noqa: PLC0415 - on first use (see the top)

    by_columns = [] if by is None else ([by] if isinstance(by, str) else list(by))
    needed = [group_col, converted_col, *by_columns]
    needed += [column for column in (revenue_col, cost_col) if column is not None]
    _validate_cols(frame, needed)
    alpha = _check_rate(alpha, "alpha")
    labels = frame[group_col]
    unknown = sorted(set(labels.dropna().unique()) - {treatment_label, control_label}, key=str)
    if unknown or labels.isna().any():
        raise OptimizeDataError(
            f"`{group_col}` must be {treatment_label!r} or {control_label!r}; found "
            f"{unknown[:5] + (['<missing>'] if labels.isna().any() else [])}. Fix or drop those "
            "rows, or pass treatment_label= / control_label=."
        )
    converted = pd.to_numeric(frame[converted_col].astype("float64"), errors="coerce")
    if converted.isna().any() or not converted.isin((0.0, 1.0)).all():
        raise OptimizeDataError(
            f"`{converted_col}` must be 0/1 (or True/False) for every customer; found "
            f"{int((converted.isna() | ~converted.isin((0.0, 1.0))).sum())} other value(s)."
        )
    work = pd.DataFrame(
        {"_treated": (labels == treatment_label).to_numpy(), "_converted": converted.to_numpy()},
        index=frame.index,
    )
    if revenue_col is not None:
        work["_revenue"] = pd.to_numeric(frame[revenue_col], errors="coerce").fillna(0.0)
    if cost_col is not None:
        work["_cost"] = pd.to_numeric(frame[cost_col], errors="coerce").fillna(0.0)
    for column in by_columns:
        work[column] = frame[column]
    if not by_columns:
        work["_segment"] = "all"
    keys = [*(by_columns or ["_segment"]), "_treated"]
    aggregations = {"n": ("_converted", "size"), "conversions": ("_converted", "sum")}
    if revenue_col is not None:
        aggregations["revenue_mean"] = ("_revenue", "mean")
        aggregations["revenue_var"] = ("_revenue", "var")
    if cost_col is not None:
        aggregations["cost"] = ("_cost", "sum")
    per_arm = work.groupby(keys, dropna=False, observed=True, sort=True).agg(**aggregations)
    arms = per_arm.unstack("_treated").reindex(
        columns=pd.MultiIndex.from_product([list(aggregations), [True, False]])
    )

    def arm(statistic: str, treated: bool) -> np.ndarray:
        return arms[(statistic, treated)].to_numpy(dtype=np.float64)

    n_t = np.nan_to_num(arm("n", True))
    n_c = np.nan_to_num(arm("n", False))
    conversions_t = np.nan_to_num(arm("conversions", True))
    conversions_c = np.nan_to_num(arm("conversions", False))
    z = float(stats.norm.ppf(1 - alpha / 2))
    with np.errstate(divide="ignore", invalid="ignore"):
        rate_t, rate_c = conversions_t / n_t, conversions_c / n_c
        low_t, high_t = _wilson_interval(conversions_t, n_t, z)
        low_c, high_c = _wilson_interval(conversions_c, n_c, z)
        lift = rate_t - rate_c
        pooled = (conversions_t + conversions_c) / (n_t + n_c)
        se_pooled = np.sqrt(pooled * (1 - pooled) * (1 / n_t + 1 / n_c))
        z_stat = np.where(se_pooled > 0, lift / se_pooled, np.where(lift == 0, 0.0, np.nan))
        relative_lift = np.where(rate_c > 0, rate_t / rate_c - 1, np.nan)
    result = pd.DataFrame(index=arms.index)
    result["n_treatment"] = n_t.astype(np.int64)
    result["n_control"] = n_c.astype(np.int64)
    result["conversions_treatment"] = conversions_t.astype(np.int64)
    result["conversions_control"] = conversions_c.astype(np.int64)
    result["rate_treatment"] = rate_t
    result["rate_control"] = rate_c
    result["lift"] = lift
    result["lift_low"] = lift - np.sqrt((rate_t - low_t) ** 2 + (high_c - rate_c) ** 2)
    result["lift_high"] = lift + np.sqrt((high_t - rate_t) ** 2 + (rate_c - low_c) ** 2)
    result["lift_p_value"] = 2 * stats.norm.sf(np.abs(z_stat))
    result["relative_lift"] = relative_lift

    incremental = np.full(len(result), np.nan)
    if revenue_col is not None:
        mean_t, mean_c = arm("revenue_mean", True), arm("revenue_mean", False)
        var_t, var_c = arm("revenue_var", True), arm("revenue_var", False)
        with np.errstate(divide="ignore", invalid="ignore"):
            diff = mean_t - mean_c
            se = np.sqrt(var_t / n_t + var_c / n_c)
            dof = (var_t / n_t + var_c / n_c) ** 2 / (
                (var_t / n_t) ** 2 / (n_t - 1) + (var_c / n_c) ** 2 / (n_c - 1)
            )
            half = np.where(se > 0, stats.t.ppf(1 - alpha / 2, dof) * se, 0.0)
        half = np.where(np.isnan(se), np.nan, half)
        incremental = diff * n_t
        result["revenue_per_customer_treatment"] = mean_t
        result["revenue_per_customer_control"] = mean_c
        result["revenue_diff"] = diff
        result["revenue_diff_low"] = diff - half
        result["revenue_diff_high"] = diff + half
        result["incremental_revenue"] = incremental
        result["incremental_revenue_low"] = (diff - half) * n_t
        result["incremental_revenue_high"] = (diff + half) * n_t
    if cost_col is not None:
        cost = np.nan_to_num(arm("cost", True))
        result["cost"] = cost
        with np.errstate(divide="ignore", invalid="ignore"):
            result["roi"] = np.where(cost > 0, (incremental - cost) / cost, np.nan)
    if by_columns:
        return result.reset_index()
    return result.reset_index(drop=True)
