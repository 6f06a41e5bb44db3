"""Past campaigns with a heterogeneous true effect, run on the purchase history."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from custops.errors import ParameterError
from custops.tools.sample.customers import LatentCustomers
from custops.tools.sample.lives import History, simulate_lives
from custops.tools.sample.parameters import (
    TOUCH_CHANNELS,
    TRUE_SEGMENTS,
    CampaignSpec,
    SampleParameters,
)
from custops.tools.sample.timeline import SECONDS_PER_DAY, Calendar, to_seconds

__all__ = ["Touches", "run_campaign", "schedule_campaigns"]


@dataclass
class Touches:
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


def _observed_before(history: History, cal: Calendar, n: int, owners: np.ndarray,
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


def schedule_campaigns(cal: Calendar, params: SampleParameters,
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


def run_campaign(rng: np.random.Generator, cal: Calendar, cust: LatentCustomers,
                 params: SampleParameters, history: History, spec: CampaignSpec,
                 sent_day: float, campaign_index: int, touches: Touches) -> None:
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
    sent_seconds = to_seconds(sent_day + hours / 24.0)
    sent = sent_seconds / SECONDS_PER_DAY

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
    lives = simulate_lives(rng, cal, cust, params, won, induced_at[induced])
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
