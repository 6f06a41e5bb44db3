"""Purchases priced and placed in the ``orders`` table (refunds as their own rows)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa

from custops.io.contract import CATEGORIES, ORDER_CHANNELS
from custops.tools.sample.arrays import (
    draw_codes,
    draw_codes_by_row,
    format_ids,
    string_series,
    take_strings,
)
from custops.tools.sample.customers import LatentCustomers
from custops.tools.sample.lives import History
from custops.tools.sample.parameters import SampleParameters
from custops.tools.sample.timeline import SECONDS_PER_DAY, Calendar, to_seconds

__all__ = ["Purchases", "orders_table", "price_purchases"]


@dataclass
class Purchases:
    """All purchases up to the horizon, sorted by time (a few columns per row)."""

    owner: np.ndarray
    seconds: np.ndarray
    category: np.ndarray
    channel: np.ndarray
    quantity: np.ndarray
    amount: np.ndarray


def price_purchases(rng: np.random.Generator, cust: LatentCustomers, params: SampleParameters,
                    history: History, cal: Calendar) -> Purchases:
    seconds = to_seconds(history.order_time)
    order = np.argsort(seconds * np.int64(cust.n) + history.order_owner, kind="stable")
    owner, seconds = history.order_owner[order], seconds[order]
    size = len(owner)

    gender_keys = ["F", "M", ""]
    category_rows = np.array([params.category_weights_by_gender[g] for g in gender_keys])
    category = draw_codes_by_row(rng, category_rows, cust.gender[owner])
    favourite = rng.random(size) < params.favourite_category_prob
    category = np.where(favourite, cust.favourite_category[owner], category)
    channel = draw_codes(rng, np.array([params.channel_weights[c] for c in ORDER_CHANNELS]),
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
    return Purchases(owner, seconds, category.astype(np.int16), channel.astype(np.int16),
                     quantity.astype(np.int64), amount)


def orders_table(rng: np.random.Generator, purchases: Purchases, cal: Calendar,
                 params: SampleParameters, customer_ids: pa.Array, *, first_number: int = 1,
                 min_width: int = 8) -> pd.DataFrame:
    """Purchases in the data window, numbered by time from ``first_number``, plus refunds."""
    window_start_s = int(cal.window_start) * SECONDS_PER_DAY
    as_of_end_s = int(cal.as_of_end) * SECONDS_PER_DAY
    in_data = (purchases.seconds >= window_start_s) & (purchases.seconds < as_of_end_s)
    rows = np.flatnonzero(in_data)
    number = np.arange(first_number, first_number + len(rows))

    refunded = rng.random(len(rows)) < params.refund_prob
    low, high = params.refund_delay_days
    refund_seconds = (purchases.seconds[rows]
                      + to_seconds(rng.uniform(low, high, len(rows))))
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

    width = max(min_width, len(str(first_number + len(rows) - 1)))
    return pd.DataFrame({
        "order_id": string_series(format_ids("O", numbers, width)),
        "customer_id": string_series(customer_ids.take(pa.array(purchases.owner[source]))),
        "order_time": cal.to_datetime(seconds),
        "channel": take_strings(ORDER_CHANNELS, purchases.channel[source]),
        "category": take_strings(CATEGORIES, purchases.category[source]),
        "quantity": pd.array(purchases.quantity[source], dtype="Int64"),
        "amount": amount,
        "is_refund": is_refund,
    })
