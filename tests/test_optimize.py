"""Reach maths: plans vs brute force, constraints, budget curve, holdout, power, readout."""

from __future__ import annotations

import hashlib
import itertools
import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from scipy import stats

from custops.models import assignment
from custops.models.assignment import (
    OptimizeDataError,
    OptimizeParameterError,
    budget_curve,
    optimize_assignment,
)
from custops.models.experiment import (
    campaign_readout,
    holdout_mask,
    holdout_size_for_effect,
    minimum_detectable_effect,
    power_two_proportions,
)

BUDGET_RTOL = 1e-9  # the module's documented slack on floating-point sums of costs


# --------------------------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------------------------


def brute_force_optimum(gain, cost, eligible, budget, capacity=None) -> float:
    """Best total gain over every assignment (customer -> one channel or none)."""
    n, n_channels = gain.shape
    options = np.array(list(itertools.product(range(-1, n_channels), repeat=n)))
    contacted = options >= 0
    channel = np.where(contacted, options, 0)
    rows = np.arange(n)
    pair_cost = np.broadcast_to(cost, gain.shape)
    feasible = np.where(contacted, eligible[rows, channel], True).all(axis=1)
    spend = np.where(contacted, pair_cost[rows, channel], 0.0).sum(axis=1)
    feasible &= spend <= budget + BUDGET_RTOL * max(1.0, budget)
    if capacity is not None:
        limits = np.array([np.inf if c is None else c for c in capacity], dtype=float)
        counts = (options[:, :, None] == np.arange(n_channels)).sum(axis=1)
        feasible &= (counts <= limits).all(axis=1)
    total = np.where(contacted & feasible[:, None], np.nan_to_num(gain[rows, channel]), 0.0)
    return float(total.sum(axis=1)[feasible].max())


def assert_plan_is_feasible(result, gain, cost, eligible, budget, capacity=None):
    channel = result.channel
    n, n_channels = gain.shape
    assert channel.shape == (n,) and channel.dtype.kind == "i"
    assert ((channel >= -1) & (channel < n_channels)).all()
    contacted = np.flatnonzero(channel >= 0)
    chosen = channel[contacted]
    assert eligible[contacted, chosen].all(), "contacted an ineligible pair"
    assert (gain[contacted, chosen] > 0).all(), "made a contact that loses money"
    spend = np.broadcast_to(cost, gain.shape)[contacted, chosen].sum()
    assert spend <= budget + BUDGET_RTOL * max(1.0, budget)
    counts = np.bincount(chosen, minlength=n_channels)
    np.testing.assert_array_equal(result.counts, counts)
    if capacity is not None:
        limits = np.array([np.inf if c is None else c for c in capacity], dtype=float)
        assert (counts <= limits).all()
    assert result.objective == pytest.approx(gain[contacted, chosen].sum(), rel=1e-12, abs=1e-9)
    assert result.spend == pytest.approx(spend, rel=1e-12, abs=1e-9)
    assert result.upper_bound >= result.objective - 1e-9 * max(1.0, abs(result.objective))
    expected_gap = (result.upper_bound - result.objective) / max(abs(result.upper_bound), 1e-12)
    assert result.gap == pytest.approx(expected_gap, abs=1e-12)


def random_instance(n, n_channels, seed, *, per_pair_cost=False, eligible_share=0.6):
    rng = np.random.default_rng(seed)
    gain = rng.normal(1.0, 2.0, size=(n, n_channels))
    cost = rng.uniform(0.1, 2.0, size=(n, n_channels) if per_pair_cost else n_channels)
    eligible = rng.random((n, n_channels)) < eligible_share
    return gain, cost, eligible


def full_spend(gain, cost, eligible):
    """Spend of the unconstrained plan: the most any plan worth making could cost."""
    candidate = eligible & (gain > 0)
    return float(np.where(candidate, np.broadcast_to(cost, gain.shape), 0.0).max(axis=1).sum())


