"""The ground truth: ``truth/customers`` and the truth README."""

from __future__ import annotations

import json
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import pyarrow as pa

from custops.tools.sample.arrays import string_series, take_strings
from custops.tools.sample.customers import LatentCustomers
from custops.tools.sample.lives import History
from custops.tools.sample.orders import Purchases
from custops.tools.sample.parameters import HABITS, SampleParameters
from custops.tools.sample.timeline import SECONDS_PER_DAY, Calendar, to_seconds

__all__ = ["TruthSummary", "truth_customers_table", "truth_readme"]


def truth_customers_table(cust: LatentCustomers, history: History, purchases: Purchases,
                          cal: Calendar, params: SampleParameters,
                          customer_ids: pa.Array) -> pd.DataFrame:
    n = cust.n
    as_of_end_s = int(cal.as_of_end) * SECONDS_PER_DAY
    after = purchases.seconds >= as_of_end_s
    next_90 = after & (purchases.seconds < as_of_end_s + 90 * SECONDS_PER_DAY)
    next_180 = after & (purchases.seconds < as_of_end_s + 180 * SECONDS_PER_DAY)
    first = np.where(np.isfinite(history.first_purchase), to_seconds(
        np.where(np.isfinite(history.first_purchase), history.first_purchase, 0.0)), -1)
    death = np.where(np.isfinite(history.death),
                     to_seconds(np.where(np.isfinite(history.death), history.death, 0.0)), -1)
    alive = (history.first_purchase < cal.as_of_end) & (history.death >= cal.as_of_end)
    hour = np.array([params.habit_hour_mean[h] for h in HABITS])[cust.habit]
    hour = np.where(cust.habit == HABITS.index("anytime"), np.nan, hour)
    return pd.DataFrame({
        "customer_id": string_series(customer_ids),
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
        "habit": take_strings(HABITS, cust.habit),
        "preferred_hour": hour,
    })


@dataclass
class TruthSummary:
    """Totals of the truth tables, added up chunk by chunk, for the truth README.

    ``uplift`` maps (campaign_id, segment) to [touches, sum of true_uplift].
    """

    customers: int = 0
    alive_at_as_of: int = 0
    churned_in_wave: int = 0
    orders_next_90d: int = 0
    orders_next_180d: int = 0
    uplift: dict[tuple[str, str], list[float]] = field(default_factory=dict)

    def add(self, truth_customers: pd.DataFrame, campaign_effects: pd.DataFrame) -> None:
        """Add one chunk's ``truth/customers`` and ``truth/campaign_effects``."""
        self.customers += len(truth_customers)
        self.alive_at_as_of += int(truth_customers["alive_at_as_of"].sum())
        self.churned_in_wave += int(truth_customers["churned_in_wave"].sum())
        self.orders_next_90d += int(truth_customers["true_orders_next_90d"].sum())
        self.orders_next_180d += int(truth_customers["true_orders_next_180d"].sum())
        if len(campaign_effects):
            table = campaign_effects.groupby(["campaign_id", "segment"], sort=True)[
                "true_uplift"].agg(["size", "sum"])
            for key, row in table.iterrows():
                total = self.uplift.setdefault(key, [0, 0.0])
                total[0] += int(row["size"])
                total[1] += float(row["sum"])

    def lines(self) -> list[str]:
        """The README's summary: alive share, wave churn, future orders, uplift by segment."""
        alive = self.alive_at_as_of / self.customers if self.customers else 0.0
        lines = [
            f"- customers: {self.customers:,}; alive at as_of: {alive:.1%}; "
            f"left in the churn wave: {self.churned_in_wave:,}",
            f"- purchases in the next 90 / 180 days: {self.orders_next_90d:,} / "
            f"{self.orders_next_180d:,}",
        ]
        if self.uplift:
            lines += ["", "| campaign | segment | touches | mean true uplift |",
                      "|---|---|---|---|"]
            lines += [f"| {campaign} | {segment} | {int(size):,} | {total / size:+.3f} |"
                      for (campaign, segment), (size, total) in sorted(self.uplift.items())]
        return lines


def truth_readme(p: SampleParameters, summary: TruthSummary, *, seed: int, as_of: str,
                 years: float) -> str:
    """The truth folder's README: how the data were made, the columns, totals, parameters."""
    params = json.dumps(p.to_dict(), indent=2, ensure_ascii=False)
    low, high = p.persuadable_recency_days
    window = f"{p.conversion_window_days:g}"
    summary_text = "\n".join(summary.lines())
    return f"""# Ground truth of the synthetic sample

Never read by notebooks or models — only by tests and benchmarks that grade predictions.
Generated with seed {seed}, as_of {as_of} (end of day), {years:g} years
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
{summary_text}

## Parameters (`custops.tools.sample.SampleParameters`)
```json
{params}
```
"""
