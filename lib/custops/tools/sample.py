"""Synthetic retail/app data with known ground truth, for notebooks, tests, dashboards and benches.

:func:`generate_sample` simulates a plausible Chinese retail/app business — customers, orders,
events and two past campaigns — from a latent buy-till-you-die process whose parameters are kept
as *truth*, so that models (P(alive), expected orders and spend, uplift) can be graded against
what really happened after the snapshot date.

The process, per customer
-------------------------
* **Signup** spread over the history window (a share before it), denser towards the end.
* **First purchase** after signup with a personal hazard ("ready" buyers within days, browsers
  rarely); customers without a purchase by ``as_of`` are prospects in the data.
* **Repeat purchases** follow a Poisson process with a personal rate λ (Gamma heterogeneity,
  shifted by acquisition channel, city tier and occupation) in *shopping time*: calendar time
  stretched by weekend, 618 and Double 11 peaks. After each purchase the customer drops out
  with a personal probability p (Beta heterogeneity) — the BG/NBD story. A competitor launch
  (the churn wave) takes extra customers during two months; a forward simulation continues the
  same process beyond ``as_of`` for the truth.
* **Spend** per order is Gamma-Gamma-like (a personal mean, Gamma noise) and depends on the
  category; ~3 % of purchases are refunded in a separate negative row.
* **Campaigns**: randomized treatment/control; treated customers' orders really change
  (persuadables buy more, sleeping dogs drop out), with the true effect depending on features
  a marketer can observe at send time.

Everything is vectorized NumPy and fully determined by ``seed``. All knobs live in
:class:`SampleParameters`.
"""

from __future__ import annotations

import dataclasses
import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq

from custops.errors import ParameterError
from custops.io.contract import CATEGORIES, EVENT_TYPES, ORDER_CHANNELS

__all__ = [
    "CITIES",
    "GENDERS",
    "HABITS",
    "OCCUPATIONS",
    "TOUCH_CHANNELS",
    "TRUE_SEGMENTS",
    "AcquisitionChannelProfile",
    "CampaignSpec",
    "SampleData",
    "SampleParameters",
    "cli_sample",
    "generate_sample",
    "write_sample",
]

_SECONDS_PER_DAY = 86_400

# Vocabularies of the data contract (docs/data.md).
TOUCH_CHANNELS = ("push", "sms", "wecom", "email", "phone")
GENDERS = ("F", "M", None)
OCCUPATIONS = (
    "office_worker", "student", "freelancer", "civil_servant", "retired", "self_employed", "other",
)
HABITS = ("lunch", "evening", "morning", "anytime")
TRUE_SEGMENTS = ("other", "persuadable", "sure_thing", "sleeping_dog")

#: (city, province, tier): tier 1 = 一线, 2 = 新一线, 3 = 二线, 4 = 三线, 5 = 四线 and below.
CITIES: tuple[tuple[str, str, int], ...] = (
    ("北京", "北京", 1), ("上海", "上海", 1), ("广州", "广东", 1), ("深圳", "广东", 1),
    ("杭州", "浙江", 2), ("成都", "四川", 2), ("武汉", "湖北", 2), ("南京", "江苏", 2),
    ("重庆", "重庆", 2), ("西安", "陕西", 2), ("苏州", "江苏", 2), ("长沙", "湖南", 2),
    ("厦门", "福建", 3), ("济南", "山东", 3), ("昆明", "云南", 3), ("温州", "浙江", 3),
    ("南宁", "广西", 3),
    ("洛阳", "河南", 4), ("赣州", "江西", 4), ("宜昌", "湖北", 4), ("绵阳", "四川", 4),
    ("邵阳", "湖南", 5), ("六安", "安徽", 5),
)


@dataclass(frozen=True)
class AcquisitionChannelProfile:
    """How customers acquired through one channel behave (channel quality).

    Attributes
    ----------
    share : float
        Share of new customers from this channel (shares are normalized).
    ready_buyer_share : float
        Share who make a first purchase within days of signup; the rest are browsers.
    purchase_rate_multiplier : float
        Multiplies the personal purchase rate λ.
    dropout_multiplier : float
        Multiplies the personal dropout probability p (higher = shorter lives).
    wave_churn_prob : float
        Probability that a customer alive during the churn wave leaves for the competitor.
    """

    share: float
    ready_buyer_share: float
    purchase_rate_multiplier: float
    dropout_multiplier: float
    wave_churn_prob: float


@dataclass(frozen=True)
class CampaignSpec:
    """One past campaign: a randomized treatment/control send on one day.

    The campaign takes place on the last ``send_month_day`` whose conversion window ends by
    ``as_of`` (so any ``as_of`` works); it is left out if that day precedes the data window.

    Attributes
    ----------
    campaign_id : str
        Identifier written to ``touches.campaign_id``; ``{year}`` is replaced by the send year.
    send_month_day : str
        Send day as ``MM-DD``; sends start at ``send_hour`` and spread over
        ``send_spread_hours``.
    channels : tuple of str
        Channels in order of preference; a customer gets the first one they consented to and
        is eligible only with at least one consent.
    target_share : float
        Share of eligible customers (signed up at least a day before) put into the campaign.
    treatment_share : float
        Share of the targeted customers in the treatment group (the rest are the holdout).
    send_hour, send_spread_hours : float
        Sends happen between ``send_hour`` and ``send_hour + send_spread_hours`` (local time).
    """

    campaign_id: str
    send_month_day: str
    channels: tuple[str, ...]
    target_share: float = 0.8
    treatment_share: float = 0.5
    send_hour: float = 10.0
    send_spread_hours: float = 1.0


def _default_channels() -> dict[str, AcquisitionChannelProfile]:
    profile = AcquisitionChannelProfile
    return {
        "organic": profile(0.24, 0.80, 1.10, 0.80, 0.25),
        "wechat_referral": profile(0.14, 0.85, 1.20, 0.70, 0.18),
        "search_ads": profile(0.16, 0.70, 1.00, 1.00, 0.32),
        "douyin": profile(0.22, 0.55, 0.85, 1.40, 0.45),
        "kol": profile(0.10, 0.50, 0.85, 1.50, 0.48),
        "offline_store": profile(0.14, 0.75, 1.00, 0.90, 0.25),
    }