@st.composite
def small_instances(draw):
    """Integer-valued instances (exact sums, many ties) with up to 6 customers x 3 channels."""
    n = draw(st.integers(1, 6))
    n_channels = draw(st.integers(1, 3))
    gain = draw(hnp.arrays(np.float64, (n, n_channels), elements=st.integers(-5, 12)))
    cost_shape = (n, n_channels) if draw(st.booleans()) else (n_channels,)
    cost = draw(hnp.arrays(np.float64, cost_shape, elements=st.integers(0, 6)))
    eligible = draw(hnp.arrays(np.bool_, (n, n_channels)))
    budget = draw(st.one_of(st.integers(0, 20).map(float), st.just(math.inf)))
    capacity = draw(
        st.one_of(
            st.none(),
            st.lists(
                st.one_of(st.integers(0, 3), st.none()), min_size=n_channels, max_size=n_channels
            ),
        )
    )
    return gain, cost, eligible, budget, capacity


# --------------------------------------------------------------------------------------------
# optimize_assignment
# --------------------------------------------------------------------------------------------


@settings(max_examples=150, deadline=None)
@given(small_instances())
def test_milp_matches_brute_force(instance):
    gain, cost, eligible, budget, capacity = instance
    result = optimize_assignment(
        gain, cost, eligible, budget=budget, capacity=capacity, method="milp"
    )
    assert result.method == "milp"
    assert result.objective == pytest.approx(
        brute_force_optimum(gain, cost, eligible, budget, capacity), abs=1e-9
    )
    assert_plan_is_feasible(result, gain, cost, eligible, budget, capacity)


@settings(max_examples=150, deadline=None)
@given(small_instances())
def test_lagrangian_bound_brackets_brute_force(instance):
    gain, cost, eligible, budget, capacity = instance
    result = optimize_assignment(
        gain, cost, eligible, budget=budget, capacity=capacity, method="lagrangian"
    )
    optimum = brute_force_optimum(gain, cost, eligible, budget, capacity)
    assert result.method == "lagrangian"
    assert result.upper_bound >= optimum - 1e-9
    assert optimum >= result.objective - 1e-9
    assert optimum >= result.upper_bound * (1 - result.gap) - 1e-9  # the gap is honest
    assert_plan_is_feasible(result, gain, cost, eligible, budget, capacity)


def test_all_methods_on_random_float_instances():
    for seed in range(60):
        rng = np.random.default_rng(seed)
        n, n_channels = int(rng.integers(1, 7)), int(rng.integers(1, 4))
        gain, cost, eligible = random_instance(n, n_channels, seed, per_pair_cost=seed % 2 == 1)
        budget = float(rng.uniform(0, 1.2) * full_spend(gain, cost, eligible))
        capacity = rng.integers(0, 4, n_channels).tolist() if seed % 3 else None
        optimum = brute_force_optimum(gain, cost, eligible, budget, capacity)
        for method in ("milp", "auto"):
            result = optimize_assignment(
                gain, cost, eligible, budget=budget, capacity=capacity, method=method
            )
            assert result.objective == pytest.approx(optimum, rel=1e-9, abs=1e-9)
            assert_plan_is_feasible(result, gain, cost, eligible, budget, capacity)
        lagrangian = optimize_assignment(
            gain, cost, eligible, budget=budget, capacity=capacity, method="lagrangian"
        )
        assert lagrangian.upper_bound >= optimum - 1e-9 >= lagrangian.objective - 2e-9


