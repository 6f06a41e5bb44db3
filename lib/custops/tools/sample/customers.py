"""Customers: their profiles, latent parameters and habits, and the ``customers`` table."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa

from custops.io.contract import CATEGORIES, ORDER_CHANNELS
from custops.tools.sample.arrays import (
    bytes_to_strings,
    digits,
    draw_codes,
    draw_codes_by_row,
    string_series,
    take_strings,
)
from custops.tools.sample.parameters import (
    CITIES,
    GENDERS,
    HABITS,
    OCCUPATIONS,
    TOUCH_CHANNELS,
    SampleParameters,
)
from custops.tools.sample.timeline import SECONDS_PER_DAY, Calendar, to_seconds

__all__ = ["LatentCustomers", "customers_table", "draw_customers", "on_habit_clock"]


@dataclass
class LatentCustomers:
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


def _draw_signups(rng: np.random.Generator, n: int, cal: Calendar,
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
    return np.minimum(signup, cal.as_of_end - 1.0 / SECONDS_PER_DAY)


def draw_customers(rng: np.random.Generator, n: int, cal: Calendar,
                   params: SampleParameters, as_of_year: int) -> LatentCustomers:
    channels = list(params.acquisition_channels.values())
    signup = _draw_signups(rng, n, cal, params)
    channel = draw_codes(rng, np.array([c.share for c in channels]), n)
    city_weights = np.array([params.city_weights_by_tier[tier - 1] for _, _, tier in CITIES])
    city = draw_codes(rng, city_weights, n)
    tier = np.array([tier for _, _, tier in CITIES], dtype=np.int8)[city]
    occupation_names = list(OCCUPATIONS)
    occupation = draw_codes(rng, np.array([params.occupation_shares[o]
                                           for o in occupation_names]), n)
    age_low = np.array([params.occupation_age_range[o][0] for o in occupation_names])[occupation]
    age_high = np.array([params.occupation_age_range[o][1] for o in occupation_names])[occupation]
    age = rng.integers(age_low, age_high + 1)
    birth_year = (as_of_year - age).astype(np.int64)
    gender = draw_codes(rng, np.array(params.gender_shares), n)
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
    favourite_category = draw_codes_by_row(rng, category_rows, gender)
    price = np.array([params.category_price_factor[c] for c in CATEGORIES])
    row_price = (category_rows / category_rows.sum(axis=1, keepdims=True)) @ price
    fav = params.favourite_category_prob
    category_factor_mean = fav * price[favourite_category] + (1.0 - fav) * row_price[gender]

    channel_rows = np.array([[params.channel_weights[c] for c in ORDER_CHANNELS]] * 2)
    channel_rows[1, ORDER_CHANNELS.index("store")] = 1.0  # offline-store customers
    store_row = (np.array(list(params.acquisition_channels)) == "offline_store")[channel]
    favourite_channel = draw_codes_by_row(rng, channel_rows, store_row.astype(np.int8))

    habit_rows = np.array([params.habit_shares_by_occupation[o] for o in occupation_names])
    habit = draw_codes_by_row(rng, habit_rows, occupation)
    proneness = rng.gamma(params.complaint_proneness_shape, 1.0 / params.complaint_proneness_shape,
                          n)
    complaint_prob = np.clip(params.complaint_prob_per_order * proneness, 0.0, 0.5)
    check_in_habit = rng.random(n) < params.check_in_habit_share * np.minimum(engagement, 3.0)

    customers = LatentCustomers(
        n=n, signup=signup, acquisition_channel=channel, city=city, tier=tier,
        occupation=occupation, gender=gender, birth_year=birth_year, consent=consent,
        phone=phone, purchase_rate=purchase_rate, dropout=dropout,
        first_purchase_rate=first_purchase_rate, engagement=engagement, spend_mean=spend_mean,
        category_factor_mean=category_factor_mean, favourite_category=favourite_category,
        favourite_channel=favourite_channel, habit=habit, complaint_prob=complaint_prob,
        wave_churn_prob=wave_churn_prob, check_in_habit=check_in_habit,
    )
    # People sign up at the hours they are usually active.
    customers.signup = on_habit_clock(rng, customers, np.arange(n), signup,
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
    matrix[:, 7:] = digits(rng.integers(0, 10_000, n), 4)
    return bytes_to_strings(matrix)


def _clock_time(rng: np.random.Generator, cust: LatentCustomers, owner: np.ndarray,
                params: SampleParameters) -> np.ndarray:
    """Fraction of the day of each item, from its owner's time-of-day habit."""
    habit = cust.habit[owner]
    mean = np.array([params.habit_hour_mean[h] for h in HABITS])[habit]
    sd = np.array([params.habit_hour_sd[h] for h in HABITS])[habit]
    hour = mean + sd * rng.standard_normal(len(owner))
    off_habit = rng.random(len(owner)) >= params.habit_adherence
    hour = np.where(off_habit, 8.0 + 16.0 * rng.random(len(owner)), hour)
    return np.mod(hour, 24.0) / 24.0


def on_habit_clock(rng: np.random.Generator, cust: LatentCustomers, owner: np.ndarray,
                   t: np.ndarray, not_before: np.ndarray, params: SampleParameters) -> np.ndarray:
    """Move each time to its owner's habitual hour on the same day (unless that is too early)."""
    moved = np.floor(t) + _clock_time(rng, cust, owner, params)
    return np.where(moved > not_before, moved, t)



def customers_table(cust: LatentCustomers, cal: Calendar, params: SampleParameters,
                    customer_ids: pa.Array) -> pd.DataFrame:
    city_names = [city for city, _, _ in CITIES]
    provinces = [province for _, province, _ in CITIES]
    signup = cal.to_datetime(to_seconds(cust.signup))
    table = pd.DataFrame({
        "customer_id": string_series(customer_ids),
        "signup_time": signup,
        "gender": take_strings(GENDERS, cust.gender),
        "birth_year": pd.array(cust.birth_year, dtype="Int64"),
        "province": take_strings(provinces, cust.city),
        "city": take_strings(city_names, cust.city),
        "city_tier": pd.array(cust.tier.astype(np.int64), dtype="Int64"),
        "occupation": take_strings(OCCUPATIONS, cust.occupation),
        "acquisition_channel": take_strings(list(params.acquisition_channels),
                                            cust.acquisition_channel),
    })
    for name in TOUCH_CHANNELS:
        table[f"consent_{name}"] = cust.consent[name]
    table["phone"] = string_series(cust.phone)
    return table
