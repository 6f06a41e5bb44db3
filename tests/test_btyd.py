"""BTYD models: published CDNOW estimates, analytic gradients, recovery from simulated data.

Reference predictions marked "lifetimes 0.11.3" were computed once with lifetimes in a
throwaway virtualenv at the parameter values shown and are hard-coded here; lifetimes is not a
dependency of custops. Values marked "mpmath" were computed once with mpmath at 50 digits from
Fader & Hardie's closed form, and are hard-coded too.
"""

from __future__ import annotations

import json
import math
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from scipy.special import betaln, gammaln, hyp2f1

from custops.errors import DataError
from custops.models import btyd_fit, hypergeometric
from custops.models.btyd import (
    BTYD_MODELS,
    BetaGeoFitter,
    BTYDDataError,
    BTYDParameterError,
    ConvergenceWarning,
    ModifiedBetaGeoFitter,
    ParetoNBDFitter,
    best_btyd,
    bgnbd_log_likelihood,
    compare_btyd,
    mbgnbd_log_likelihood,
    pareto_nbd_log_likelihood,
    simulate_bgnbd,
    simulate_mbgnbd,
    simulate_pareto_nbd,
)
from custops.models.btyd_fit import ModelNotFittedError
from custops.models.gamma_gamma import (
    GammaGammaFitter,
    btyd_pair_health,
    customer_lifetime_value,
    fit_gamma_gamma,
    gamma_gamma_log_likelihood,
)

CDNOW_PATH = Path(__file__).parent / "data" / "cdnow_summary.csv"

# Fader, Hardie & Lee (2005), "Counting your customers the easy way", Marketing Science 24(2).
BGNBD_CDNOW_PUBLISHED = {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426}
BGNBD_CDNOW_PUBLISHED_LL = -9582.4
# Fader & Hardie (2013), "The Gamma-Gamma model of monetary value", 946 CDNOW repeat buyers.
GG_CDNOW_PUBLISHED = {"p": 6.25, "q": 3.74, "gamma": 15.44}
# lifetimes 0.11.3 GammaGammaFitter on the same file (its docs print p 6.25, q 3.74, v 15.45).
GG_CDNOW_LIFETIMES = {"p": 6.248802496, "q": 3.744588461, "gamma": 15.447748065}

# Hand cases in weeks, evaluated at the published CDNOW parameters.
CASES = {
    "frequency": [0, 1, 2, 7, 40, 3],
    "recency": [0.0, 1.71, 30.43, 35.0, 37.5, 5.0],
    "T": [38.86, 38.86, 38.86, 38.0, 38.5, 60.0],
}
# lifetimes 0.11.3 BetaGeoFitter.conditional_expected_number_of_purchases_up_to_time(t, ...).
LIFETIMES_CONDITIONAL_EXPECTED = {
    1.0: [
        5.595657889482763e-03,
        6.062951798283455e-03,
        3.744796974173065e-02,
        1.461041375286165e-01,
        8.858046221611966e-01,
        5.415018469833522e-04,
    ],
    39.0: [
        1.950980520112540e-01,
        2.031869870797518e-01,
        1.226028174767135e00,
        4.556185276589759e00,
        2.678950732363566e01,
        1.842977735510822e-02,
    ],
    52.0: [
        2.520730222824504e-01,
        2.598234648686223e-01,
        1.558720806432097e00,
        5.728681664346111e00,
        3.347225654792432e01,
        2.363373123046946e-02,
    ],
}
# lifetimes 0.11.3 conditional_probability_alive.
LIFETIMES_P_ALIVE = [
    1.0,
    0.2121009853773791,
    0.726578570080673,
    0.8619910650934327,
    0.9528885883622057,
    0.01080062172532832,
]
# lifetimes 0.11.3 expected_number_of_purchases_up_to_time([1, 10, 39, 78]).
LIFETIMES_UNCONDITIONAL = [
    0.05326789117165627,
    0.4324133622344203,
    1.1967231933207985,
    1.8605190579427455,
]
# lifetimes 0.11.3 GammaGammaFitter(p=6.25, q=3.74, v=15.44).conditional_expected_average_profit.
GG_CASES = {"frequency": [1, 2, 5, 0], "monetary_value": [10.0, 22.35, 100.0, 0.0]}
LIFETIMES_GG_PROFIT = [17.686318131256954, 24.663713910761157, 94.77787584583702, 35.21897810218978]
# lifetimes 0.11.3 GammaGammaFitter.customer_lifetime_value(bgf_days, ..., time=12,
# discount_rate=1.10 ** (30 / 365) - 1, freq="D") with the CASES converted to days
# (alpha = 4.414 * 7) and the spends below.
CLV_SPEND = [0.0, 11.77, 22.35, 40.0, 25.0, 15.0]
LIFETIMES_CLV = [
    8.376124708609028,
    4.642756842247385,
    36.33836308038807,
    215.3531176169503,
    796.1296977955415,
    0.3922856941443819,
]


def significant(value: float, digits: int = 3) -> float:
    """Round to ``digits`` significant figures."""
    return round(value, digits - 1 - math.floor(math.log10(abs(value))))


@pytest.fixture(scope="module")
def cdnow() -> pd.DataFrame:
    return pd.read_csv(CDNOW_PATH)


@pytest.fixture(scope="module")
def cdnow_bgf(cdnow) -> BetaGeoFitter:
    return BetaGeoFitter(time_unit="weeks").fit(cdnow["frequency"], cdnow["recency"], cdnow["T"])


@pytest.fixture(scope="module")
def cdnow_ggf(cdnow) -> GammaGammaFitter:
    repeat = cdnow[cdnow["frequency"] > 0]
    return GammaGammaFitter().fit(repeat["frequency"], repeat["monetary_value"])


def published_bgf(time_unit: str = "weeks", alpha_scale: float = 1.0) -> BetaGeoFitter:
    params = dict(BGNBD_CDNOW_PUBLISHED, alpha=BGNBD_CDNOW_PUBLISHED["alpha"] * alpha_scale)
    return BetaGeoFitter.from_dict(
        {"model": "BetaGeoFitter", "format_version": 1, "time_unit": time_unit, "params": params}
    )


def published_ggf() -> GammaGammaFitter:
    return GammaGammaFitter.from_dict(
        {"model": "GammaGammaFitter", "format_version": 1, "params": GG_CDNOW_PUBLISHED}
    )


# --- CDNOW benchmark ------------------------------------------------------------------------


def test_cdnow_file_is_the_2357_customer_summary(cdnow):
    assert len(cdnow) == 2357
    assert int((cdnow["frequency"] > 0).sum()) == 946
    assert list(cdnow.columns) == ["customer_id", "frequency", "recency", "T", "monetary_value"]


def test_bgnbd_reproduces_published_cdnow_mle(cdnow_bgf):
    assert cdnow_bgf.converged_
    for name, published in BGNBD_CDNOW_PUBLISHED.items():
        assert significant(cdnow_bgf.params_[name]) == significant(published), name
        assert cdnow_bgf.params_[name] == pytest.approx(published, rel=2e-3), name
    assert cdnow_bgf.log_likelihood_ == pytest.approx(BGNBD_CDNOW_PUBLISHED_LL, abs=0.05)
    assert cdnow_bgf.n_customers_ == 2357
    assert cdnow_bgf.time_unit == "weeks"


def test_bgnbd_log_likelihood_at_published_params(cdnow):
    ll = bgnbd_log_likelihood(
        BGNBD_CDNOW_PUBLISHED, cdnow["frequency"], cdnow["recency"], cdnow["T"]
    )
    assert ll == pytest.approx(BGNBD_CDNOW_PUBLISHED_LL, abs=0.05)


def test_gamma_gamma_reproduces_published_cdnow_estimates(cdnow_ggf):
    assert cdnow_ggf.converged_
    assert cdnow_ggf.n_customers_ == 946
    for name, published in GG_CDNOW_PUBLISHED.items():
        assert significant(cdnow_ggf.params_[name]) == significant(published), name
        assert cdnow_ggf.params_[name] == pytest.approx(GG_CDNOW_LIFETIMES[name], rel=1e-4), name
    # Fader & Hardie's LL on these spends (CLVTools reports -4055.92 on its copy of CDNOW).
    assert cdnow_ggf.log_likelihood_ == pytest.approx(-4055.92, abs=0.05)


def test_gamma_gamma_log_likelihood_is_maximized_at_the_fit(cdnow, cdnow_ggf):
    repeat = cdnow[cdnow["frequency"] > 0]
    at_fit = gamma_gamma_log_likelihood(
        cdnow_ggf.params_, repeat["frequency"], repeat["monetary_value"]
    )
    at_note = gamma_gamma_log_likelihood(
        GG_CDNOW_PUBLISHED, repeat["frequency"], repeat["monetary_value"]
    )
    assert at_fit == pytest.approx(cdnow_ggf.log_likelihood_)
    assert at_note <= at_fit
    assert at_note == pytest.approx(at_fit, abs=0.01)