@pytest.mark.parametrize("per_pair_cost", [False, True])
@pytest.mark.parametrize(
    "budget_share, capacity",
    [(0.3, None), (math.inf, [40, 40, 40, 40]), (0.3, [20, None, 30, None]), (2.0, None)],
)
def test_constraints_hold_on_larger_instances(per_pair_cost, budget_share, capacity):
    gain, cost, eligible = random_instance(400, 4, seed=11, per_pair_cost=per_pair_cost)
    budget = budget_share * full_spend(gain, cost, eligible)
    exact = optimize_assignment(
        gain, cost, eligible, budget=budget, capacity=capacity, method="milp", tol=1e-4
    )
    fast = optimize_assignment(
        gain, cost, eligible, budget=budget, capacity=capacity, method="lagrangian"
    )
    for result in (exact, fast):
        assert_plan_is_feasible(result, gain, cost, eligible, budget, capacity)
    # Both bounds are valid, so each plan is below the other method's bound.
    assert exact.objective <= fast.upper_bound + 1e-9
    assert fast.objective <= exact.upper_bound + 1e-9
    assert fast.gap < 1e-2


@pytest.mark.parametrize("capacity", [None, [400, None, 300, None, 500, None]])
def test_lagrangian_large_instance_path(monkeypatch, capacity):
    """Sample warm start + active-set refinement agrees with the direct dual descent."""
    gain, cost, eligible = random_instance(30_000, 6, seed=5)
    budget = 0.25 * full_spend(gain, cost, eligible)
    direct = optimize_assignment(
        gain, cost, eligible, budget=budget, capacity=capacity, method="lagrangian"
    )
    monkeypatch.setattr(assignment, "_DIRECT_MAX_CUSTOMERS", 2_000)
    monkeypatch.setattr(assignment, "_ACTIVE_SET_MIN", 300)
    staged = optimize_assignment(
        gain, cost, eligible, budget=budget, capacity=capacity, method="lagrangian"
    )
    for result in (direct, staged):
        assert_plan_is_feasible(result, gain, cost, eligible, budget, capacity)
        assert result.gap < 1e-4
    assert staged.upper_bound == pytest.approx(direct.upper_bound, rel=1e-5)
    assert staged.multipliers["budget"] > 0
    if capacity is not None:
        assert staged.counts[0] == 400 and staged.counts[2] == 300


def test_auto_keeps_the_better_plan_and_the_tighter_bound():
    gain, cost, eligible = random_instance(300, 4, seed=8)
    budget = 0.2 * full_spend(gain, cost, eligible)
    capacity = [15, None, 10, None]
    fast = optimize_assignment(
        gain, cost, eligible, budget=budget, capacity=capacity, method="lagrangian"
    )
    exact = optimize_assignment(
        gain, cost, eligible, budget=budget, capacity=capacity, method="milp"
    )
    auto = optimize_assignment(gain, cost, eligible, budget=budget, capacity=capacity)
    assert fast.gap > 1e-6  # small instance: the repair loses a little, so auto runs the MILP
    assert auto.method == "milp"
    assert auto.objective == pytest.approx(max(exact.objective, fast.objective))
    assert auto.upper_bound <= fast.upper_bound and auto.gap <= 1e-6
    assert_plan_is_feasible(auto, gain, cost, eligible, budget, capacity)


def test_milp_without_a_plan_in_time_falls_back_to_lagrangian():
    gain, cost, eligible = random_instance(3_000, 6, seed=0)
    budget = 0.2 * full_spend(gain, cost, eligible)
    with pytest.warns(UserWarning, match="no plan within"):
        result = optimize_assignment(
            gain, cost, eligible, budget=budget, method="milp", time_limit=1e-3
        )
    assert result.method == "lagrangian"
    assert_plan_is_feasible(result, gain, cost, eligible, budget)


def test_unconstrained_plan_takes_each_customers_best_positive_channel():
    gain = np.array([[3.0, 5.0, -1.0], [-2.0, -1.0, -4.0], [2.0, np.nan, 1.0]])
    eligible = np.array([[True, True, True], [True, True, True], [True, False, True]])
    for method in ("milp", "lagrangian", "auto"):
        result = optimize_assignment(gain, [1.0, 2.0, 3.0], eligible, budget=np.inf, method=method)
        np.testing.assert_array_equal(result.channel, [1, -1, 0])
        assert result.objective == 7.0 and result.spend == 3.0 and result.gap == 0.0
        np.testing.assert_array_equal(result.counts, [1, 1, 0])
        assert result.contacts == 2


