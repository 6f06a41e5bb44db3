"""The ``events`` table: activity that follows each customer's state at the time."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from custops.io.contract import EVENT_TYPES
from custops.tools.sample.arrays import string_series, take_strings
from custops.tools.sample.customers import LatentCustomers, on_habit_clock
from custops.tools.sample.lives import History
from custops.tools.sample.orders import Purchases
from custops.tools.sample.parameters import SampleParameters
from custops.tools.sample.timeline import SECONDS_PER_DAY, Calendar, to_seconds

__all__ = ["events_table"]


def _interval_events(rng: np.random.Generator, owners: np.ndarray, start: np.ndarray,
                     end: np.ndarray, rate: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Poisson events at ``rate`` per day on [start, end) for each owner (empty if end ≤ start)."""
    length = np.maximum(end - start, 0.0)
    counts = rng.poisson(rate * length)
    local = np.repeat(np.arange(len(owners)), counts)
    times = start[local] + rng.random(len(local)) * length[local]
    return owners[local], times


def events_table(rng: np.random.Generator, cust: LatentCustomers, history: History,
                 purchases: Purchases, cal: Calendar, params: SampleParameters,
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
            t = on_habit_clock(rng, cust, owner, t, np.maximum(cust.signup[owner],
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
    in_data = ((purchases.seconds >= int(cal.window_start) * SECONDS_PER_DAY)
               & (purchases.seconds < int(cal.as_of_end) * SECONDS_PER_DAY))
    buyer = purchases.owner[in_data]
    bought = purchases.seconds[in_data] / SECONDS_PER_DAY
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
    seconds = to_seconds(np.concatenate(time_parts))
    kind = np.concatenate(type_parts)
    referred_of = np.full(len(owner), -1, dtype=np.int64)
    referred_of[referral_start:] = referred
    signup_seconds = to_seconds(cust.signup)
    keep = ((seconds >= int(cal.window_start) * SECONDS_PER_DAY)
            & (seconds < int(cal.as_of_end) * SECONDS_PER_DAY)
            & (seconds >= signup_seconds[owner]))
    owner, seconds, kind, referred_of = owner[keep], seconds[keep], kind[keep], referred_of[keep]
    # One int64 sort key (time, customer, type) is much faster than a lexsort.
    order = np.argsort((seconds * n + owner) * len(EVENT_TYPES) + kind)
    owner, seconds, kind, referred_of = (owner[order], seconds[order], kind[order],
                                         referred_of[order])
    referred_ids = customer_ids.take(pa.array(np.maximum(referred_of, 0)))
    referred_ids = pc.if_else(pa.array(referred_of >= 0), referred_ids, pa.scalar(None, pa.string()))
    return pd.DataFrame({
        "customer_id": string_series(customer_ids.take(pa.array(owner))),
        "event_time": cal.to_datetime(seconds),
        "event_type": take_strings(EVENT_TYPES, kind),
        "referred_customer_id": string_series(referred_ids),
    })