@dataclass(frozen=True)
class SampleParameters:
    """All knobs of the generator, with the defaults used for ``data/sample``.

    Rates are per day of *shopping time* (calendar days weighted by the seasonal intensity,
    whose mean over the simulated span is 1), so a rate of 0.03 is about one order a month.

    Attributes
    ----------
    signed_up_before_window_share : float
        Share of customers who signed up before the data window (their earlier orders are not
        in the extract, as in a real export).
    signup_before_window_max_days : int
        Those early signups are spread over this many days before the window.
    signup_growth : float
        Signup density grows linearly by this factor over the window (1 → 1 + growth).
    acquisition_channels : dict
        Name → :class:`AcquisitionChannelProfile` (channel quality).
    city_weights_by_tier : tuple of float
        Relative weight of a city of tier 1..5 when drawing a customer's city.
    tier_purchase_rate_multiplier, tier_spend_multiplier : tuple of float
        Multipliers of λ and of the mean spend for tiers 1..5.
    occupation_shares : dict
        Occupation → share of customers.
    occupation_purchase_rate_multiplier, occupation_spend_multiplier : dict
        Occupation → multiplier of λ / of the mean spend.
    occupation_age_range : dict
        Occupation → (youngest, oldest) age at ``as_of``; all within 18–65.
    gender_shares : tuple of float
        Shares of F, M and blank (not given).
    consent_rates : dict
        Touch channel → share of customers who consented.
    ready_buyer_first_purchase_mean_days : float
        Mean delay from signup to first purchase for ready buyers.
    browser_first_purchase_mean_days : float
        Mean delay for browsers of average engagement (divided by their engagement).
    engagement_sigma : float
        Log-sd of the personal engagement (mean 1) that drives visits and browsers' conversion.
    purchase_rate_mean_per_day, purchase_rate_shape : float
        Mean and Gamma shape r of the personal purchase rate λ before multipliers.
    dropout_beta_a, dropout_beta_b : float
        Beta(a, b) of the personal dropout probability p before the channel multiplier.
    dropout_min, dropout_max : float
        p is clipped to this range.
    mean_spend_per_order : float
        Population mean spend per order (CNY) before tier/occupation multipliers.
    spend_order_shape, spend_customer_shape : float
        Gamma-Gamma shapes: per-order Gamma shape (p) and the shape (q) of the customer-level
        Gamma rate ν; the customer's mean spend is ``spend_order_shape / ν``.
    category_price_factor : dict
        Category → relative price of an order (a customer's mean spend is preserved).
    category_weights_by_gender : dict
        Gender code (F, M, blank) → category weights (favourites and variety).
    favourite_category_prob, favourite_channel_prob : float
        Probability an order is in the customer's favourite category / channel.
    channel_weights : dict
        Order channel → weight (favourites and variety); offline-store customers favour store.
    quantity_extra_mean : dict
        Category → mean of the Poisson number of extra items (quantity = 1 + extra).
    min_amount, max_amount : float
        Order amounts are clipped to this range (CNY).
    weekend_multiplier : float
        Purchase intensity on Saturdays and Sundays relative to weekdays.
    shopping_festivals : tuple of (month, day, peak_multiplier, half_width_days)
        Intensity peaks: ×peak on the day, decaying by ``festival_decay`` per day off.
    festival_decay : float
        Multiplicative decay of a festival's extra intensity per day from its peak.
    churn_wave_start_days_before_as_of, churn_wave_length_days : int
        The competitor launch: customers alive then may leave (channel ``wave_churn_prob``).
    habit_shares_by_occupation : dict
        Occupation → shares of the time-of-day habits (lunch, evening, morning, anytime).
    habit_hour_mean, habit_hour_sd : dict
        Habit → mean and sd of the hour of day of activity.
    habit_adherence : float
        Probability an order or event follows the personal habit (else any time 08–24).
    refund_prob : float
        Probability a purchase is refunded (separate row, same order_id).
    refund_delay_days : tuple of float
        Refund arrives uniformly this many days after the purchase (only if before ``as_of``).
    partial_refund_share : float
        Share of refunds that return only part (30–80 %) of the amount.
    complaint_prob_per_order : float
        Base probability an order leads to a complaint (× personal proneness, mean 1).
    complaint_proneness_shape : float
        Gamma shape of the personal complaint proneness (small = a few heavy complainers).
    complaint_before_dropout_prob, complaint_before_wave_churn_prob : float
        Probability a customer who drops out (after their last order) / leaves in the wave
        complains first.
    visits_per_purchase_rate, alive_visit_floor_per_day : float
        While alive, browsing visits arrive at ``visits_per_purchase_rate × λ + floor``.
    visit_before_purchase_prob, cart_before_purchase_prob : float
        Probability a purchase is preceded by a visit / a cart add in the same session.
    abandoned_carts_per_purchase_rate : float
        While alive, cart adds without purchase arrive at this × λ.
    lapsed_visit_rate_per_day : float
        Visits after dropping out (lurkers).
    prospect_visit_rate_per_day, prospect_cart_rate_per_day : float
        Before the first purchase, visits / cart adds at this × engagement.
    warm_up_days, warm_up_visits_mean, warm_up_cart_prob : float
        In the ``warm_up_days`` before a first purchase (also one that comes after ``as_of``)
        a customer makes Poisson(``warm_up_visits_mean``) extra visits and, with
        ``warm_up_cart_prob``, a cart add — recent activity predicts a prospect's conversion.
    check_in_habit_share, check_in_rate_per_day : float
        Share of customers who check in (签到) habitually, and their rate while active.
    share_prob_per_order, review_prob_per_order : float
        Probability a purchase is shared / reviewed (review 1–7 days later).
    campaigns : tuple of CampaignSpec
        Past campaigns (run in send order; effects of earlier ones shape later ones).
    conversion_window_days : float
        A touch converts when the customer orders within this many days after ``sent_time``.
    persuadable_recency_days : tuple of float
        Persuadables: last order this many days before the send (exclusive, inclusive) ...
    persuadable_min_orders : int
        ... and at least this many orders in the data before the send.
    sure_thing_max_recency_days, sure_thing_min_orders : float, int
        Sure things: ordered within this many days and at least this often.
    sleeping_dog_min_complaints : int
        Sleeping dogs: at least this many complaints before the send ...
    sleeping_dog_dormant_days : float
        ... or no order for longer than this.
    extra_purchase_prob : dict
        True segment → probability a treated customer makes an extra (campaign-induced)
        purchase in the window; a dropped-out customer who does is won back.
    sleeping_dog_dropout_prob : float
        Probability a treated sleeping dog who is still alive drops out at the send.
    induced_purchase_mean_delay_days : float
        Mean delay of an induced purchase after the send.
    forward_days : int
        Days simulated beyond ``as_of`` for the truth (≥ 180).
    """

    signed_up_before_window_share: float = 0.12
    signup_before_window_max_days: int = 365
    signup_growth: float = 1.5
    acquisition_channels: dict[str, AcquisitionChannelProfile] = field(
        default_factory=_default_channels
    )
    city_weights_by_tier: tuple[float, ...] = (6.0, 3.5, 2.2, 1.4, 1.0)
    tier_purchase_rate_multiplier: tuple[float, ...] = (1.10, 1.05, 1.00, 0.92, 0.85)
    tier_spend_multiplier: tuple[float, ...] = (1.30, 1.10, 1.00, 0.85, 0.75)
    occupation_shares: dict[str, float] = field(default_factory=lambda: {
        "office_worker": 0.42, "student": 0.12, "freelancer": 0.09, "civil_servant": 0.07,
        "retired": 0.08, "self_employed": 0.13, "other": 0.09,
    })
    occupation_purchase_rate_multiplier: dict[str, float] = field(default_factory=lambda: {
        "office_worker": 1.10, "student": 0.90, "freelancer": 1.00, "civil_servant": 1.00,
        "retired": 0.90, "self_employed": 1.05, "other": 0.95,
    })
    occupation_spend_multiplier: dict[str, float] = field(default_factory=lambda: {
        "office_worker": 1.10, "student": 0.60, "freelancer": 1.00, "civil_servant": 1.10,
        "retired": 0.85, "self_employed": 1.25, "other": 0.90,
    })
    occupation_age_range: dict[str, tuple[int, int]] = field(default_factory=lambda: {
        "office_worker": (22, 50), "student": (18, 24), "freelancer": (20, 45),
        "civil_servant": (24, 58), "retired": (55, 65), "self_employed": (25, 58),
        "other": (18, 65),
    })
    gender_shares: tuple[float, float, float] = (0.55, 0.37, 0.08)
    consent_rates: dict[str, float] = field(default_factory=lambda: {
        "push": 0.65, "sms": 0.80, "wecom": 0.45, "email": 0.30, "phone": 0.60,
    })
    ready_buyer_first_purchase_mean_days: float = 5.0
    browser_first_purchase_mean_days: float = 1500.0
    engagement_sigma: float = 0.9
    purchase_rate_mean_per_day: float = 0.065
    purchase_rate_shape: float = 0.8
    dropout_beta_a: float = 1.0
    dropout_beta_b: float = 14.0
    dropout_min: float = 0.005
    dropout_max: float = 0.9
    mean_spend_per_order: float = 150.0
    spend_order_shape: float = 4.0
    spend_customer_shape: float = 2.5
    category_price_factor: dict[str, float] = field(default_factory=lambda: {
        "fresh": 0.6, "snacks": 0.45, "beauty": 1.3, "home": 1.1, "apparel": 1.2,
        "digital": 2.6, "baby": 1.0,
    })
    category_weights_by_gender: dict[str, tuple[float, ...]] = field(default_factory=lambda: {
        # fresh, snacks, beauty, home, apparel, digital, baby
        "F": (0.20, 0.15, 0.22, 0.12, 0.17, 0.05, 0.09),
        "M": (0.20, 0.22, 0.04, 0.16, 0.12, 0.22, 0.04),
        "": (0.22, 0.20, 0.14, 0.14, 0.13, 0.10, 0.07),
    })
    favourite_category_prob: float = 0.55
    favourite_channel_prob: float = 0.75
    channel_weights: dict[str, float] = field(default_factory=lambda: {
        "app": 0.45, "mini_program": 0.33, "web": 0.10, "store": 0.12,
    })
    quantity_extra_mean: dict[str, float] = field(default_factory=lambda: {
        "fresh": 1.0, "snacks": 1.2, "beauty": 0.3, "home": 0.4, "apparel": 0.3,
        "digital": 0.05, "baby": 0.6,
    })
    min_amount: float = 1.0
    max_amount: float = 20_000.0
    weekend_multiplier: float = 1.3
    shopping_festivals: tuple[tuple[int, int, float, int], ...] = (
        (6, 18, 3.5, 3),   # 618
        (11, 11, 5.0, 3),  # Double 11 (双十一)
        (12, 12, 1.8, 1),  # Double 12
    )
    festival_decay: float = 0.45
    churn_wave_start_days_before_as_of: int = 255
    churn_wave_length_days: int = 60
    habit_shares_by_occupation: dict[str, tuple[float, float, float, float]] = field(
        default_factory=lambda: {
            # lunch, evening, morning, anytime
            "office_worker": (0.45, 0.45, 0.02, 0.08),
            "student": (0.20, 0.65, 0.02, 0.13),
            "freelancer": (0.25, 0.45, 0.10, 0.20),
            "civil_servant": (0.45, 0.42, 0.05, 0.08),
            "retired": (0.20, 0.15, 0.55, 0.10),
            "self_employed": (0.30, 0.45, 0.10, 0.15),
            "other": (0.30, 0.45, 0.10, 0.15),
        }
    )
    habit_hour_mean: dict[str, float] = field(default_factory=lambda: {
        "lunch": 12.3, "evening": 20.5, "morning": 8.5, "anytime": 16.0,
    })
    habit_hour_sd: dict[str, float] = field(default_factory=lambda: {
        "lunch": 0.6, "evening": 1.2, "morning": 0.8, "anytime": 4.5,
    })
    habit_adherence: float = 0.8
    refund_prob: float = 0.03
    refund_delay_days: tuple[float, float] = (1.0, 10.0)
    partial_refund_share: float = 0.25
    complaint_prob_per_order: float = 0.012
    complaint_proneness_shape: float = 0.5
    complaint_before_dropout_prob: float = 0.2
    complaint_before_wave_churn_prob: float = 0.3
    visits_per_purchase_rate: float = 0.7
    alive_visit_floor_per_day: float = 0.004
    visit_before_purchase_prob: float = 0.5
    cart_before_purchase_prob: float = 0.3
    abandoned_carts_per_purchase_rate: float = 0.15
    lapsed_visit_rate_per_day: float = 0.002
    prospect_visit_rate_per_day: float = 0.02
    prospect_cart_rate_per_day: float = 0.004
    warm_up_days: float = 14.0
    warm_up_visits_mean: float = 2.0
    warm_up_cart_prob: float = 0.5
    check_in_habit_share: float = 0.1
    check_in_rate_per_day: float = 0.05
    share_prob_per_order: float = 0.03
    review_prob_per_order: float = 0.08
    campaigns: tuple[CampaignSpec, ...] = (
        CampaignSpec("C{year}_618", "06-10", ("sms",)),
        CampaignSpec("C{year}_AUG", "08-20", ("wecom", "push")),
    )
    conversion_window_days: float = 14.0
    persuadable_recency_days: tuple[float, float] = (30.0, 120.0)
    persuadable_min_orders: int = 3
    sure_thing_max_recency_days: float = 30.0
    sure_thing_min_orders: int = 5
    sleeping_dog_min_complaints: int = 1
    sleeping_dog_dormant_days: float = 270.0
    extra_purchase_prob: dict[str, float] = field(default_factory=lambda: {
        "other": 0.06, "persuadable": 0.30, "sure_thing": 0.0, "sleeping_dog": 0.0,
    })
    sleeping_dog_dropout_prob: float = 0.75
    induced_purchase_mean_delay_days: float = 2.0
    forward_days: int = 180

    def to_dict(self) -> dict[str, Any]:
        """Return the parameters as plain JSON-able values."""
        return json.loads(json.dumps(dataclasses.asdict(self)))


@dataclass
class SampleData:
    """A generated dataset: the four contract tables plus the ground truth.

    The tables use the normalized dtypes of ``custops.io.dataset.load_dataset`` (``str`` text,
    ``datetime64[ns]`` times, bool flags, nullable ``Int64`` integers); the files written by
    :func:`write_sample` use the file conventions (0/1 flags).

    Attributes
    ----------
    orders, customers, events, touches : pandas.DataFrame
        The data a company would have at ``as_of`` (nothing after ``as_of`` end of day).
    truth_customers : pandas.DataFrame
        One row per customer: latent parameters and what happens after ``as_of``.
    truth_campaign_effects : pandas.DataFrame
        One row per touch: true conversion probabilities with and without the contact.
    seed, as_of, years : int, str, float
        How the sample was made.
    parameters : SampleParameters
        The generator's parameters.
    """

    orders: pd.DataFrame
    customers: pd.DataFrame
    events: pd.DataFrame
    touches: pd.DataFrame
    truth_customers: pd.DataFrame
    truth_campaign_effects: pd.DataFrame
    seed: int
    as_of: str
    years: float
    parameters: SampleParameters

    def tables(self) -> dict[str, pd.DataFrame]:
        """The data tables by file stem (what notebooks may read)."""
        return {"orders": self.orders, "customers": self.customers, "events": self.events,
                "touches": self.touches}

    def truth_tables(self) -> dict[str, pd.DataFrame]:
        """The truth tables by file stem (written to ``truth/``)."""
        return {"customers": self.truth_customers,
                "campaign_effects": self.truth_campaign_effects}