def test_budget_prefers_value_per_unit_of_cost():
    # Budget 3: A alone (gain 10, cost 3) loses to B + C (6 + 5 for cost 1 + 2).
    gain = np.array([[10.0], [6.0], [5.0]])
    cost = np.array([[3.0], [1.0], [2.0]])
    for method in ("milp", "lagrangian"):
        result = optimize_assignment(gain, cost, np.ones((3, 1), bool), budget=3.0, method=method)
        np.testing.assert_array_equal(result.channel, [-1, 0, 0])
        assert result.objective == 11.0


def test_free_channels_are_used_even_with_zero_budget():
    gain = np.array([[4.0, 9.0], [2.0, 1.0]])
    result = optimize_assignment(gain, [0.0, 1.0], np.ones((2, 2), bool), budget=0.0)
    np.testing.assert_array_equal(result.channel, [0, 0])
    assert result.spend == 0.0 and result.objective == 6.0


def test_nobody_eligible_gives_empty_plan():
    gain = np.ones((3, 2))
    for method in ("milp", "lagrangian", "auto"):
        result = optimize_assignment(
            gain, [1.0, 1.0], np.zeros((3, 2), bool), budget=10.0, method=method
        )
        np.testing.assert_array_equal(result.channel, [-1, -1, -1])
        assert result.objective == 0.0 and result.upper_bound == 0.0 and result.gap == 0.0


def test_assignment_input_errors_name_the_problem():
    gain = np.ones((2, 2))
    eligible = np.ones((2, 2), bool)
    with pytest.raises(OptimizeDataError, match="shape of `gain`"):
        optimize_assignment(gain, [1, 1], np.ones((3, 2), bool), budget=1)
    with pytest.raises(OptimizeDataError, match="missing or infinite.*rows \\[1\\]"):
        optimize_assignment(np.array([[1.0, 1.0], [np.nan, 1.0]]), [1, 1], eligible, budget=1)
    with pytest.raises(OptimizeDataError, match="`cost` must have shape"):
        optimize_assignment(gain, [1, 1, 1], eligible, budget=1)
    with pytest.raises(OptimizeDataError, match="finite and >= 0"):
        optimize_assignment(gain, [1, -1], eligible, budget=1)
    with pytest.raises(OptimizeParameterError, match="`budget`"):
        optimize_assignment(gain, [1, 1], eligible, budget=-1)
    with pytest.raises(OptimizeParameterError, match="`capacity`"):
        optimize_assignment(gain, [1, 1], eligible, budget=1, capacity=[1])
    with pytest.raises(OptimizeParameterError, match="`method`"):
        optimize_assignment(gain, [1, 1], eligible, budget=1, method="greedy")
    with pytest.raises(ValueError):  # the errors are ValueErrors too
        optimize_assignment(gain, [1, 1], eligible, budget=float("nan"))


# --------------------------------------------------------------------------------------------
# budget_curve
# --------------------------------------------------------------------------------------------


def test_budget_curve_hand_computed():
    # A: gain 10 for cost 2 (5 per unit); B: gain 3 for cost 1 (3 per unit).
    gain = np.array([[10.0], [3.0]])
    cost = np.array([[2.0], [1.0]])
    curve = budget_curve(gain, cost, np.ones((2, 1), bool), [3, 0, 1, 2, np.inf])
    np.testing.assert_array_equal(curve["budget"], [3, 0, 1, 2, np.inf])
    np.testing.assert_array_equal(curve["objective"], [13, 0, 0, 10, 13])
    np.testing.assert_array_equal(curve["spend"], [3, 0, 0, 2, 3])
    np.testing.assert_array_equal(curve["contacts"], [2, 0, 0, 1, 2])
    np.testing.assert_array_equal(curve["marginal_return"], [0, 5, 5, 3, 0])
    np.testing.assert_array_equal(curve["upper_bound"], [13, 0, 5, 10, 13])


