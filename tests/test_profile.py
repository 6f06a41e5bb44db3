"""Profiling step: known answers on small hand-made frames (the hand computation is in the
comment next to each expected value)."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from custops import aggregates, profile
from custops.features import build_features

MONTH = pd.Timestamp


def orders_frame(rows):
    """(customer_id, order_time, amount, is_refund) rows → an orders table, one id per row."""
    frame = pd.DataFrame(rows, columns=["customer_id", "order_time", "amount", "is_refund"])
    frame.insert(1, "order_id", [str(i) for i in range(len(frame))])
    frame["order_time"] = pd.to_datetime(frame["order_time"])
    return frame


def months_frame(rows):
    """(customer_id, month, orders, net_spend) rows, as aggregates.customer_months returns them."""
    frame = pd.DataFrame(rows, columns=["customer_id", "month", "orders", "net_spend"])
    frame["month"] = pd.to_datetime(frame["month"])
    return frame


def base_frame(rows, events=True):
    """The columns customer_base / channel_quality read, with the feature table's dtypes."""
    cols = ["customer_id", "acquisition_channel", "order_days", "days_since_last_order",
            "days_since_last_event", "net_spend"]
    frame = pd.DataFrame(rows, columns=cols)
    for col in ("order_days", "days_since_last_order", "days_since_last_event"):
        frame[col] = frame[col].astype("Int64")
    frame["net_spend"] = frame["net_spend"].astype("float64")
    frame["is_buyer"] = frame["order_days"].fillna(0) > 0  # as build_features sets it
    return frame if events else frame.drop(columns="days_since_last_event")


# -- value_concentration: Gini -----------------------------------------------------------------

def test_gini_of_one_customer_holding_everything_is_the_population_gini():
    conc = profile.value_concentration([0, 0, 0, 10])
    # ascending x = 0,0,0,10; weights 2i−n−1 = −3,−1,1,3 → 3·10 / (4·10) = 0.75.
    # Population Gini: its maximum is (n−1)/n = 0.75; the sample Gini (× n/(n−1)) would be 1.
    assert conc["gini"] == pytest.approx(0.75)


def test_gini_of_equal_values_is_zero():
    # Σ(2i−n−1) = 0, so any constant vector gives exactly 0.
    assert profile.value_concentration([7.0] * 5)["gini"] == 0.0


def test_gini_of_one_to_four_equals_mean_absolute_difference_formula():
    # Σ_ij |xi−xj| = 2·(1+2+3+1+2+1) = 20; G = 20 / (2·n²·mean) = 20 / (2·16·2.5) = 0.25.
    # Sorted formula: (−3·1 −1·2 +1·3 +3·4) / (4·10) = 10/40 = 0.25.
    assert profile.value_concentration([3, 1, 4, 2])["gini"] == pytest.approx(0.25)


def test_negative_values_count_as_zero_and_nan_is_dropped():
    conc = profile.value_concentration(pd.Series([-5.0, 10.0, np.nan]))
    # → [0, 10]: n = 2, total = 10 (not 5), G = (−1·0 + 1·10) / (2·10) = 0.5.
    assert conc["n"] == 2 and conc["total"] == 10.0
    assert conc["gini"] == pytest.approx(0.5)


def test_no_positive_value_gives_nan_and_the_equality_line():
    conc = profile.value_concentration([0.0, -3.0])
    assert np.isnan(conc["gini"])
    assert all(np.isnan(v) for v in conc["top_shares"].values())
    assert conc["curve_x"] == [0.0, 1.0] and conc["curve_y"] == [0.0, 1.0]


# -- value_concentration: top shares -----------------------------------------------------------

def test_top_shares_of_ten_equal_customers():
    shares = profile.value_concentration([5.0] * 10)["top_shares"]
    # top k = ceil(s·n) customers: 1 % → ceil(0.1) = 1, 5 % → ceil(0.5) = 1, 20 % → 2.
    assert shares["0.01"] == pytest.approx(1 / 10)  # 1 customer of 10 equal ones
    assert shares["0.05"] == pytest.approx(1 / 10)
    assert shares["0.2"] == pytest.approx(2 / 10)


def test_top_shares_of_seven_customers_round_up_to_whole_customers():
    """With fewer than 100 buyers "top 1 %" is the single largest buyer (ceil(0.07) = 1),
    i.e. 1/7 ≈ 14 % of the buyers, and top 1 % = top 5 %."""
    shares = profile.value_concentration([2, 70, 5, 10, 5, 3, 5])["top_shares"]
    # total 100; sorted desc 70, 10, 5, 5, 5, 3, 2.
    assert shares["0.01"] == pytest.approx(0.70)  # ceil(0.01·7) = 1 → 70/100
    assert shares["0.05"] == pytest.approx(0.70)  # ceil(0.05·7) = 1 → 70/100
    assert shares["0.2"] == pytest.approx(0.80)  # ceil(0.20·7) = 2 → (70+10)/100