def test_bgnbd_is_invariant_to_the_time_unit(cdnow, cdnow_bgf):
    days = BetaGeoFitter(time_unit="days").fit(
        cdnow["frequency"], cdnow["recency"] * 7, cdnow["T"] * 7
    )
    assert days.params_["alpha"] == pytest.approx(cdnow_bgf.params_["alpha"] * 7, rel=1e-4)
    for name in ("r", "a", "b"):
        assert days.params_[name] == pytest.approx(cdnow_bgf.params_[name], rel=1e-4)
    # The recency density scales by 1/7 per repeat purchase.
    shift = cdnow["frequency"].sum() * math.log(7)
    assert days.log_likelihood_ == pytest.approx(cdnow_bgf.log_likelihood_ - shift, abs=1e-3)


def test_weights_equal_repeated_rows(cdnow, cdnow_bgf):
    grouped = cdnow.groupby(["frequency", "recency", "T"], as_index=False).size()
    weighted = BetaGeoFitter(time_unit="weeks").fit(
        grouped["frequency"], grouped["recency"], grouped["T"], weights=grouped["size"]
    )
    assert weighted.n_customers_ == 2357
    assert weighted.log_likelihood_ == pytest.approx(cdnow_bgf.log_likelihood_, abs=1e-6)
    for name, value in cdnow_bgf.params_.items():
        assert weighted.params_[name] == pytest.approx(value, rel=1e-5)


def naive_bgnbd_log_likelihood(params, frequency, recency, T) -> float:
    """The paper's per-customer formula, written directly (no grouping, no tricks)."""
    r, alpha, a, b = (params[k] for k in ("r", "alpha", "a", "b"))
    x, t_x, age = (np.asarray(v, dtype=float) for v in (frequency, recency, T))
    a1 = gammaln(r + x) - gammaln(r) + r * np.log(alpha)
    a2 = betaln(a, b + x) - betaln(a, b)
    a3 = -(r + x) * np.log(alpha + age)
    a4 = np.log(a) - np.log(np.maximum(b + x - 1, 1e-300)) - (r + x) * np.log(alpha + t_x)
    return float(np.sum(a1 + a2 + np.where(x > 0, np.logaddexp(a3, a4), a3)))


@pytest.mark.parametrize(
    "params",
    [
        BGNBD_CDNOW_PUBLISHED,
        {"r": 3.0, "alpha": 0.5, "a": 40.0, "b": 0.2},
        {"r": 0.243, "alpha": 4.414, "a": 1e-305, "b": 2.426},  # exercises the overflow guard
    ],
)
def test_grouped_log_likelihood_equals_the_per_customer_formula(cdnow, params):
    args = (cdnow["frequency"], cdnow["recency"], cdnow["T"])
    expected = naive_bgnbd_log_likelihood(params, *args)
    assert bgnbd_log_likelihood(params, *args) == pytest.approx(expected, rel=1e-10)


# --- gradients ------------------------------------------------------------------------------


def central_difference(function, theta: np.ndarray, relative_step: float = 1e-6) -> np.ndarray:
    gradient = np.empty_like(theta)
    for i in range(len(theta)):
        step = relative_step * theta[i]
        up, down = theta.copy(), theta.copy()
        up[i] += step
        down[i] -= step
        gradient[i] = (function(up) - function(down)) / (2 * step)
    return gradient


@pytest.mark.parametrize(
    "theta",
    [[0.243, 4.414, 0.793, 2.426], [1.7, 0.9, 3.0, 0.4], [0.05, 60.0, 0.2, 12.0]],
)
def test_bgnbd_analytic_gradient_matches_finite_differences(cdnow, theta):
    x = cdnow["frequency"].to_numpy(float)
    data = btyd_fit._BGNBDData.build(x, cdnow["recency"].to_numpy(), cdnow["T"].to_numpy(), None)
    theta = np.array(theta)
    _, analytic = data.log_likelihood_and_gradient(*theta)
    numeric = central_difference(lambda th: data.log_likelihood_and_gradient(*th)[0], theta)
    np.testing.assert_allclose(analytic, numeric, rtol=1e-5, atol=1e-4)


@pytest.mark.parametrize("theta", [[6.25, 3.74, 15.44], [0.7, 1.3, 150.0]])
def test_gamma_gamma_analytic_gradient_matches_finite_differences(cdnow, theta):
    repeat = cdnow[cdnow["frequency"] > 0]
    data = btyd_fit._GammaGammaData.build(
        repeat["frequency"].to_numpy(float), repeat["monetary_value"].to_numpy(), None
    )
    theta = np.array(theta)
    _, analytic = data.log_likelihood_and_gradient(*theta)
    numeric = central_difference(lambda th: data.log_likelihood_and_gradient(*th)[0], theta)
    np.testing.assert_allclose(analytic, numeric, rtol=1e-5, atol=1e-4)


# --- simulation and recovery ----------------------------------------------------------------


def test_simulate_bgnbd_is_reproducible_and_consistent():
    first = simulate_bgnbd(2000, r=0.8, alpha=20.0, a=0.6, b=3.0, T=365.0, seed=7)
    second = simulate_bgnbd(2000, r=0.8, alpha=20.0, a=0.6, b=3.0, T=365.0, seed=7)
    for key in ("frequency", "recency", "T"):
        np.testing.assert_array_equal(first[key], second[key])
    assert (first["recency"] <= first["T"]).all()
    assert (first["recency"][first["frequency"] == 0] == 0).all()
    assert (first["recency"][first["frequency"] > 0] > 0).all()


def test_parameter_recovery_from_simulated_days_scale_data():
    true = {"r": 0.8, "alpha": 20.0, "a": 0.6, "b": 3.0}
    rng = np.random.default_rng(2024)
    age = rng.uniform(1.0, 730.0, size=50_000)
    sample = simulate_bgnbd(50_000, T=age, seed=rng, **true)
    model = BetaGeoFitter(time_unit="days").fit(sample["frequency"], sample["recency"], sample["T"])
    assert model.converged_
    for name, value in true.items():
        assert model.params_[name] == pytest.approx(value, rel=0.10), name


def test_simulated_mean_matches_unconditional_expectation():
    params = {"r": 0.8, "alpha": 20.0, "a": 0.6, "b": 3.0}
    sample = simulate_bgnbd(200_000, T=90.0, seed=11, **params)
    model = BetaGeoFitter.from_dict(
        {"model": "BetaGeoFitter", "format_version": 1, "time_unit": "days", "params": params}
    )
    expected = float(model.expected_number_of_purchases_up_to_time(90.0))
    standard_error = sample["frequency"].std() / math.sqrt(len(sample["frequency"]))
    assert sample["frequency"].mean() == pytest.approx(expected, abs=4 * standard_error)


BENCH_TRUE_PARAMS = {"r": 0.8, "alpha": 20.0, "a": 0.6, "b": 3.0}


def bench_btyd_fit(n_customers: int, seed: int) -> dict[str, Any]:
    """Time a BG/NBD fit on simulated days-scale data, as the BTYD benchmark does.

    Customers join uniformly over two years (T = 1..730 whole days) and follow the BG/NBD with
    ``BENCH_TRUE_PARAMS``; recency is floored to whole days as daily order data would give.
    Only ``BetaGeoFitter.fit`` is timed (input checks, grouping into patterns and
    optimization), not the simulation.
    """
    rng = np.random.default_rng(seed)
    age = rng.integers(1, 731, size=n_customers).astype(np.float64)
    data = simulate_bgnbd(n_customers, T=age, seed=rng, **BENCH_TRUE_PARAMS)
    recency = np.floor(data["recency"])
    started = time.perf_counter()
    model = BetaGeoFitter(time_unit="days").fit(data["frequency"], recency, data["T"])
    seconds = time.perf_counter() - started
    return {
        "seconds": seconds,
        "n_customers": n_customers,
        "n_patterns": model.n_patterns_,
        "n_iter": model.n_iter_,
        "converged": model.converged_,
        "params": model.params_,
        "true_params": dict(BENCH_TRUE_PARAMS),
        "log_likelihood": model.log_likelihood_,
    }


def test_bench_returns_timing_and_params():
    result = bench_btyd_fit(n_customers=20_000, seed=1)
    assert result["seconds"] > 0
    assert result["converged"]
    assert set(result["params"]) == {"r", "alpha", "a", "b"}
    assert result["n_patterns"] <= 20_000