@pytest.mark.parametrize("capacity", [None, [1, 2, None]])
def test_budget_curve_brackets_brute_force(capacity):
    for seed in range(15):
        gain, cost, eligible = random_instance(5, 3, seed, per_pair_cost=seed % 2 == 1)
        budgets = np.linspace(0, 1.1 * full_spend(gain, cost, eligible), 7)
        curve = budget_curve(gain, cost, eligible, budgets, capacity=capacity)
        largest_gain = max(float(np.where(eligible, gain, 0).max()), 0.0)
        for row in curve.itertuples():
            optimum = brute_force_optimum(gain, cost, eligible, row.budget, capacity)
            assert row.objective <= optimum + 1e-9 <= row.upper_bound + 2e-9
            assert row.objective >= optimum - largest_gain - 1e-9  # within one upgrade
            assert row.spend <= row.budget * (1 + BUDGET_RTOL) + BUDGET_RTOL


@pytest.mark.parametrize("capacity", [None, [150, None, 100, None]])
def test_budget_curve_is_monotone_up_to_the_unconstrained_optimum(capacity):
    gain, cost, eligible = random_instance(2_000, 4, seed=3)
    unconstrained = optimize_assignment(
        gain, cost, eligible, budget=np.inf, capacity=capacity, method="lagrangian"
    )
    budgets = np.linspace(0, 1.2 * full_spend(gain, cost, eligible), 25)
    curve = budget_curve(gain, cost, eligible, np.append(budgets, np.inf), capacity=capacity)
    assert (np.diff(curve["objective"]) >= -1e-9).all()
    assert (np.diff(curve["upper_bound"]) >= -1e-6).all()
    assert (curve["spend"] <= curve["budget"] * (1 + BUDGET_RTOL)).all()
    assert (curve["objective"] <= curve["upper_bound"] + 1e-9).all()
    assert curve["objective"].iloc[-1] == pytest.approx(unconstrained.objective, rel=1e-9)
    assert curve["marginal_return"].iloc[-1] == 0.0
    if capacity is None:
        assert (np.diff(curve["marginal_return"]) <= 0).all()  # diminishing returns
    # Mid-curve, the curve's plan is within its own bound of the optimizer's.
    mid = optimize_assignment(
        gain, cost, eligible, budget=budgets[5], capacity=capacity, method="lagrangian"
    )
    assert curve["objective"].iloc[5] <= mid.upper_bound + 1e-9
    assert mid.objective <= curve["upper_bound"].iloc[5] + 1e-6


def test_budget_curve_rejects_negative_budgets():
    with pytest.raises(OptimizeParameterError, match="`budgets`"):
        budget_curve(np.ones((1, 1)), [1.0], np.ones((1, 1), bool), [1.0, -2.0])


# --------------------------------------------------------------------------------------------
# holdout_mask
# --------------------------------------------------------------------------------------------

CUSTOMER_IDS = [f"C{number:07d}" for number in range(20_000)]


def test_holdout_is_pinned_across_runs_and_machines():
    ids = [f"C{number:04d}" for number in range(1, 13)]
    np.testing.assert_array_equal(
        holdout_mask(ids, "spring-2025", 0.25).astype(int), [0, 0, 0, 1, 1, 0, 0, 0, 1, 0, 0, 0]
    )
    np.testing.assert_array_equal(
        holdout_mask(ids, "spring-2025", 0.25, seed=7).astype(int),
        [0, 0, 0, 0, 0, 0, 1, 0, 0, 1, 0, 0],
    )