def test_top_share_with_ties_at_the_cut_counts_one_of_the_tied():
    shares = profile.value_concentration([1, 10, 1, 10, 10])["top_shares"]
    # total 32; top 20 % = ceil(1.0) = 1 customer: one of the three 10s → 10/32
    assert shares["0.2"] == pytest.approx(10 / 32)


def test_top_shares_at_exact_multiples_take_exactly_that_many_customers():
    values = np.arange(1, 101, dtype=float)  # 1 … 100, total 5050
    shares = profile.value_concentration(values)["top_shares"]
    assert shares["0.01"] == pytest.approx(100 / 5050)  # top 1 customer
    assert shares["0.05"] == pytest.approx(sum(range(96, 101)) / 5050)  # top 5: 490
    assert shares["0.2"] == pytest.approx(sum(range(81, 101)) / 5050)  # top 20: 1810


# -- value_concentration: Pareto curve ---------------------------------------------------------

def test_pareto_curve_of_four_customers():
    conc = profile.value_concentration([1, 2, 3, 4])
    # desc 4, 3, 2, 1 of 10 → cumulative shares .4, .7, .9, 1 at 1/4 … 4/4 of customers.
    assert conc["curve_x"] == pytest.approx([0, 0.25, 0.5, 0.75, 1.0])
    assert conc["curve_y"] == pytest.approx([0, 0.4, 0.7, 0.9, 1.0])


def test_pareto_curve_of_many_customers_is_thinned_but_keeps_its_end_points():
    conc = profile.value_concentration(np.arange(1, 1001, dtype=float))
    # at most 400 points + the origin; first point = the largest customer: 1000/500500.
    assert len(conc["curve_x"]) == len(conc["curve_y"]) == 401
    assert conc["curve_x"][:2] == pytest.approx([0.0, 1 / 1000])
    assert conc["curve_y"][:2] == pytest.approx([0.0, 1000 / 500500])
    assert conc["curve_x"][-1] == 1.0 and conc["curve_y"][-1] == pytest.approx(1.0)
    assert np.all(np.diff(conc["curve_y"]) >= 0)


def test_concentration_section_counts_buyers_only():
    feats = base_frame([
        ["a", None, 1, 5, None, 90.0],
        ["b", None, 2, 5, None, 10.0],
        ["p", None, 0, None, None, 0.0],  # a prospect: not one of the "buyers"
    ])
    data = profile.concentration_section(feats).data
    # buyers 90, 10: n = 2, G = (−1·10 + 1·90)/(2·100) = 0.4; top 20 % = ceil(0.4) = 1 → 0.9
    assert data["n"] == 2
    assert data["gini"] == pytest.approx(0.4)
    assert data["top_shares"]["0.2"] == pytest.approx(0.9)


# -- customer base and monthly buyers ----------------------------------------------------------

@pytest.fixture
def base():
    return base_frame([
        # id, channel, order_days, days_since_last_order, days_since_last_event, net_spend
        ["p1", None, 0, None, 10, 0.0],     # prospect, event 10 days ago: alive
        ["p2", None, None, None, None, 0.0],  # prospect, nothing: zombie
        ["b1", None, 1, 30, None, 10.0],    # buyer, active
        ["b2", None, 3, 200, 5, 30.0],      # repeat buyer, inactive, event 5 days ago: alive
        ["b3", None, 2, 90, None, 20.0],    # repeat buyer, 90 days = not in the last 90: zombie
    ])


def test_customer_base_counts(base):
    got = profile.customer_base(base)
    assert got["known"] == 5
    assert got["prospects"] == 2  # p1, p2 (missing order_days counts as 0)
    assert got["buyers"] == 3  # b1, b2, b3
    assert got["repeat"] == 2  # b2, b3 (order_days ≥ 2)
    assert got["active"] == 1  # b1 only: 90 days since the last order is outside "< 90"
    assert got["zombie"] == pytest.approx(2 / 5)  # p2, b3
    assert got["days"] == 90


def test_customer_base_without_events_calls_every_inactive_customer_a_zombie(base):
    got = profile.customer_base(base.drop(columns="days_since_last_event"))
    assert got["zombie"] == pytest.approx(4 / 5)  # all but b1


def test_customer_base_active_window_is_a_parameter(base):
    got = profile.customer_base(base, active_days=91)
    assert got["active"] == 2  # b1 (30) and b3 (90 < 91)
    assert got["zombie"] == pytest.approx(1 / 5)  # p2 only