# --- predictions against lifetimes ----------------------------------------------------------


@pytest.mark.parametrize("t", sorted(LIFETIMES_CONDITIONAL_EXPECTED))
def test_conditional_expected_purchases_match_lifetimes(t):
    model = published_bgf()
    got = model.conditional_expected_number_of_purchases_up_to_time(
        t, CASES["frequency"], CASES["recency"], CASES["T"]
    )
    np.testing.assert_allclose(got, LIFETIMES_CONDITIONAL_EXPECTED[t], rtol=1e-9)


def test_probability_alive_matches_lifetimes_and_is_one_without_repeats():
    model = published_bgf()
    got = model.conditional_probability_alive(CASES["frequency"], CASES["recency"], CASES["T"])
    np.testing.assert_allclose(got, LIFETIMES_P_ALIVE, rtol=1e-12)
    no_repeat = model.conditional_probability_alive([0, 0, 0], [0.0, 0.0, 0.0], [0.0, 5.0, 500.0])
    np.testing.assert_array_equal(no_repeat, [1.0, 1.0, 1.0])


def test_unconditional_expected_purchases_match_lifetimes():
    got = published_bgf().expected_number_of_purchases_up_to_time([1.0, 10.0, 39.0, 78.0])
    np.testing.assert_allclose(got, LIFETIMES_UNCONDITIONAL, rtol=1e-9)
    assert published_bgf().expected_number_of_purchases_up_to_time(0.0) == pytest.approx(0.0)


def test_conditional_expectation_is_finite_for_heavy_buyers():
    got = published_bgf().conditional_expected_number_of_purchases_up_to_time(
        52.0, [300, 1000], [38.0, 38.5], [38.86, 38.86]
    )
    assert np.all(np.isfinite(got)) and np.all(got > 0)


def test_conditional_expected_average_profit_matches_lifetimes():
    got = published_ggf().conditional_expected_average_profit(
        GG_CASES["frequency"], GG_CASES["monetary_value"]
    )
    np.testing.assert_allclose(got, LIFETIMES_GG_PROFIT, rtol=1e-12)


def test_customer_lifetime_value_matches_lifetimes_monthly_steps():
    bgf_days = published_bgf(time_unit="days", alpha_scale=7.0)
    got = published_ggf().customer_lifetime_value(
        bgf_days,
        CASES["frequency"],
        np.array(CASES["recency"]) * 7,
        np.array(CASES["T"]) * 7,
        CLV_SPEND,
        time_horizon_days=360,
        discount_rate_annual=0.10,
        freq="D",
    )
    np.testing.assert_allclose(got, LIFETIMES_CLV, rtol=1e-9)


def test_undiscounted_clv_is_spend_times_expected_purchases():
    bgf, ggf = published_bgf(), published_ggf()
    args = (CASES["frequency"], CASES["recency"], CASES["T"], CLV_SPEND)
    expected = ggf.conditional_expected_average_profit(CASES["frequency"], CLV_SPEND) * (
        bgf.conditional_expected_number_of_purchases_up_to_time(100 / 7, *args[:3])
    )
    for step_days in (1.0, 30.0, 45.0):  # 100 days is not a multiple of 30 or 45
        got = customer_lifetime_value(
            bgf, ggf, *args, time_horizon_days=100, discount_rate_annual=0.0, step_days=step_days
        )
        np.testing.assert_allclose(got, expected, rtol=1e-10)
    discounted = customer_lifetime_value(
        bgf, ggf, *args, time_horizon_days=100, discount_rate_annual=0.2
    )
    assert np.all(discounted < expected)


def test_clv_rejects_a_unit_that_disagrees_with_the_model():
    with pytest.raises(BTYDParameterError, match="time_unit"):
        customer_lifetime_value(
            published_bgf(),
            published_ggf(),
            [1],
            [2.0],
            [10.0],
            [20.0],
            time_horizon_days=30,
            discount_rate_annual=0.1,
            freq="D",
        )


# --- artifacts, options, errors -------------------------------------------------------------


def test_to_dict_round_trips_through_json(cdnow_bgf, cdnow_ggf):
    bgf = BetaGeoFitter.from_dict(json.loads(json.dumps(cdnow_bgf.to_dict())))
    assert bgf.params_ == cdnow_bgf.params_
    assert bgf.time_unit == "weeks"
    assert bgf.log_likelihood_ == cdnow_bgf.log_likelihood_
    np.testing.assert_array_equal(
        bgf.conditional_probability_alive(CASES["frequency"], CASES["recency"], CASES["T"]),
        cdnow_bgf.conditional_probability_alive(CASES["frequency"], CASES["recency"], CASES["T"]),
    )
    ggf = GammaGammaFitter.from_dict(json.loads(json.dumps(cdnow_ggf.to_dict())))
    assert ggf.params_ == cdnow_ggf.params_
    with pytest.raises(BTYDDataError, match="not a BetaGeoFitter"):
        BetaGeoFitter.from_dict(cdnow_ggf.to_dict())


def test_penalizer_shrinks_parameters(cdnow, cdnow_bgf):
    penalized = BetaGeoFitter(time_unit="weeks", penalizer_coef=0.1).fit(
        cdnow["frequency"], cdnow["recency"], cdnow["T"]
    )
    assert sum(v**2 for v in penalized.params_.values()) < sum(
        v**2 for v in cdnow_bgf.params_.values()
    )
    assert penalized.log_likelihood_ < cdnow_bgf.log_likelihood_


def test_too_few_iterations_warns(cdnow):
    with pytest.warns(ConvergenceWarning, match="did not converge"):
        model = BetaGeoFitter(time_unit="weeks", max_iter=2).fit(
            cdnow["frequency"], cdnow["recency"], cdnow["T"]
        )
    assert not model.converged_


def test_fit_does_not_warn_on_cdnow(cdnow):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        BetaGeoFitter(time_unit="weeks").fit(cdnow["frequency"], cdnow["recency"], cdnow["T"])


def test_gamma_gamma_rejects_customers_without_repeats(cdnow):
    with pytest.raises(ValueError, match="frequency > 0") as raised:
        GammaGammaFitter().fit(cdnow["frequency"], cdnow["monetary_value"])
    assert isinstance(raised.value, DataError)
    with pytest.raises(ValueError, match="monetary_value > 0"):
        GammaGammaFitter().fit([1, 2], [10.0, -5.0])


@pytest.mark.parametrize(
    ("frequency", "recency", "T", "message"),
    [
        ([1, 2], [5.0, 12.0], [10.0, 10.0], "must not exceed `T`"),
        ([0, 2], [3.0, 5.0], [10.0, 10.0], "must be 0 when `frequency` is 0"),
        ([1.5, 2], [3.0, 5.0], [10.0, 10.0], "whole number"),
        ([1, 2], [3.0, np.nan], [10.0, 10.0], "missing or infinite"),
        ([1, 2, 3], [3.0, 5.0], [10.0, 10.0], "same length"),
        ([0, 0], [0.0, 0.0], [10.0, 10.0], "no customer has a repeat purchase"),
        ([], [], [], "no customers to fit"),
    ],
)
def test_bgnbd_rejects_inconsistent_inputs(frequency, recency, T, message):
    with pytest.raises(ValueError, match=message):
        BetaGeoFitter().fit(frequency, recency, T)


def test_predicting_before_fit_says_what_to_do():
    with pytest.raises(ModelNotFittedError, match="fit\\(\\) or from_dict\\(\\)"):
        BetaGeoFitter().conditional_probability_alive([1], [1.0], [2.0])


def test_population_mean_spend_needs_q_above_one():
    ggf = GammaGammaFitter.from_dict(
        {
            "model": "GammaGammaFitter",
            "format_version": 1,
            "params": {"p": 2.0, "q": 0.8, "gamma": 5.0},
        }
    )
    assert ggf.conditional_expected_average_profit([3], [20.0])[0] == pytest.approx(
        2.0 * (5.0 + 3 * 20.0) / (2.0 * 3 + 0.8 - 1)
    )
    with pytest.raises(BTYDParameterError, match="q = 0.8"):
        ggf.conditional_expected_average_profit([0, 3], [0.0, 20.0])


# --- Pareto/NBD -----------------------------------------------------------------------------