def test_holdout_follows_the_documented_hash():
    digest = hashlib.blake2b(b"spring-2025\x1f0\x1fC0004", digest_size=8).digest()
    uniform = (int.from_bytes(digest, "big") >> 11) * 2.0**-53
    for share in (uniform - 1e-9, uniform + 1e-9):
        assert holdout_mask(["C0004"], "spring-2025", share)[0] == (uniform < share)


def test_holdout_depends_on_nobody_else():
    mask = holdout_mask(CUSTOMER_IDS, "spring-2025", 0.1)
    order = np.random.default_rng(0).permutation(len(CUSTOMER_IDS))
    shuffled = holdout_mask([CUSTOMER_IDS[i] for i in order], "spring-2025", 0.1)
    np.testing.assert_array_equal(shuffled, mask[order])
    np.testing.assert_array_equal(holdout_mask(CUSTOMER_IDS[:500], "spring-2025", 0.1), mask[:500])
    np.testing.assert_array_equal(holdout_mask(CUSTOMER_IDS, "spring-2025", 0.1), mask)
    assert holdout_mask([42, "42"], "x", 0.5).tolist() in ([True, True], [False, False])


def test_holdout_share_is_right_and_draws_are_independent():
    n, share = len(CUSTOMER_IDS), 0.1
    tolerance = 4 * math.sqrt(share * (1 - share) / n)
    spring = holdout_mask(CUSTOMER_IDS, "spring-2025", share)
    autumn = holdout_mask(CUSTOMER_IDS, "autumn-2025", share)
    reseeded = holdout_mask(CUSTOMER_IDS, "spring-2025", share, seed=1)
    for mask in (spring, autumn, reseeded):
        assert abs(mask.mean() - share) < tolerance
    # Independent draws overlap like independent coins: share^2.
    assert abs((spring & autumn).mean() - share**2) < 4 * math.sqrt(share**2 / n)
    assert abs((spring & reseeded).mean() - share**2) < 4 * math.sqrt(share**2 / n)
    assert not holdout_mask(CUSTOMER_IDS[:100], "x", 0.0).any()
    assert holdout_mask(CUSTOMER_IDS[:100], "x", 1.0).all()


def test_exact_holdout_has_exactly_the_rounded_count():
    for n, share in [(20_000, 0.1), (7, 0.5), (10, 0.25), (3, 0.0), (0, 0.3)]:
        mask = holdout_mask(CUSTOMER_IDS[:n], "spring-2025", share, exact=True)
        assert mask.sum() == math.floor(share * n + 0.5)
    # Both variants take the smallest hashes, so one contains the other.
    exact = holdout_mask(CUSTOMER_IDS, "spring-2025", 0.1, exact=True)
    drawn = holdout_mask(CUSTOMER_IDS, "spring-2025", 0.1)
    assert (exact <= drawn).all() or (drawn <= exact).all()


def test_holdout_input_errors():
    with pytest.raises(OptimizeParameterError, match="`share`"):
        holdout_mask(["a"], "x", 1.5)
    with pytest.raises(OptimizeDataError, match="missing"):
        holdout_mask(["a", None], "x", 0.5)


# --------------------------------------------------------------------------------------------
# Power
# --------------------------------------------------------------------------------------------


def test_sample_size_matches_the_textbook_formula():
    # n = (1.959964 * sqrt(2 * .11 * .89) + 0.841621 * sqrt(.1 * .9 + .12 * .88))^2 / .02^2
    #   = (0.867273 + 0.372219)^2 / 0.0004 = 3840.8  ->  3,841 per arm.
    assert power_two_proportions(3841, 3841, 0.10, 0.02) >= 0.8
    assert power_two_proportions(3840, 3840, 0.10, 0.02) < 0.8
    assert minimum_detectable_effect(3841, 3841, 0.10) == pytest.approx(0.02, abs=2e-6)
    # 5% -> 6%: (1.959964 * 0.322413 + 0.841621 * 0.322335)^2 / 0.01^2 = 8157.7 -> 8,158.
    assert power_two_proportions(8158, 8158, 0.05, 0.01) >= 0.8
    assert power_two_proportions(8157, 8157, 0.05, 0.01) < 0.8