def test_customer_base_of_a_built_feature_table():
    orders = orders_frame([
        ["a", "2025-01-01 10:00", 10.0, False],
        ["a", "2025-06-01 10:00", 10.0, False],  # 29 days before as_of: active
        ["b", "2025-01-10 10:00", 10.0, False],  # 171 days before as_of
        ["e", "2025-03-01 10:00", 10.0, False],  # 121 days before as_of, no events
    ])
    events = pd.DataFrame({
        "customer_id": ["b", "d"],
        "event_time": pd.to_datetime(["2025-06-20", "2025-01-01"]),
        "event_type": ["visit", "visit"],
    })
    feats = build_features({"orders": orders, "events": events}, "2025-06-30")
    got = profile.customer_base(feats)
    # known a, b, d, e; d is a prospect (events only); a has 2 order days
    assert (got["known"], got["prospects"], got["buyers"], got["repeat"]) == (4, 1, 3, 1)
    assert got["active"] == 1  # a
    assert got["zombie"] == pytest.approx(2 / 4)  # d (event 180 days ago), e (order 121 ago)


def test_monthly_buyers():
    months = months_frame([
        ["a", "2025-01-01", 2, 30.0],
        ["a", "2025-02-01", 1, 10.0],
        ["b", "2025-02-01", 1, 5.0],
        ["c", "2025-01-01", 0, -20.0],  # only a refund in January: not a buyer yet
        ["c", "2025-03-01", 1, 7.0],
        ["d", "2025-04-01", 0, -5.0],   # a month with refunds only
    ])
    got = profile.monthly_buyers(months)
    assert list(got["month"]) == [MONTH("2025-01-01"), MONTH("2025-02-01"),
                                  MONTH("2025-03-01"), MONTH("2025-04-01")]
    assert list(got["new_buyers"]) == [1, 1, 1, 0]  # a; b; c (first buying month Mar); –
    assert list(got["active_buyers"]) == [1, 2, 1, 0]  # a; a, b; c; –
    assert list(got["net_revenue"]) == pytest.approx([10.0, 15.0, 7.0, -5.0])  # 30−20; 10+5


# -- order-level aggregates (aggregates.customer_months, order_time_counts) ----------------------

def test_customer_months_counts_purchases_and_nets_refunds_up_to_as_of():
    orders = orders_frame([
        ["a", "2025-01-05 10:00", 10.0, False],
        ["a", "2025-01-20 11:00", 20.0, False],
        ["a", "2025-02-03 09:00", -5.0, True],   # refund only in February
        ["b", "2025-02-28 23:59", 7.0, False],   # last minute of as_of: included
        ["b", "2025-03-01 00:00", 99.0, False],  # the day after as_of: ignored
    ])
    got = aggregates.customer_months(orders, "2025-02-28")
    assert list(got["customer"]) == [0, 0, 1]  # customers numbered in customer_id order
    assert got["customer"].dtype == "int32"
    assert list(got["month"]) == [MONTH("2025-01-01"), MONTH("2025-02-01"), MONTH("2025-02-01")]
    assert list(got["orders"]) == [2, 0, 1]
    assert list(got["net_spend"]) == pytest.approx([30.0, -5.0, 7.0])


def test_numbered_customer_months_give_what_text_ids_give():
    """customer_months numbers the customers instead of repeating their ids: the new buyers,
    active buyers, revenue and cohorts are those of the same months keyed by customer_id
    (one order; one day; refunds only; a refund-only first month)."""
    cases = {
        "several": [["b", "2025-01-05 10:00", 10.0, False], ["a", "2025-01-20 11:00", 20.0, False],
                    ["a", "2025-03-03 09:00", -5.0, True], ["c", "2025-02-28 23:59", 7.0, False],
                    ["c", "2025-01-02 08:00", -3.0, True], ["b", "2025-04-01 00:00", 4.0, False]],
        "one_row": [["only", "2025-04-10 12:00", 9.5, False]],
        "one_day": [["x", "2025-04-10 09:00", 1.0, False], ["y", "2025-04-10 18:00", 2.0, False]],
        "all_refunds": [["r", "2025-02-10 12:00", -9.5, True], ["s", "2025-04-10 12:00", -1.0, True]],
    }
    for name, rows in cases.items():
        orders = orders_frame(rows)
        numbered = aggregates.customer_months(orders, "2025-04-30")
        ids = np.sort(orders["customer_id"].unique())
        by_id = numbered.rename(columns={"customer": "customer_id"}).assign(
            customer_id=lambda f, ids=ids: ids[f["customer_id"].to_numpy()])
        pd.testing.assert_frame_equal(profile.monthly_buyers(numbered),
                                      profile.monthly_buyers(by_id), obj=name)
        pd.testing.assert_frame_equal(profile.cohort_retention(numbered, dt.date(2025, 4, 30)),
                                      profile.cohort_retention(by_id, dt.date(2025, 4, 30)),
                                      obj=name)
    assert profile.cohort_retention(aggregates.customer_months(
        orders_frame(cases["all_refunds"]), "2025-04-30"), dt.date(2025, 4, 30)).empty