# Fader, Hardie & Lee (2005), "Counting your customers the easy way", Pareto/NBD on CDNOW.
PNBD_CDNOW_PUBLISHED = {"r": 0.5534, "alpha": 10.5802, "s": 0.6061, "beta": 11.6562}
PNBD_CDNOW_PUBLISHED_LL = -9595.0
# mpmath: total CDNOW log-likelihood of Fader & Hardie's (2005 note) closed form, eq. (22).
PNBD_MPMATH_CDNOW_LL = [
    ((0.5534, 10.5802, 0.6061, 11.6562), -9594.97395539063),
    ((0.5534, 12.0, 0.6061, 3.0), -9756.57846117817),
    ((2.0, 0.5, 3.0, 40.0), -17351.7272934281),
    ((0.05, 60.0, 0.02, 1e4), -12574.5106452077),
]
# mpmath: per-customer log-likelihood of hand cases (x, t_x, T), including heavy buyers and
# hypergeometric arguments near 1 on both branches (alpha < beta and alpha > beta).
PNBD_HAND_CASES = [
    (0, 0.0, 700.0),
    (1, 0.5, 700.0),
    (3, 100.0, 101.0),
    (40, 699.0, 700.0),
    (300, 5.0, 700.0),
    (300, 700.0, 700.0),
    (2, 1e-3, 2e-3),
]
PNBD_MPMATH_HAND_LL = [
    (
        (0.8, 0.5, 1.5, 500.0),
        [-4.0770751291671896, -6.4060829961789992, -16.989913503492893, -159.75083413222439,
         890.4375458773356, -559.03469888218096, 1.7397568235437595],
    ),
    (
        (0.8, 500.0, 1.5, 0.5),
        [-0.001491756388240225, -7.4856423382772695, -25.903622182608882, -185.73987186726797,
         -458.64201894140549, -724.97807084817813, -12.067581278858782],
    ),
    (
        (0.8, 20.0, 0.6, 20.0),
        [-0.83850350189195631, -4.6638468504164598, -15.50813219571403, -158.75730781295156,
         441.41835485177949, -565.17952292283085, -5.6271314166712689],
    ),
    (
        (0.001, 1.0, 5.0, 2.0),
        [-0.00034732765457616635, -8.6976431790267554, -39.751063932284645,
         -191.67520688284159, 854.24492183651132, -592.76225903401395, -6.9132506621785524],
    ),
]
PNBD_NAMES = ("r", "alpha", "s", "beta")


def published_pnbd() -> ParetoNBDFitter:
    return ParetoNBDFitter.from_dict(
        {
            "model": "ParetoNBDFitter",
            "format_version": 1,
            "time_unit": "weeks",
            "params": PNBD_CDNOW_PUBLISHED,
        }
    )


@pytest.fixture(scope="module")
def cdnow_pnbd(cdnow) -> ParetoNBDFitter:
    return ParetoNBDFitter(time_unit="weeks").fit(cdnow["frequency"], cdnow["recency"], cdnow["T"])


def test_pareto_nbd_reproduces_published_cdnow_mle(cdnow, cdnow_pnbd):
    assert cdnow_pnbd.converged_
    assert cdnow_pnbd.n_customers_ == 2357
    assert cdnow_pnbd.n_repeat_buyers_ == 946
    for name, published in PNBD_CDNOW_PUBLISHED.items():
        assert significant(cdnow_pnbd.params_[name]) == significant(published), name
        assert cdnow_pnbd.params_[name] == pytest.approx(published, rel=2e-3), name
    assert cdnow_pnbd.log_likelihood_ == pytest.approx(PNBD_CDNOW_PUBLISHED_LL, abs=0.05)
    # The published point is a hair below the maximum (the likelihood is flat in beta there).
    at_published = pareto_nbd_log_likelihood(
        PNBD_CDNOW_PUBLISHED, cdnow["frequency"], cdnow["recency"], cdnow["T"]
    )
    assert at_published <= cdnow_pnbd.log_likelihood_ < at_published + 1e-3


@pytest.mark.parametrize(("theta", "expected"), PNBD_MPMATH_CDNOW_LL)
def test_pareto_nbd_log_likelihood_matches_mpmath_on_cdnow(cdnow, theta, expected):
    params = dict(zip(PNBD_NAMES, theta, strict=True))
    got = pareto_nbd_log_likelihood(params, cdnow["frequency"], cdnow["recency"], cdnow["T"])
    assert got == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize(("theta", "expected"), PNBD_MPMATH_HAND_LL)
def test_pareto_nbd_log_likelihood_matches_mpmath_in_extreme_cases(theta, expected):
    params = dict(zip(PNBD_NAMES, theta, strict=True))
    for (x, t_x, age), value in zip(PNBD_HAND_CASES, expected, strict=True):
        got = pareto_nbd_log_likelihood(params, [x], [t_x], [age])
        assert got == pytest.approx(value, rel=1e-12, abs=1e-12), (x, t_x, age)


# mpmath: ln 2F1(1, B; C; 1 - eps) near z = 1, where scipy alone is slow and, when C - 1 - B is
# (nearly) an integer, wrong (it returns inf for the third): (B, C, eps, value).
HYP2F1_NEAR_ONE_MPMATH = [
    (1.6, 3.6, 1e-3, 0.94651811976374956),
    (1.6, 2.6 + 1e-9, 1e-6, 3.0435519815271977),
    (0.2, 2.2, 1e-5, 0.18229910676916435),
    (2.0, 43.0, 1e-4, 0.048785035991640109),
    (150.5, 152.5, 1e-3, 4.7256813990177773),
    (143.22, 148.22, 1.62e-3, 3.5333454747214831),
    (0.5, 1.7, 0.3, 0.31509397654152917),
    (5.3, 9.3, 1e-12, 1.0176432261317923),
]
# mpmath: Pareto/NBD per-customer log-likelihood with long lifetimes (alpha << beta, the
# hypergeometric argument near 1) and r or s exactly or nearly 1 (an integer C - 1 - B).
PNBD_NEAR_ONE_CASES = [(0, 0.0, 30.0), (1, 2.0, 30.0), (5, 10.0, 200.0), (40, 150.0, 200.0),
                       (3, 0.5, 1.0)]
PNBD_NEAR_ONE_MPMATH = [
    ((1.0, 2.0, 0.7, 500.0),
     [-2.6950015035705791, -6.0025502862850132, -15.168114317597953, -100.65568288879529,
      -1.9099234909381353]),
    ((1.0 + 1e-9, 2.0, 0.7, 5e4),
     [-2.7717671011350338, -6.2356128928509215, -19.728923955225958, -104.66127630353361,
      -1.9095463114752428]),
    ((2.0, 400.0, 1.0, 3.0),
     [-0.0341778628991512, -5.8904057112714059, -25.37977213050038, -145.30202924651251,
      -14.962566951203511]),
]


def test_hypergeometric_function_near_one_matches_mpmath():
    b, c, eps, expected = (np.array(v) for v in zip(*HYP2F1_NEAR_ONE_MPMATH, strict=True))
    got, _ = hypergeometric.log_hyp2f1_1(b, c, 1.0 - eps, eps)
    np.testing.assert_allclose(got, expected, rtol=1e-13)


@pytest.mark.parametrize(("theta", "expected"), PNBD_NEAR_ONE_MPMATH)
def test_pareto_nbd_log_likelihood_with_long_lifetimes_matches_mpmath(theta, expected):
    params = dict(zip(PNBD_NAMES, theta, strict=True))
    for (x, t_x, age), value in zip(PNBD_NEAR_ONE_CASES, expected, strict=True):
        got = pareto_nbd_log_likelihood(params, [x], [t_x], [age])
        assert got == pytest.approx(value, rel=1e-12), (x, t_x, age)


@pytest.mark.parametrize(
    "theta",
    [
        [0.5534, 10.5802, 0.6061, 11.6562],  # alpha < beta
        [0.5534, 12.0, 0.6061, 3.0],  # alpha > beta
        [0.8, 20.0, 0.6, 20.0],  # alpha == beta: the two branches meet
        [2.0, 0.5, 3.0, 40.0],
        [0.05, 60.0, 0.02, 1e3],
        [1.0, 2.0, 0.7, 500.0],  # argument near 1, integer C - 1 - B
        [2.0, 400.0, 1.0, 3.0],  # the same on the alpha > beta branch
    ],
)
def test_pareto_nbd_gradient_matches_finite_differences(cdnow, theta):
    hand = np.array(PNBD_HAND_CASES, dtype=float)
    x = np.concatenate([cdnow["frequency"].to_numpy(float), hand[:, 0]])
    t_x = np.concatenate([cdnow["recency"].to_numpy(float), hand[:, 1]])
    age = np.concatenate([cdnow["T"].to_numpy(float), hand[:, 2]])
    data = btyd_fit._ParetoNBDData.build(x, t_x, age, None)
    theta = np.array(theta)
    _, gradient = data.log_likelihood_and_gradient(*theta)
    numeric = central_difference(lambda th: data.log_likelihood_and_gradient(*th)[0], theta)
    np.testing.assert_allclose(gradient, numeric, rtol=1e-5, atol=1e-3)


