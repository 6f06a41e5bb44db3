"""The rules a reach plan obeys: its parameters, the channels, eligibility and send times.

:class:`ReachParams` holds every rule; :func:`load_channels` the channel table (cost, capacity,
effect, consent column, send window); :func:`eligibility` says who may be contacted by which
channel (consent, the 7-day fatigue cap, WeCom mass-message caps); :func:`send_hours` places
each send before the customer's habitual hour and outside quiet hours.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import yaml

from custops.errors import ParameterError

__all__ = [
    "CHANNEL_COLUMNS",
    "DEFAULT_CHANNELS",
    "CONTACT_KEYS",
    "TOUCH_CHANNELS",
    "ReachParams",
    "contact_key",
    "eligibility",
    "format_hour",
    "in_hour_window",
    "load_channels",
    "send_hours",
]


@dataclass(frozen=True)
class ReachParams:
    """Every rule of the plan (DOMAIN.md); all are parameters."""

    budget: float = 2_000.0  # total contact spend (CNY)
    campaign_id: str = "reach"
    campaign_days: int = 1  # capacities are per day × days
    holdout_share: float = 0.0  # 0: size the holdout with a power calculation
    target_lift: float = 0.03  # absolute conversion lift the holdout must detect
    min_holdout_share: float = 0.05
    max_holdout_share: float = 0.5
    quiet_start: float = 21.0  # 勿扰: no sends from quiet_start …
    quiet_end: float = 9.0  # … to quiet_end (hours, local time)
    lead_minutes: int = 90  # send this long before the customer's habitual hour
    max_touches_7d: int = 2  # fatigue cap across channels (疲劳度)
    wecom_mass_per_day: int = 1  # enterprise mass messages per customer per day
    wecom_mass_per_month: int = 0  # 0: as many as the month has days; tighter: e.g. 4
    # Share of incremental revenue that is profit (gross margin): the plan maximizes
    # revenue × margin − cost and its ROI is incremental revenue × margin ÷ cost. The default
    # 1.0 counts every yuan of revenue; set the company's gross margin (e.g. 0.3).
    margin: float = 1.0
    send_date: str = ""  # day the contact lists are sent (YYYY-MM-DD); empty: the day after as_of
    conversion_window_days: int = 14
    min_events_for_own_hour: int = 5  # below this, shrink towards the segment's hour pattern
    # A channel whose contact column the customers table lacks altogether: False plans it
    # with the customer id for the channel's tool to match (e.g. an app's own user id for
    # push); True plans no one on it (an SMS platform that needs the number itself).
    contact_column_required: bool = False

    def __post_init__(self):
        if self.budget < 0:
            raise ParameterError(f"budget={self.budget}: must be ≥ 0")
        if not 0 <= self.holdout_share < 1:
            raise ParameterError(f"holdout_share={self.holdout_share}: use 0 (auto) to 0.99")
        if not (0 <= self.quiet_end < 24 and 0 <= self.quiet_start < 24):
            raise ParameterError("quiet_start and quiet_end are hours between 0 and 24")
        if self.max_touches_7d < 0 or self.wecom_mass_per_day < 0:
            raise ParameterError("caps must be ≥ 0")
        if not 0 < self.margin <= 1:
            raise ParameterError(f"margin={self.margin}: the share of revenue that is profit, "
                                 "above 0 and at most 1 (e.g. 0.3)")
        if self.send_date:
            try:
                dt.date.fromisoformat(str(self.send_date))
            except ValueError:
                raise ParameterError(f"send_date={self.send_date!r}: expected a date "
                                     "YYYY-MM-DD (empty: the day after as_of)") from None

    def send_day(self, as_of: dt.date) -> dt.date:
        """The day the contact lists are sent: ``send_date``, else the day after ``as_of``."""
        if self.send_date:
            return dt.date.fromisoformat(str(self.send_date))
        return as_of + dt.timedelta(days=1)


# Channels as the seeds name them. cost: per contact (CNY); daily_capacity: contacts a day;
# effect: the channel's effect relative to the campaigns the uplift was learned from (an
# assumption, shown as such); window: hours a message may go out (quiet hours outside).
DEFAULT_CHANNELS = pd.DataFrame([
    {"channel": "push", "cost": 0.01, "daily_capacity": math.inf, "effect": 0.6,
     "consent": "consent_push", "window_start": 9.0, "window_end": 21.0},
    {"channel": "sms", "cost": 0.05, "daily_capacity": 200_000, "effect": 1.0,
     "consent": "consent_sms", "window_start": 9.0, "window_end": 21.0},
    {"channel": "wecom_1v1", "cost": 0.8, "daily_capacity": 1_500, "effect": 1.6,
     "consent": "consent_wecom", "window_start": 9.0, "window_end": 21.0},
    {"channel": "wecom_mass", "cost": 0.02, "daily_capacity": math.inf, "effect": 0.8,
     "consent": "consent_wecom", "window_start": 9.0, "window_end": 21.0},
    {"channel": "email", "cost": 0.005, "daily_capacity": math.inf, "effect": 0.3,
     "consent": "consent_email", "window_start": 9.0, "window_end": 21.0},
    {"channel": "phone", "cost": 3.0, "daily_capacity": 300, "effect": 2.0,
     "consent": "consent_phone", "window_start": 10.0, "window_end": 20.0},
])

CHANNEL_COLUMNS = ("channel", "cost", "daily_capacity", "effect", "consent", "window_start",
                   "window_end")

#: The customers-table column each channel's tool needs to reach a customer (a channel table
#: may name its own in an optional ``contact`` column). Push goes to the app's device token;
#: a push platform that targets the app's user id (alias) needs none: leave the column out.
CONTACT_KEYS = {"push": "push_token", "sms": "phone", "phone": "phone",
                "wecom_1v1": "wecom_external_id", "wecom_mass": "wecom_external_id",
                "email": "email"}


def contact_key(channel: str, channels: pd.DataFrame | None = None) -> str | None:
    """The contact column channel ``channel`` needs: the channel table's ``contact`` column
    when it names one, else :data:`CONTACT_KEYS` (None for a channel it does not know)."""
    if channels is not None and "contact" in channels:
        row = channels[channels["channel"].astype(str) == str(channel)]
        if len(row) and isinstance(row["contact"].iloc[0], str) and row["contact"].iloc[0]:
            return str(row["contact"].iloc[0])
    return CONTACT_KEYS.get(str(channel))


# Past touches' channel names → the planner's channel (for frequency caps).
TOUCH_CHANNELS = {"push": "push", "sms": "sms", "wecom": "wecom_mass", "wecom_mass": "wecom_mass",
                  "wecom_1v1": "wecom_1v1", "email": "email", "phone": "phone"}


def load_channels(path: str | Path | None = None) -> pd.DataFrame:
    """The channel table: defaults, or a YAML file with a list of channels (same columns)."""
    if not path:
        return DEFAULT_CHANNELS.copy()

    try:
        rows = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise ParameterError(f"channels file {path}: {exc.strerror}") from exc
    table = pd.DataFrame(rows.get("channels", rows) if isinstance(rows, dict) else rows)
    missing = [c for c in CHANNEL_COLUMNS if c not in table]
    if missing:
        raise ParameterError(f"channels file {path}: missing {', '.join(missing)}; found "
                             f"{', '.join(map(str, table.columns))}")
    table["daily_capacity"] = pd.to_numeric(table["daily_capacity"]).fillna(math.inf)
    return table[list(CHANNEL_COLUMNS) + (["contact"] if "contact" in table else [])]


def eligibility(customers: pd.DataFrame, channels: pd.DataFrame, touches: pd.DataFrame | None,
                as_of: dt.date, params: ReachParams = ReachParams()
                ) -> tuple[np.ndarray, dict[str, int]]:
    """Which (customer, channel) pairs may be used, and how many were excluded by each rule.

    Rules: consent per channel (a missing consent column means the data has no opt-out list
    for it — allowed, and reported; a missing value means no consent), the contact key the
    channel's tool needs (:func:`contact_key`: a customer with an empty phone is never planned
    on SMS or call-back, one without an e-mail never on e-mail; when the customers table has no
    such column at all the list carries the customer id for the tool to match, reported as
    such, or with ``params.contact_column_required`` no one is planned on that channel), the
    fatigue cap across channels over the last 7 days, and the WeCom mass-message
    caps per day and per month.
    """
    n, k = len(customers), len(channels)
    eligible = np.ones((n, k), dtype=bool)
    excluded: dict[str, int] = {}
    for j, row in channels.reset_index(drop=True).iterrows():
        col = row["consent"]
        if col in customers:
            ok = customers[col].astype("boolean").fillna(False).to_numpy(dtype=bool)
            excluded[f"no consent: {row['channel']}"] = int((~ok).sum())
            eligible[:, j] &= ok
        else:
            excluded[f"no consent list: {row['channel']}"] = 0
        key = contact_key(row["channel"], channels)
        if key is None:
            continue
        if key in customers:
            values = customers[key].astype("object")
            has = (values.notna() & values.astype(str).str.strip().ne("")).to_numpy(dtype=bool)
            excluded[f"no contact: {row['channel']}"] = int((eligible[:, j] & ~has).sum())
            eligible[:, j] &= has
        elif params.contact_column_required:
            excluded[f"no contact column, required: {row['channel']}"] = int(
                eligible[:, j].sum())
            eligible[:, j] = False
        else:
            excluded[f"no contact column: {row['channel']}"] = 0
    if touches is not None and not touches.empty:
        recent = touches[touches["sent_time"] > pd.Timestamp(as_of) - pd.Timedelta(days=6)]
        recent = recent[recent["group"].astype(str).str.lower() != "control"]
        per_customer = recent.groupby("customer_id").size()
        tired = customers["customer_id"].map(per_customer).fillna(0).to_numpy() \
            >= params.max_touches_7d
        excluded["fatigue cap (7 days)"] = int(tired.sum())
        eligible[tired, :] = False
        month_start = pd.Timestamp(as_of).replace(day=1)
        touch_channel = touches["channel"].astype(str).map(TOUCH_CHANNELS)
        mass = touches[(touch_channel == "wecom_mass")
                       & (touches["group"].astype(str).str.lower() != "control")]
        monthly_cap = params.wecom_mass_per_month or pd.Timestamp(as_of).days_in_month
        this_month = mass[mass["sent_time"] >= month_start].groupby("customer_id").size()
        today = mass[mass["sent_time"].dt.date == as_of].groupby("customer_id").size()
        over = ((customers["customer_id"].map(this_month).fillna(0) >= monthly_cap)
                | (customers["customer_id"].map(today).fillna(0) >= params.wecom_mass_per_day)
                ).to_numpy()
        j = channels.index[channels["channel"] == "wecom_mass"]
        if len(j):
            excluded["WeCom mass-message cap"] = int(over.sum())
            eligible[over, channels.index.get_loc(j[0])] = False
    return eligible, excluded


def in_hour_window(hour: np.ndarray, start: float, end: float) -> np.ndarray:
    """Whether each hour lies in [start, end), a window that may wrap past midnight."""
    return (hour >= start) & (hour < end) if start < end else (hour >= start) | (hour < end)


def send_hours(hour_counts: pd.DataFrame | np.ndarray, customer_ids: pd.Series, groups: pd.Series,
               params: ReachParams = ReachParams()) -> np.ndarray:
    """A send time (hours, e.g. 10.5 = 10:30) per customer, placed before their habit.

    The habit is the peak of the customer's own order/event hours, shrunk towards their
    segment's pattern: weights ``n / (n + min_events_for_own_hour)``. The send goes
    ``lead_minutes`` earlier, moved out of quiet hours to the nearest allowed time.
    """
    counts = _hour_matrix(hour_counts, customer_ids)
    codes, _ = pd.factorize(groups.astype(str).fillna("all").to_numpy())
    k = int(codes.max()) + 1 if len(codes) else 0
    seg = np.stack([np.bincount(codes, weights=counts[:, h], minlength=k) for h in range(24)],
                   axis=1) if k else np.zeros((0, 24))
    overall = counts.sum(axis=0, dtype=np.float64) + 1e-9
    seg = np.where(seg.sum(axis=1, keepdims=True) > 0, seg, overall)
    pattern = (seg / seg.sum(axis=1, keepdims=True)).astype(np.float32)
    # own share × w + segment pattern × (1 − w) with w = n / (n + m) is, up to the row's
    # positive factor 1 / (n + m), counts + m × pattern: the same peak, and no 24-wide
    # temporary (a number per customer and hour) beyond this one.
    counts += np.float32(params.min_events_for_own_hour) * pattern[codes]
    habit = counts.argmax(axis=1).astype(float)
    send = (habit - params.lead_minutes / 60.0) % 24
    quiet = in_hour_window(send, params.quiet_start, params.quiet_end)
    # Before the morning end of quiet hours → first allowed slot; late evening → last slot.
    last_slot = (params.quiet_start - 0.5) % 24
    morning = (send < 12) | (send >= params.quiet_start)
    send = np.where(quiet & morning & (send < params.quiet_end), params.quiet_end, send)
    send = np.where(quiet & (send >= params.quiet_start), last_slot, send)
    return send


def _hour_matrix(hour_counts: pd.DataFrame | np.ndarray, customer_ids: pd.Series) -> np.ndarray:
    """Counts per (customer in ``customer_ids`` order) × hour of day, float32. A matrix made
    by :func:`custops.aggregates.activity_hour_matrix` passes as it is; a (customer_id, hour, n)
    frame is matched to the ids in DuckDB, whose hash join is quicker than pandas' indexer."""

    n = len(customer_ids)
    if isinstance(hour_counts, np.ndarray):
        if hour_counts.shape != (n, 24):
            raise ValueError(f"hour matrix has shape {hour_counts.shape}, expected ({n}, 24)")
        return hour_counts.astype(np.float32, copy=True)
    counts = np.zeros(n * 24, dtype=np.float32)
    if hour_counts.empty or n == 0:
        return counts.reshape(n, 24)
    con = duckdb.connect()
    try:
        con.register("hour_counts", hour_counts[["customer_id", "hour", "n"]])
        con.register("ids", pd.DataFrame({"customer_id": customer_ids.astype(str).to_numpy(),
                                          "row": np.arange(n, dtype=np.int64)}))
        found = con.execute(
            "select ids.row * 24 + cast(h.hour as bigint) as cell, h.n from hour_counts h "
            "join ids on cast(h.customer_id as varchar) = ids.customer_id "
            "where h.hour between 0 and 23").fetchnumpy()
    finally:
        con.close()
    counts += np.bincount(np.asarray(found["cell"], dtype=np.int64),
                          weights=np.asarray(found["n"], dtype=np.float64),
                          minlength=n * 24).astype(np.float32)
    return counts.reshape(n, 24)


def format_hour(hours: np.ndarray) -> np.ndarray:
    """10.5 → "10:30"."""
    minutes = np.round(np.asarray(hours) * 60).astype(int) % (24 * 60)
    return np.array([f"{m // 60:02d}:{m % 60:02d}" for m in minutes])


