"""The ``touches`` table and the true campaign effects, converted from the order log."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa

from custops.tools.sample.arrays import string_series, take_strings
from custops.tools.sample.campaigns import Touches
from custops.tools.sample.orders import Purchases
from custops.tools.sample.parameters import TOUCH_CHANNELS, TRUE_SEGMENTS, SampleParameters
from custops.tools.sample.timeline import SECONDS_PER_DAY, Calendar

__all__ = ["touches_tables"]


def touches_tables(touches: Touches, purchases: Purchases, params: SampleParameters,
                   cal: Calendar, customer_ids: pa.Array) -> tuple[pd.DataFrame, pd.DataFrame]:
    owner = touches.joined("owner").astype(np.int64)
    sent = touches.joined("sent_seconds").astype(np.int64)
    campaign = touches.joined("campaign").astype(np.int64)
    # Conversion straight from the order log: any purchase in [sent, sent + window).
    stride = np.int64(2**40)
    key = purchases.owner.astype(np.int64) * stride + purchases.seconds
    order = np.argsort(key, kind="stable")
    key = key[order]
    revenue_cumulative = np.concatenate([[0.0], np.cumsum(purchases.amount[order])])
    window = int(round(params.conversion_window_days * SECONDS_PER_DAY))
    low = np.searchsorted(key, owner * stride + sent, side="left")
    high = np.searchsorted(key, owner * stride + sent + window, side="left")
    converted = high > low
    revenue = np.round(revenue_cumulative[high] - revenue_cumulative[low], 2)
    revenue = np.where(converted, revenue, 0.0)

    campaign_ids = touches.campaign_ids
    ids = string_series(customer_ids.take(pa.array(owner)))
    table = pd.DataFrame({
        "customer_id": ids,
        "campaign_id": take_strings(campaign_ids, campaign),
        "channel": take_strings(TOUCH_CHANNELS, touches.joined("channel").astype(np.int64)),
        "sent_time": cal.to_datetime(sent),
        "group": take_strings(("control", "treatment"),
                              touches.joined("treated").astype(np.int64)),
        "converted": converted,
        "revenue": revenue,
    })
    p_control = touches.joined("p_control")
    p_treated = touches.joined("p_treated")
    effects = pd.DataFrame({
        "customer_id": ids.copy(),
        "campaign_id": table["campaign_id"].copy(),
        "segment": take_strings(TRUE_SEGMENTS, touches.joined("segment").astype(np.int64)),
        "p_convert_control": np.round(p_control, 6),
        "p_convert_treated": np.round(p_treated, 6),
        "true_uplift": np.round(p_treated - p_control, 6),
    })
    return table, effects