def test_minimum_detectable_effect_inverts_power():
    for n_treatment, n_control, baseline in [(50_000, 5_000, 0.03), (2_000, 8_000, 0.2)]:
        effect = minimum_detectable_effect(n_treatment, n_control, baseline, alpha=0.1, power=0.9)
        assert power_two_proportions(
            n_treatment, n_control, baseline, effect, alpha=0.1
        ) == pytest.approx(0.9, abs=1e-9)
    assert minimum_detectable_effect(40_000, 10_000, 0.1) < minimum_detectable_effect(
        20_000, 5_000, 0.1
    )
    assert minimum_detectable_effect(1, 1, 0.1) == math.inf
    assert math.isnan(minimum_detectable_effect(0, 10, 0.1))


def test_holdout_size_for_effect():
    balanced = holdout_size_for_effect(2 * 3841, 0.10, 0.02)
    assert balanced.feasible and balanced.power >= 0.8
    assert balanced.n_control <= 3841 and balanced.n_control + balanced.n_treatment == 7682
    assert (
        power_two_proportions(7682 - balanced.n_control + 1, balanced.n_control - 1, 0.10, 0.02)
        < 0.8
    )
    large = holdout_size_for_effect(200_000, 0.10, 0.02)
    assert large.feasible and large.control_share < 0.02
    assert power_two_proportions(large.n_treatment, large.n_control, 0.10, 0.02) >= 0.8
    assert power_two_proportions(large.n_treatment + 1, large.n_control - 1, 0.10, 0.02) < 0.8
    too_small = holdout_size_for_effect(1_000, 0.10, 0.02)
    assert not too_small.feasible and too_small.power < 0.8
    with pytest.raises(OptimizeParameterError, match="baseline_rate"):
        holdout_size_for_effect(1_000, 0.99, 0.02)


# --------------------------------------------------------------------------------------------
# campaign_readout
# --------------------------------------------------------------------------------------------


def _conversions_frame(converted_t, n_t, converted_c, n_c):
    return pd.DataFrame(
        {
            "group": ["treatment"] * n_t + ["control"] * n_c,
            "converted": [1] * converted_t
            + [0] * (n_t - converted_t)
            + [1] * converted_c
            + [0] * (n_c - converted_c),
        }
    )


@pytest.mark.parametrize(
    "counts, low, high",
    [  # Newcombe (1998), Statistics in Medicine 17:873-890, Table II, method 10
        ((56, 70, 48, 80), 0.0524, 0.3339),
        ((9, 10, 3, 10), 0.1705, 0.8090),
        ((6, 7, 2, 7), 0.0582, 0.8062),
        ((5, 56, 0, 29), -0.0381, 0.1926),
        ((0, 10, 0, 20), -0.1611, 0.2775),
        ((10, 10, 0, 20), 0.6791, 1.0000),
    ],
)
def test_lift_interval_matches_newcombe_table(counts, low, high):
    readout = campaign_readout(_conversions_frame(*counts), revenue_col=None)
    assert readout["lift_low"].iloc[0] == pytest.approx(low, abs=5e-5)
    assert readout["lift_high"].iloc[0] == pytest.approx(high, abs=5e-5)


