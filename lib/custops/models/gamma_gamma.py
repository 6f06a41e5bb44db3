"""Spend: the Gamma-Gamma model of average repeat spend, its health, and customer lifetime
value from a purchase model and a spend model."""

from __future__ import annotations

import math
import time
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from custops.models.btyd import (
    BetaGeoFitter,
    ModifiedBetaGeoFitter,
    ParetoNBDFitter,
    _PurchaseModelFitter,
)
from custops.models.btyd_fit import (
    _DAYS_PER_TIME_UNIT,
    BTYDDataError,
    BTYDParameterError,
    _as_count,
    _as_float_vector,
    _check_option,
    _check_positive_params,
    _check_rfm,
    _check_same_length,
    _check_weights,
    _distinct_rows,
    _dot,
    _first_positions,
    _fitted_values,
    _GammaGammaData,
    _maximize,
    _MaximumLikelihoodFitter,
    _require_fitted,
)
from custops.models.btyd_health import _finding

__all__ = ["GammaGammaFitter", "btyd_pair_health", "customer_lifetime_value",
           "fit_gamma_gamma", "gamma_gamma_log_likelihood"]


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
    _diagnostic_names = ("n_excluded", "spend_frequency_correlation", "hessian_condition")
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
                f"spend{excluded}).",
                reason_key="nc.btyd_no_positive_spend",
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

    def customer_lifetime_value(self, bgf: BetaGeoFitter | ModifiedBetaGeoFitter | ParetoNBDFitter,
                                *args: Any, **kwargs: Any) -> np.ndarray:
        """The method form lifetimes users know: :func:`customer_lifetime_value` with this
        spend model (same arguments after ``bgf``, same result)."""
        return customer_lifetime_value(bgf, self, *args, **kwargs)


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
            "repeat customers' average spends. Use a longer observation window.",
            reason_key="nc.btyd_no_repeat_buyers",
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