def test_order_time_counts_by_weekday_and_hour():
    orders = orders_frame([
        ["a", "2025-01-06 10:15", 10.0, False],  # Monday → weekday 0
        ["b", "2025-01-06 10:45", 10.0, False],  # Monday 10h again
        ["b", "2025-01-06 10:50", -10.0, True],  # refund: not a purchase
        ["c", "2025-01-12 23:30", 10.0, False],  # Sunday → weekday 6
        ["c", "2025-01-13 09:00", 10.0, False],  # after as_of
    ])
    got = aggregates.order_time_counts(orders, "2025-01-12")
    assert got[["weekday", "hour", "orders"]].values.tolist() == [[0, 10, 2], [6, 23, 1]]


def test_order_time_section_reports_the_peak():
    counts = pd.DataFrame({"weekday": [0, 6, 6], "hour": [10, 23, 9], "orders": [2, 5, 1]})
    data = profile.order_time_section(counts).data
    assert (data["peak_weekday"], data["peak_hour"]) == (6, 23)
    assert data["orders_by_hour"] == {9: 1, 10: 2, 23: 5}


# -- cohort retention --------------------------------------------------------------------------

@pytest.fixture
def cohort_months():
    return months_frame([
        ["a", "2025-01-01", 1, 10.0],
        ["a", "2025-02-01", 1, 10.0],
        ["a", "2025-04-01", 2, 20.0],
        ["b", "2025-01-01", 1, 10.0],
        ["b", "2025-03-01", 1, 10.0],
        ["c", "2025-02-01", 1, 10.0],
        ["c", "2025-03-01", 1, 10.0],
        ["d", "2025-01-01", 0, -10.0],  # refund only: d's cohort is March, not January
        ["d", "2025-03-01", 1, 10.0],
    ])


def test_cohort_retention_at_a_month_end(cohort_months):
    got = profile.cohort_retention(cohort_months, dt.date(2025, 4, 30), max_months=4)
    # as_of is the last day of April: April is complete.
    assert list(got.index) == ["2025-01", "2025-02", "2025-03"]
    assert list(got["size"]) == [2, 1, 1]  # {a, b}, {c}, {d}
    nan = np.nan
    expected = [
        [1.0, 0.5, 0.5, 0.5, nan],  # Jan: a in Feb, b in Mar, a in Apr; May not lived
        [1.0, 1.0, 0.0, nan, nan],  # Feb: c in Mar, nobody in Apr
        [1.0, 0.0, nan, nan, nan],  # Mar: d not in Apr
    ]
    np.testing.assert_allclose(got[list(range(5))].to_numpy(dtype=float), expected)


def test_cohort_retention_counts_a_customer_once_per_month_and_skips_empty_cohorts(
        cohort_months):
    """Months keyed by text id may repeat a customer's month (several rows): a customer is
    counted once per cohort cell. A month in which nobody first bought is no cohort row, and
    the months after it still line up (k counted in calendar months)."""
    repeated = pd.concat([cohort_months, cohort_months.iloc[[0, 3]]], ignore_index=True)
    pd.testing.assert_frame_equal(
        profile.cohort_retention(repeated, dt.date(2025, 4, 30), max_months=4),
        profile.cohort_retention(cohort_months, dt.date(2025, 4, 30), max_months=4))
    gap = months_frame([["a", "2024-11-01", 1, 1.0], ["a", "2025-02-01", 1, 1.0],
                        ["b", "2025-01-01", 1, 1.0], ["b", "2025-03-01", 2, 1.0]])
    got = profile.cohort_retention(gap, dt.date(2025, 3, 31), max_months=4)
    assert list(got.index) == ["2024-11", "2025-01"]  # no December cohort
    nan = np.nan
    np.testing.assert_allclose(got[list(range(5))].to_numpy(dtype=float), [
        [1.0, 0.0, 0.0, 1.0, 0.0],  # a: Nov, then Feb = k 3; Mar complete = k 4
        [1.0, 0.0, 1.0, nan, nan],  # b: Jan, then Mar = k 2
    ])