def test_readout_hand_computed():
    frame = pd.DataFrame(
        {
            "group": ["treatment"] * 4 + ["control"] * 4,
            "converted": [True, False, True, False, True, False, False, False],
            "revenue": [10.0, 0.0, 20.0, None, 10.0, 0.0, 0.0, 0.0],
            "contact_cost": [1.0] * 4 + [0.0] * 4,
        }
    )
    row = campaign_readout(frame, cost_col="contact_cost").iloc[0]
    assert (row.n_treatment, row.n_control) == (4, 4)
    assert (row.rate_treatment, row.rate_control, row.lift) == (0.5, 0.25, 0.25)
    assert row.relative_lift == pytest.approx(1.0)
    assert (row.revenue_per_customer_treatment, row.revenue_per_customer_control) == (7.5, 2.5)
    welch = stats.ttest_ind([10, 0, 20, 0], [10, 0, 0, 0], equal_var=False)
    interval = welch.confidence_interval(0.95)
    assert (row.revenue_diff_low, row.revenue_diff_high) == pytest.approx(
        (interval.low, interval.high)
    )
    assert row.incremental_revenue == 20.0 and row.cost == 4.0
    assert row.roi == pytest.approx((20.0 - 4.0) / 4.0)


def test_readout_by_segment_handles_empty_arms():
    frame = pd.DataFrame(
        {
            "segment": ["a", "a", "a", "b", "b"],
            "group": ["treatment", "control", "control", "treatment", "treatment"],
            "converted": [1, 0, 1, 1, 0],
            "revenue": [5.0, 0.0, 3.0, 2.0, 0.0],
        }
    )
    readout = campaign_readout(frame, by="segment", cost_col=None)
    assert readout["segment"].tolist() == ["a", "b"]
    segment_b = readout.set_index("segment").loc["b"]
    assert segment_b.n_treatment == 2 and segment_b.n_control == 0
    assert segment_b.rate_treatment == 0.5
    for column in ("rate_control", "lift", "lift_low", "relative_lift", "revenue_diff"):
        assert math.isnan(segment_b[column])
    assert math.isnan(readout.set_index("segment").loc["a", "revenue_diff_low"])  # n_t = 1


def test_readout_errors_name_the_column_or_value():
    frame = _conversions_frame(1, 2, 1, 2)
    with pytest.raises(OptimizeDataError, match="missing column.*'revenue'"):
        campaign_readout(frame)
    frame["group"] = ["treatment", "holdout", "control", "control"]
    with pytest.raises(OptimizeDataError, match="'holdout'"):
        campaign_readout(frame, revenue_col=None)


def test_readout_intervals_cover_the_true_lift():
    """400 simulated campaigns with known lift: ~95% of the intervals cover the truth."""
    rng = np.random.default_rng(2025)
    n_campaigns, n_treatment, n_control = 400, 1_500, 1_000
    rate_control, true_lift = 0.10, 0.03
    spend_mean_control, spend_mean_treatment = 50.0, 60.0  # exponential order values
    size = n_treatment + n_control
    treated = np.tile(np.arange(size) < n_treatment, n_campaigns)
    converted = rng.random(size * n_campaigns) < np.where(
        treated, rate_control + true_lift, rate_control
    )
    order_value = rng.exponential(np.where(treated, spend_mean_treatment, spend_mean_control))
    frame = pd.DataFrame(
        {
            "campaign": np.repeat(np.arange(n_campaigns), size),
            "group": np.where(treated, "treatment", "control"),
            "converted": converted,
            "revenue": np.where(converted, order_value, 0.0),
        }
    )
    readout = campaign_readout(frame, by="campaign")
    assert len(readout) == n_campaigns
    true_revenue_diff = (rate_control + true_lift) * spend_mean_treatment - (
        rate_control * spend_mean_control
    )
    lift_covered = (readout.lift_low <= true_lift) & (true_lift <= readout.lift_high)
    revenue_covered = (readout.revenue_diff_low <= true_revenue_diff) & (
        true_revenue_diff <= readout.revenue_diff_high
    )
    tolerance = 4 * math.sqrt(0.95 * 0.05 / n_campaigns)
    assert abs(lift_covered.mean() - 0.95) < tolerance
    assert abs(revenue_covered.mean() - 0.95) < tolerance
    assert readout.lift.mean() == pytest.approx(true_lift, abs=0.003)
    assert (readout.incremental_revenue == readout.revenue_diff * n_treatment).all()