def test_pareto_nbd_predictions_match_btyd():
    # BTYD walkthrough (R package BTYD): P(alive) of (x=26, t_x=30.86, T=31) at these params.
    p_alive = published_pnbd().conditional_probability_alive([26], [30.86], [31.0])
    assert p_alive[0] == pytest.approx(0.9979, abs=5e-5)


def test_pareto_nbd_conditional_expectation_matches_btyd(cdnow_pnbd):
    # BTYD walkthrough: 25.46 expected transactions in the next 52 weeks for that customer.
    got = cdnow_pnbd.conditional_expected_number_of_purchases_up_to_time(52, [26], [30.86], [31])
    assert got[0] == pytest.approx(25.46, abs=0.005)


def test_pareto_nbd_predictions_are_finite_and_bounded():
    model = published_pnbd()
    x = [0, 0, 1, 40, 300, 300, 1000]
    t_x = [0.0, 0.0, 0.5, 699.0, 5.0, 700.0, 700.0]
    age = [0.0, 700.0, 700.0, 700.0, 700.0, 700.0, 700.0]
    p_alive = model.conditional_probability_alive(x, t_x, age)
    assert np.all((p_alive >= 0) & (p_alive <= 1))
    assert p_alive[0] == pytest.approx(1.0) and p_alive[1] < 1.0  # x == 0 may have left too
    assert p_alive[4] < 1e-10 and p_alive[5] > 0.99  # 300 purchases, then silence / none
    expected = model.conditional_expected_number_of_purchases_up_to_time(52.0, x, t_x, age)
    assert np.all(np.isfinite(expected)) and np.all(expected >= 0)


def test_pareto_nbd_expectations_are_continuous_at_s_equal_one():
    def at(s: float) -> np.ndarray:
        params = dict(PNBD_CDNOW_PUBLISHED, s=s)
        model = ParetoNBDFitter.from_dict(
            {"model": "ParetoNBDFitter", "format_version": 1, "params": params}
        )
        return np.concatenate(
            [
                model.expected_number_of_purchases_up_to_time([1.0, 39.0, 500.0]),
                model.conditional_expected_number_of_purchases_up_to_time(
                    39.0, CASES["frequency"], CASES["recency"], CASES["T"]
                ),
            ]
        )

    np.testing.assert_allclose(at(1.0), at(1.0 + 1e-9), rtol=1e-7)
    np.testing.assert_allclose(at(1.0), at(1.0 - 1e-9), rtol=1e-7)


def test_pareto_nbd_unconditional_expectation_formula():
    r, alpha, s, beta = PNBD_CDNOW_PUBLISHED.values()
    t = np.array([0.0, 1.0, 10.0, 39.0, 78.0])
    expected = r * beta / (alpha * (s - 1)) * (1 - (beta / (beta + t)) ** (s - 1))
    got = published_pnbd().expected_number_of_purchases_up_to_time(t)
    np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-15)


# --- MBG/NBD --------------------------------------------------------------------------------

# Batislam et al.'s MBG/NBD on CDNOW as estimated by BTYDplus (pinned by lifetimes' tests).
MBGNBD_CDNOW_BTYDPLUS = {"r": 0.525, "alpha": 6.183, "a": 0.891, "b": 1.614}


@pytest.fixture(scope="module")
def cdnow_mbgf(cdnow) -> ModifiedBetaGeoFitter:
    return ModifiedBetaGeoFitter(time_unit="weeks").fit(
        cdnow["frequency"], cdnow["recency"], cdnow["T"]
    )


def test_mbgnbd_matches_btydplus_on_cdnow(cdnow_mbgf, cdnow_bgf):
    assert cdnow_mbgf.converged_
    for name, value in MBGNBD_CDNOW_BTYDPLUS.items():
        assert cdnow_mbgf.params_[name] == pytest.approx(value, rel=1e-3), name
    # The MBG/NBD nests no BG/NBD, but on CDNOW it fits at least as well.
    assert cdnow_mbgf.log_likelihood_ >= cdnow_bgf.log_likelihood_ - 0.01


def naive_mbgnbd_log_likelihood(params, frequency, recency, T) -> float:
    """Batislam et al.'s per-customer formula, written directly."""
    r, alpha, a, b = (params[k] for k in ("r", "alpha", "a", "b"))
    x, t_x, age = (np.asarray(v, dtype=float) for v in (frequency, recency, T))
    a1 = gammaln(r + x) - gammaln(r) + r * np.log(alpha)
    a2 = betaln(a, b + x + 1) - betaln(a, b)
    a3 = -(r + x) * np.log(alpha + age)
    a4 = np.log(a) - np.log(b + x) - (r + x) * np.log(alpha + t_x)
    return float(np.sum(a1 + a2 + np.logaddexp(a3, a4)))


@pytest.mark.parametrize(
    "params",
    [
        MBGNBD_CDNOW_BTYDPLUS,
        {"r": 3.0, "alpha": 0.5, "a": 40.0, "b": 0.2},
        {"r": 0.243, "alpha": 4.414, "a": 1e-305, "b": 2.426},
    ],
)
def test_mbgnbd_log_likelihood_equals_the_per_customer_formula(cdnow, params):
    args = (cdnow["frequency"], cdnow["recency"], cdnow["T"])
    expected = naive_mbgnbd_log_likelihood(params, *args)
    assert mbgnbd_log_likelihood(params, *args) == pytest.approx(expected, rel=1e-10)


@pytest.mark.parametrize(
    "theta",
    [[0.525, 6.183, 0.891, 1.614], [1.7, 0.9, 3.0, 0.4], [0.05, 60.0, 0.2, 12.0]],
)
def test_mbgnbd_analytic_gradient_matches_finite_differences(cdnow, theta):
    x = cdnow["frequency"].to_numpy(float)
    data = btyd_fit._MBGNBDData.build(x, cdnow["recency"].to_numpy(), cdnow["T"].to_numpy(), None)
    theta = np.array(theta)
    _, analytic = data.log_likelihood_and_gradient(*theta)
    numeric = central_difference(lambda th: data.log_likelihood_and_gradient(*th)[0], theta)
    np.testing.assert_allclose(analytic, numeric, rtol=1e-5, atol=1e-4)


def test_mbgnbd_predictions_match_the_direct_formulas(cdnow_mbgf):
    """Batislam et al. / Wagner & Hoppe's expressions, as lifetimes writes them."""
    r, alpha, a, b = (cdnow_mbgf.params_[k] for k in ("r", "alpha", "a", "b"))
    x, t_x, age = (np.array(CASES[k], dtype=float) for k in ("frequency", "recency", "T"))
    odds = a / (b + x) * ((alpha + age) / (alpha + t_x)) ** (r + x)
    got = cdnow_mbgf.conditional_probability_alive(x, t_x, age)
    np.testing.assert_allclose(got, 1 / (1 + odds), rtol=1e-12)
    assert got[0] < 1.0  # a customer without repeat purchases may have dropped out
    for t in (1.0, 39.0, 52.0):
        hyp = hyp2f1(r + x, b + x + 1, a + b + x, t / (alpha + age + t))
        numerator = (a + b + x) / (a - 1) * (1 - hyp * ((alpha + age) / (alpha + t + age)) ** (r + x))
        got = cdnow_mbgf.conditional_expected_number_of_purchases_up_to_time(t, x, t_x, age)
        np.testing.assert_allclose(got, numerator / (1 + odds), rtol=1e-9)
    t = np.array([1.0, 10.0, 39.0, 78.0])
    hyp = hyp2f1(r, b + 1, a + b, t / (alpha + t))
    expected = b / (a - 1) * (1 - hyp * (alpha / (alpha + t)) ** r)
    got = cdnow_mbgf.expected_number_of_purchases_up_to_time(t)
    np.testing.assert_allclose(got, expected, rtol=1e-9)


# --- simulation, recovery, holdouts ---------------------------------------------------------

MBG_TRUE_PARAMS = {"r": 0.8, "alpha": 20.0, "a": 0.6, "b": 3.0}
PNBD_TRUE_PARAMS = {"r": 0.8, "alpha": 20.0, "s": 0.6, "beta": 200.0}
SIMULATORS = {
    "bgnbd": (simulate_bgnbd, BENCH_TRUE_PARAMS),
    "mbgnbd": (simulate_mbgnbd, MBG_TRUE_PARAMS),
    "pnbd": (simulate_pareto_nbd, PNBD_TRUE_PARAMS),
}


def true_model(key: str) -> Any:
    _, params = SIMULATORS[key]
    cls = BTYD_MODELS[key]
    return cls.from_dict(
        {"model": cls.__name__, "format_version": 1, "time_unit": "days", "params": params}
    )