def test_cohort_retention_mid_month_leaves_the_current_month_out(cohort_months):
    got = profile.cohort_retention(cohort_months, dt.date(2025, 4, 15), max_months=4)
    # April is not finished: the last complete month is March.
    nan = np.nan
    expected = [
        [1.0, 0.5, 0.5, nan, nan],  # a's April order is not counted yet
        [1.0, 1.0, nan, nan, nan],
        [1.0, nan, nan, nan, nan],
    ]
    np.testing.assert_allclose(got[list(range(5))].to_numpy(dtype=float), expected)


def test_cohort_section_weights_cohorts_by_size(cohort_months):
    data = profile.cohort_section(cohort_months, dt.date(2025, 4, 30), max_months=4).data
    got = data["mean_retention_by_month"]
    assert sorted(got) == [0, 1, 2, 3]  # k = 4 is NaN in every cohort: left out
    assert got[1] == pytest.approx((2 * 0.5 + 1 * 1.0 + 1 * 0.0) / 4)  # = 0.5
    assert got[2] == pytest.approx((2 * 0.5 + 1 * 0.0) / 3)  # Mar cohort not lived k=2
    assert got[3] == pytest.approx(0.5)  # Jan cohort only


# -- repurchase curve --------------------------------------------------------------------------

@pytest.fixture
def repeat_orders():
    # as_of 2025-06-30, window 90 days → eligible order days are on or before 2025-04-01.
    return orders_frame([
        ["a", "2025-01-01 10:00", 10.0, False],
        ["a", "2025-01-01 18:00", 10.0, False],  # same day: one order day
        ["a", "2025-01-10 10:00", 10.0, False],  # 9 days later
        ["a", "2025-05-01 10:00", 10.0, False],  # 111 days later; not eligible itself
        ["b", "2025-01-01 10:00", 10.0, False],
        ["b", "2025-04-01 10:00", 10.0, False],  # exactly 90 days later: counts
        ["c", "2025-03-01 10:00", 10.0, False],
        ["c", "2025-03-20 10:00", -10.0, True],  # a refund is not a repurchase
        ["d", "2025-04-01 10:00", 10.0, False],  # the last eligible day
        ["d", "2025-04-02 10:00", 10.0, False],
        ["e", "2025-05-01 10:00", 10.0, False],  # less than 90 days observed: not counted
    ])


def test_repeat_order_curve(repeat_orders):
    got = aggregates.repeat_order_curve(repeat_orders, "2025-06-30")
    # k=1: a (01-01 → 01-10, yes), b (01-01 → 04-01, 90 days, yes), c (no), d (04-01 → 04-02)
    # k=2: a (01-10 → 05-01 is 111 days, no), b (04-01, nothing after, no)
    assert got["order_days"].tolist() == [1, 2]
    assert got["eligible"].tolist() == [4, 2]
    assert got["repeated"].tolist() == [3, 0]
    assert got["p_repeat"].tolist() == pytest.approx([0.75, 0.0])


def test_repeat_order_curve_caps_order_days(repeat_orders):
    got = aggregates.repeat_order_curve(repeat_orders, "2025-06-30", max_order_days=1)
    # every eligible order day in one "1+" bucket: 4 + 2 eligible, 3 + 0 repeated
    assert got[["order_days", "eligible", "repeated"]].values.tolist() == [[1, 6, 3]]


def curve(eligible, repeated):
    """A repeat_order_curve result by hand."""
    frame = pd.DataFrame({"order_days": range(1, len(eligible) + 1), "eligible": eligible,
                          "repeated": repeated})
    frame["p_repeat"] = frame["repeated"] / frame["eligible"]
    return frame


# p = .2, .3, .5, .6 for k = 1 … 4 (k = 5 has only 19 customers and is dropped)
HAND_CURVE = curve([100, 50, 40, 20, 19], [20, 15, 20, 12, 19])


def test_repurchase_section_numbers():
    section = profile.repurchase_section(HAND_CURVE)
    assert section.data["p_repeat"] == pytest.approx({1: 0.2, 2: 0.3, 3: 0.5, 4: 0.6})
    assert section.data["lift_after_first_repurchase"] == pytest.approx(0.5)  # .3/.2 − 1
    assert "(+50% relative)" in section.text
    assert "agrees with the seeds' claim" in section.text  # +50 % ≥ +30 %
    assert "From 4 orders on, 60%+ come back" in section.text  # first k with p ≥ .6


def test_repurchase_section_magic_number_is_the_order_count_where_the_chance_jumps():
    section = profile.repurchase_section(HAND_CURVE)
    # jumps p(k) − p(k−1): k=2 +.1, k=3 +.2, k=4 +.1 → the chance jumps after the 3rd order
    # (p(3) = 50 % vs p(2) = 30 %), in the text's own convention "after the second {p2}".
    assert "The biggest jump comes after order 3 (+20%)" in section.text


