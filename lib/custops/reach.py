"""Reach planning (有效触达): whom to contact, by which channel, when, with what — within budget,
channel capacity, consent, frequency caps and quiet hours — plus the holdout that proves it.

The plan maximizes expected *incremental* value: the uplift a contact causes (learned from past
randomized campaigns, or stated assumptions per lifecycle stage when there are none) × the value
of a conversion − the contact's cost. The optimizer is :mod:`custops.models.assignment` (exact
MILP or a Lagrangian method with its optimality gap).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import ibis
import numpy as np
import pandas as pd

from custops import plots
from custops.aggregates import activity_hour_matrix
from custops.errors import DataError
from custops.exports import EXCEL_ROWS_PER_SHEET
from custops.features import build_feature_snapshots, build_features, join_by_customer
from custops.io.duckdb_checks import FEATURE_MEMORY_SHARE, memory_settings
from custops.labels import LABELS, t, value_label
from custops.models import assignment, experiment
from custops.numbers import money
from custops.rules import (
    DEFAULT_CHANNELS,
    TOUCH_CHANNELS,
    ReachParams,
    eligibility,
    format_hour,
    in_hour_window,
    send_hours,
)
from custops.sections import Section

# The uplift models (scikit-learn) load where uplift is learned: the dashboards import this
# module through the run catalogue and only replan from published artifacts, and every
# dashboard kernel would otherwise pay ~1.5 s of CPU at its start for nothing.

__all__ = [
    "ARM_PREFIX",
    "ARM_SEPARATOR",
    "ASSUMED_UPLIFT",
    "CONTROL_ARM",
    "MAX_CURVE_CUSTOMERS",
    "ReachInputs",
    "ReachPlan",
    "UpliftResult",
    "budget_curve",
    "budget_section",
    "build_plan",
    "campaign_features_at",
    "campaign_training_frame",
    "candidates_frame",
    "channel_uplift",
    "estimate_uplift",
    "exports_section",
    "params_dict",
    "plan_from_record",
    "plan_record",
    "plan_section",
    "prepare",
    "readout",
    "readout_section",
    "rule_label",
    "send_time_section",
    "uplift_section",
]

# Uplift assumed per lifecycle stage when no randomized campaign history exists.
ASSUMED_UPLIFT = {"newcomer": 0.04, "growth": 0.03, "mature": 0.02, "decline": 0.05,
                  "churned": 0.02, "prospect": 0.01}

# Arms of past campaigns: the touch's channel as the plan names it, with its offer when the
# touches say one ("sms|coupon10"). The control group is the arm CONTROL_ARM. Candidates carry
# one column of learned uplift per arm, named ARM_PREFIX + arm.
CONTROL_ARM = "control"
ARM_SEPARATOR = "|"
ARM_PREFIX = "uplift@"


# -- uplift ------------------------------------------------------------------------------------

def campaign_training_frame(touches: pd.DataFrame, features_at) -> pd.DataFrame:
    """Past randomized campaigns joined with each customer's features the day before the send.

    ``features_at(date)`` returns the feature table as of ``date`` (no look-ahead). ``arm``
    says what a treated row received (:func:`_arm_labels`: its channel, and its offer when the
    touches have an ``offer`` column; "" when they do not say the channel); control rows are
    the arm :data:`CONTROL_ARM`.
    """
    if touches is None or touches.empty:
        return pd.DataFrame()
    needed = {"customer_id", "campaign_id", "sent_time", "group", "converted"}
    missing = needed - set(touches.columns)
    if missing:
        raise DataError(f"touches: missing {', '.join(sorted(missing))} for the uplift model")
    campaigns = []
    for campaign, rows in touches.groupby("campaign_id", sort=True):
        groups = set(rows["group"].astype(str).str.lower())
        if not {"treatment", "control"} <= groups:
            continue  # not a randomized campaign: cannot learn an effect from it
        day_before = pd.Timestamp(rows["sent_time"].min()).date() - dt.timedelta(days=1)
        campaigns.append((campaign, rows, day_before))
    days = sorted({day for _c, _r, day in campaigns})
    # Several dates at once when features_at can (campaign_features_at): the parts the
    # snapshots share are computed once; each equals its date's table alone.
    snapshots = (features_at.snapshots(days) if len(days) > 1
                 and hasattr(features_at, "snapshots") else {})
    frames = []
    for campaign, rows, day_before in campaigns:
        feats = snapshots[day_before] if day_before in snapshots else features_at(day_before)
        part = rows[["customer_id", "group", "converted"]].merge(feats, on="customer_id",
                                                                 how="left")
        part["campaign_id"] = campaign
        part["treated"] = part["group"].astype(str).str.lower().eq("treatment")
        part["converted"] = part["converted"].astype(bool)
        part["arm"] = np.where(part["treated"].to_numpy(), _arm_labels(rows), CONTROL_ARM)
        frames.append(part)
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def _arm_labels(touches: pd.DataFrame) -> np.ndarray:
    """Each touch's arm: its channel as the plan's channel table names it (``wecom`` →
    ``wecom_mass``), joined with its offer when the touches have an ``offer`` column."""
    if "channel" not in touches:
        return np.full(len(touches), "", dtype=object)
    channel = touches["channel"].astype("object")
    arm = channel.map(lambda c: "" if pd.isna(c) or str(c) == ""
                      else TOUCH_CHANNELS.get(str(c), str(c)))
    if "offer" in touches:
        offer = touches["offer"].astype("object")
        has_offer = offer.notna() & offer.astype(str).ne("") & arm.ne("")
        arm = arm.where(~has_offer, arm + ARM_SEPARATOR + offer.astype(str))
    return arm.to_numpy(dtype=object)


def campaign_features_at(tables, touches: pd.DataFrame | None):
    """``features_at(date)`` for the customers in ``touches`` only: the feature table of a
    customer depends on their own orders, profile and events, so the rows equal the full
    snapshot's (tested) at a fraction of its cost.

    ``tables``: a dataset, or a mapping of ``orders`` / ``customers`` / ``events`` to a
    DataFrame or a Parquet file (a run's validated tables, :meth:`RunContext.table_source`).
    DuckDB keeps the touched customers' rows once (a semi-join on their ids); every
    campaign's snapshot then reads those instead of the whole tables again.
    ``features_at.snapshots(dates)`` gives several dates' tables at once (by date), as
    :func:`campaign_training_frame` asks for them.
    """
    con = ibis.duckdb.connect()
    for statement in memory_settings(FEATURE_MEMORY_SHARE):  # spill, not 80 % of RAM
        con.raw_sql(statement)
    ids = [] if touches is None else touches["customer_id"].astype(str).unique().tolist()
    id_table = ibis.memtable(pd.DataFrame({"customer_id": pd.Series(ids, dtype="string")}))
    kept = {}
    for name in ("orders", "customers", "events"):
        source = tables.get(name) if isinstance(tables, Mapping) else getattr(tables, name, None)
        if source is None:
            continue
        table = (ibis.memtable(source) if isinstance(source, pd.DataFrame)
                 else con.read_parquet(source, table_name=f"{name}_all"))
        kept[name] = con.create_table(
            name, table.filter(table.customer_id.isin(id_table.customer_id)), temp=True)

    def features_at(day):
        return build_features(kept, day, con=con)

    def snapshots(days) -> dict:
        """The feature tables of several dates (:func:`build_feature_snapshots`), by date."""
        days = sorted(set(days))
        built = list(build_feature_snapshots(kept, days, con=con))
        return {day: frame for day, (_d, frame) in zip(days, built, strict=True)}

    features_at.snapshots = snapshots
    return features_at


# -- the plan ----------------------------------------------------------------------------------

@dataclass
class ReachPlan:
    """The chosen contacts, the holdout, and what the optimizer proved about them."""

    plan: pd.DataFrame  # one row per contacted (treatment) customer
    control: pd.DataFrame  # the randomized holdout: same selection, not contacted
    result: assignment.AssignmentResult
    summary: pd.DataFrame  # per channel: contacts, cost, expected incremental revenue, ROI
    holdout: dict[str, Any]
    excluded: dict[str, int]
    uplift_source: str  # "model" or "assumption"
    params: dict[str, Any] = field(default_factory=dict)
    # channel → "measured" (a past campaign's arm) or "assumed" (pooled uplift × its effect)
    channel_uplift: dict[str, str] = field(default_factory=dict)


def _expected_gain(uplift: np.ndarray, value: np.ndarray, channels: pd.DataFrame
                   ) -> np.ndarray:
    """Expected incremental value net of cost, per customer × channel. ``uplift``: one per
    customer (scaled by each channel's stated ``effect``), or per customer × channel as
    :func:`channel_uplift` gives it (effects already in)."""
    effect = channels["effect"].to_numpy(dtype=float)
    cost = channels["cost"].to_numpy(dtype=float)
    if np.ndim(uplift) == 2:
        return np.clip(uplift, 0, None) * value[:, None] - cost[None, :]
    return (np.clip(uplift, 0, None)[:, None] * effect[None, :] * value[:, None]
            - cost[None, :])


def channel_uplift(candidates: pd.DataFrame, channels: pd.DataFrame
                   ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The uplift of a contact per customer × channel, the arm it comes from, and which
    channels' uplift was measured.

    A channel that past campaigns used as an arm (a candidates column ``uplift@<channel>`` or
    ``uplift@<channel>|<offer>``) takes its arm's learned uplift — with several offers on
    the channel, each customer's best offer. Any other channel takes the campaigns' pooled
    uplift (``uplift``) × the channel's stated ``effect``: an assumption, reported as such.
    Returns (uplift n × k, arm labels n × k, measured k).
    """
    pooled = candidates["uplift"].to_numpy(float)
    arm_columns = [str(c) for c in candidates.columns if str(c).startswith(ARM_PREFIX)]
    n, k = len(candidates), len(channels)
    uplift = np.zeros((n, k))
    arms = np.empty((n, k), dtype=object)
    measured = np.zeros(k, dtype=bool)
    names = channels["channel"].astype(str).to_numpy()
    effects = channels["effect"].to_numpy(float)
    for j, (name, effect) in enumerate(zip(names, effects, strict=True)):
        own = [c for c in arm_columns
               if c[len(ARM_PREFIX):].split(ARM_SEPARATOR)[0] == name]
        if not own:
            uplift[:, j] = pooled * effect
            arms[:, j] = name
            continue
        values = candidates[own].to_numpy(float)
        values = np.where(np.isnan(values), -np.inf, values)
        best = values.argmax(axis=1) if n else np.zeros(0, dtype=int)
        chosen = values[np.arange(n), best]
        uplift[:, j] = np.where(np.isfinite(chosen), chosen, 0.0)
        arms[:, j] = np.array([c[len(ARM_PREFIX):] for c in own], dtype=object)[best]
        measured[j] = True
    return uplift, arms, measured


def build_plan(candidates: pd.DataFrame, channels: pd.DataFrame, eligible: np.ndarray,
               params: ReachParams = ReachParams(), *, seed: int = 0,
               excluded: dict[str, int] | None = None, uplift_source: str = "model",
               method: str = "auto", tol: float = 1e-4) -> ReachPlan:
    """Choose contacts and channels, then split the chosen into contacted and holdout.

    ``candidates`` columns: customer_id, uplift, value (expected value of a conversion),
    baseline_rate (conversion without contact), send_hour, and any descriptive columns to
    carry into the lists (strategy, reason, segment, tier, phone...). ``method`` is the
    optimizer's (:func:`custops.models.assignment.optimize_assignment`): the dashboards use
    "lagrangian", quick enough to follow a slider, with its proven gap shown, where "auto" may
    also run the much slower exact MILP to close a gap of a few millionths. ``tol``: a plan
    proven within this relative gap of the best possible is kept (1e-4: within 0.01 %; the
    MILP runs only above it).
    """
    gain, cost, windowed = _plan_inputs(candidates, channels, eligible, params)
    contact_uplift, arms, measured = channel_uplift(candidates, channels)
    capacity = channels["daily_capacity"].to_numpy(float) * params.campaign_days
    # The holdout is not contacted, so the budget buys contacts for the treatment share only.
    share = params.holdout_share or 0.0
    result = assignment.optimize_assignment(
        gain, cost, windowed,
        budget=params.budget / max(1 - share, 1e-9) if share else params.budget,
        capacity=capacity / max(1 - share, 1e-9) if share else capacity, method=method,
        tol=tol)
    chosen = result.channel >= 0
    selected = candidates[chosen].copy()
    selected["channel"] = channels["channel"].to_numpy()[result.channel[chosen]]
    j = result.channel[chosen]
    selected["cost"] = channels["cost"].to_numpy(float)[j]
    rows = np.flatnonzero(chosen)
    # The arm chosen and the uplift behind the choice: the arm's measured uplift, or the
    # pooled uplift that the channel's stated effect scales.
    selected["arm"] = arms[rows, j]
    selected["uplift_basis"] = np.where(measured[j], "measured", "assumed")
    selected["uplift"] = np.where(measured[j], contact_uplift[rows, j],
                                  selected["uplift"].to_numpy(float))
    selected["expected_incremental_revenue"] = (
        np.clip(contact_uplift[rows, j], 0, None) * selected["value"].to_numpy(float))
    selected["send_time"] = format_hour(selected["send_hour"].to_numpy(float))
    holdout = _size_holdout(selected, params)
    mask = experiment.holdout_mask(selected["customer_id"].astype(str), params.campaign_id,
                                 holdout["share"], seed=seed, exact=True)
    selected["group"] = np.where(mask, "control", "treatment")
    plan = selected[~mask].reset_index(drop=True)
    control = selected[mask].reset_index(drop=True)
    summary = _plan_summary(plan)
    basis = {str(c): ("measured" if m else "assumed")
             for c, m in zip(channels["channel"], measured, strict=True)}
    return ReachPlan(plan=plan, control=control, result=result, summary=summary,
                     holdout=holdout, excluded=excluded or {}, uplift_source=uplift_source,
                     params=asdict(params), channel_uplift=basis)


def _size_holdout(selected: pd.DataFrame, params: ReachParams) -> dict[str, Any]:
    n = len(selected)
    baseline = float(selected["baseline_rate"].mean()) if n else 0.1
    baseline = min(max(baseline, 0.01), 0.95)
    if params.holdout_share:
        share = params.holdout_share
        feasible = True
    elif n >= 4:
        size = experiment.holdout_size_for_effect(n, baseline, params.target_lift)
        share = min(max(size.control_share, params.min_holdout_share), params.max_holdout_share)
        feasible = size.feasible
    else:
        share, feasible = params.min_holdout_share, False
    n_control = int(round(share * n))
    mde = (experiment.minimum_detectable_effect(n - n_control, n_control, baseline)
           if 0 < n_control < n else float("nan"))
    return {"share": float(share), "n_control": n_control, "n_treatment": n - n_control,
            "baseline_rate": baseline, "target_lift": params.target_lift,
            "minimum_detectable_effect": float(mde), "target_reachable": bool(feasible)}


def plan_record(reach_plan: ReachPlan) -> dict[str, Any]:
    """The JSON part of a plan (``reach_summary``): per-channel summary, holdout, what the
    optimizer proved, exclusions and parameters."""
    result = reach_plan.result
    return {"summary": reach_plan.summary.to_dict("records"), "holdout": reach_plan.holdout,
            "gap": result.gap, "params": reach_plan.params,
            "optimizer": {"method": result.method, "objective": result.objective,
                          "spend": result.spend, "upper_bound": result.upper_bound,
                          "counts": [int(c) for c in result.counts]},
            "excluded": reach_plan.excluded, "uplift_source": reach_plan.uplift_source,
            "channel_uplift": reach_plan.channel_uplift}


def plan_from_record(plan: pd.DataFrame, control: pd.DataFrame, record: dict[str, Any]
                     ) -> ReachPlan:
    """A :class:`ReachPlan` back from its stored parts (:func:`plan_record`); the per-customer
    choice of the optimizer is the plan's ``channel`` column."""
    solved = record.get("optimizer", {})
    result = assignment.AssignmentResult(
        channel=np.array([], dtype=np.int64), objective=float(solved.get("objective", np.nan)),
        spend=float(solved.get("spend", np.nan)),
        counts=np.asarray(solved.get("counts", []), dtype=np.int64),
        upper_bound=float(solved.get("upper_bound", np.nan)), gap=float(record["gap"]),
        method=str(solved.get("method", "")))
    return ReachPlan(plan=plan, control=control, result=result,
                     summary=pd.DataFrame(record["summary"]), holdout=record["holdout"],
                     excluded={str(k): int(v) for k, v in record.get("excluded", {}).items()},
                     uplift_source=record.get("uplift_source", "model"),
                     params=record.get("params", {}),
                     channel_uplift=dict(record.get("channel_uplift", {})))


def _plan_summary(plan: pd.DataFrame, by: str = "channel") -> pd.DataFrame:
    """Counts, cost, expected incremental revenue and ROI per ``by`` value (and a total)."""
    if plan.empty:
        return pd.DataFrame(columns=[by, "contacts", "cost", "expected_incremental_revenue",
                                     "roi"])
    out = plan.groupby(by).agg(contacts=("customer_id", "size"), cost=("cost", "sum"),
                               expected_incremental_revenue=("expected_incremental_revenue",
                                                             "sum")).reset_index()
    total = pd.DataFrame([{by: "total", "contacts": out["contacts"].sum(),
                           "cost": out["cost"].sum(),
                           "expected_incremental_revenue": out["expected_incremental_revenue"]
                           .sum()}])
    out = pd.concat([out, total], ignore_index=True)
    out["roi"] = (out["expected_incremental_revenue"] - out["cost"]) / out["cost"].where(
        out["cost"] > 0)
    return out


# -- campaign readout --------------------------------------------------------------------------

def readout(touches: pd.DataFrame, segments: pd.DataFrame | None = None,
            by: str | None = None, channels: pd.DataFrame | None = None) -> pd.DataFrame:
    """Results of finished campaigns: lift with CI, incremental revenue, ROI (per campaign and
    optionally per segment column of ``segments``). Contact costs come from ``channels``
    (the same table the plan uses; default :data:`DEFAULT_CHANNELS`)."""
    frame = touches.copy()
    frame["group"] = frame["group"].astype(str).str.lower()
    frame["converted"] = frame["converted"].astype(bool)
    if "revenue" not in frame:
        frame["revenue"] = 0.0
    channel_cost = (DEFAULT_CHANNELS if channels is None else channels).set_index("channel")["cost"]
    frame["cost"] = np.where(frame["group"] == "treatment",
                             frame["channel"].astype(str).map(TOUCH_CHANNELS).map(channel_cost)
                             .fillna(0.0), 0.0)
    cols = ["campaign_id"]
    if by and segments is not None:
        frame = frame.merge(segments[["customer_id", by]], on="customer_id", how="left")
        frame[by] = frame[by].astype("object").fillna("none")
        cols.append(by)
    return experiment.campaign_readout(frame, cost_col="cost", by=cols)


# -- the step as the notebook runs it ----------------------------------------------------------

@dataclass
class UpliftResult:
    """Where the uplift came from and how good it is."""

    source: str  # "model" or "assumption"
    uplift: np.ndarray
    baseline_rate: np.ndarray
    evaluation: dict[str, Any] | None = None
    arms: pd.DataFrame | None = None  # uplift per customer (rows) and campaign arm (columns)


def estimate_uplift(features: pd.DataFrame, segments: pd.DataFrame, touches: pd.DataFrame | None,
                    features_at, *, seed: int = 0, assumed: dict[str, float] | None = None
                    ) -> UpliftResult:
    """Uplift per customer: learned from past randomized campaigns when there are any,
    otherwise the stated assumptions per lifecycle stage. When the campaigns say which arm
    (channel, offer) each treated customer received, ``arms`` holds the uplift of every arm
    (:func:`_arm_uplift`)."""
    from custops.models.uplift import UpliftModel, evaluate_uplift  # noqa: PLC0415 - see top

    training = campaign_training_frame(touches, features_at) if touches is not None else None
    if training is not None and len(training) >= 200:
        evaluation = {**evaluate_uplift(training, seed=seed), "rows": len(training)}
        model = UpliftModel(random_state=seed)
        if len(training) - len(evaluation["test"]) >= model.max_train_rows:
            model = evaluation["model"]  # a refit would draw the same number of rows again
        else:
            model = model.fit(training, training["treated"], training["converted"])
        pooled, baseline = model.predict_both(features)
        return UpliftResult("model", pooled, baseline, evaluation,
                            _arm_uplift(training, features, pooled, seed=seed))
    assumed = {**ASSUMED_UPLIFT, **(assumed or {})}
    stage = segments.set_index("customer_id")["lifecycle_stage"].reindex(features["customer_id"])
    stage = stage.astype("object").fillna("prospect")
    return UpliftResult("assumption", stage.map(assumed).fillna(0.0).to_numpy(float),
                        np.full(len(features), 0.1))


MIN_ARM_TREATED = 100  # treated rows an arm needs before its own uplift is learned


def _arm_uplift(training: pd.DataFrame, features: pd.DataFrame, pooled: np.ndarray, *,
                seed: int) -> pd.DataFrame | None:
    """Uplift per customer and arm of the past campaigns (one column per arm).

    Arms with at least :data:`MIN_ARM_TREATED` treated rows count. With two or more, the
    multi-arm X-learner (:class:`~custops.models.uplift.CampaignArmsUpliftModel`) learns each
    against the control group; with one, its uplift is the pooled model's. None when the
    touches do not say the arm or an arm cannot be learned (each channel then takes the
    pooled uplift × its stated effect, reported as an assumption).

    An arm learned from a few thousand rows is much noisier than the pooled model (on the
    sample, whose true effects do not depend on the channel, raw per-arm scores reached 0.70
    of the oracle's Qini against the pooled 0.87). So each arm's uplift is the pooled uplift
    plus the arm's deviation from the arms' mean, shrunk by how reliably the data show it
    (:func:`_arm_reliability`): arms that really differ keep their difference, arms that
    differ by noise fall back to the pooled uplift."""
    from custops.models.uplift import MIN_ARM_ROWS  # noqa: PLC0415 - see the top

    if "arm" not in training:
        return None
    counts = training.loc[training["treated"], "arm"].value_counts()
    arms = sorted(str(a) for a, c in counts.items() if a and c >= max(MIN_ARM_TREATED,
                                                                      MIN_ARM_ROWS))
    if len(arms) <= 1:
        return pd.DataFrame({arms[0]: pooled}) if arms else None
    rows = training[~training["treated"] | training["arm"].isin(arms)]
    try:
        halves = experiment.holdout_mask(rows["customer_id"].astype(str), "arm-halves", 0.5,
                                         seed=seed)
        # The halves' agreement is a correlation over customers: a seeded sample of them
        # measures it as well as everyone does, at a fraction of the predictions.
        sample = _reliability_sample(features, seed)
        first = _arm_deviations(rows[halves], sample, arms, seed + 1)
        second = _arm_deviations(rows[~halves], sample, arms, seed + 2)
        weight = _arm_reliability(first, second)
        # Every customer's deviations only when some arm keeps part of its own (a weight of
        # 0 leaves the pooled uplift as it is: the fit and a million predictions saved).
        raw = (_arm_deviations(rows, features, arms, seed)
               if any(w > 0 for w in weight.values()) else None)
    except DataError:
        return None
    return pd.DataFrame({arm: pooled + weight[arm] * raw[arm].to_numpy(float)
                         if raw is not None and weight[arm] > 0 else pooled.copy()
                         for arm in arms})


RELIABILITY_CUSTOMERS = 50_000  # customers the split-half agreement of the arms is measured on


def _reliability_sample(features: pd.DataFrame, seed: int) -> pd.DataFrame:
    """Every customer up to :data:`RELIABILITY_CUSTOMERS`, else a seeded random sample of
    that many (the standard error of a correlation over 50,000 customers is under 0.005)."""
    if len(features) <= RELIABILITY_CUSTOMERS:
        return features
    rng = np.random.default_rng([seed, RELIABILITY_CUSTOMERS])
    picked = np.sort(rng.choice(len(features), RELIABILITY_CUSTOMERS, replace=False))
    return features.iloc[picked]


def _arm_deviations(rows: pd.DataFrame, features: pd.DataFrame, arms: list[str], seed: int
                    ) -> pd.DataFrame:
    """Each arm's learned uplift minus the mean over the arms, per customer of ``features``."""
    from custops.models.uplift import CampaignArmsUpliftModel  # noqa: PLC0415 - see the top

    model = CampaignArmsUpliftModel(control=CONTROL_ARM, random_state=seed).fit(
        rows, rows["arm"].astype(str), rows["converted"].astype(int))
    predicted = model.predict(features)[arms]
    return predicted.sub(predicted.mean(axis=1), axis=0)


def _arm_reliability(first: pd.DataFrame, second: pd.DataFrame) -> dict[str, float]:
    """Per arm, the share of its deviation that is signal: the correlation ρ between the
    deviations learned from two halves of the campaign rows (split by customer; their noise
    is independent), stepped up to the whole data by Spearman-Brown, 2ρ / (1 + ρ); 0 when
    the halves do not agree."""
    out = {}
    for arm in first.columns:
        a, b = first[arm].to_numpy(float), second[arm].to_numpy(float)
        spread = float(np.std(a) * np.std(b))
        rho = float(np.mean((a - a.mean()) * (b - b.mean())) / spread) if spread > 0 else 0.0
        out[arm] = max(0.0, 2 * rho / (1 + rho)) if rho > 0 else 0.0
    return out


@dataclass
class ReachInputs:
    """What the optimizer plans from: uplift, candidates (one row per customer, in the feature
    table's order), the (customer × channel) eligibility and the exclusion counts."""

    uplift: UpliftResult
    candidates: pd.DataFrame
    eligible: np.ndarray
    excluded: dict[str, int]
    channels: pd.DataFrame
    params: ReachParams


def prepare(features: pd.DataFrame, segments: pd.DataFrame,
            churn_scores: pd.DataFrame | Callable[[], pd.DataFrame | None] | None,
            channels: pd.DataFrame, params: ReachParams = ReachParams(), *,
            tables: Mapping[str, Any], touches: pd.DataFrame | None, as_of: dt.date,
            seed: int = 0) -> ReachInputs:
    """Uplift, candidates and eligibility: what the optimizer plans from.

    ``churn_scores`` may be a function giving them: it is called only once the uplift, send
    hours and eligibility are done (none of them needs the scores), so a run making the
    scores in another notebook meanwhile is not waited for until they are needed.
    ``tables`` holds ``orders``, ``customers`` and ``events`` as DuckDB should read them (frames
    or Parquet paths; see :func:`custops.aggregates.activity_hour_matrix`); ``touches`` the
    contact history (past campaigns teach the uplift model; recent touches count against the
    fatigue caps)."""
    from custops.models.uplift import (  # noqa: PLC0415 - see the top
        MAX_CAMPAIGN_ROWS,
        sample_campaign_rows,
    )

    sampled = sample_campaign_rows(touches, MAX_CAMPAIGN_ROWS, seed=seed)
    uplift = estimate_uplift(features, segments, sampled,
                             campaign_features_at(tables, sampled), seed=seed)
    hours = activity_hour_matrix(tables["orders"], tables["events"], as_of,
                                 features["customer_id"])
    eligible, excluded = eligibility(features, channels, touches, as_of, params)
    if callable(churn_scores):
        churn_scores = churn_scores()
    candidates = candidates_frame(features, segments, churn_scores, uplift, hours, params)
    return ReachInputs(uplift, candidates, eligible, excluded, channels.reset_index(drop=True),
                       params)


def candidates_frame(features: pd.DataFrame, segments: pd.DataFrame,
                     churn_scores: pd.DataFrame | None, uplift: UpliftResult,
                     hour_counts: pd.DataFrame | np.ndarray, params: ReachParams = ReachParams()
                     ) -> pd.DataFrame:
    """Everyone who could be contacted, with uplift, value of a conversion, send hour and the
    descriptive columns the contact lists carry."""
    out = features[["customer_id"]].copy()
    out["uplift"] = uplift.uplift
    out["baseline_rate"] = uplift.baseline_rate
    if uplift.arms is not None:
        for arm in uplift.arms.columns:
            out[ARM_PREFIX + str(arm)] = uplift.arms[arm].to_numpy(float)
    seg_cols = [c for c in ("rfm_class", "lifecycle_stage", "value_tier", "customer_class")
                if c in segments]

    out = join_by_customer(out, segments, seg_cols)
    if churn_scores is not None:
        keep = [c for c in ("expected_spend", "expected_value", "churn_probability", "reason",
                            "strategy") if c in churn_scores]
        out = join_by_customer(out, churn_scores, keep)
    if "expected_spend" not in out:
        out["expected_spend"] = features["avg_order_value"].to_numpy()
    typical = float(np.nanmedian(out["expected_spend"])) if out["expected_spend"].notna().any() \
        else 0.0
    out["value"] = out["expected_spend"].fillna(typical).clip(lower=0) * params.margin
    if "phone" in features:
        out["phone"] = features["phone"].to_numpy()
    out["send_hour"] = send_hours(hour_counts, out["customer_id"],
                                  out.get("lifecycle_stage", pd.Series("all", index=out.index)),
                                  params)
    return out


def _plan_inputs(candidates: pd.DataFrame, channels: pd.DataFrame, eligible: np.ndarray,
                 params: ReachParams = ReachParams()
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """gain, cost and eligibility (incl. send windows) as the optimizer takes them — shared by
    the plan and the budget curve so both see the same problem."""
    gain = _expected_gain(channel_uplift(candidates, channels)[0],
                          candidates["value"].to_numpy(float), channels)
    hour = candidates["send_hour"].to_numpy(float)
    windowed = eligible.copy()
    for j, row in channels.reset_index(drop=True).iterrows():
        windowed[:, j] &= in_hour_window(hour, row["window_start"], row["window_end"])
    return gain, channels["cost"].to_numpy(float), windowed


MAX_CURVE_CUSTOMERS = 200_000  # above this the budget curve is estimated on a random sample


def budget_curve(candidates: pd.DataFrame, channels: pd.DataFrame, eligible: np.ndarray,
                 params: ReachParams = ReachParams(), *, points: int = 13,
                 max_customers: int | None = MAX_CURVE_CUSTOMERS, seed: int = 0,
                 plan: ReachPlan | None = None) -> pd.DataFrame:
    """Incremental value net of cost against spend, from zero to 3× the budget.

    Each point is an optimization over every candidate (with binding channel capacities, one
    Lagrangian solve per point). Above ``max_customers`` the curve is solved on a seeded
    random sample with budgets and capacities scaled by the sample's share and scaled back
    (``curve.attrs["sampled_customers"]`` says so; the plan itself always uses everyone): a
    sample that large keeps the curve and its marginal returns close to the exact ones at a
    fraction of the cost.

    Each budget is solved as :func:`build_plan` solves it (a set holdout share scales budget
    and capacities the same way), and ``spend``, ``objective`` and ``contacts`` are those of
    the customers actually contacted: the selection less the holdout (share of ``plan``'s
    holdout, else ``holdout_share``). With ``plan`` (made with ``params``) the point at the
    run's budget is the plan's own: its contacted customers' cost and expected incremental
    revenue less cost, so the curve passes through the plan.
    """
    curve = _selection_curve(candidates, channels, eligible, params, points=points,
                             max_customers=max_customers, seed=seed)
    share = float(plan.holdout.get("share", 0.0)) if plan is not None else float(
        params.holdout_share or 0.0)
    # The contacted part of each selection: the holdout's share less, or with the plan the
    # contacted part it actually has at the run's budget (the holdout is a random draw, so its
    # value share is close to, not exactly, its head-count share).
    ratios = dict.fromkeys(("spend", "objective", "contacts"), 1 - share)
    at = (curve["budget"] - params.budget).abs() <= 1e-9 * max(params.budget, 1.0)
    if plan is not None and at.any():
        contacted = plan.plan
        spend = float(contacted["cost"].sum()) if len(contacted) else 0.0
        revenue = float(contacted["expected_incremental_revenue"].sum()) if len(contacted) \
            else 0.0
        row = curve[at].iloc[0]
        for col, mine in (("spend", spend), ("objective", revenue - spend),
                          ("contacts", float(len(contacted)))):
            if float(row[col]) > 0:
                ratios[col] = mine / float(row[col])
    for col in ("spend", "objective", "contacts"):
        curve[col] = curve[col] * ratios[col]
    curve["upper_bound"] = curve["upper_bound"] * ratios["objective"]
    if plan is not None and at.any():  # exactly the plan's own point
        curve.loc[at, "spend"], curve.loc[at, "objective"] = spend, revenue - spend
        curve.loc[at, "contacts"] = len(contacted)
    curve["contacts"] = np.round(curve["contacts"]).astype("int64")
    curve.attrs["holdout_share"] = share
    return curve


def _selection_curve(candidates: pd.DataFrame, channels: pd.DataFrame, eligible: np.ndarray,
                     params: ReachParams, *, points: int, max_customers: int | None, seed: int
                     ) -> pd.DataFrame:
    """The optimizer's value against budget for the whole selection (holdout included), as
    :func:`build_plan` solves each budget."""
    gain, cost, windowed = _plan_inputs(candidates, channels, eligible, params)
    top = max(params.budget * 3, 1.0)
    budgets = np.linspace(0, top, points)
    if not np.isclose(budgets, params.budget, rtol=1e-9, atol=0).any():
        budgets = np.sort(np.append(budgets, params.budget))  # the run's budget is a point
    capacity = channels["daily_capacity"].to_numpy(float) * params.campaign_days
    set_share = float(params.holdout_share or 0.0)
    if set_share:  # as build_plan: the holdout's share of the selection is bought too
        capacity = capacity / max(1 - set_share, 1e-9)
    n = len(gain)
    if max_customers is None or n <= max_customers:
        curve = assignment.budget_curve(gain, cost, windowed,
                                        budgets / max(1 - set_share, 1e-9), capacity=capacity)
        curve["budget"] = budgets
        return curve

    from custops.models.classifier import sample_rows  # noqa: PLC0415 - see the top

    rows = sample_rows(n, max_customers, seed)
    share = max_customers / n
    curve = assignment.budget_curve(gain[rows], cost, windowed[rows],
                                  budgets * share / max(1 - set_share, 1e-9),
                                  capacity=np.where(np.isfinite(capacity),
                                                    np.floor(capacity * share), capacity))
    curve["budget"] = budgets
    for col in ("spend", "objective", "upper_bound"):
        curve[col] = curve[col] / share
    curve["contacts"] = np.round(curve["contacts"] / share).astype("int64")
    curve.attrs["sampled_customers"] = int(max_customers)
    return curve


# -- report sections ---------------------------------------------------------------------------

def uplift_section(uplift: UpliftResult, touches: pd.DataFrame | None, lang: str = "en"):
    """Where the uplift comes from: the learned model's Qini curve on held-out campaign rows,
    or the assumed uplift per lifecycle stage."""
    if uplift.source != "model":
        table = pd.DataFrame({t("seg.segment", lang): [value_label(k, lang) for k in ASSUMED_UPLIFT],
                              "uplift": list(ASSUMED_UPLIFT.values())})
        return Section(t("reach.uplift_title", lang), text=t("reach.assumed_text", lang),
                       tables=[table], data={"source": "assumption", "assumed": ASSUMED_UPLIFT})
    curve = uplift.evaluation["curve"]
    fig = plots.qini_figure(curve, title=t("reach.uplift_title", lang),
                            model_name=t("reach.model_curve", lang),
                            random_name=t("reach.random_curve", lang),
                            xaxis_title=t("reach.qini_x", lang), yaxis_title=t("reach.qini_y", lang))
    text = t("reach.uplift_text", lang, campaigns=touches["campaign_id"].nunique(),
             rows=int(uplift.evaluation.get("rows") or len(touches)),
             qini=uplift.evaluation["qini"])
    return Section(t("reach.uplift_title", lang), text=text, figures=[fig],
                   data={"source": "model", "qini": uplift.evaluation["qini"]})


# Exclusion rules as :func:`custops.rules.eligibility` names them (prefix) → label key.
_RULE_LABELS = (("no consent list: ", "reach.rule_no_list"),
                ("no consent: ", "reach.rule_consent"),
                ("no contact column, required: ", "reach.rule_contact_column_required"),
                ("no contact column: ", "reach.rule_no_contact_column"),
                ("no contact: ", "reach.rule_no_contact"),
                ("not eligible: ", "reach.rule_not_eligible"),
                ("fatigue cap (7 days)", "reach.rule_fatigue"),
                ("WeCom mass-message cap", "reach.rule_wecom_cap"))


def rule_label(rule: str, lang: str = "en") -> str:
    """An exclusion rule as :func:`eligibility` names it ("no consent: sms"), in ``lang``."""

    for prefix, key in _RULE_LABELS:
        if rule.startswith(prefix):
            return t(key, lang, channel=value_label(rule[len(prefix):], lang))
    return rule


def _summary_table(summary: pd.DataFrame, by: str, lang: str, margin: float = 1.0
                   ) -> pd.DataFrame:
    """Per channel (or class): contacts, cost, expected incremental revenue (the plan's values
    are revenue × ``margin``) and ROI."""
    return pd.DataFrame({
        t("reach.channel" if by == "channel" else "seg.segment", lang): [
            t("reach.total", lang) if v == "total" else value_label(v, lang) for v in summary[by]],
        t("reach.contacts", lang): summary["contacts"].astype("int64"),
        t("reach.cost", lang): [money(v, lang) for v in summary["cost"]],
        t("reach.incremental", lang): [money(v / margin, lang)
                                       for v in summary["expected_incremental_revenue"]],
        t("reach.roi", lang): [_roi(r, c) for r, c in
                               zip(summary["expected_incremental_revenue"], summary["cost"],
                                   strict=True)],
    })


def _roi(value: float, cost: float) -> str:
    """ROI = incremental revenue × margin ÷ cost. The plan's values already hold the margin
    (a conversion is worth its spend × margin), so this is value ÷ cost."""
    return f"{value / cost:,.1f}×" if cost and cost > 0 and pd.notna(value) else ""


def plan_section(reach_plan: ReachPlan, params: ReachParams = ReachParams(), lang: str = "en"):
    """The plan per channel (and RFM class): contacts, cost, expected incremental revenue and
    ROI, its proven gap, the holdout, and the customers each rule excluded."""
    summary = reach_plan.summary
    total = summary[summary["channel"] == "total"]
    tot = total.iloc[0] if len(total) else pd.Series({"contacts": 0, "cost": 0.0,
                                                     "expected_incremental_revenue": 0.0,
                                                     "roi": float("nan")})
    h = reach_plan.holdout
    text = t("reach.plan_text_money", lang, contacts=int(tot["contacts"]),
             cost=money(float(tot["cost"]), lang), budget=money(params.budget, lang),
             revenue=money(float(tot["expected_incremental_revenue"]) / params.margin, lang),
             roi=_roi(float(tot["expected_incremental_revenue"]), float(tot["cost"])) or "–",
             roi_defined=t("reach.roi_defined", lang, margin=params.margin),
             gap=max(reach_plan.result.gap, 0.0),
             method=t(f"reach.method.{reach_plan.result.method}", lang)
             if f"reach.method.{reach_plan.result.method}" in LABELS else reach_plan.result.method,
             n_control=h["n_control"], share=h["share"],
             mde=h["minimum_detectable_effect"] if pd.notna(h["minimum_detectable_effect"])
             else 0.0, baseline=h["baseline_rate"])
    parts = summary[summary["channel"] != "total"]
    fig = plots.bar_figure(parts.assign(name=[value_label(c, lang) for c in parts["channel"]]),
                           "name", "contacts", title=t("reach.plan_title", lang),
                           yaxis_title=t("reach.contacts", lang), text="contacts")
    tables = [_summary_table(summary, "channel", lang, params.margin)]
    if "rfm_class" in reach_plan.plan and len(reach_plan.plan):
        by_class = _plan_summary(reach_plan.plan.assign(
            rfm_class=reach_plan.plan["rfm_class"].astype("object").fillna("prospect")),
            by="rfm_class")
        tables.append(_summary_table(by_class, "rfm_class", lang, params.margin))
    excluded = pd.DataFrame({t("reach.rule", lang): [rule_label(k, lang)
                                                     for k in reach_plan.excluded],
                             t("customers", lang): list(reach_plan.excluded.values())})
    tables.append(excluded)
    text += _uplift_basis_text(reach_plan, lang)
    return Section(t("reach.plan_title", lang), text=text, tables=tables, figures=[fig],
                   data={"summary": summary.to_dict("records"), "holdout": h,
                         "gap": reach_plan.result.gap, "method": reach_plan.result.method,
                         "excluded": reach_plan.excluded,
                         "channel_uplift": reach_plan.channel_uplift})


def _uplift_basis_text(reach_plan: ReachPlan, lang: str) -> str:
    """Which channels' uplift past campaigns measured and which is assumed."""
    basis = reach_plan.channel_uplift
    if reach_plan.uplift_source != "model" or not basis:
        return ""
    measured = [value_label(c, lang) for c, b in basis.items() if b == "measured"]
    assumed = [value_label(c, lang) for c, b in basis.items() if b == "assumed"]
    sep = ", " if lang == "en" else "、"
    if not measured:
        return " " + t("reach.uplift_all_assumed", lang)
    return " " + t("reach.uplift_measured_channels", lang, measured=sep.join(measured),
                   assumed=sep.join(assumed) or t("reach.none", lang))


def budget_section(curve: pd.DataFrame, params: ReachParams = ReachParams(), lang: str = "en"):
    """The budget curve, the marginal return at the current budget and where it drops below 1."""
    fig = plots.budget_curve_figure(curve, params.budget, title=t("reach.curve_title", lang),
                                    line_name=t("reach.net_value_contacted", lang),
                                    budget_name=t("reach.current_budget", lang),
                                    xaxis_title=t("reach.budget_axis", lang))
    fig.update_xaxes(tickprefix="¥", separatethousands=True)
    fig.update_yaxes(tickprefix="¥", separatethousands=True)
    at = curve.iloc[(curve["budget"] - params.budget).abs().argmin()]
    text = t("reach.curve_text_plan", lang, budget=money(float(at["budget"]), lang),
             spend=money(float(at["spend"]), lang), net=money(float(at["objective"]), lang),
             marginal=money(float(at["marginal_return"]), lang))
    # Where one more yuan of spend stops returning ¥1 net: the first budget whose marginal
    # return is below 1 (its spend is what is actually spent there).
    below_one = curve[curve["marginal_return"] < 1]
    if len(below_one):
        first = below_one.iloc[0]
        text += " " + t("reach.curve_beyond", lang, spend=money(float(first["spend"]), lang),
                        budget=money(float(first["budget"]), lang))
    else:
        text += " " + t("reach.curve_all_pay", lang,
                        budget=money(float(curve["budget"].iloc[-1]), lang))
    if curve.attrs.get("sampled_customers"):
        text += " " + t("reach.curve_sampled", lang, n=curve.attrs["sampled_customers"])
    return Section(t("reach.curve_title", lang), text=text, figures=[fig],
                   data={"curve": curve.to_dict("records")})


def send_time_section(reach_plan: ReachPlan, params: ReachParams = ReachParams(),
                      lang: str = "en"):
    """Contacts per send time and channel: each before the customer's habit, outside quiet
    hours."""
    plan = reach_plan.plan
    counts = (plan.groupby(["send_time", "channel"]).size().rename("n").reset_index()
              if len(plan) else pd.DataFrame(columns=["send_time", "channel", "n"]))
    counts["channel"] = [value_label(c, lang) for c in counts["channel"]]
    fig = plots.bar_figure(counts.sort_values("send_time"), "send_time", "n", color="channel",
                           title=t("reach.time_title", lang), barmode="stack",
                           yaxis_title=t("reach.contacts", lang))
    # Each channel's bars are one trace: without an explicit order the axis follows the
    # order times first appear across traces, not the clock.
    fig.update_xaxes(categoryorder="array", categoryarray=sorted(counts["send_time"].unique()))
    top = plan["send_time"].mode().iloc[0] if len(plan) else "-"
    text = t("reach.time_text", lang, lead=params.lead_minutes, quiet_start=int(params.quiet_start),
             quiet_end=int(params.quiet_end), top=top)
    return Section(t("reach.time_title", lang), text=text, figures=[fig])


def readout_section(results: pd.DataFrame, lang: str = "en", *, margin: float = 1.0):
    """Finished campaigns (:func:`readout`): conversion by group, lift with its 95 % interval,
    measured incremental revenue and ROI (incremental revenue × ``margin`` ÷ cost, as the
    plan defines it)."""
    if results.empty:
        return Section(t("reach.readout_title", lang))
    table = pd.DataFrame({
        t("reach.campaign", lang): results["campaign_id"],
        t("reach.contacts", lang): results["n_treatment"].astype("int64"),
        t("reach.holdout_n", lang): results["n_control"].astype("int64"),
        t("reach.rates", lang): [f"{a:.1%} / {b:.1%}" for a, b in
                                 zip(results["rate_treatment"], results["rate_control"],
                                     strict=True)],
        t("reach.lift", lang): [f"{v:+.1%} ({lo:+.1%} … {hi:+.1%})" for v, lo, hi in
                                zip(results["lift"], results["lift_low"], results["lift_high"],
                                    strict=True)],
        t("reach.measured_revenue", lang): [money(v, lang)
                                            for v in results["incremental_revenue"]],
        t("reach.roi", lang): [_roi(r * margin, c) if "cost" in results else ""
                               for r, c in zip(results["incremental_revenue"],
                                               results.get("cost", results["incremental_revenue"]),
                                               strict=True)],
    })
    text = " ".join(t("reach.readout_text_money", lang, campaign=r.campaign_id,
                      rate_t=r.rate_treatment, rate_c=r.rate_control, lift=r.lift,
                      low=r.lift_low, high=r.lift_high,
                      revenue=money(r.incremental_revenue, lang))
                    for r in results.itertuples())
    return Section(t("reach.readout_title", lang), text=text, tables=[table],
                   data={"readout": results.to_dict("records")})


def exports_section(paths: list[str | Path], lang: str = "en"):
    """The contact lists written (their names) and what each holds."""
    paths = [Path(p) for p in paths]
    names = ", ".join(f"`{p.name}`" for p in paths)
    # A report's own folder is named relative to the report; elsewhere (a notebook run on
    # its own) the full path, so the files can be found.
    folder = "exports/" if not paths or paths[0].parent.name == "exports" else str(
        paths[0].parent)
    return Section(t("reach.exports_title", lang),
                   text=t("reach.exports_text_lists", lang, files=names, folder=folder,
                          rows=EXCEL_ROWS_PER_SHEET),
                   data={"files": [p.name for p in paths], "folder": folder})


def params_dict(params: ReachParams) -> dict[str, Any]:
    """Parameters as a JSON-friendly dict (for the artifact)."""
    return asdict(params)