def test_mbgnbd_parameter_recovery_from_simulated_data():
    rng = np.random.default_rng(2024)
    age = rng.uniform(1.0, 730.0, size=50_000)
    sample = simulate_mbgnbd(50_000, T=age, seed=rng, **MBG_TRUE_PARAMS)
    model = ModifiedBetaGeoFitter().fit(sample["frequency"], sample["recency"], sample["T"])
    assert model.converged_ and model.usable
    for name, value in MBG_TRUE_PARAMS.items():
        assert model.params_[name] == pytest.approx(value, rel=0.10), name


def test_pareto_nbd_parameter_recovery_from_simulated_data():
    rng = np.random.default_rng(2024)
    age = rng.integers(1, 731, size=100_000).astype(float)
    sample = simulate_pareto_nbd(100_000, T=age, seed=rng, **PNBD_TRUE_PARAMS)
    model = ParetoNBDFitter().fit(sample["frequency"], sample["recency"], sample["T"])
    assert model.converged_ and model.usable
    for name, value in PNBD_TRUE_PARAMS.items():
        assert model.params_[name] == pytest.approx(value, rel=0.10), name


@pytest.mark.parametrize("key", ["mbgnbd", "pnbd"])
def test_simulated_means_match_unconditional_expectations(key):
    simulate, params = SIMULATORS[key]
    sample = simulate(200_000, T=90.0, seed=11, **params)
    expected = float(true_model(key).expected_number_of_purchases_up_to_time(90.0))
    standard_error = sample["frequency"].std() / math.sqrt(len(sample["frequency"]))
    assert sample["frequency"].mean() == pytest.approx(expected, abs=4 * standard_error)


@pytest.mark.parametrize("key", ["bgnbd", "mbgnbd", "pnbd"])
def test_simulated_holdouts_match_conditional_expectations(key):
    simulate, params = SIMULATORS[key]
    rng = np.random.default_rng(5)
    age = rng.uniform(30.0, 365.0, size=100_000)
    sample = simulate(100_000, T=age, seed=rng, holdout_length=120.0, **params)
    assert set(sample) == {"frequency", "recency", "T", "holdout_frequency"}
    expected = true_model(key).conditional_expected_number_of_purchases_up_to_time(
        120.0, sample["frequency"], sample["recency"], sample["T"]
    )
    holdout = sample["holdout_frequency"]
    assert (holdout >= 0).all()
    standard_error = holdout.std() / math.sqrt(len(holdout))
    assert holdout.mean() == pytest.approx(expected.mean(), abs=4 * standard_error)


def test_holdout_draws_leave_the_calibration_draws_unchanged():
    for simulate, params in SIMULATORS.values():
        plain = simulate(1000, T=200.0, seed=3, **params)
        with_holdout = simulate(1000, T=200.0, seed=3, holdout_length=50.0, **params)
        for name in ("frequency", "recency", "T"):
            np.testing.assert_array_equal(plain[name], with_holdout[name])


# --- fitting errors, artifacts --------------------------------------------------------------


@pytest.mark.parametrize("cls", [BetaGeoFitter, ModifiedBetaGeoFitter, ParetoNBDFitter])
@pytest.mark.parametrize(
    ("frequency", "recency", "T", "message"),
    [
        ([0, 0], [0.0, 0.0], [10.0, 10.0], "no customer has a repeat purchase"),
        ([], [], [], "no customers to fit"),
        ([1, 2], [5.0, 12.0], [10.0, 10.0], "must not exceed `T`"),
    ],
)
def test_purchase_models_reject_degenerate_inputs_plainly(cls, frequency, recency, T, message):
    with pytest.raises(BTYDDataError, match=message):
        cls().fit(frequency, recency, T)


@pytest.mark.parametrize("cls", [ModifiedBetaGeoFitter, ParetoNBDFitter])
def test_new_models_fit_cdnow_without_warnings_and_round_trip(cdnow, cls):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        model = cls(time_unit="weeks").fit(cdnow["frequency"], cdnow["recency"], cdnow["T"])
    loaded = cls.from_dict(json.loads(json.dumps(model.to_dict())))
    assert loaded.params_ == model.params_
    assert loaded.time_unit == "weeks"
    assert loaded.n_repeat_buyers_ == 946
    assert loaded.health() == model.health() == []
    args = (CASES["frequency"], CASES["recency"], CASES["T"])
    np.testing.assert_array_equal(
        loaded.conditional_expected_number_of_purchases_up_to_time(10.0, *args),
        model.conditional_expected_number_of_purchases_up_to_time(10.0, *args),
    )
    assert repr(model).startswith(f"{cls.__name__}(r=")
    assert repr(model).endswith("; time_unit='weeks')")
    with pytest.raises(BTYDDataError, match=f"not a {cls.__name__}"):
        cls.from_dict(published_bgf().to_dict())


def test_customer_lifetime_value_accepts_every_purchase_model(cdnow_mbgf, cdnow_pnbd):
    ggf = published_ggf()
    args = (CASES["frequency"], CASES["recency"], CASES["T"], CLV_SPEND)
    for model in (cdnow_mbgf, cdnow_pnbd):
        expected = ggf.conditional_expected_average_profit(CASES["frequency"], CLV_SPEND) * (
            model.conditional_expected_number_of_purchases_up_to_time(100 / 7, *args[:3])
        )
        got = customer_lifetime_value(
            model, ggf, *args, time_horizon_days=100, discount_rate_annual=0.0
        )
        np.testing.assert_allclose(got, expected, rtol=1e-10)
    with pytest.raises(BTYDParameterError, match="must be a fitted"):
        customer_lifetime_value(ggf, ggf, *args, time_horizon_days=100, discount_rate_annual=0.0)


# --- health ---------------------------------------------------------------------------------


def codes(findings: list[dict[str, Any]]) -> list[tuple[str, str]]:
    return [(f["code"], f["severity"]) for f in findings]


def test_cdnow_fits_are_healthy(cdnow_bgf, cdnow_mbgf, cdnow_pnbd, cdnow_ggf):
    for model in (cdnow_bgf, cdnow_mbgf, cdnow_pnbd, cdnow_ggf):
        assert model.health() == [], type(model).__name__
        assert model.usable
    assert btyd_pair_health(cdnow_bgf, cdnow_ggf) == []
    assert cdnow_ggf.n_excluded_ == 0
    # lifetimes' documentation reports 0.1139 for this correlation on the same customers.
    assert cdnow_ggf.spend_frequency_correlation_ == pytest.approx(0.11388, abs=1e-4)


def test_health_reports_non_convergence(cdnow):
    with pytest.warns(ConvergenceWarning):
        model = ParetoNBDFitter(time_unit="weeks", max_iter=2).fit(
            cdnow["frequency"], cdnow["recency"], cdnow["T"]
        )
    findings = model.health()
    assert findings[0] == {"code": "not_converged", "severity": "error", "n_iter": 2}
    assert not model.usable


@pytest.mark.parametrize("cls", [BetaGeoFitter, ModifiedBetaGeoFitter, ParetoNBDFitter])
def test_health_flags_data_without_dropout(cls):
    # Customers who never stop buying (Pareto/NBD with a vanishing dropout rate).
    age = np.random.default_rng(0).integers(30, 731, size=20_000).astype(float)
    sample = simulate_pareto_nbd(20_000, r=0.8, alpha=20.0, s=1e-9, beta=1e6, T=age, seed=1)
    recency = np.floor(sample["recency"])  # whole days, as daily order data give
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model = cls().fit(sample["frequency"], recency, sample["T"])
    boundary = [f for f in model.health() if f["code"] == "boundary"]
    assert boundary and boundary[0]["limit"] == "no_dropout"
    assert boundary[0]["severity"] == "error"
    assert boundary[0]["value"] < cls.min_dropout == boundary[0]["threshold"]
    assert not model.usable


def test_health_flags_few_repeat_buyers():
    sample = simulate_bgnbd(200, T=2.0, seed=4, **BENCH_TRUE_PARAMS)
    n_repeat = int((sample["frequency"] > 0).sum())
    assert 0 < n_repeat < BetaGeoFitter.min_repeat_buyers
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model = BetaGeoFitter().fit(sample["frequency"], sample["recency"], sample["T"])
    few = [f for f in model.health() if f["code"] == "few_repeat_buyers"]
    assert few == [
        {
            "code": "few_repeat_buyers",
            "severity": "error",
            "n_repeat_buyers": n_repeat,
            "share": n_repeat / 200,
            "threshold": BetaGeoFitter.min_repeat_buyers,
        }
    ]
    assert not model.usable


