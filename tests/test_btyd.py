"""BTYD models: published CDNOW estimates, analytic gradients, recovery from simulated data.

Reference predictions marked "lifetimes 0.11.3" were computed once with lifetimes in a
throwaway virtualenv at the parameter values shown and are hard-coded here; lifetimes is not a
dependency of custops.
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
from scipy.special import betaln, gammaln

from custops.errors import DataError
from custops.models import btyd
from custops.models.btyd import (
    BetaGeoFitter,
    BTYDDataError,
    BTYDParameterError,
    ConvergenceWarning,
    GammaGammaFitter,
    ModelNotFittedError,
    bgnbd_log_likelihood,
    customer_lifetime_value,
    gamma_gamma_log_likelihood,
    simulate_bgnbd,
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
    data = btyd._BGNBDData.build(x, cdnow["recency"].to_numpy(), cdnow["T"].to_numpy(), None)
    theta = np.array(theta)
    _, analytic = data.log_likelihood_and_gradient(*theta)
    numeric = central_difference(lambda th: data.log_likelihood_and_gradient(*th)[0], theta)
    np.testing.assert_allclose(analytic, numeric, rtol=1e-5, atol=1e-4)


@pytest.mark.parametrize("theta", [[6.25, 3.74, 15.44], [0.7, 1.3, 150.0]])
def test_gamma_gamma_analytic_gradient_matches_finite_differences(cdnow, theta):
    repeat = cdnow[cdnow["frequency"] > 0]
    data = btyd._GammaGammaData.build(
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