def test_repurchase_section_needs_two_rows_of_twenty():
    section = profile.repurchase_section(curve([100, 19], [20, 10]))
    assert section.text == "" and section.data == {}


# -- acquisition channels ----------------------------------------------------------------------

@pytest.fixture
def channels():
    return base_frame([
        # id, channel, order_days, days_since_last_order, days_since_last_event, net_spend
        ["c1", "app", 2, 10, None, 100.0],
        ["c2", "app", 1, 89, None, 50.0],
        ["c3", "app", 1, 90, None, 30.0],    # 90 days: not active
        ["c4", "app", 0, None, None, 0.0],   # prospect
        ["c5", "web", 1, 5, None, 20.0],
        ["c6", "web", 0, None, None, 0.0],
        ["c7", None, 3, 1, None, 60.0],      # no channel → "unknown"
    ])


def test_channel_quality(channels):
    got = profile.channel_quality(channels)
    assert got["channel"].iloc[0] == "app"  # most retained users first
    q = got.set_index("channel")
    assert sorted(q.index) == ["app", "unknown", "web"]
    app = q.loc["app"]
    assert (app.users, app.buyers, app.active, app.revenue) == (4, 3, 2, 180.0)
    assert app.conversion == pytest.approx(3 / 4)
    assert app.retention == pytest.approx(2 / 4)
    assert app.retained_users == pytest.approx(2.0)  # 4 users × 50 %
    assert app.revenue_per_user == pytest.approx(45.0)  # 180 / 4
    web = q.loc["web"]
    assert (web.users, web.buyers, web.active) == (2, 1, 1)
    assert web.retained_users == pytest.approx(1.0)  # 2 × 50 %
    assert q.loc["unknown", "retained_users"] == pytest.approx(1.0)  # 1 × 100 %


def test_channel_section_total_retained_users(channels):
    section = profile.channel_section(channels)
    # Σ users × retention = 4·.5 + 2·.5 + 1·1 = 4 (= the active customers)
    assert "Σ users × retention = 4." in section.text


def test_channel_quality_without_channels_is_empty(channels):
    assert profile.channel_quality(channels.drop(columns="acquisition_channel")).empty


# -- attributes: age bands and the high-value flag ---------------------------------------------

def test_age_band_boundaries():
    ages = pd.Series([18, 24, 25, 34, 35, 44, 45, 54, 55, 99], dtype="Int64")
    expected = ["18-24", "18-24", "25-34", "25-34", "35-44", "35-44", "45-54", "45-54",
                "55+", "55+"]
    assert profile.age_band(ages).tolist() == expected


def test_age_band_edges_and_missing():
    got = profile.age_band(pd.Series([0, 17, 200, 201, -1, None], dtype="Int64"))
    # the first band is 0–24 although labelled "18-24"; the last ends at 200
    assert got.iloc[:3].tolist() == ["18-24", "18-24", "55+"]
    assert got.iloc[3:].isna().all()


def hv_frame(spend, prospects=0):
    n = len(spend) + prospects
    return pd.DataFrame({
        "customer_id": [f"c{i}" for i in range(n)],
        "order_days": pd.array([1] * len(spend) + [0] * prospects, dtype="Int64"),
        "net_spend": [float(s) for s in spend] + [0.0] * prospects,
        "is_buyer": [True] * len(spend) + [False] * prospects,
    })


def test_high_value_flag_takes_the_top_fifth_of_buyers():
    got = profile.high_value_flag(hv_frame([10, 20, 30, 40, 50], prospects=3))
    # cut = 80th percentile of the 5 buyers = 40 + 0.2·(50 − 40) = 42 → only 50
    assert got.tolist() == [False, False, False, False, True, False, False, False]


def test_high_value_flag_includes_ties_at_the_cut():
    got = profile.high_value_flag(hv_frame([10, 20, 50, 50, 50]))
    # cut = 80th percentile = 50 → all three 50s (60 % of buyers)
    assert got.tolist() == [False, False, True, True, True]


def test_high_value_flag_top_share_is_a_parameter():
    got = profile.high_value_flag(hv_frame(range(1, 11)), top_share=0.5)
    # cut = median of 1 … 10 = 5.5 → 6 … 10
    assert got.tolist() == [False] * 5 + [True] * 5


def test_high_value_flag_without_buyers_is_all_false():
    assert not profile.high_value_flag(hv_frame([], prospects=2)).any()


# -- one report, one language, short --------------------------------------------------------

