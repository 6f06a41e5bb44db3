"""The buy-till-you-die process: simulated lives and the editable purchase history."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from custops.tools.sample.arrays import group_bounds
from custops.tools.sample.customers import LatentCustomers, on_habit_clock
from custops.tools.sample.parameters import SampleParameters
from custops.tools.sample.timeline import Calendar

__all__ = ["History", "Lives", "simulate_lives"]


@dataclass
class Lives:
    """Purchases of a batch of lives (each starts with a purchase at its start time)."""

    start: np.ndarray
    order_owner: np.ndarray
    order_time: np.ndarray
    complaint_owner: np.ndarray
    complaint_time: np.ndarray
    death: np.ndarray
    died_in_wave: np.ndarray


def simulate_lives(rng: np.random.Generator, cal: Calendar, cust: LatentCustomers,
                   params: SampleParameters, owners: np.ndarray,
                   start: np.ndarray) -> Lives:
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

    first, last = group_bounds(repeats)
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
    repeat_time = on_habit_clock(rng, cust, repeat_owner, raw, start[local], params)

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
    return Lives(start, order_owner, order_time, complaint_owner, complaint_time,
                 death, left_in_wave)


class History:
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

    def add(self, owners: np.ndarray, lives: Lives) -> None:
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