def test_health_warns_on_a_small_share_of_repeat_buyers(cdnow):
    # CDNOW plus 20,000 one-time buyers of the same age, as one weighted row.
    frequency = np.append(cdnow["frequency"], 0)
    recency = np.append(cdnow["recency"], 0.0)
    age = np.append(cdnow["T"], 38.0)
    weights = np.append(np.ones(len(cdnow)), 20_000)
    model = BetaGeoFitter(time_unit="weeks").fit(frequency, recency, age, weights=weights)
    assert model.health() == [
        {
            "code": "few_repeat_buyers",
            "severity": "warning",
            "n_repeat_buyers": 946,
            "share": 946 / 22_357,
            "threshold": BetaGeoFitter.min_repeat_share,
        }
    ]
    assert model.usable  # a warning does not rule the fit out


def test_health_flags_parameters_running_off_together():
    params = {"r": 5e3, "alpha": 2e5, "a": 3e3, "b": 9e3}
    model = BetaGeoFitter.from_dict(
        {"model": "BetaGeoFitter", "format_version": 1, "params": params}
    )
    limits = {f["limit"]: f for f in model.health()}
    assert limits["homogeneous_purchase_rate"]["value"] == 5e3
    assert limits["homogeneous_dropout_probability"]["value"] == 12e3
    assert {f["severity"] for f in limits.values()} == {"warning"}
    at_box = BetaGeoFitter.from_dict(
        {"model": "BetaGeoFitter", "format_version": 1, "params": dict(params, a=math.exp(-30))}
    )
    box = [f for f in at_box.health() if f.get("limit") == "box"]
    assert box == [
        {
            "code": "boundary",
            "severity": "error",
            "limit": "box",
            "parameter": "a",
            "value": math.exp(-30),
        }
    ]


def test_health_skips_what_an_old_artifact_does_not_record():
    payload = published_bgf().to_dict()
    del payload["diagnostics"]
    model = BetaGeoFitter.from_dict(payload)
    assert model.n_repeat_buyers_ is None
    assert model.health() == []


def test_health_needs_a_fitted_model():
    with pytest.raises(ModelNotFittedError):
        ParetoNBDFitter().health()
    with pytest.raises(ModelNotFittedError):
        _ = GammaGammaFitter().usable


def test_gamma_gamma_can_exclude_nonpositive_spends(cdnow, cdnow_ggf):
    repeat = cdnow[cdnow["frequency"] > 0]
    frequency = np.concatenate([repeat["frequency"], [1, 3, 2]])
    spend = np.concatenate([repeat["monetary_value"], [0.0, -12.5, 0.0]])
    with pytest.raises(BTYDDataError, match="monetary_value > 0"):
        GammaGammaFitter().fit(frequency, spend)  # strict by default
    model = GammaGammaFitter().fit(frequency, spend, exclude_nonpositive=True)
    assert model.n_excluded_ == 3 and model.n_customers_ == 946
    for name, value in cdnow_ggf.params_.items():
        assert model.params_[name] == pytest.approx(value, rel=1e-6)
    assert model.health() == [
        {"code": "nonpositive_spend_excluded", "severity": "warning", "n_excluded": 3}
    ]
    assert model.usable
    loaded = GammaGammaFitter.from_dict(json.loads(json.dumps(model.to_dict())))
    assert loaded.health() == model.health()
    with pytest.raises(BTYDDataError, match="no positive spend"):
        GammaGammaFitter().fit([1, 2], [0.0, -1.0], exclude_nonpositive=True)


def test_fit_gamma_gamma_takes_all_customers(cdnow, cdnow_bgf, cdnow_ggf):
    spend = cdnow["monetary_value"].to_numpy().copy()
    spend[:5] = np.where(cdnow["frequency"].to_numpy()[:5] > 0, -1.0, 0.0)
    n_bad = int((cdnow["frequency"].to_numpy()[:5] > 0).sum())
    assert n_bad > 0
    model = fit_gamma_gamma(cdnow["frequency"], spend)
    assert model.n_excluded_ == n_bad
    assert model.n_customers_ == 946 - n_bad
    pair = btyd_pair_health(cdnow_bgf, model)
    assert pair == [
        {
            "code": "nonpositive_spend_excluded",
            "severity": "warning",
            "n_excluded": n_bad,
            "model": "gamma_gamma",
        }
    ]
    clean = fit_gamma_gamma(cdnow["frequency"], cdnow["monetary_value"])
    assert clean.params_ == pytest.approx(cdnow_ggf.params_, rel=1e-9)
    with pytest.raises(BTYDDataError, match="monetary_value` must be > 0"):
        fit_gamma_gamma(cdnow["frequency"], spend, exclude_nonpositive=False)
    with pytest.raises(BTYDDataError, match="no customer has a repeat purchase"):
        fit_gamma_gamma([0, 0], [0.0, 0.0])


def test_gamma_gamma_warns_when_spend_depends_on_frequency():
    rng = np.random.default_rng(8)
    frequency = rng.integers(1, 30, size=2000)
    spend = rng.gamma(6.0, 5.0 + frequency, size=2000) / 6.0  # bigger baskets when buying more
    model = GammaGammaFitter().fit(frequency, spend)
    found = [f for f in model.health() if f["code"] == "spend_frequency_correlation"]
    assert found and found[0]["severity"] == "warning"
    assert found[0]["value"] == pytest.approx(np.corrcoef(frequency, spend)[0, 1])
    assert found[0]["value"] > GammaGammaFitter.max_spend_frequency_correlation


def test_gamma_gamma_with_infinite_mean_spend_is_not_usable():
    ggf = GammaGammaFitter.from_dict(
        {"model": "GammaGammaFitter", "format_version": 1, "params": {"p": 2.0, "q": 0.8, "gamma": 5.0}}
    )
    assert codes(ggf.health()) == [("boundary", "error")]
    assert ggf.health()[0]["limit"] == "infinite_mean_spend"
    pair = btyd_pair_health(published_bgf(), ggf)
    assert [f["model"] for f in pair] == ["gamma_gamma"]


# --- choosing a model on a holdout ----------------------------------------------------------


@pytest.fixture(scope="module")
def bgnbd_holdout() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(17)
    age = rng.integers(14, 366, size=20_000).astype(float)
    return simulate_bgnbd(20_000, T=age, seed=rng, holdout_length=180.0, **BENCH_TRUE_PARAMS)


def test_compare_btyd_on_bgnbd_data_picks_bgnbd(bgnbd_holdout):
    data = bgnbd_holdout
    table = compare_btyd(data, data["holdout_frequency"], 180.0)
    assert list(table["model"]) == ["bgnbd", "mbgnbd", "pnbd"]
    assert list(table.columns) == [
        "model",
        "usable",
        "findings",
        "converged",
        "log_likelihood",
        "params",
        "predicted_orders",
        "actual_orders",
        "rmse",
        "mae",
    ]
    assert table["usable"].all() and table["converged"].all()
    assert (table["actual_orders"] == data["holdout_frequency"].sum()).all()
    rows = table.set_index("model")
    assert rows.loc["bgnbd", "rmse"] <= rows["rmse"].min() * 1.01  # wins or ties
    assert rows.loc["bgnbd", "predicted_orders"] == pytest.approx(
        rows.loc["bgnbd", "actual_orders"], rel=0.05
    )
    assert set(rows.loc["pnbd", "params"]) == {"r", "alpha", "s", "beta"}
    assert best_btyd(table) == "bgnbd"


def test_compare_btyd_takes_a_dataframe_and_a_subset(bgnbd_holdout):
    frame = pd.DataFrame({k: bgnbd_holdout[k] for k in ("frequency", "recency", "T")})
    table = compare_btyd(frame, bgnbd_holdout["holdout_frequency"], 180.0, models=("pnbd",))
    assert list(table["model"]) == ["pnbd"]
    assert best_btyd(table) == "pnbd"


def table_of(rmse: dict[str, float], usable: dict[str, bool] | None = None) -> pd.DataFrame:
    usable = usable or {}
    return pd.DataFrame(
        {
            "model": list(rmse),
            "usable": [usable.get(k, True) for k in rmse],
            "rmse": list(rmse.values()),
            "mae": list(rmse.values()),
        }
    )


def test_best_btyd_prefers_the_simpler_model_on_a_tie():
    assert best_btyd(table_of({"pnbd": 1.0, "mbgnbd": 1.0005, "bgnbd": 1.0009})) == "bgnbd"
    assert best_btyd(table_of({"pnbd": 1.0, "mbgnbd": 1.0005, "bgnbd": 1.002})) == "mbgnbd"
    assert best_btyd(table_of({"pnbd": 0.9, "mbgnbd": 1.0, "bgnbd": 1.0})) == "pnbd"
    assert best_btyd(table_of({"pnbd": 0.9, "bgnbd": 1.0}), rel_tol=0.2) == "bgnbd"