@pytest.fixture
def attribute_frame():
    rng = np.random.default_rng(3)
    n = 200
    frame = pd.DataFrame({
        "customer_id": [f"c{i}" for i in range(n)],
        "is_buyer": True,
        "net_spend": rng.gamma(2.0, 100.0, n),
        "gender": rng.choice(["M", "F", None], n),
        "age": rng.integers(18, 70, n).astype("float64"),
        "city_tier": rng.choice([1, 2, 3], n),
        "acquisition_channel": rng.choice(["organic", "douyin", "kol"], n),
    })
    return frame


def test_attributes_are_one_faceted_figure_not_a_chart_each(attribute_frame):
    section = profile.attributes_section(attribute_frame, "zh")
    assert len(section.figures) == 1
    fig = section.figures[0]
    facets = [a.text for a in fig.layout.annotations]
    assert facets == ["性别", "年龄段", "城市等级", "获客渠道"]
    assert [tr.name for tr in fig.data if tr.showlegend] == ["高价值（前20%）", "其他成交客户"]
    assert not section.title.endswith("…") and fig.layout.title.text != section.title
    # a missing gender is "未知" in Chinese, never the code "unknown"
    assert "未知" in fig.data[0].x and "unknown" not in str(fig.to_dict())
    # a dashboard view of one attribute is one chart titled by it
    one = profile.attributes_section(attribute_frame, "zh", attributes=("gender",)).figures[0]
    assert one.layout.title.text == "高价值客户画像：性别"


def test_data_quality_names_tables_in_the_runs_language():
    summary = {"tables": {"orders": {"rows_read": 3, "rows_kept": 2, "rows_rejected": 1},
                          "touches": {"rows_read": 1, "rows_kept": 1, "rows_rejected": 0}}}
    table = profile.data_quality_section(summary, "zh").tables[0]
    assert table["数据表"].tolist() == ["订单", "触达记录"]


def test_a_figure_does_not_repeat_the_heading_above_it(channels):
    from custops.sections import untitled_below

    section = profile.channel_section(channels, "zh")
    fig = section.figures[0]
    assert fig.layout.title.text == section.title  # alone on a dashboard it keeps its title
    assert untitled_below(fig, section.title).layout.title.text is None
    assert fig.layout.title.text == section.title  # the section's own figure is unchanged
    other = untitled_below(fig, "another heading")
    assert other.layout.title.text == section.title


def _page_sections(ctx, lang):
    """The eight numbered sections of 01 as its page draws them in ``lang``."""
    feats, orders = ctx.get("features"), ctx.table_source("orders")
    months = aggregates.customer_months(orders, ctx.as_of)
    return {
        "quality": profile.data_quality_section(ctx.quality(), lang),
        "base": profile.customer_base_section(feats, months, lang),
        "concentration": profile.concentration_section(feats, lang),
        "attributes": profile.attributes_section(feats, lang),
        "timing": profile.order_time_section(aggregates.order_time_counts(orders, ctx.as_of),
                                             lang),
        "cohorts": profile.cohort_section(months, ctx.as_of, lang),
        "repurchase": profile.repurchase_section(
            aggregates.repeat_order_curve(orders, ctx.as_of), lang),
        "channels": profile.channel_section(feats, lang),
    }


@pytest.mark.parametrize("shape", ["sample", "one_row"])
def test_the_profile_summary_is_computed_without_drawing_a_page(shape, tmp_path, monkeypatch):
    """``profile_numbers`` gives the numbers the Chinese (and English) page shows, without
    building a figure or a word: the summary need not draw 01 again in some language."""
    import json
    from pathlib import Path

    from custops.run import context
    from test_degenerate import CASES, _write

    sample = Path(__file__).resolve().parents[1] / "data" / "sample"
    folder = sample if shape == "sample" else _write(tmp_path / shape, *CASES[shape]())
    ctx = context.open_run(data_dir=str(folder), lang="zh")
    feats, orders = ctx.get("features"), ctx.table_source("orders")
    inputs = (ctx.quality(), feats, aggregates.customer_months(orders, ctx.as_of),
              aggregates.order_time_counts(orders, ctx.as_of),
              aggregates.repeat_order_curve(orders, ctx.as_of), ctx.as_of)

    def as_json(value):
        return json.dumps(value, sort_keys=True, default=str)

    pages = {lang: as_json(profile.profile_summary(
        ctx.as_of, {name: s.data for name, s in _page_sections(ctx, lang).items()}))
             for lang in ("zh", "en")}
    assert pages["zh"] == pages["en"]

    class NoDrawing:
        def __getattr__(self, name):
            raise AssertionError(f"profile_numbers drew something: plots.{name}")

    def no_words(*args, **kwargs):
        raise AssertionError(f"profile_numbers said something: t{args}")

    monkeypatch.setattr(profile, "plots", NoDrawing())
    monkeypatch.setattr(profile, "t", no_words)
    assert as_json(profile.profile_numbers(*inputs)) == pages["zh"]