# --------------------------------------------------------------------------------------------
# Calendar: days as floats since an epoch, and the seasonal "shopping time".


@dataclass(frozen=True)
class _Calendar:
    """Day arithmetic and the seasonal intensity (times are float days since ``epoch``)."""

    epoch: np.datetime64
    window_start: float
    as_of_end: float
    horizon: float
    wave_start: float
    wave_end: float
    intensity: np.ndarray
    cumulative: np.ndarray

    def shopping_time(self, t: np.ndarray) -> np.ndarray:
        """Map calendar days to cumulative intensity (piecewise linear)."""
        day = np.clip(np.floor(t).astype(np.int64), 0, len(self.intensity) - 1)
        return self.cumulative[day] + self.intensity[day] * (t - day)

    def calendar_time(self, u: np.ndarray) -> np.ndarray:
        """Inverse of :meth:`shopping_time`."""
        return np.interp(u, self.cumulative, np.arange(len(self.cumulative), dtype=float))

    def day_of(self, date: str) -> float:
        return float((np.datetime64(date, "D") - self.epoch).astype(np.int64))

    def to_datetime(self, seconds: np.ndarray) -> np.ndarray:
        """Seconds since the epoch → ``datetime64[ns]``; negative seconds mean missing."""
        stamp = (self.epoch.astype("datetime64[s]") + seconds.astype("timedelta64[s]"))
        stamp = stamp.astype("datetime64[ns]")
        stamp[seconds < 0] = np.datetime64("NaT")
        return stamp


def _seconds(t: np.ndarray) -> np.ndarray:
    """Float days → whole seconds (floor), so a time before a day's end stays in that day."""
    return np.floor(t * _SECONDS_PER_DAY).astype(np.int64)


def _make_calendar(as_of: str, years: float, params: SampleParameters) -> _Calendar:
    try:
        as_of_day = np.datetime64(as_of, "D")
    except (TypeError, ValueError) as exc:
        raise ParameterError(f"as_of must be a date YYYY-MM-DD, got {as_of!r}") from exc
    window_days = int(round(years * 365.25))
    epoch = as_of_day + 1 - window_days - params.signup_before_window_max_days - 1
    as_of_end = float((as_of_day + 1 - epoch).astype(np.int64))
    window_start = as_of_end - window_days
    horizon = as_of_end + params.forward_days
    n_days = int(horizon)
    dates = epoch + np.arange(n_days)
    weekday = (dates.astype(np.int64) + 3) % 7  # 1970-01-01 was a Thursday; Monday = 0
    intensity = np.where(weekday >= 5, params.weekend_multiplier, 1.0)
    first_year = int(str(epoch)[:4])
    last_year = int(str(dates[-1])[:4])
    for year in range(first_year, last_year + 1):
        for month, day, peak, half_width in params.shopping_festivals:
            centre = int((np.datetime64(f"{year}-{month:02d}-{day:02d}") - epoch).astype(int))
            for offset in range(-half_width, half_width + 1):
                if 0 <= centre + offset < n_days:
                    extra = (peak - 1.0) * params.festival_decay ** abs(offset)
                    intensity[centre + offset] *= 1.0 + extra
    intensity = intensity / intensity.mean()
    cumulative = np.concatenate([[0.0], np.cumsum(intensity)])
    wave_start = as_of_end - 1 - params.churn_wave_start_days_before_as_of
    return _Calendar(
        epoch=epoch, window_start=window_start, as_of_end=as_of_end, horizon=float(n_days),
        wave_start=wave_start, wave_end=wave_start + params.churn_wave_length_days,
        intensity=intensity, cumulative=cumulative,
    )


# --------------------------------------------------------------------------------------------
# Small vectorized helpers.


def _bytes_to_strings(matrix: np.ndarray) -> pa.Array:
    """Rows of a uint8 matrix (fixed-width ASCII) → an Arrow string array, without Python."""
    n, width = matrix.shape
    offsets = np.arange(n + 1, dtype=np.int64) * width
    data = pa.py_buffer(np.ascontiguousarray(matrix))
    if offsets[-1] < 2**31 - 1:
        return pa.StringArray.from_buffers(n, pa.py_buffer(offsets.astype(np.int32)), data)
    return pa.LargeStringArray.from_buffers(n, pa.py_buffer(offsets), data)


def _digits(numbers: np.ndarray, width: int) -> np.ndarray:
    """Zero-padded decimal digits of non-negative integers as a uint8 matrix."""
    out = np.empty((len(numbers), width), dtype=np.uint8)
    rest = numbers.astype(np.int64).copy()
    for position in range(width - 1, -1, -1):
        out[:, position] = rest % 10 + ord("0")
        rest //= 10
    return out


def _format_ids(prefix: str, numbers: np.ndarray, width: int) -> pa.Array:
    head = np.frombuffer(prefix.encode("ascii"), dtype=np.uint8)
    matrix = np.hstack([np.broadcast_to(head, (len(numbers), len(head))),
                        _digits(numbers, width)])
    return _bytes_to_strings(matrix)


#: pandas' default string dtype (``str``, missing = NaN), as ``custops.io.dataset.load_dataset`` returns.
_STRING_DTYPE = pd.StringDtype("pyarrow", na_value=np.nan)


def _string_series(values: pa.Array) -> pd.Series:
    """Arrow strings → a pandas ``str`` Series (no copy through Python objects)."""
    return pd.Series(pd.arrays.ArrowStringArray(values, dtype=_STRING_DTYPE))


def _take_strings(vocabulary: tuple[str | None, ...] | list, codes: np.ndarray) -> pd.Series:
    return _string_series(pa.array(list(vocabulary), type=pa.string()).take(pa.array(codes)))


def _draw_codes(rng: np.random.Generator, weights: np.ndarray, size: int) -> np.ndarray:
    """Draw category codes 0..k-1 with the given weights (normalized)."""
    cumulative = np.cumsum(np.asarray(weights, dtype=float))
    cumulative /= cumulative[-1]
    codes = np.searchsorted(cumulative, rng.random(size), side="right")
    return np.minimum(codes, len(cumulative) - 1).astype(np.int16)


def _draw_codes_by_row(rng: np.random.Generator, weight_rows: np.ndarray,
                       row_of_item: np.ndarray) -> np.ndarray:
    """Draw one code per item from the weight row it points at (few distinct rows)."""
    codes = np.empty(len(row_of_item), dtype=np.int16)
    draws = rng.random(len(row_of_item))
    cumulative = np.cumsum(weight_rows, axis=1)
    cumulative /= cumulative[:, -1:]
    for row in range(weight_rows.shape[0]):
        mask = row_of_item == row
        codes[mask] = np.searchsorted(cumulative[row], draws[mask], side="right")
    return np.minimum(codes, weight_rows.shape[1] - 1)