def test_best_btyd_skips_unusable_models():
    table = table_of({"bgnbd": 0.5, "mbgnbd": 1.0, "pnbd": float("nan")}, {"bgnbd": False})
    assert best_btyd(table) == "mbgnbd"
    assert best_btyd(table_of({"bgnbd": 0.5}, {"bgnbd": False})) is None
    with pytest.raises(BTYDDataError, match="lacks column"):
        best_btyd(table.drop(columns=["usable"]))


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"models": ("bgnbd", "lstm")}, BTYDParameterError, "unknown"),
        ({"holdout_length": 0.0}, BTYDParameterError, "holdout_length"),
        ({"holdout_orders": [1.0, -1.0, 0.0]}, BTYDDataError, "must be >= 0"),
        ({"holdout_orders": [1.0, 0.0]}, BTYDDataError, "same length"),
        ({"calibration": {"frequency": [1, 0, 2], "T": [5.0, 5.0, 5.0]}}, BTYDDataError, "recency"),
        (
            {"calibration": {"frequency": [0, 0, 0], "recency": [0.0] * 3, "T": [5.0] * 3}},
            BTYDDataError,
            "no customer has a repeat purchase",
        ),
    ],
)
def test_compare_btyd_rejects_bad_inputs(kwargs, error, message):
    arguments = {
        "calibration": {"frequency": [1, 0, 2], "recency": [2.0, 0.0, 4.0], "T": [5.0] * 3},
        "holdout_orders": [1.0, 0.0, 0.0],
        "holdout_length": 10.0,
        **kwargs,
    }
    with pytest.raises(error, match=message):
        compare_btyd(**arguments)


# -- P(no purchase in a horizon): the churn probability of each purchase model ----------------

NO_PURCHASE_CASES = {
    # model key: (fitter, simulator, true parameters in days)
    "bgnbd": (BetaGeoFitter, simulate_bgnbd, {"r": 0.8, "alpha": 20.0, "a": 0.6, "b": 3.0}),
    "mbgnbd": (ModifiedBetaGeoFitter, simulate_mbgnbd,
               {"r": 0.8, "alpha": 20.0, "a": 0.6, "b": 3.0}),
    "pnbd": (ParetoNBDFitter, simulate_pareto_nbd,
             {"r": 0.8, "alpha": 20.0, "s": 0.6, "beta": 150.0}),
}


@pytest.mark.parametrize("key", list(NO_PURCHASE_CASES))
def test_no_purchase_probability_matches_simulation(key):
    """Customers simulated with known parameters (ages 30–400 days, a 90-day holdout): with
    the true parameters, P(no purchase in the holdout) agrees with the share of customers who
    then bought nothing, overall and in each decile of the prediction (standard errors
    ~0.002 overall, ~0.006 per decile)."""
    fitter_class, simulate, params = NO_PURCHASE_CASES[key]
    n = 60_000
    age = np.random.default_rng(5).uniform(30, 400, n)
    sim = simulate(n, **params, T=age, seed=11, holdout_length=90.0)
    model = fitter_class(time_unit="days")
    model.params_ = dict(params)
    predicted = model.conditional_probability_no_purchase_up_to_time(
        90.0, sim["frequency"], sim["recency"], sim["T"])
    none = sim["holdout_frequency"] == 0
    assert predicted.mean() == pytest.approx(none.mean(), abs=0.008)
    decile = pd.qcut(predicted, 10, labels=False, duplicates="drop")
    by_decile = pd.DataFrame({"p": predicted, "none": none}).groupby(decile).mean()
    assert (by_decile["p"] - by_decile["none"]).abs().max() < 0.025, by_decile
    # it is the churn probability: at least P(dead), at most 1, falling with the horizon
    p_alive = model.conditional_probability_alive(sim["frequency"], sim["recency"], sim["T"])
    assert (predicted >= 1 - p_alive - 1e-12).all() and (predicted <= 1).all()
    longer = model.conditional_probability_no_purchase_up_to_time(
        180.0, sim["frequency"], sim["recency"], sim["T"])
    assert (longer <= predicted + 1e-12).all()
    assert model.conditional_probability_no_purchase_up_to_time(
        0.0, sim["frequency"][:5], sim["recency"][:5], sim["T"][:5]) == pytest.approx(1.0)


def test_pareto_no_purchase_if_alive_equals_the_integral():
    """The Pareto/NBD's P(no purchase | alive) by decade-panel Gauss-Legendre against adaptive
    quadrature of (A/(A+t))^(r+x) (B/(B+t))^s + ∫_0^t (A/(A+u))^(r+x) s B^s (B+u)^(−s−1) du,
    on typical histories and on ones whose two scales (A/(r+x) and B) differ by 1e5."""
    from scipy import integrate

    from custops.models.btyd import _pnbd_no_purchase_if_alive

    r, s = 0.55, 0.61
    rng = np.random.default_rng(2)
    cases = [(rng.uniform(1, 30), rng.uniform(5, 300), rng.integers(0, 60),
              rng.uniform(0.5, 400), rng.uniform(1, 365)) for _ in range(40)]
    cases += [(0.1, 11.66, 200, 1.0, 365.0), (50.0, 11.66, 0, 0.0, 1000.0),
              (10.58, 0.01, 3, 0.1, 90.0)]
    for alpha, beta, x, age, t in cases:
        A, B, a = alpha + age, beta + age, r + x

        def integrand(u, A=A, B=B, a=a):
            return math.exp(-a * math.log1p(u / A) - (s + 1) * math.log1p(u / B)) * s / B

        scale = min(A / a, B)
        exact = (math.exp(-a * math.log1p(t / A) - s * math.log1p(t / B))
                 + integrate.quad(integrand, 0, t, points=[scale, 10 * scale], limit=400,
                                  epsabs=1e-13, epsrel=1e-12)[0])
        ours = float(_pnbd_no_purchase_if_alive(t, x, age, r, alpha, s, beta))
        assert ours == pytest.approx(exact, abs=1e-7), (alpha, beta, x, age, t)
    # vectorised: one value per customer, same as one at a time
    x = np.array([0, 3, 40])
    age = np.array([10.0, 200.0, 50.0])
    together = _pnbd_no_purchase_if_alive(90.0, x, age, r, 10.0, s, 12.0)
    alone = [float(_pnbd_no_purchase_if_alive(90.0, xi, ai, r, 10.0, s, 12.0))
             for xi, ai in zip(x, age, strict=True)]
    np.testing.assert_allclose(together, alone, rtol=0, atol=1e-15)


# -- the Hessian condition number: parameters poorly determined --------------------------------

def test_well_identified_fits_have_a_small_hessian_condition(cdnow, cdnow_bgf, cdnow_ggf):
    """Measured on CDNOW (weeks): BG/NBD 165, Gamma-Gamma 891 (MBG/NBD 226, Pareto/NBD 613):
    far below the warning threshold, so no poorly_determined finding."""
    for model in (cdnow_bgf, cdnow_ggf):
        assert 10 < model.hessian_condition_ < model.max_hessian_condition / 5
        assert "poorly_determined" not in [f["code"] for f in model.health()]
    # stored and read back with the model
    again = BetaGeoFitter.from_dict(json.loads(json.dumps(cdnow_bgf.to_dict())))
    assert again.hessian_condition_ == pytest.approx(cdnow_bgf.hessian_condition_)
    # the condition does not depend on the time unit (log-parameters)
    days = BetaGeoFitter(time_unit="days").fit(cdnow["frequency"], cdnow["recency"] * 7,
                                               cdnow["T"] * 7)
    assert days.hessian_condition_ == pytest.approx(cdnow_bgf.hessian_condition_, rel=1e-3)


def test_a_barely_seen_dropout_is_reported_as_poorly_determined():
    """Pareto/NBD customers who almost never drop out (s 0.05, beta 5,000 days, 300-day
    window): the fit converges (s 0.003, beta 66) and passes every other check, but s and
    beta are not separately determined (condition ~1.4e5)."""
    sim = simulate_pareto_nbd(3000, r=0.8, alpha=20, s=0.05, beta=5000, T=np.full(3000, 300.0),
                              seed=3)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model = ParetoNBDFitter(time_unit="days").fit(sim["frequency"], sim["recency"], sim["T"])
    findings = [f for f in model.health() if f["code"] == "poorly_determined"]
    assert model.converged_ and len(findings) == 1
    assert findings[0]["severity"] == "warning" and findings[0]["value"] > 1e4
    assert model.usable  # a warning: shown, not a reason to drop the model
    from custops.labels import health_words

    entry = {**findings[0], "model": "pnbd"}
    assert "poorly determined" in health_words(entry, "en")
    assert "参数" in health_words(entry, "zh")