def test_data_quality_says_why_rows_were_rejected_in_the_runs_language():
    from latin_words import latin_words

    reasons = {"missing customer_id": 5, "unparseable order_time": 4,
               "order_time after as_of": 3, "duplicate order_id": 2, "wrong number of fields": 1}
    summary = {"tables": {"orders": {"rows_read": 30, "rows_kept": 15, "rows_rejected": 15,
                                     "rejected_by_reason": reasons}}}
    zh = profile.data_quality_section(summary, "zh").text
    assert "缺少客户ID 5 行" in zh and "下单时间无法解析 4 行" in zh and "下单时间晚于截止日期 3 行" in zh
    assert latin_words(zh) == [], zh
    en = profile.data_quality_section(summary, "en").text
    assert ": missing customer_id 5, unparseable order_time 4, order_time after as_of 3." in en
    from custops.labels import reject_reason_words

    assert reject_reason_words("duplicate order_id", "zh") == "订单号重复"
    assert reject_reason_words("wrong number of fields", "zh") == "字段数与表头不符"
    assert reject_reason_words("something new", "zh") == "something new"  # shown as it is


def test_the_profile_summary_takes_the_numbers_the_page_drew(tmp_path, monkeypatch):
    """01 shows its sections with ``keep=``: ``profile_summary`` is then made from the page's
    own numbers, not computed again (77 s at 10M customers), and is the artifact
    ``profile_numbers`` gives. A page that did not draw every section (a notebook cut short,
    or run cell by cell) gets the summary computed."""
    import json
    from pathlib import Path

    from custops.run import catalog, context

    sample = Path(__file__).resolve().parents[1] / "data" / "sample"
    computed = context.open_run(data_dir=str(sample)).get("profile_summary")
    ctx = context.open_run(data_dir=str(sample), lang="zh")
    sections = _page_sections(ctx, "zh")
    for name in profile.SUMMARY_SECTIONS[:-1]:
        ctx.show(lambda name=name: sections[name], keep=name)
    assert ctx.drawn_numbers(profile.SUMMARY_SECTIONS) is None  # channels not drawn yet
    ctx.show(lambda: sections["channels"], keep="channels")

    def never(*args, **kwargs):
        raise AssertionError("the page's numbers were computed again")

    monkeypatch.setattr(profile, "profile_numbers", never)
    drawn = ctx.get("profile_summary")
    assert json.dumps(drawn, sort_keys=True, default=str) == json.dumps(
        computed, sort_keys=True, default=str)
    assert list(drawn) == ["as_of", *profile.SUMMARY_SECTIONS]  # the artifact's order
    monkeypatch.undo()
    partial = context.open_run(data_dir=str(sample))
    partial.show(lambda: sections["quality"], keep="quality")
    assert json.dumps(catalog.artifact_node("profile_summary").run(partial)["profile_summary"],
                      sort_keys=True, default=str) == json.dumps(computed, sort_keys=True,
                                                                 default=str)


def test_attribute_shares_are_pandas_value_counts_with_its_order_of_ties():
    """The attribute profiles count values by integer codes: the shares and their order
    (largest first, equal shares in the order the values first appear) are those of
    ``value_counts(normalize=True)`` over the values with a gap counted as "unknown" — on
    hundreds of values with ties, a literal "unknown" beside gaps, numbers and labels."""
    rng = np.random.default_rng(7)
    n = 4000
    frame = pd.DataFrame({
        "is_buyer": rng.random(n) < 0.8, "net_spend": rng.integers(0, 5, n).astype(float),
        "city": pd.Series(rng.choice([f"c{i}" for i in range(300)] + [None, "unknown"], n),
                          dtype="str"),
        "gender": pd.Series(rng.choice(["f", "m", None], n), dtype="object"),
        "city_tier": rng.integers(1, 6, n),
        "age": pd.Series(rng.choice([20, 30, 45, None], n), dtype="Int32")})
    high = profile.high_value_flag(frame)
    buyers = frame["is_buyer"]
    for attribute in ("city", "gender", "city_tier", "age_band"):
        column = (profile.age_band(frame["age"]) if attribute == "age_band"
                  else frame[attribute]).astype("object")
        column = column.where(column.notna(), "unknown")
        got = profile._attribute_profile(frame, attribute, high, top_n=1000)
        expected = column[buyers & high].value_counts(normalize=True)
        shares = got.set_index("value")["share_high"]
        assert shares[shares > 0].to_dict() == expected.to_dict(), attribute
        if attribute not in ("age_band", "city_tier"):  # these two are sorted by value
            assert list(shares[shares > 0].index) == list(expected.index), attribute
