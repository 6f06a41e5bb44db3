"""Buy-till-you-die purchase models (BG/NBD, MBG/NBD, Pareto/NBD) by MLE, and choosing one.

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
``GammaGammaFitter`` (in :mod:`custops.models.gamma_gamma`, with lifetime value)
    Gamma-Gamma spend model (Colombo & Jiang 1999; Fader, Hardie & Lee 2005, "RFM and CLV";
    Fader & Hardie 2013 note "The Gamma-Gamma model of monetary value"). Each transaction value
    is ``Gamma(shape=p, rate=nu)`` and ``nu ~ Gamma(shape=q, rate=gamma)`` across customers.

The fitters follow scikit-learn conventions: ``__init__`` stores options, ``fit`` returns
``self``, fitted attributes end in ``_``. The likelihood is evaluated once per distinct
customer pattern (counts as weights; :mod:`custops.models.btyd_fit`) with an analytic gradient (the Pareto/NBD's Gaussian
hypergeometric term is evaluated once per distinct (x, t), with some central differences in r
and s), and optimized with L-BFGS-B in log-parameter space: far quicker than lifetimes'
per-customer likelihood, with the same estimates.

Every fitter has ``health()``, a list of findings ``{"code", "severity", **numbers}`` (e.g.
``not_converged``, ``boundary``, ``few_repeat_buyers``), and ``usable`` (no finding of
severity ``"error"``): a fit that is not usable must not drive decisions.
:func:`custops.models.gamma_gamma.btyd_pair_health` does the same for a purchase model with
its spend model, and :func:`compare_btyd` / :func:`best_btyd` choose a purchase model on a holdout period.

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
from typing import Any, ClassVar

import numpy as np
from numpy.typing import ArrayLike
from scipy import special

from custops.models.btyd_fit import (
    BTYDDataError,
    BTYDParameterError,
    ConvergenceWarning,
    _as_count,
    _BGNBDData,
    _check_horizon,
    _check_positive_params,
    _check_rfm,
    _check_weights,
    _dot,
    _fitted_values,
    _maximize,
    _MaximumLikelihoodFitter,
    _MBGNBDData,
    _pareto_probability_alive,
    _ParetoNBDData,
    _require_fitted,
)
from custops.models.btyd_health import _finding
from custops.models.btyd_sim import simulate_bgnbd, simulate_mbgnbd, simulate_pareto_nbd

__all__ = [
    "BTYD_MODELS",
    "BTYDDataError",
    "BTYDParameterError",
    "ConvergenceWarning",
    "BetaGeoFitter",
    "ModifiedBetaGeoFitter",
    "ParetoNBDFitter",
    "best_btyd",
    "bgnbd_log_likelihood",
    "compare_btyd",
    "mbgnbd_log_likelihood",
    "pareto_nbd_log_likelihood",
    "simulate_bgnbd",
    "simulate_mbgnbd",
    "simulate_pareto_nbd",
]


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


class _PurchaseModelFitter(_MaximumLikelihoodFitter):
    """What the purchase models (BG/NBD, MBG/NBD, Pareto/NBD) share: fit, predictions, artifacts.

    Subclasses set ``_data_class`` (sufficient statistics with ``log_likelihood_and_gradient``)
    and ``_model_label``, and define ``_default_start``, ``conditional_probability_alive``,
    ``_expected_if_alive`` and ``expected_number_of_purchases_up_to_time``.
    """

    _data_class: ClassVar[type]
    _model_label: ClassVar[str] = ""
    _diagnostic_names = ("n_repeat_buyers", "mean_age", "hessian_condition")

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
            raise BTYDDataError("no customers to fit (all weights are 0 or the input is empty).",
                                reason_key="nc.btyd_no_customers")
        n_repeat = float(data.x_counts[data.x_values > 0].sum())
        if n_repeat <= 0:
            raise BTYDDataError(
                f"no customer has a repeat purchase (frequency > 0): the {self._model_label} "
                "cannot be estimated. Use a longer observation window.",
                reason_key="nc.btyd_no_repeat_buyers",
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

    def conditional_probability_no_purchase_up_to_time(
        self, t: ArrayLike, frequency: ArrayLike, recency: ArrayLike, T: ArrayLike
    ) -> np.ndarray:
        """Probability that each customer makes no repeat purchase in the next ``t`` time units.

        P(Y(t) = 0 | x, t_x, T) = 1 − P(alive) + P(alive) · P(Y(t) = 0 | alive at T, x, T):
        a customer who has dropped out never buys again, and an active one may not buy in
        time (or drop out first). The second factor is the model's (see
        :meth:`_no_purchase_if_alive`); this is the churn probability over the horizon.

        Parameters
        ----------
        t : float or array-like
            Length of the future period in ``time_unit`` (broadcast against the customers).
        frequency, recency, T : array-like
            As in :meth:`fit`.

        Returns
        -------
        numpy.ndarray
            P(no purchase in (T, T + t]) per customer.
        """
        _require_fitted(self)
        x, t_x, age = _check_rfm(frequency, recency, T)
        horizon = _check_horizon(t, "`t` (future period length)")
        p_alive = self.conditional_probability_alive(x, t_x, age)
        return (1.0 - p_alive) + p_alive * self._no_purchase_if_alive(horizon, x, age)

    def _no_purchase_if_alive(self, t: ArrayLike, x: ArrayLike, age: ArrayLike) -> np.ndarray:
        """P(no purchase in (T, T + t] | active at T, x, T) for BG/NBD and MBG/NBD: their
        customers drop out only right after a purchase, so an active customer without a
        purchase stays active, and the answer is E[exp(−λt)] over λ's posterior given activity,
        Gamma(r + x, rate α + T): ((α + T)/(α + T + t))^(r + x)."""
        r, alpha = self.params_["r"], self.params_["alpha"]
        t, x, age = np.broadcast_arrays(np.asarray(t, dtype=np.float64),
                                        np.asarray(x, dtype=np.float64),
                                        np.asarray(age, dtype=np.float64))
        return np.exp(-(r + x) * np.log1p(t / (alpha + age)))

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

    def _no_purchase_if_alive(self, t: ArrayLike, x: ArrayLike, age: ArrayLike) -> np.ndarray:
        r, alpha, s, beta = _fitted_values(self)
        return _pnbd_no_purchase_if_alive(t, x, age, r, alpha, s, beta)


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


def _gauss_legendre_decades(decades: int, points: int) -> tuple[np.ndarray, np.ndarray]:
    """Nodes and weights on [0, 1] for integrands with features at any scale: Gauss-Legendre
    with ``points`` nodes on each of the panels [0, 10^-decades], [10^-decades, 10^-decades+1],
    ..., [0.1, 1]."""
    nodes, weights = np.polynomial.legendre.leggauss(points)
    edges = np.concatenate([[0.0], 10.0 ** np.arange(-decades, 1)])
    low, width = edges[:-1, None], np.diff(edges)[:, None]
    return ((low + width * (nodes + 1.0) / 2.0).ravel(),
            (width * weights / 2.0).ravel())


# The Pareto/NBD no-purchase integral: 8 decades × 16 points (tests/test_btyd.py measures it
# against adaptive quadrature).
_GL_NODES, _GL_WEIGHTS = _gauss_legendre_decades(8, 16)
_GL_CHUNK = 16_384  # customers per block of the quadrature (~20 MB of temporaries)


def _pnbd_no_purchase_if_alive(
    t: ArrayLike, x: ArrayLike, age: ArrayLike, r: float, alpha: float, s: float, beta: float
) -> np.ndarray:
    """P(no purchase in (T, T + t] | active at T, x, T) under the Pareto/NBD.

    Given activity at T, λ ~ Gamma(r + x, rate A = α + T) and μ ~ Gamma(s, rate B = β + T)
    independently (the likelihood of an active customer is λ^x e^{−(λ+μ)T}). With a lifetime
    τ ~ Exp(μ) the customer buys nothing in the period when no purchase comes before
    min(τ, t): E[e^{−λ min(τ, t)}] = E[e^{−(λ+μ)t}] + ∫_0^t E[e^{−λu}] E[μ e^{−μu}] du, i.e.

        (A/(A+t))^(r+x) (B/(B+t))^s + ∫_0^t (A/(A+u))^(r+x) s B^s (B+u)^(−s−1) du.

    The integrand falls on two scales, A/(r+x) and B, either of which may be far below t; the
    integral is taken by Gauss-Legendre on decade panels of [0, t]
    (:func:`_gauss_legendre_decades`), which resolves both.
    """
    t, x, age = np.broadcast_arrays(
        np.asarray(t, dtype=np.float64),
        np.asarray(x, dtype=np.float64),
        np.asarray(age, dtype=np.float64),
    )
    shape = (r + x).ravel()
    rate_a, rate_b, span = (alpha + age).ravel(), (beta + age).ravel(), t.ravel()
    integral = np.empty_like(span)
    for start in range(0, len(span), _GL_CHUNK):  # bounded memory: chunk × nodes floats
        part = slice(start, start + _GL_CHUNK)
        u = span[part, None] * _GL_NODES  # the nodes on [0, t] of each customer
        log_integrand = (-shape[part, None] * np.log1p(u / rate_a[part, None])
                         - (s + 1.0) * np.log1p(u / rate_b[part, None]))
        integral[part] = span[part] * s / rate_b[part] * (np.exp(log_integrand) @ _GL_WEIGHTS)
    survive = np.exp(-shape * np.log1p(span / rate_a) - s * np.log1p(span / rate_b))
    return np.clip(survive + integral, 0.0, 1.0).reshape(t.shape)


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
# Choosing a purchase model on a holdout period
# --------------------------------------------------------------------------------------------

# Simplest first: ties in compare_btyd go to the earlier model.
BTYD_MODELS: dict[str, type[_PurchaseModelFitter]] = {
    "bgnbd": BetaGeoFitter,
    "mbgnbd": ModifiedBetaGeoFitter,
    "pnbd": ParetoNBDFitter,
}


# The model choice needs BTYD_MODELS above, so it is imported after it.
from custops.models.btyd_choice import best_btyd, compare_btyd  # noqa: E402