def _group_bounds(counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    ends = np.cumsum(counts)
    return ends - counts, ends


# --------------------------------------------------------------------------------------------
# Customers and their latent parameters.


@dataclass
class _Customers:
    n: int
    signup: np.ndarray
    acquisition_channel: np.ndarray
    city: np.ndarray
    tier: np.ndarray
    occupation: np.ndarray
    gender: np.ndarray
    birth_year: np.ndarray
    consent: dict[str, np.ndarray]
    phone: pa.Array
    purchase_rate: np.ndarray
    dropout: np.ndarray
    first_purchase_rate: np.ndarray
    engagement: np.ndarray
    spend_mean: np.ndarray
    category_factor_mean: np.ndarray
    favourite_category: np.ndarray
    favourite_channel: np.ndarray
    habit: np.ndarray
    complaint_prob: np.ndarray
    wave_churn_prob: np.ndarray
    check_in_habit: np.ndarray


def _draw_signups(rng: np.random.Generator, n: int, cal: _Calendar,
                  params: SampleParameters) -> np.ndarray:
    window = cal.as_of_end - cal.window_start
    early = rng.random(n) < params.signed_up_before_window_share
    growth = params.signup_growth
    uniform = rng.random(n)
    # Inverse CDF of a density rising linearly from 1 to 1 + growth over the window.
    if growth > 0:
        position = (np.sqrt(1.0 + growth * (2.0 + growth) * uniform) - 1.0) / growth
    else:
        position = uniform
    in_window = cal.window_start + position * window
    before = cal.window_start - rng.random(n) * params.signup_before_window_max_days
    signup = np.where(early, before, in_window)
    return np.minimum(signup, cal.as_of_end - 1.0 / _SECONDS_PER_DAY)


def _draw_customers(rng: np.random.Generator, n: int, cal: _Calendar,
                    params: SampleParameters, as_of_year: int) -> _Customers:
    channels = list(params.acquisition_channels.values())
    signup = _draw_signups(rng, n, cal, params)
    channel = _draw_codes(rng, np.array([c.share for c in channels]), n)
    city_weights = np.array([params.city_weights_by_tier[tier - 1] for _, _, tier in CITIES])
    city = _draw_codes(rng, city_weights, n)
    tier = np.array([tier for _, _, tier in CITIES], dtype=np.int8)[city]
    occupation_names = list(OCCUPATIONS)
    occupation = _draw_codes(rng, np.array([params.occupation_shares[o]
                                            for o in occupation_names]), n)
    age_low = np.array([params.occupation_age_range[o][0] for o in occupation_names])[occupation]
    age_high = np.array([params.occupation_age_range[o][1] for o in occupation_names])[occupation]
    age = rng.integers(age_low, age_high + 1)
    birth_year = (as_of_year - age).astype(np.int64)
    gender = _draw_codes(rng, np.array(params.gender_shares), n)
    consent = {name: rng.random(n) < params.consent_rates[name] for name in TOUCH_CHANNELS}
    phone = _draw_phones(rng, n)

    channel_rate = np.array([c.purchase_rate_multiplier for c in channels])[channel]
    channel_dropout = np.array([c.dropout_multiplier for c in channels])[channel]
    ready_share = np.array([c.ready_buyer_share for c in channels])[channel]
    wave_churn_prob = np.array([c.wave_churn_prob for c in channels])[channel]
    tier_rate = np.array(params.tier_purchase_rate_multiplier)[tier - 1]
    tier_spend = np.array(params.tier_spend_multiplier)[tier - 1]
    occupation_rate = np.array([params.occupation_purchase_rate_multiplier[o]
                                for o in occupation_names])[occupation]
    occupation_spend = np.array([params.occupation_spend_multiplier[o]
                                 for o in occupation_names])[occupation]

    shape = params.purchase_rate_shape
    purchase_rate = rng.gamma(shape, params.purchase_rate_mean_per_day / shape, n)
    purchase_rate *= channel_rate * tier_rate * occupation_rate
    dropout = rng.beta(params.dropout_beta_a, params.dropout_beta_b, n) * channel_dropout
    dropout = np.clip(dropout, params.dropout_min, params.dropout_max)

    sigma = params.engagement_sigma
    engagement = rng.lognormal(-0.5 * sigma**2, sigma, n)
    ready = rng.random(n) < ready_share
    first_purchase_rate = np.where(
        ready, 1.0 / params.ready_buyer_first_purchase_mean_days,
        engagement / params.browser_first_purchase_mean_days,
    )
    # Ready buyers are more engaged than browsers on average.
    engagement = np.where(ready, engagement * 2.0, engagement)

    # Gamma-Gamma spend: nu ~ Gamma(q, rate gamma), mean spend = p / nu.
    p_shape, q_shape = params.spend_order_shape, params.spend_customer_shape
    gamma_rate = params.mean_spend_per_order * (q_shape - 1.0) / p_shape
    nu = rng.gamma(q_shape, 1.0 / gamma_rate, n)
    spend_mean = p_shape / nu * tier_spend * occupation_spend

    gender_keys = ["F", "M", ""]
    category_rows = np.array([params.category_weights_by_gender[g] for g in gender_keys])
    favourite_category = _draw_codes_by_row(rng, category_rows, gender)
    price = np.array([params.category_price_factor[c] for c in CATEGORIES])
    row_price = (category_rows / category_rows.sum(axis=1, keepdims=True)) @ price
    fav = params.favourite_category_prob
    category_factor_mean = fav * price[favourite_category] + (1.0 - fav) * row_price[gender]

    channel_rows = np.array([[params.channel_weights[c] for c in ORDER_CHANNELS]] * 2)
    channel_rows[1, ORDER_CHANNELS.index("store")] = 1.0  # offline-store customers
    store_row = (np.array(list(params.acquisition_channels)) == "offline_store")[channel]
    favourite_channel = _draw_codes_by_row(rng, channel_rows, store_row.astype(np.int8))

    habit_rows = np.array([params.habit_shares_by_occupation[o] for o in occupation_names])
    habit = _draw_codes_by_row(rng, habit_rows, occupation)
    proneness = rng.gamma(params.complaint_proneness_shape, 1.0 / params.complaint_proneness_shape,
                          n)
    complaint_prob = np.clip(params.complaint_prob_per_order * proneness, 0.0, 0.5)
    check_in_habit = rng.random(n) < params.check_in_habit_share * np.minimum(engagement, 3.0)

    customers = _Customers(
        n=n, signup=signup, acquisition_channel=channel, city=city, tier=tier,
        occupation=occupation, gender=gender, birth_year=birth_year, consent=consent,
        phone=phone, purchase_rate=purchase_rate, dropout=dropout,
        first_purchase_rate=first_purchase_rate, engagement=engagement, spend_mean=spend_mean,
        category_factor_mean=category_factor_mean, favourite_category=favourite_category,
        favourite_channel=favourite_channel, habit=habit, complaint_prob=complaint_prob,
        wave_churn_prob=wave_churn_prob, check_in_habit=check_in_habit,
    )
    # People sign up at the hours they are usually active.
    customers.signup = _on_habit_clock(rng, customers, np.arange(n), signup,
                                       np.full(n, -np.inf), params)
    return customers


def _draw_phones(rng: np.random.Generator, n: int) -> pa.Array:
    """Masked mainland mobile numbers, ``1xx****dddd``."""
    second = np.array([ord(c) for c in "35789"], dtype=np.uint8)[rng.integers(0, 5, n)]
    matrix = np.empty((n, 11), dtype=np.uint8)
    matrix[:, 0] = ord("1")
    matrix[:, 1] = second
    matrix[:, 2] = rng.integers(0, 10, n) + ord("0")
    matrix[:, 3:7] = ord("*")
    matrix[:, 7:] = _digits(rng.integers(0, 10_000, n), 4)
    return _bytes_to_strings(matrix)


def _clock_time(rng: np.random.Generator, cust: _Customers, owner: np.ndarray,
                params: SampleParameters) -> np.ndarray:
    """Fraction of the day of each item, from its owner's time-of-day habit."""
    habit = cust.habit[owner]
    mean = np.array([params.habit_hour_mean[h] for h in HABITS])[habit]
    sd = np.array([params.habit_hour_sd[h] for h in HABITS])[habit]
    hour = mean + sd * rng.standard_normal(len(owner))
    off_habit = rng.random(len(owner)) >= params.habit_adherence
    hour = np.where(off_habit, 8.0 + 16.0 * rng.random(len(owner)), hour)
    return np.mod(hour, 24.0) / 24.0


def _on_habit_clock(rng: np.random.Generator, cust: _Customers, owner: np.ndarray,
                    t: np.ndarray, not_before: np.ndarray, params: SampleParameters) -> np.ndarray:
    """Move each time to its owner's habitual hour on the same day (unless that is too early)."""
    moved = np.floor(t) + _clock_time(rng, cust, owner, params)
    return np.where(moved > not_before, moved, t)


# --------------------------------------------------------------------------------------------
# The buy-till-you-die process.


@dataclass
class _Lives:
    """Purchases of a batch of lives (each starts with a purchase at its start time)."""

    start: np.ndarray
    order_owner: np.ndarray
    order_time: np.ndarray
    complaint_owner: np.ndarray
    complaint_time: np.ndarray
    death: np.ndarray
    died_in_wave: np.ndarray


def _simulate_lives(rng: np.random.Generator, cal: _Calendar, cust: _Customers,
                    params: SampleParameters, owners: np.ndarray,
                    start: np.ndarray) -> _Lives:
    """Simulate BG/NBD lives from ``start`` (a purchase) up to the calendar's horizon.

    After each purchase the customer drops out with probability p, so the number of purchases
    is Geometric(p); repeat purchases are a Poisson process with rate λ in shopping time.
    Given the Poisson count n on (start, horizon], the first m = min(n, K − 1) arrival times are
    the first m order statistics of n uniforms, drawn exactly from m exponential spacings and one
    Gamma(n + 1 − m) remainder — so only purchases that really happen are generated.
    """
    n = len(owners)
    rate = cust.purchase_rate[owners]
    u_start = cal.shopping_time(start)
    u_span = cal.cumulative[-1] - u_start
    candidates = rng.poisson(rate * u_span)
    purchases_in_life = rng.geometric(cust.dropout[owners])
    repeats = np.minimum(candidates, purchases_in_life - 1)
    dies = purchases_in_life - 1 <= candidates

    first, last = _group_bounds(repeats)
    total = int(last[-1]) if n else 0
    local = np.repeat(np.arange(n), repeats)
    spacing = np.cumsum(rng.exponential(size=total))
    offset = np.where(first > 0, spacing[np.maximum(first - 1, 0)] if total else 0.0, 0.0)
    within = spacing - offset[local]
    tail = rng.gamma(candidates - repeats + 1.0)
    group_sum = np.where(repeats > 0, spacing[np.maximum(last - 1, 0)] - offset
                         if total else 0.0, 0.0)
    scale = group_sum + tail
    u = u_start[local] + within / scale[local] * u_span[local]
    raw = cal.calendar_time(u)
    repeat_owner = owners[local]
    repeat_time = _on_habit_clock(rng, cust, repeat_owner, raw, start[local], params)

    # Death right after the last purchase (BG/NBD), or never within the horizon.
    last_purchase = start.copy()
    has_repeats = repeats > 0
    if total:
        group_max = np.maximum.reduceat(repeat_time, first[has_repeats])
        last_purchase[has_repeats] = np.maximum(start[has_repeats], group_max)
    death = np.where(dies, last_purchase, np.inf)

    # The churn wave: customers alive during it may leave at a uniform time in it.
    wave_from = np.maximum(cal.wave_start, start)
    wave_exit = wave_from + rng.random(n) * (cal.wave_end - wave_from)
    left_in_wave = ((start < cal.wave_end) & (death > cal.wave_start)
                    & (rng.random(n) < cust.wave_churn_prob[owners]) & (wave_exit < death))
    death = np.where(left_in_wave, wave_exit, death)
    keep = repeat_time <= death[local]

    order_owner = np.concatenate([owners, repeat_owner[keep]])
    order_time = np.concatenate([start, repeat_time[keep]])

    # Complaints: about single orders, about the last order of a dropout, and before the wave
    # takes a customer to the competitor.
    complains = rng.random(len(order_owner)) < cust.complaint_prob[order_owner]
    about_order = order_time[complains] + rng.uniform(0.5, 5.0, int(complains.sum()))
    quits_after_complaint = dies & ~left_in_wave & (
        rng.random(n) < params.complaint_before_dropout_prob)
    leaves_after_complaint = left_in_wave & (
        rng.random(n) < params.complaint_before_wave_churn_prob)
    after_last_order = death + rng.uniform(0.2, 7.0, n)
    before_wave_exit = np.maximum(start, death - rng.uniform(0.0, 5.0, n))
    complaint_owner = np.concatenate([order_owner[complains], owners[quits_after_complaint],
                                      owners[leaves_after_complaint]])
    complaint_time = np.concatenate([about_order, after_last_order[quits_after_complaint],
                                     before_wave_exit[leaves_after_complaint]])
    return _Lives(start, order_owner, order_time, complaint_owner, complaint_time,
                  death, left_in_wave)


class _History:
    """Everything that happened (purchases, complaints, life state), editable by campaigns.

    Besides the final state (``first_purchase``, ``death``) it keeps each customer's *lives*
    as intervals [start, end) — a customer a campaign wins back has two, with the lapsed gap
    between them — and the first purchase the customer would have made without any campaign
    (``natural_first_purchase``). Activity events are drawn from these, so what happened
    before a send never depends on what the send caused.
    """

    def __init__(self, n: int, first_purchase: np.ndarray) -> None:
        self.order_owner = np.empty(0, dtype=np.int64)
        self.order_time = np.empty(0)
        self.complaint_owner = np.empty(0, dtype=np.int64)
        self.complaint_time = np.empty(0)
        self.first_purchase = first_purchase.copy()
        self.natural_first_purchase = first_purchase.copy()
        self.death = np.full(n, np.inf)
        self.churned_in_wave = np.zeros(n, dtype=bool)
        self.life_owner = np.empty(0, dtype=np.int64)
        self.life_start = np.empty(0)
        self.life_end = np.empty(0)

    def add(self, owners: np.ndarray, lives: _Lives) -> None:
        self.order_owner = np.concatenate([self.order_owner, lives.order_owner])
        self.order_time = np.concatenate([self.order_time, lives.order_time])
        self.complaint_owner = np.concatenate([self.complaint_owner, lives.complaint_owner])
        self.complaint_time = np.concatenate([self.complaint_time, lives.complaint_time])
        self.death[owners] = lives.death
        self.churned_in_wave[owners] |= lives.died_in_wave
        self.life_owner = np.concatenate([self.life_owner, owners])
        self.life_start = np.concatenate([self.life_start, lives.start])
        self.life_end = np.concatenate([self.life_end, lives.death])

    def cut(self, owners: np.ndarray, at: np.ndarray) -> None:
        """Forget what these customers would have done after ``at`` (their future changes)."""
        cut_time = np.full(len(self.death), np.inf)
        cut_time[owners] = at
        keep = self.order_time <= cut_time[self.order_owner]
        self.order_owner = self.order_owner[keep]
        self.order_time = self.order_time[keep]
        keep = self.complaint_time <= cut_time[self.complaint_owner]
        self.complaint_owner = self.complaint_owner[keep]
        self.complaint_time = self.complaint_time[keep]
        keep = self.life_start <= cut_time[self.life_owner]
        self.life_owner = self.life_owner[keep]
        self.life_start = self.life_start[keep]
        self.life_end = np.minimum(self.life_end[keep], cut_time[self.life_owner])

    def lapsed_gaps(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(owner, start, end) of the time between a life's end and the owner's next life
        (or the horizon: end = inf)."""
        order = np.lexsort((self.life_start, self.life_owner))
        owner, start, end = (self.life_owner[order], self.life_start[order],
                             self.life_end[order])
        next_start = np.full(len(owner), np.inf)
        same = owner[1:] == owner[:-1]
        next_start[:-1] = np.where(same, start[1:], np.inf)
        return owner, end, next_start


# --------------------------------------------------------------------------------------------
# Campaigns with a heterogeneous true effect.


@dataclass
class _Touches:
    campaign_ids: list[str] = field(default_factory=list)
    campaign: list[np.ndarray] = field(default_factory=list)
    owner: list[np.ndarray] = field(default_factory=list)
    channel: list[np.ndarray] = field(default_factory=list)
    sent_seconds: list[np.ndarray] = field(default_factory=list)
    treated: list[np.ndarray] = field(default_factory=list)
    segment: list[np.ndarray] = field(default_factory=list)
    p_control: list[np.ndarray] = field(default_factory=list)
    p_treated: list[np.ndarray] = field(default_factory=list)

    def joined(self, name: str) -> np.ndarray:
        parts = getattr(self, name)
        return np.concatenate(parts) if parts else np.empty(0)


def _observed_before(history: _History, cal: _Calendar, n: int, owners: np.ndarray,
                     sent: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """What a marketer sees at send time: order count, days since last order, complaints."""
    sent_of = np.full(n, -np.inf)
    sent_of[owners] = sent
    visible = ((history.order_time >= cal.window_start)
               & (history.order_time < sent_of[history.order_owner]))
    order_count = np.bincount(history.order_owner[visible], minlength=n)[owners]
    last_order = np.full(n, -np.inf)
    np.maximum.at(last_order, history.order_owner[visible], history.order_time[visible])
    recency = sent - last_order[owners]
    visible = ((history.complaint_time >= cal.window_start)
               & (history.complaint_time < sent_of[history.complaint_owner]))
    complaints = np.bincount(history.complaint_owner[visible], minlength=n)[owners]
    return order_count, recency, complaints


def _schedule_campaigns(cal: _Calendar, params: SampleParameters,
                        as_of_year: int) -> list[tuple[str, float, CampaignSpec]]:
    """(campaign_id, send day, spec) of the campaigns inside the window, in send order."""
    scheduled = []
    for spec in params.campaigns:
        for year in (as_of_year, as_of_year - 1):
            sent_day = cal.day_of(f"{year}-{spec.send_month_day}")
            if sent_day + params.conversion_window_days <= cal.as_of_end:
                break
        if sent_day >= cal.window_start:
            scheduled.append((spec.campaign_id.format(year=year), sent_day, spec))
    ids = [campaign_id for campaign_id, _, _ in scheduled]
    if len(set(ids)) < len(ids):
        raise ParameterError(f"campaign ids must be unique, got {ids}")
    return sorted(scheduled, key=lambda item: item[1])


def _run_campaign(rng: np.random.Generator, cal: _Calendar, cust: _Customers,
                  params: SampleParameters, history: _History, spec: CampaignSpec,
                  sent_day: float, campaign_index: int, touches: _Touches) -> None:
    n = cust.n
    channel_codes = [TOUCH_CHANNELS.index(c) for c in spec.channels]
    channel = np.full(n, -1, dtype=np.int16)
    for code in reversed(channel_codes):
        channel[cust.consent[TOUCH_CHANNELS[code]]] = code
    eligible = (channel >= 0) & (cust.signup < sent_day - 1.0)
    targeted = np.flatnonzero(eligible & (rng.random(n) < spec.target_share))
    owners = rng.permutation(targeted)
    treated = np.zeros(len(owners), dtype=bool)
    treated[: int(round(len(owners) * spec.treatment_share))] = True
    order = np.argsort(owners, kind="stable")
    owners, treated = owners[order], treated[order]
    hours = spec.send_hour + spec.send_spread_hours * rng.random(len(owners))
    sent_seconds = _seconds(sent_day + hours / 24.0)
    sent = sent_seconds / _SECONDS_PER_DAY

    order_count, recency, complaints = _observed_before(history, cal, n, owners, sent)
    sleeping = ((complaints >= params.sleeping_dog_min_complaints)
                | ((order_count > 0) & (recency > params.sleeping_dog_dormant_days)))
    sure = (~sleeping & (order_count >= params.sure_thing_min_orders)
            & (recency <= params.sure_thing_max_recency_days))
    low, high = params.persuadable_recency_days
    persuadable = (~sleeping & ~sure & (order_count >= params.persuadable_min_orders)
                   & (recency > low) & (recency <= high))
    segment = np.select([sleeping, sure, persuadable], [3, 2, 1], 0).astype(np.int8)

    # The latent state: who would buy in the window without the contact.
    window = params.conversion_window_days
    exposure = cal.shopping_time(sent + window) - cal.shopping_time(sent)
    started = history.first_purchase[owners] <= sent
    alive = started & (history.death[owners] > sent)
    rate = np.where(alive, cust.purchase_rate[owners],
                    np.where(started, 0.0, cust.first_purchase_rate[owners]))
    p_control = 1.0 - np.exp(-rate * exposure)
    extra = np.array([params.extra_purchase_prob[s] for s in TRUE_SEGMENTS])[segment]
    drop = np.where((segment == 3) & alive, params.sleeping_dog_dropout_prob, 0.0)
    # Treated: an extra purchase (prob extra); otherwise a dropout at the send (prob drop);
    # otherwise the customer behaves as without the contact.
    p_treated = extra + (1.0 - extra) * (1.0 - drop) * p_control

    induced = treated & (rng.random(len(owners)) < extra)
    dropped = treated & ~induced & (rng.random(len(owners)) < drop)
    delay = np.minimum(rng.exponential(params.induced_purchase_mean_delay_days, len(owners)),
                       window - 0.5)
    induced_at = sent + 1.0 / 1440 + delay

    history.cut(owners[dropped], sent[dropped])
    history.death[owners[dropped]] = sent[dropped]
    won = owners[induced]
    history.cut(won, induced_at[induced])
    lives = _simulate_lives(rng, cal, cust, params, won, induced_at[induced])
    history.add(won, lives)
    history.first_purchase[won] = np.minimum(history.first_purchase[won], induced_at[induced])

    touches.campaign.append(np.full(len(owners), campaign_index, dtype=np.int16))
    touches.owner.append(owners)
    touches.channel.append(channel[owners])
    touches.sent_seconds.append(sent_seconds)
    touches.treated.append(treated)
    touches.segment.append(segment)
    touches.p_control.append(p_control)
    touches.p_treated.append(p_treated)


# --------------------------------------------------------------------------------------------
# From latent purchases to the data tables.


@dataclass
class _Purchases:
    """All purchases up to the horizon, sorted by time (a few columns per row)."""

    owner: np.ndarray
    seconds: np.ndarray
    category: np.ndarray
    channel: np.ndarray
    quantity: np.ndarray
    amount: np.ndarray


def _price_purchases(rng: np.random.Generator, cust: _Customers, params: SampleParameters,
                     history: _History, cal: _Calendar) -> _Purchases:
    seconds = _seconds(history.order_time)
    order = np.argsort(seconds * np.int64(cust.n) + history.order_owner, kind="stable")
    owner, seconds = history.order_owner[order], seconds[order]
    size = len(owner)

    gender_keys = ["F", "M", ""]
    category_rows = np.array([params.category_weights_by_gender[g] for g in gender_keys])
    category = _draw_codes_by_row(rng, category_rows, cust.gender[owner])
    favourite = rng.random(size) < params.favourite_category_prob
    category = np.where(favourite, cust.favourite_category[owner], category)
    channel = _draw_codes(rng, np.array([params.channel_weights[c] for c in ORDER_CHANNELS]),
                          size)
    channel = np.where(rng.random(size) < params.favourite_channel_prob,
                       cust.favourite_channel[owner], channel)
    extra_items = np.array([params.quantity_extra_mean[c] for c in CATEGORIES])[category]
    quantity = 1 + rng.poisson(extra_items)
    price = np.array([params.category_price_factor[c] for c in CATEGORIES])[category]
    shape = params.spend_order_shape
    amount = (cust.spend_mean[owner] * price / cust.category_factor_mean[owner]
              * rng.gamma(shape, 1.0 / shape, size))
    amount = np.round(np.clip(amount, params.min_amount, params.max_amount), 2)
    return _Purchases(owner, seconds, category.astype(np.int16), channel.astype(np.int16),
                      quantity.astype(np.int64), amount)


def _orders_table(rng: np.random.Generator, purchases: _Purchases, cal: _Calendar,
                  params: SampleParameters, customer_ids: pa.Array) -> pd.DataFrame:
    window_start_s = int(cal.window_start) * _SECONDS_PER_DAY
    as_of_end_s = int(cal.as_of_end) * _SECONDS_PER_DAY
    in_data = (purchases.seconds >= window_start_s) & (purchases.seconds < as_of_end_s)
    rows = np.flatnonzero(in_data)
    number = np.arange(1, len(rows) + 1)

    refunded = rng.random(len(rows)) < params.refund_prob
    low, high = params.refund_delay_days
    refund_seconds = (purchases.seconds[rows]
                      + _seconds(rng.uniform(low, high, len(rows))))
    refunded &= refund_seconds < as_of_end_s
    share = np.where(rng.random(len(rows)) < params.partial_refund_share,
                     rng.uniform(0.3, 0.8, len(rows)), 1.0)
    refund_amount = -np.round(purchases.amount[rows] * share, 2)
    refund_rows = rows[refunded]

    source = np.concatenate([rows, refund_rows])
    seconds = np.concatenate([purchases.seconds[rows], refund_seconds[refunded]])
    is_refund = np.concatenate([np.zeros(len(rows), bool), np.ones(len(refund_rows), bool)])
    amount = np.concatenate([purchases.amount[rows], refund_amount[refunded]])
    numbers = np.concatenate([number, number[refunded]])
    order = np.argsort(seconds * 2 + is_refund, kind="stable")
    source, seconds, is_refund = source[order], seconds[order], is_refund[order]
    amount, numbers = amount[order], numbers[order]

    width = max(8, len(str(len(rows))))
    return pd.DataFrame({
        "order_id": _string_series(_format_ids("O", numbers, width)),
        "customer_id": _string_series(customer_ids.take(pa.array(purchases.owner[source]))),
        "order_time": cal.to_datetime(seconds),
        "channel": _take_strings(ORDER_CHANNELS, purchases.channel[source]),
        "category": _take_strings(CATEGORIES, purchases.category[source]),
        "quantity": pd.array(purchases.quantity[source], dtype="Int64"),
        "amount": amount,
        "is_refund": is_refund,
    })


def _touches_tables(touches: _Touches, purchases: _Purchases, params: SampleParameters,
                    cal: _Calendar, customer_ids: pa.Array) -> tuple[pd.DataFrame, pd.DataFrame]:
    owner = touches.joined("owner").astype(np.int64)
    sent = touches.joined("sent_seconds").astype(np.int64)
    campaign = touches.joined("campaign").astype(np.int64)
    # Conversion straight from the order log: any purchase in [sent, sent + window).
    stride = np.int64(2**40)
    key = purchases.owner.astype(np.int64) * stride + purchases.seconds
    order = np.argsort(key, kind="stable")
    key = key[order]
    revenue_cumulative = np.concatenate([[0.0], np.cumsum(purchases.amount[order])])
    window = int(round(params.conversion_window_days * _SECONDS_PER_DAY))
    low = np.searchsorted(key, owner * stride + sent, side="left")
    high = np.searchsorted(key, owner * stride + sent + window, side="left")
    converted = high > low
    revenue = np.round(revenue_cumulative[high] - revenue_cumulative[low], 2)
    revenue = np.where(converted, revenue, 0.0)

    campaign_ids = touches.campaign_ids
    ids = _string_series(customer_ids.take(pa.array(owner)))
    table = pd.DataFrame({
        "customer_id": ids,
        "campaign_id": _take_strings(campaign_ids, campaign),
        "channel": _take_strings(TOUCH_CHANNELS, touches.joined("channel").astype(np.int64)),
        "sent_time": cal.to_datetime(sent),
        "group": _take_strings(("control", "treatment"),
                               touches.joined("treated").astype(np.int64)),
        "converted": converted,
        "revenue": revenue,
    })
    p_control = touches.joined("p_control")
    p_treated = touches.joined("p_treated")
    effects = pd.DataFrame({
        "customer_id": ids.copy(),
        "campaign_id": table["campaign_id"].copy(),
        "segment": _take_strings(TRUE_SEGMENTS, touches.joined("segment").astype(np.int64)),
        "p_convert_control": np.round(p_control, 6),
        "p_convert_treated": np.round(p_treated, 6),
        "true_uplift": np.round(p_treated - p_control, 6),
    })
    return table, effects


def _customers_table(cust: _Customers, cal: _Calendar, params: SampleParameters,
                     customer_ids: pa.Array) -> pd.DataFrame:
    city_names = [city for city, _, _ in CITIES]
    provinces = [province for _, province, _ in CITIES]
    signup = cal.to_datetime(_seconds(cust.signup))
    table = pd.DataFrame({
        "customer_id": _string_series(customer_ids),
        "signup_time": signup,
        "gender": _take_strings(GENDERS, cust.gender),
        "birth_year": pd.array(cust.birth_year, dtype="Int64"),
        "province": _take_strings(provinces, cust.city),
        "city": _take_strings(city_names, cust.city),
        "city_tier": pd.array(cust.tier.astype(np.int64), dtype="Int64"),
        "occupation": _take_strings(OCCUPATIONS, cust.occupation),
        "acquisition_channel": _take_strings(list(params.acquisition_channels),
                                             cust.acquisition_channel),
    })
    for name in TOUCH_CHANNELS:
        table[f"consent_{name}"] = cust.consent[name]
    table["phone"] = _string_series(cust.phone)
    return table


def _interval_events(rng: np.random.Generator, owners: np.ndarray, start: np.ndarray,
                     end: np.ndarray, rate: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Poisson events at ``rate`` per day on [start, end) for each owner (empty if end ≤ start)."""
    length = np.maximum(end - start, 0.0)
    counts = rng.poisson(rate * length)
    local = np.repeat(np.arange(len(owners)), counts)
    times = start[local] + rng.random(len(local)) * length[local]
    return owners[local], times


def _events_table(rng: np.random.Generator, cust: _Customers, history: _History,
                  purchases: _Purchases, cal: _Calendar, params: SampleParameters,
                  customer_ids: pa.Array) -> pd.DataFrame:
    # Activity follows the customer's state *at the time*: prospect until the first purchase,
    # alive-rate browsing during each life, lapsed browsing between lives and after the last.
    # A campaign changes only what comes after its send (a won-back customer's gap stays
    # lapsed, the warm-up belongs to the first purchase the customer would have made anyway).
    n = cust.n
    everyone = np.arange(n)
    begin = np.maximum(cust.signup, cal.window_start)
    end = cal.as_of_end
    started = np.minimum(np.maximum(history.first_purchase, begin), end)
    life_owner = history.life_owner
    life_from = np.minimum(np.maximum(history.life_start, begin[life_owner]), end)
    life_to = np.minimum(np.maximum(history.life_end, life_from), end)
    gap_owner, gap_start, gap_end = history.lapsed_gaps()
    gap_from = np.minimum(np.maximum(gap_start, begin[gap_owner]), end)
    gap_to = np.minimum(np.maximum(gap_end, gap_from), end)
    owner_parts: list[np.ndarray] = []
    time_parts: list[np.ndarray] = []
    type_parts: list[np.ndarray] = []

    def add(kind: str, owner: np.ndarray, t: np.ndarray, on_clock: bool = True) -> None:
        if on_clock:
            t = _on_habit_clock(rng, cust, owner, t, np.maximum(cust.signup[owner],
                                                                cal.window_start), params)
        owner_parts.append(owner)
        time_parts.append(t)
        type_parts.append(np.full(len(owner), EVENT_TYPES.index(kind), dtype=np.int8))

    rate = cust.purchase_rate[life_owner]
    # Browsing before the first purchase, while alive, and after dropping out.
    add("visit", *_interval_events(rng, everyone, begin, started,
                                   params.prospect_visit_rate_per_day * cust.engagement))
    add("visit", *_interval_events(rng, life_owner, life_from, life_to,
                                   params.visits_per_purchase_rate * rate
                                   + params.alive_visit_floor_per_day))
    add("visit", *_interval_events(rng, gap_owner, gap_from, gap_to,
                                   np.full(len(gap_owner), params.lapsed_visit_rate_per_day)))
    add("cart_add", *_interval_events(rng, everyone, begin, started,
                                      params.prospect_cart_rate_per_day * cust.engagement))
    add("cart_add", *_interval_events(rng, life_owner, life_from, life_to,
                                      params.abandoned_carts_per_purchase_rate * rate))
    # Warm-up before the first purchase the customer would have made without a campaign,
    # as far as it precedes the first purchase that really happened.
    converts = np.flatnonzero(np.isfinite(history.natural_first_purchase))
    first = history.natural_first_purchase[converts]
    warm_up = rng.poisson(params.warm_up_visits_mean, len(converts))
    warm_owner = np.repeat(converts, warm_up)
    warm_time = np.repeat(first, warm_up) - params.warm_up_days * rng.random(int(warm_up.sum()))
    before = warm_time < history.first_purchase[warm_owner]
    add("visit", warm_owner[before], warm_time[before])
    carts = rng.random(len(converts)) < params.warm_up_cart_prob
    warm_owner = converts[carts]
    warm_time = first[carts] - params.warm_up_days / 4 * rng.random(int(carts.sum()))
    before = warm_time < history.first_purchase[warm_owner]
    add("cart_add", warm_owner[before], warm_time[before])
    # Habitual check-ins while a prospect and during each life.
    habitual = np.flatnonzero(cust.check_in_habit)
    add("check_in", *_interval_events(rng, habitual, begin[habitual], started[habitual],
                                      np.full(len(habitual), params.check_in_rate_per_day)))
    habitual_life = np.flatnonzero(cust.check_in_habit[life_owner])
    add("check_in", *_interval_events(rng, life_owner[habitual_life], life_from[habitual_life],
                                      life_to[habitual_life],
                                      np.full(len(habitual_life), params.check_in_rate_per_day)))

    # Around each purchase in the data.
    in_data = ((purchases.seconds >= int(cal.window_start) * _SECONDS_PER_DAY)
               & (purchases.seconds < int(cal.as_of_end) * _SECONDS_PER_DAY))
    buyer = purchases.owner[in_data]
    bought = purchases.seconds[in_data] / _SECONDS_PER_DAY
    size = len(buyer)
    minutes = 1.0 / 1440
    for kind, prob, low, high in (
        ("visit", params.visit_before_purchase_prob, -30 * minutes, -2 * minutes),
        ("cart_add", params.cart_before_purchase_prob, -20 * minutes, -1 * minutes),
        ("share", params.share_prob_per_order, 2 * minutes, 60 * minutes),
        ("review", params.review_prob_per_order, 1.0, 7.0),
    ):
        chosen = rng.random(size) < prob
        add(kind, buyer[chosen], bought[chosen] + rng.uniform(low, high, int(chosen.sum())),
            on_clock=False)
    add("complaint", history.complaint_owner, history.complaint_time, on_clock=False)

    # Referrals: each wechat_referral customer was invited by an earlier customer.
    by_signup = np.argsort(cust.signup, kind="stable")
    weight = cust.engagement[by_signup] * (
        0.2 + np.isfinite(history.natural_first_purchase[by_signup]))
    cumulative = np.cumsum(weight)
    position = np.empty(n, dtype=np.int64)
    position[by_signup] = np.arange(n)
    referral_code = list(params.acquisition_channels).index("wechat_referral") \
        if "wechat_referral" in params.acquisition_channels else -1
    referred = np.flatnonzero((cust.acquisition_channel == referral_code) & (position > 0))
    pick = rng.random(len(referred)) * cumulative[position[referred] - 1]
    referrer_position = np.minimum(np.searchsorted(cumulative, pick, side="right"),
                                   position[referred] - 1)
    referrer = by_signup[referrer_position]
    invited_at = np.maximum(cust.signup[referred] - rng.uniform(0.0, 2.0, len(referred)),
                            cust.signup[referrer])
    referral_start = len(np.concatenate(owner_parts)) if owner_parts else 0
    add("referral", referrer, invited_at, on_clock=False)

    owner = np.concatenate(owner_parts)
    seconds = _seconds(np.concatenate(time_parts))
    kind = np.concatenate(type_parts)
    referred_of = np.full(len(owner), -1, dtype=np.int64)
    referred_of[referral_start:] = referred
    signup_seconds = _seconds(cust.signup)
    keep = ((seconds >= int(cal.window_start) * _SECONDS_PER_DAY)
            & (seconds < int(cal.as_of_end) * _SECONDS_PER_DAY)
            & (seconds >= signup_seconds[owner]))
    owner, seconds, kind, referred_of = owner[keep], seconds[keep], kind[keep], referred_of[keep]
    # One int64 sort key (time, customer, type) is much faster than a lexsort.
    order = np.argsort((seconds * n + owner) * len(EVENT_TYPES) + kind)
    owner, seconds, kind, referred_of = (owner[order], seconds[order], kind[order],
                                         referred_of[order])
    referred_ids = customer_ids.take(pa.array(np.maximum(referred_of, 0)))
    referred_ids = pc.if_else(pa.array(referred_of >= 0), referred_ids, pa.scalar(None, pa.string()))
    return pd.DataFrame({
        "customer_id": _string_series(customer_ids.take(pa.array(owner))),
        "event_time": cal.to_datetime(seconds),
        "event_type": _take_strings(EVENT_TYPES, kind),
        "referred_customer_id": _string_series(referred_ids),
    })


def _truth_customers_table(cust: _Customers, history: _History, purchases: _Purchases,
                           cal: _Calendar, params: SampleParameters,
                           customer_ids: pa.Array) -> pd.DataFrame:
    n = cust.n
    as_of_end_s = int(cal.as_of_end) * _SECONDS_PER_DAY
    after = purchases.seconds >= as_of_end_s
    next_90 = after & (purchases.seconds < as_of_end_s + 90 * _SECONDS_PER_DAY)
    next_180 = after & (purchases.seconds < as_of_end_s + 180 * _SECONDS_PER_DAY)
    first = np.where(np.isfinite(history.first_purchase), _seconds(
        np.where(np.isfinite(history.first_purchase), history.first_purchase, 0.0)), -1)
    death = np.where(np.isfinite(history.death),
                     _seconds(np.where(np.isfinite(history.death), history.death, 0.0)), -1)
    alive = (history.first_purchase < cal.as_of_end) & (history.death >= cal.as_of_end)
    hour = np.array([params.habit_hour_mean[h] for h in HABITS])[cust.habit]
    hour = np.where(cust.habit == HABITS.index("anytime"), np.nan, hour)
    return pd.DataFrame({
        "customer_id": _string_series(customer_ids),
        "alive_at_as_of": alive,
        "first_purchase_time": cal.to_datetime(first),
        "death_time": cal.to_datetime(death),
        "churned_in_wave": history.churned_in_wave,
        "purchase_rate_per_day": np.round(cust.purchase_rate, 6),
        "dropout_prob": np.round(cust.dropout, 6),
        "first_purchase_rate_per_day": np.round(cust.first_purchase_rate, 6),
        "mean_spend_per_order": np.round(cust.spend_mean, 2),
        "true_orders_next_90d": np.bincount(purchases.owner[next_90], minlength=n),
        "true_orders_next_180d": np.bincount(purchases.owner[next_180], minlength=n),
        "true_spend_next_180d": np.round(np.bincount(purchases.owner[next_180],
                                                     weights=purchases.amount[next_180],
                                                     minlength=n), 2),
        "habit": _take_strings(HABITS, cust.habit),
        "preferred_hour": hour,
    })


# --------------------------------------------------------------------------------------------
# Public API.


def generate_sample(n_customers: int = 5000, *, seed: int = 42, as_of: str = "2026-09-30",
                    years: float = 2.0, params: SampleParameters | None = None) -> SampleData:
    """Simulate customers, orders, events and past campaigns with known ground truth.

    Parameters
    ----------
    n_customers : int, default 5000
        Number of customers (prospects included; ~25 % never order in the window).
    seed : int, default 42
        Seed of the single NumPy generator; the same seed gives identical frames.
    as_of : str, default "2026-09-30"
        Snapshot date: the data holds everything up to the end of this day, nothing after.
    years : float, default 2.0
        Length of the data window before ``as_of``.
    params : SampleParameters, optional
        Generator parameters; the defaults make ``data/sample``.

    Returns
    -------
    SampleData
        Tables ``orders``, ``customers``, ``events``, ``touches`` (normalized dtypes) and the
        truth tables ``truth_customers`` and ``truth_campaign_effects``.

    Raises
    ------
    ParameterError
        For a non-positive size, a window outside 0.1–20 years or a malformed date.
    """
    if int(n_customers) < 1:
        raise ParameterError(f"n_customers must be at least 1, got {n_customers}")
    if not 0.1 <= float(years) <= 20:
        raise ParameterError(f"years must be between 0.1 and 20, got {years}")
    params = params or SampleParameters()
    if params.forward_days < 180:
        raise ParameterError("forward_days must be at least 180 (the truth's longest horizon)")
    if "wechat_referral" not in params.acquisition_channels:
        raise ParameterError("acquisition_channels must include 'wechat_referral'")
    n = int(n_customers)
    rng = np.random.default_rng(seed)
    cal = _make_calendar(as_of, float(years), params)
    as_of_year = int(str(np.datetime64(as_of, "D"))[:4])
    cust = _draw_customers(rng, n, cal, params, as_of_year=as_of_year)

    signup_time = cal.shopping_time(cust.signup)
    first_in_shopping_time = signup_time + rng.exponential(size=n) / cust.first_purchase_rate
    first_purchase = cal.calendar_time(first_in_shopping_time)
    first_purchase = np.where(first_in_shopping_time < cal.cumulative[-1], first_purchase, np.inf)
    buyers = np.flatnonzero(np.isfinite(first_purchase))
    first_purchase[buyers] = _on_habit_clock(rng, cust, buyers, first_purchase[buyers],
                                             cust.signup[buyers], params)
    history = _History(n, first_purchase)
    lives = _simulate_lives(rng, cal, cust, params, buyers, first_purchase[buyers])
    history.add(buyers, lives)

    touches = _Touches()
    for index, (campaign_id, sent_day, spec) in enumerate(
            _schedule_campaigns(cal, params, as_of_year)):
        touches.campaign_ids.append(campaign_id)
        _run_campaign(rng, cal, cust, params, history, spec, sent_day, index, touches)

    width = max(7, len(str(n)))
    customer_ids = _format_ids("C", np.arange(1, n + 1), width)
    purchases = _price_purchases(rng, cust, params, history, cal)
    orders = _orders_table(rng, purchases, cal, params, customer_ids)
    touch_table, effects = _touches_tables(touches, purchases, params, cal, customer_ids)
    events = _events_table(rng, cust, history, purchases, cal, params, customer_ids)
    return SampleData(
        orders=orders,
        customers=_customers_table(cust, cal, params, customer_ids),
        events=events,
        touches=touch_table,
        truth_customers=_truth_customers_table(cust, history, purchases, cal, params,
                                               customer_ids),
        truth_campaign_effects=effects,
        seed=int(seed), as_of=str(np.datetime64(as_of, "D")), years=float(years),
        parameters=params,
    )


def _file_table(frame: pd.DataFrame) -> pa.Table:
    """A frame in the file conventions: flags as 0/1, times to the second."""
    columns = {}
    for name in frame.columns:
        column = frame[name]
        if pd.api.types.is_bool_dtype(column.dtype):
            columns[name] = pa.array(column.to_numpy(dtype=np.int8))
        elif pd.api.types.is_datetime64_any_dtype(column.dtype):
            columns[name] = pa.Array.from_pandas(column).cast(pa.timestamp("s"))
        else:
            columns[name] = pa.Array.from_pandas(column)
    return pa.table(columns)


def _format_timestamps(column: pa.Array | pa.ChunkedArray) -> pa.Array:
    """Timestamps (seconds) → ``YYYY-MM-DD HH:MM:SS`` strings, vectorized (strftime is slow)."""
    if isinstance(column, pa.ChunkedArray):
        column = column.combine_chunks()
    missing = column.is_null().to_numpy(zero_copy_only=False)
    seconds = column.cast(pa.int64()).fill_null(0).to_numpy()
    days = np.floor_divide(seconds, _SECONDS_PER_DAY)
    second_of_day = seconds - days * _SECONDS_PER_DAY
    date = days.astype("datetime64[D]")
    month_start = date.astype("datetime64[M]")
    year = month_start.astype("datetime64[Y]")
    parts = [
        (year.astype(np.int64) + 1970, 4, "-"),
        ((month_start - year.astype("datetime64[M]")).astype(np.int64) + 1, 2, "-"),
        ((date - month_start.astype("datetime64[D]")).astype(np.int64) + 1, 2, " "),
        (second_of_day // 3600, 2, ":"),
        (second_of_day // 60 % 60, 2, ":"),
        (second_of_day % 60, 2, ""),
    ]
    pieces = []
    for values, width, separator in parts:
        pieces.append(_digits(values, width))
        if separator:
            pieces.append(np.full((len(seconds), 1), ord(separator), dtype=np.uint8))
    text = _bytes_to_strings(np.hstack(pieces))
    if missing.any():
        text = pc.if_else(pa.array(missing), pa.scalar(None, text.type), text)
    return text


def _write_csv(table: pa.Table, path: Path) -> None:
    columns = []
    for column in table.columns:
        if pa.types.is_timestamp(column.type):
            column = _format_timestamps(column)
        columns.append(column)
    text_table = pa.table(columns, names=table.column_names)
    with path.open("wb") as handle:
        handle.write((",".join(table.column_names) + "\n").encode("utf-8"))
        pa_csv.write_csv(text_table, handle, pa_csv.WriteOptions(
            include_header=False, quoting_style="none"))


def _command(sample: SampleData, out_dir: str, fmt: str) -> str:
    parts = ["custops sample", f"--customers {len(sample.customers)}", f"--seed {sample.seed}"]
    if sample.as_of != "2026-09-30":
        parts.append(f"--as-of {sample.as_of}")
    if sample.years != 2.0:
        parts.append(f"--years {sample.years:g}")
    parts.append(f"--out {out_dir}")
    if fmt != "csv":
        parts.append(f"--format {fmt}")
    return " ".join(parts)


def _readme(sample: SampleData, command: str, fmt: str) -> str:
    lines = [
        "# Synthetic sample data (custops)",
        "",
        "Made by `custops.tools.sample.generate_sample` — a simulated Chinese retail/app business with",
        "known ground truth. Regenerate it byte for byte with:",
        "",
        "```",
        command,
        "```",
        "",
        f"Snapshot (as_of): {sample.as_of} end of day; window: {sample.years:g} years before it.",
        "",
        "| file | rows | what |",
        "|---|---|---|",
    ]
    what = {
        "orders": "purchases and refunds (refund = own row, negative amount, same order_id)",
        "customers": "profiles, acquisition channel, consent per touch channel, masked phone",
        "events": "visit, check_in, cart_add, share, referral, review, complaint",
        "touches": "two past campaigns with a randomised holdout (control = not contacted)",
    }
    for name, frame in sample.tables().items():
        lines.append(f"| {name}.{fmt} | {len(frame):,} | {what[name]} |")
    lines += [
        "",
        "`truth/` holds what the generator knows and a company never does (latent parameters,",
        "what happens after as_of, true campaign effects). Notebooks and models must not read",
        "it; tests and benchmarks grade models against it. See `truth/README.md`.",
        "",
    ]
    return "\n".join(lines)


def _truth_summary(sample: SampleData) -> list[str]:
    truth = sample.truth_customers
    effects = sample.truth_campaign_effects
    lines = [
        f"- customers: {len(truth):,}; alive at as_of: {truth['alive_at_as_of'].mean():.1%}; "
        f"left in the churn wave: {int(truth['churned_in_wave'].sum()):,}",
        f"- purchases in the next 90 / 180 days: {int(truth['true_orders_next_90d'].sum()):,} / "
        f"{int(truth['true_orders_next_180d'].sum()):,}",
    ]
    if len(effects):
        table = effects.groupby(["campaign_id", "segment"], sort=True)["true_uplift"].agg(
            ["size", "mean"])
        lines += ["", "| campaign | segment | touches | mean true uplift |", "|---|---|---|---|"]
        lines += [f"| {campaign} | {segment} | {int(row['size']):,} | {row['mean']:+.3f} |"
                  for (campaign, segment), row in table.iterrows()]
    return lines


def _truth_readme(sample: SampleData) -> str:
    p = sample.parameters
    params = json.dumps(p.to_dict(), indent=2, ensure_ascii=False)
    low, high = p.persuadable_recency_days
    window = f"{p.conversion_window_days:g}"
    summary = "\n".join(_truth_summary(sample))
    return f"""# Ground truth of the synthetic sample

Never read by notebooks or models — only by tests and benchmarks that grade predictions.
Generated with seed {sample.seed}, as_of {sample.as_of} (end of day), {sample.years:g} years
of data before it, and {p.forward_days} days simulated after it.

## How the data were made
- **Signup** over the window, denser towards its end; {p.signed_up_before_window_share:.0%}
  signed up before it (their earlier orders are not in the extract, as in a real export).
- **First purchase** at a personal hazard after signup (`first_purchase_rate_per_day`;
  "ready" buyers within days, browsers rarely — how likely depends on the acquisition
  channel); before it a customer is a prospect. Prospects' visits and cart adds grow with
  their engagement and warm up in the {p.warm_up_days:g} days before a first purchase.
- **Repeat purchases**: Poisson with rate λ (`purchase_rate_per_day`) in *shopping time* —
  calendar days weighted by the seasonal intensity (weekends ×{p.weekend_multiplier:g}, 618,
  Double 11, Double 12; normalised to mean 1 over the simulated span). λ ~ Gamma(shape
  {p.purchase_rate_shape:g}, mean {p.purchase_rate_mean_per_day:g}) × acquisition channel ×
  city tier × occupation. Each order then moves to the customer's habitual hour that day.
- **Dropout**: after every purchase (including campaign-induced ones) the customer leaves for
  good with probability p (`dropout_prob`, Beta({p.dropout_beta_a:g}, {p.dropout_beta_b:g}) ×
  channel) — the BG/NBD story. `death_time` is then the last purchase.
- **Churn wave** (competitor launch, {p.churn_wave_length_days} days starting
  {p.churn_wave_start_days_before_as_of} days before as_of): customers alive then leave at a
  uniform time in it with a channel-dependent probability (`churned_in_wave`; `death_time` =
  that moment).
- **Spend**: Gamma-Gamma — a personal mean (`mean_spend_per_order`, from ν ~ Gamma(q =
  {p.spend_customer_shape:g})) times Gamma(p = {p.spend_order_shape:g}) noise, shifted by
  category but not changing the personal mean. {p.refund_prob:.0%} of purchases are refunded.
- **Campaigns**: targeted customers are split at random into treatment and control; control
  customers are not contacted. The true effect depends on what a marketer can observe at send
  time (orders in the data window, days since the last order, complaints):
  `sleeping_dog` (≥ {p.sleeping_dog_min_complaints} complaint(s), or more than
  {p.sleeping_dog_dormant_days:g} days without an order) drops out at the send with
  probability {p.sleeping_dog_dropout_prob:g} if still alive; `sure_thing` (ordered in the last
  {p.sure_thing_max_recency_days:g} days, ≥ {p.sure_thing_min_orders} orders) is unaffected;
  `persuadable` (last order {low:g}–{high:g} days ago, ≥ {p.persuadable_min_orders} orders)
  makes an extra purchase with probability {p.extra_purchase_prob['persuadable']:g} (a
  dropped-out one is won back and starts a new life); everyone else (`other`) with probability
  {p.extra_purchase_prob['other']:g}. These changes are in the order log: `touches.converted`
  is 1 exactly when the customer has a purchase in [sent_time, sent_time + {window} days), and
  `revenue` is the sum of those purchases' amounts (refund rows excluded).

## truth/customers
| column | meaning |
|---|---|
| customer_id | as in customers |
| alive_at_as_of | had made a first purchase and had not dropped out by as_of end of day |
| first_purchase_time | true first purchase (may precede the data window); blank = none within {p.forward_days} days after as_of |
| death_time | when the customer dropped out — no purchase is later; blank = never bought, or still alive {p.forward_days} days after as_of |
| churned_in_wave | left during the churn wave (a later campaign may have won them back) |
| purchase_rate_per_day | λ, purchases per day of shopping time while alive |
| dropout_prob | p, probability of leaving after each purchase |
| first_purchase_rate_per_day | hazard of the first purchase (per shopping day) |
| mean_spend_per_order | true mean amount of a purchase (CNY) |
| true_orders_next_90d, true_orders_next_180d | purchases in the 90 / 180 days after as_of (the same process, seasonality included; prospects' first purchases count) |
| true_spend_next_180d | sum of those purchases' amounts over 180 days (gross, CNY) |
| habit, preferred_hour | time-of-day habit (lunch / evening / morning / anytime) and its mean hour (blank for anytime) |

## truth/campaign_effects (one row per touch, same order as touches)
| column | meaning |
|---|---|
| customer_id, campaign_id | as in touches |
| segment | true segment at send time: persuadable, sure_thing, sleeping_dog, other |
| p_convert_control | probability of a purchase within {window} days without the contact (latent state at send) |
| p_convert_treated | the same with the contact |
| true_uplift | p_convert_treated − p_convert_control |

Probabilities are computed at day resolution in shopping time; orders move to the customer's
habitual hour on the same day, so they are exact up to that shift.

## In this sample
{summary}

## Parameters (`custops.tools.sample.SampleParameters`)
```json
{params}
```
"""


def write_sample(sample: SampleData, out_dir: str | Path, fmt: str = "csv") -> list[Path]:
    """Write the tables to ``out_dir`` and the truth to ``out_dir/truth``.

    Parameters
    ----------
    sample : SampleData
        From :func:`generate_sample`.
    out_dir : str or Path
        Output directory (created if needed; existing files of the same names are replaced).
    fmt : {"csv", "parquet"}
        File format. CSV is UTF-8 with times as ``YYYY-MM-DD HH:MM:SS``; both formats write
        flags as 0/1.

    Returns
    -------
    list of Path
        The files written (data, truth and the two READMEs).
    """
    if fmt not in ("csv", "parquet"):
        raise ParameterError(f"format must be 'csv' or 'parquet', got {fmt!r}")
    out = Path(out_dir)
    truth_dir = out / "truth"
    truth_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for folder, tables in ((out, sample.tables()), (truth_dir, sample.truth_tables())):
        for name, frame in tables.items():
            path = folder / f"{name}.{fmt}"
            table = _file_table(frame)
            if fmt == "csv":
                _write_csv(table, path)
            else:
                pq.write_table(table, path, compression="zstd")
            written.append(path)
    readme = out / "README.md"
    readme.write_text(_readme(sample, _command(sample, str(out_dir), fmt), fmt), encoding="utf-8")
    truth_readme = truth_dir / "README.md"
    truth_readme.write_text(_truth_readme(sample), encoding="utf-8")
    return [*written, readme, truth_readme]


def cli_sample(args: Any) -> int:
    """``custops sample``: generate a sample and write it; print what was written."""
    started = time.perf_counter()
    sample = generate_sample(args.customers, seed=args.seed, as_of=args.as_of, years=args.years)
    paths = write_sample(sample, args.out, fmt=args.format)
    rows = {**{f"{k}.{args.format}": len(v) for k, v in sample.tables().items()},
            **{f"truth/{k}.{args.format}": len(v) for k, v in sample.truth_tables().items()}}
    for path in paths:
        relative = path.relative_to(Path(args.out)).as_posix()
        count = rows.get(relative)
        size = path.stat().st_size / 1e6
        detail = f"{count:>10,} rows" if count is not None else " " * 15
        print(f"{path}  {detail}  {size:7.2f} MB")
    print(f"generated {args.customers:,} customers (seed {args.seed}, as_of {sample.as_of}) "
          f"in {time.perf_counter() - started:.1f} s")
    return 0
