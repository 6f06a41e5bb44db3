"""Knobs and vocabularies of the sample generator: :class:`SampleParameters` and its parts."""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from typing import Any

__all__ = ["AcquisitionChannelProfile", "CITIES", "CampaignSpec", "GENDERS", "HABITS", "OCCUPATIONS", "SampleParameters", "TOUCH_CHANNELS", "TRUE_SEGMENTS"]


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
