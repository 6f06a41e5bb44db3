"""Churn warning (流失预警): who is about to stop buying, how sure we are, why, and what to do.

Two models score every buyer, and both are backtested on the user's own history before anyone
relies on them:

- **BG/NBD + Gamma-Gamma** (:mod:`custops.models.btyd`): probability alive, expected orders and
  discounted expected value over a horizon; P(no order in the horizon) exactly under the model.
- **Gradient boosting** (scikit-learn's HistGradientBoosting) on the feature table as of
  ``as_of − horizon``, label = no order in the following ``horizon`` days.

A plain RFM rule (the churn rate of the customer's R × F score cell) is the baseline. The
backtest fits everything one horizon earlier and compares with what happened since; the model
with the higher AUC there drives the risk bands.
"""

from __future__ import annotations

import contextlib
import warnings
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from custops import plots
from custops.errors import NotComputable, ParameterError
from custops.features import join_by_customer
from custops.labels import LABELS, health_words, reason_words, t, value_label
from custops.sections import Section
from custops.segment import rfm_table

if TYPE_CHECKING:
    from custops.models import btyd, gamma_gamma
    from custops.models.classifier import SupervisedChurnModel

# The models (scikit-learn, scipy.stats and scipy.optimize: ~2-3 s of CPU to import) load where
# a model is fitted. A dashboard kernel shows the published churn artifacts and never fits:
# without them each pool refill starts that much sooner under load.

__all__ = [
    "sample_customers",
    "exports_section",
    "already_churned",
    "recall_section",
    "AUC_TIE",
    "SIMPLEST_FIRST",
    "choose_winner",
    "MODELS",
    "RISK_BANDS",
    "STRATEGIES",
    "BTYDScores",
    "SupervisedChurnModel",  # from custops.models.classifier (the README's Spark example)
    "Backtest",
    "ChurnParams",
    "backtest",
    "backtest_section",
    "btyd_params",
    "btyd_scores",
    "btyd_section",
    "buyers",
    "buyers_of",
    "outcome",
    "priority_section",
    "reason_codes",
    "risk_band",
    "risk_section",
    "score_customers",
    "strategies",
    "trend_section",
]

MODELS = ("supervised", "btyd", "rfm_rule")
SIMPLEST_FIRST = ("rfm_rule", "btyd", "supervised")  # the tie rule's order
AUC_TIE = 0.005  # AUCs this close are a tie: the simpler model wins
RISK_BANDS = ("high_risk", "medium_risk", "low_risk")
STRATEGIES = ("recall_high_value", "recall_low_cost", "onboarding", "service_callback",
              "price_subsidy", "product_offer", "monitor")


@dataclass(frozen=True)
class ChurnParams:
    """Churn-step parameters (defaults: DOMAIN.md)."""

    horizon_days: int = 90  # churn = no order in the next horizon_days
    value_horizon_days: int = 365  # expected value over this horizon
    discount_rate_annual: float = 0.10
    high_risk: float = 0.7  # churn probability bands: high ≥ high_risk, medium ≥ medium_risk
    medium_risk: float = 0.4
    # 100 rounds at 0.1 on a sample of buyers rank churners as well in the backtest as 200 at
    # 0.05 on twice as many, for a fraction of the fit and scoring time
    max_iter: int = 100  # boosting rounds
    learning_rate: float = 0.1

    def __post_init__(self):
        if self.horizon_days <= 0 or self.value_horizon_days <= 0:
            raise ParameterError("horizon_days and value_horizon_days must be positive")
        if not 0 < self.medium_risk < self.high_risk < 1:
            raise ParameterError(f"need 0 < medium_risk < high_risk < 1, got "
                                 f"{self.medium_risk} and {self.high_risk}")


# -- labels and the model matrix ---------------------------------------------------------------

def __getattr__(name: str):
    if name in ("SupervisedChurnModel", "classification_metrics"):  # re-exported, on first use
        from custops.models import classifier  # noqa: PLC0415 - see the top

        return getattr(classifier, name)
    raise AttributeError(f"module 'custops.churn' has no attribute {name!r}")


def buyers(features: pd.DataFrame, columns: list[str] | None = None) -> pd.DataFrame:
    """Customers with at least one order day (the population churn is defined on); only
    ``columns`` of them when given (a row filter copies every column it keeps: a million
    buyers' whole rows are ~1 GB)."""
    keep = features["is_buyer"].to_numpy(dtype=bool)
    return (features if columns is None else features[columns])[keep].reset_index(drop=True)


def buyers_of(table: pd.DataFrame, features: pd.DataFrame) -> pd.DataFrame:
    """The rows of a per-customer ``table`` (e.g. segments) for :func:`buyers` of
    ``features``, in that order: taken by position when ``table`` lists the customers of
    ``features`` in the same order (tables made from one feature table do), else looked up."""
    if len(table) == len(features) and table["customer_id"].reset_index(drop=True).equals(
            features["customer_id"].reset_index(drop=True)):
        return table[features["is_buyer"].to_numpy(dtype=bool)].reset_index(drop=True)
    ids = buyers(features)["customer_id"]
    found = table.drop_duplicates("customer_id").set_index("customer_id").reindex(ids)
    return found.reset_index()


MIN_BUYERS = 20  # buyers a churn model needs at a snapshot, and of each outcome
MIN_PER_CLASS = 5


def _check_history(features_then: pd.DataFrame, features_later: pd.DataFrame,
                   dates: dict[str, str] | None) -> None:
    """Stop with a plain reason when a snapshot has too few buyers to learn or grade churn."""
    for frame, which, date in ((features_then, "earlier", "train"),
                               (features_later, "later", "test")):
        n = int(frame["is_buyer"].sum())
        if n < MIN_BUYERS:
            if dates and dates.get(date):
                raise NotComputable("nc.churn_few_buyers_on", n=n, minimum=MIN_BUYERS,
                                    which_label=f"nc.snapshot_{which}", date=str(dates[date]))
            raise NotComputable("nc.churn_few_buyers", n=n, minimum=MIN_BUYERS,
                                which_label=f"nc.snapshot_{which}")


def _check_labels(churned: pd.Series, where: str) -> None:
    """``where``: which snapshot, as a label key (``nc.where_training``)."""
    counts = pd.Series(churned).astype(bool).value_counts()
    stayed, left = int(counts.get(False, 0)), int(counts.get(True, 0))
    if min(stayed, left) < MIN_PER_CLASS:
        raise NotComputable("nc.churn_few_outcomes", left=left, stayed=stayed,
                            minimum=MIN_PER_CLASS, where_label=where)


_OUTCOME_COLUMNS = ["customer_id", "last_order_date", "order_count"]


def outcome(features_then: pd.DataFrame, features_later: pd.DataFrame) -> pd.DataFrame:
    """What happened between two snapshots, for the buyers of the first one.

    ``churned`` = no order day after the first snapshot; ``orders_after`` = orders since.
    """
    then = buyers(features_then, _OUTCOME_COLUMNS)
    later = features_later[_OUTCOME_COLUMNS].set_index("customer_id")
    joined = then.merge(later, left_on="customer_id", right_index=True, how="left",
                        suffixes=("", "_later"))
    churned = joined["last_order_date_later"].isna() | (
        joined["last_order_date_later"] <= joined["last_order_date"])
    orders_after = (joined["order_count_later"].astype("Float64").fillna(0)
                    - joined["order_count"].astype("Float64")).clip(lower=0)
    return pd.DataFrame({"customer_id": joined["customer_id"], "churned": churned.astype(bool),
                         "orders_after": orders_after.astype("float64")})


# -- BTYD scores -------------------------------------------------------------------------------

BTYD_NAMES = {"bgnbd": "BG/NBD", "mbgnbd": "MBG/NBD", "pnbd": "Pareto/NBD"}

@dataclass
class BTYDScores:
    """Fitted BTYD models and the per-buyer quantities they give."""

    bgf: btyd.BetaGeoFitter | None
    ggf: gamma_gamma.GammaGammaFitter | None
    frame: pd.DataFrame  # customer_id, p_alive, expected_orders, p_no_order, expected_value
    health: list[dict[str, Any]] = field(default_factory=list)  # findings of both fits
    value_method: str = "gamma_gamma"  # or "average_order_value", "not_available"
    model: str = "bgnbd"  # the purchase model (a key of custops.models.btyd.BTYD_MODELS)

    @property
    def usable(self) -> bool:
        """Whether the purchase model may drive decisions (P(alive), expected orders and
        value)."""
        return self.bgf is not None and self.bgf.usable


BTYD_COLUMNS = ["customer_id", "frequency", "recency_days", "T_days", "monetary_value",
                "avg_order_value"]  # what the purchase and spend models read of a buyer


def btyd_scores(features: pd.DataFrame, params: ChurnParams = ChurnParams(),
                model: str = "bgnbd") -> BTYDScores:
    """Fit a purchase model (``model``: BG/NBD, MBG/NBD or Pareto/NBD, a key of
    :data:`custops.models.btyd.BTYD_MODELS`; + Gamma-Gamma) on the buyers of a snapshot and
    score them: P(alive), expected orders and P(no order) over the horizon (the model's churn
    probability), expected spend and value.

    Each fit's health (:meth:`custops.models.btyd.BetaGeoFitter.health`) decides whether it is
    used: an unusable BG/NBD (no convergence, no evidence of dropout, too few repeat buyers)
    gives no P(alive), expected orders or expected value ("not available", NaN); without a
    usable Gamma-Gamma the expected value uses each buyer's own average order value and
    :attr:`BTYDScores.value_method` says so."""
    from custops.models import btyd, btyd_fit, gamma_gamma  # noqa: PLC0415 - see the top

    b = buyers(features, BTYD_COLUMNS)
    x = b["frequency"].astype("float64").to_numpy()
    t_x = b["recency_days"].astype("float64").to_numpy()
    T = b["T_days"].astype("float64").to_numpy()
    nan = np.full(len(b), np.nan)
    frame = pd.DataFrame({"customer_id": b["customer_id"], "p_alive": nan,
                          "expected_orders": nan, "p_no_order": nan,
                          "expected_spend": nan, "expected_value": nan})
    health: list[dict[str, Any]] = []
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", btyd_fit.ConvergenceWarning)
            bgf = btyd.BTYD_MODELS[model](time_unit="days").fit(x, t_x, T)
        health += [{**f, "model": model} for f in bgf.health()]
    except btyd_fit.BTYDDataError as exc:
        bgf = None
        health.append({"code": "not_fitted", "severity": "error", "model": model,
                       **exc.record()})
    if bgf is None or not bgf.usable:
        return BTYDScores(bgf=bgf, ggf=None, frame=frame, health=health,
                          value_method="not_available", model=model)
    h = float(params.horizon_days)
    frame["p_alive"] = bgf.conditional_probability_alive(x, t_x, T)
    frame["expected_orders"] = bgf.conditional_expected_number_of_purchases_up_to_time(
        h, x, t_x, T)
    frame["p_no_order"] = bgf.conditional_probability_no_purchase_up_to_time(h, x, t_x, T)
    m = b["monetary_value"].astype("float64").to_numpy()
    ggf = None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", btyd_fit.ConvergenceWarning)
            ggf = gamma_gamma.fit_gamma_gamma(x, m)
        health += [{**f, "model": "gamma_gamma"} for f in ggf.health()]
    except (btyd_fit.BTYDDataError, btyd_fit.BTYDParameterError) as exc:
        health.append({"code": "not_fitted", "severity": "error", "model": "gamma_gamma",
                       **(exc.record() if isinstance(exc, btyd_fit.BTYDDataError)
                          else {"reason": str(exc)})})
    if ggf is not None and ggf.usable and ggf.params_["q"] > 1:
        # A buyer without a usable repeat spend (none, or refunds only) gets the population's
        # mean spend, as Gamma-Gamma does for a customer with no repeat purchase.
        p, q, gamma = (ggf.params_[k] for k in ("p", "q", "gamma"))
        spend = np.where(m > 0, m, p * gamma / (q - 1) if q > 1 else np.nan)
        spend_known = np.where(m > 0, x, 0.0)
        frame["expected_spend"] = ggf.conditional_expected_average_profit(
            spend_known, np.where(m > 0, m, 0.0))
        frame["expected_value"] = gamma_gamma.customer_lifetime_value(
            bgf, ggf, x, t_x, T, spend,
            time_horizon_days=params.value_horizon_days,
            discount_rate_annual=params.discount_rate_annual, freq="D")
        method = "gamma_gamma"
    else:  # stated, not silent: the section and the run's health say so
        aov = b["avg_order_value"].astype("float64").fillna(0).to_numpy()
        frame["expected_spend"] = aov
        frame["expected_value"] = bgf.conditional_expected_number_of_purchases_up_to_time(
            float(params.value_horizon_days), x, t_x, T) * aov
        method = "average_order_value"
        health.append({"code": "value_from_average_order", "severity": "warning",
                       "model": "gamma_gamma"})
    return BTYDScores(bgf=bgf, ggf=ggf, frame=frame, health=health, value_method=method,
                      model=model)


# -- baseline ----------------------------------------------------------------------------------

def _rfm_rule_fit(features: pd.DataFrame, churned: pd.Series) -> pd.DataFrame:
    """Churn rate per (R score, F score) cell at the training snapshot — the plain rule."""
    scores = rfm_table(features)[["r_score", "f_score"]].loc[features.index]
    cells = scores.assign(churned=np.asarray(churned, dtype=float))
    return cells.groupby(["r_score", "f_score"])["churned"].mean().rename("rate").reset_index()


def _rfm_rule_predict(table: pd.DataFrame, features: pd.DataFrame, fallback: float
                      ) -> np.ndarray:
    """The rule's churn probability per customer: its (R, F) cell's rate, ``fallback`` for a
    cell the training snapshot did not have."""
    scores = rfm_table(features)[["r_score", "f_score"]]
    merged = scores.merge(table, on=["r_score", "f_score"], how="left")
    return merged["rate"].fillna(fallback).to_numpy(dtype=float)


# -- metrics -----------------------------------------------------------------------------------


@dataclass
class Backtest:
    """The backtest: models fitted one horizon before ``as_of``, graded on what happened."""

    metrics: dict[str, dict[str, Any]]
    winner: str
    predicted_vs_actual_orders: dict[str, float]
    scored: pd.DataFrame  # customer_id, churned, orders_after, and each model's score
    dates: dict[str, str] = field(default_factory=dict)
    btyd_models: list[dict[str, Any]] = field(default_factory=list)  # the holdout comparison
    btyd_model: str = "bgnbd"  # the purchase model the "btyd" scores come from
    sample: dict[str, int] | None = None  # {"customers", "of"}: graded on a random sample

    def to_dict(self) -> dict[str, Any]:
        out = {"metrics": self.metrics, "winner": self.winner, "dates": self.dates,
               "predicted_vs_actual_orders": self.predicted_vs_actual_orders,
               "btyd_models": self.btyd_models, "btyd_model": self.btyd_model}
        if self.sample is not None:
            out["sample"] = self.sample
        return out

    @classmethod
    def from_dict(cls, payload: dict[str, Any]) -> Backtest:
        """A stored backtest (:meth:`to_dict`); the per-customer ``scored`` rows are not kept."""
        return cls(metrics=payload["metrics"], winner=payload["winner"],
                   predicted_vs_actual_orders=payload["predicted_vs_actual_orders"],
                   scored=pd.DataFrame(), dates=payload.get("dates", {}),
                   btyd_models=payload.get("btyd_models", []),
                   btyd_model=payload.get("btyd_model", "bgnbd"), sample=payload.get("sample"))


@contextlib.contextmanager
def _in_background_thread(function, *args):
    """Run ``function(*args)`` in a background thread while the ``with`` body runs; yields its
    future. The BTYD fit (NumPy/SciPy) and the boosting fit (OpenMP, one thread for small
    fits: :data:`custops.models.threads.SMALL_FIT_ROWS`) release the GIL, so on two cores the
    pair takes about as long as the longer one."""

    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="custops-btyd") as pool:
        yield pool.submit(function, *args)


BACKTEST_CUSTOMERS = 1_000_000  # customers the backtest grades at most (a seeded sample)


def sample_customers(customer_ids: pd.Series, seed: int) -> pd.Index | None:
    """The seeded random sample of :data:`BACKTEST_CUSTOMERS` ids the churn steps keep of a
    snapshot whose ids are ``customer_ids`` (in the table's order), or None when it has no
    more (nothing is sampled). Depends only on the ids and ``seed``: a caller can build the
    snapshots for these customers alone (:meth:`custops.run.context.RunContext.features_at`)
    and get the same rows."""
    if len(customer_ids) <= BACKTEST_CUSTOMERS:
        return None
    rng = np.random.default_rng([seed, BACKTEST_CUSTOMERS])
    return pd.Index(customer_ids.iloc[np.sort(rng.choice(len(customer_ids), BACKTEST_CUSTOMERS,
                                                         replace=False))])


def _customer_sample(frames: tuple[pd.DataFrame, ...], seed: int
                     ) -> tuple[tuple[pd.DataFrame, ...], dict[str, int] | None]:
    """Snapshots restricted to one seeded random sample of :data:`BACKTEST_CUSTOMERS`
    customers of the last one, when it has more (the grades of a million customers are as
    sure as of ten: an AUC's standard error is a few thousandths at most there); else as they
    are. The last snapshot holds every customer of the earlier ones (a customer, once known,
    stays in the feature table). Also says how many were sampled of how many. Earlier
    snapshots already restricted to the sample (:func:`sample_customers`) stay as they are."""
    latest = frames[-1]["customer_id"]
    picked = sample_customers(latest, seed)
    if picked is None:
        return frames, None
    sampled = tuple(frame[frame["customer_id"].isin(picked).to_numpy()].reset_index(drop=True)
                    for frame in frames)
    return sampled, {"customers": BACKTEST_CUSTOMERS, "of": int(len(latest))}


def backtest(features_train: pd.DataFrame, features_test: pd.DataFrame,
             features_now: pd.DataFrame, params: ChurnParams = ChurnParams(), *, seed: int = 0,
             dates: dict[str, str] | None = None) -> Backtest:
    """Fit at ``test − horizon`` (labels up to ``test``), score at ``test``, compare with what
    happened between ``test`` and ``now`` (= ``as_of``). Beyond :data:`BACKTEST_CUSTOMERS`
    customers, on a seeded sample of them (:attr:`Backtest.sample` says so)."""
    from custops.models.classifier import (  # noqa: PLC0415 - see the top
        SupervisedChurnModel,
        classification_metrics,
    )

    (features_train, features_test, features_now), sample = _customer_sample(
        (features_train, features_test, features_now), seed)
    _check_history(features_train, features_test, dates)
    train = buyers(features_train)
    train_y = outcome(features_train, features_test)["churned"]
    _check_labels(train_y, "nc.where_backtest_training")
    test = buyers(features_test)
    truth = outcome(features_test, features_now)
    _check_labels(truth["churned"], "nc.where_backtest_test")
    with _in_background_thread(_btyd_backtest, features_test, test,
                               truth["orders_after"].to_numpy(), params) as btyd_done:
        supervised = SupervisedChurnModel(max_iter=params.max_iter,
                                          learning_rate=params.learning_rate,
                                          random_state=seed).fit(train, train_y)
        scores = {"supervised": supervised.predict_proba(test)}
    btyd_models, bt = btyd_done.result()
    scores["btyd"] = bt.frame["p_no_order"].to_numpy()  # NaN when the fit is not usable
    rule = _rfm_rule_fit(train, train_y)
    scores["rfm_rule"] = _rfm_rule_predict(rule, test, float(train_y.mean()))
    y = truth["churned"].to_numpy()
    metrics = {name: (classification_metrics(y, s) if np.isfinite(s).all()
                      else _not_available_metrics(len(y))) for name, s in scores.items()}
    winner = choose_winner(metrics)
    scored = truth.assign(**scores, expected_orders=bt.frame["expected_orders"].to_numpy())
    pva = {"predicted_orders": float(scored["expected_orders"].sum()),
           "actual_orders": float(scored["orders_after"].sum())}
    return Backtest(metrics=metrics, winner=winner, predicted_vs_actual_orders=pva,
                    scored=scored, dates=dates or {}, btyd_models=btyd_models,
                    btyd_model=bt.model, sample=sample)


def _btyd_backtest(features_test: pd.DataFrame, buyers_then: pd.DataFrame,
                   orders_after: np.ndarray, params: ChurnParams
                   ) -> tuple[list[dict[str, Any]], BTYDScores]:
    """The three BTYD models compared on the holdout (:func:`_compare_btyd_models`), then the
    scores of the best usable one (BG/NBD when none is): the backtest's BTYD candidate and
    the model :func:`score_customers` uses."""
    models = _compare_btyd_models(buyers_then, orders_after, float(params.horizon_days))
    best = next((row["model"] for row in models if row["best"]), "bgnbd")
    return models, btyd_scores(features_test, params, best)


def _compare_btyd_models(buyers_then: pd.DataFrame, orders_after: np.ndarray,
                         horizon_days: float) -> list[dict[str, Any]]:
    """BG/NBD, Modified BG/NBD and Pareto/NBD fitted at the test snapshot and graded on the
    orders each buyer placed in the next horizon (:func:`custops.models.btyd.compare_btyd`),
    best first; [] when they cannot be fitted."""
    from custops.models import btyd, btyd_fit  # noqa: PLC0415 - see the top

    calibration = {"frequency": buyers_then["frequency"].astype("float64").to_numpy(),
                   "recency": buyers_then["recency_days"].astype("float64").to_numpy(),
                   "T": buyers_then["T_days"].astype("float64").to_numpy()}
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            table = btyd.compare_btyd(calibration, orders_after, horizon_days)
    except btyd_fit.BTYDDataError:
        return []
    best = btyd.best_btyd(table)
    rows = []
    for row in table.to_dict("records"):
        rows.append({"model": row["model"], "usable": bool(row["usable"]),
                     "best": row["model"] == best,
                     "log_likelihood": float(row["log_likelihood"]),
                     "predicted_orders": float(row["predicted_orders"]),
                     "actual_orders": float(row["actual_orders"]),
                     "rmse": float(row["rmse"]), "params": row["params"]})
    return rows


def _not_available_metrics(n: int) -> dict[str, Any]:
    """A model that could not score (an unusable fit): no metric, so it cannot win."""
    nan = float("nan")
    return {"auc": nan, "brier": nan, "base_rate": nan, "top_decile_rate": nan,
            "top_decile_lift": nan, "top_decile_capture": nan, "calibration": [],
            "customers": int(n), "available": False}


def choose_winner(metrics: dict[str, dict[str, Any]], *, tie: float = AUC_TIE) -> str:
    """The backtest's winner among every candidate (:data:`MODELS`) by AUC; a model within
    ``tie`` of the best AUC wins over it when it is simpler (the RFM rule, then BG/NBD, then
    gradient boosting). Models without an AUC (e.g. a failed fit) cannot win."""
    scored = {m: metrics[m]["auc"] for m in MODELS if m in metrics
              and metrics[m].get("auc") is not None and np.isfinite(metrics[m]["auc"])}
    if not scored:
        return "rfm_rule"
    best = max(scored.values())
    return next(m for m in SIMPLEST_FIRST if m in scored and scored[m] >= best - tie)


# -- reasons, strategies, priority -------------------------------------------------------------

def risk_band(probability: np.ndarray, params: ChurnParams = ChurnParams()) -> np.ndarray:
    """high_risk / medium_risk / low_risk per churn probability (thresholds in ``params``)."""
    p = np.asarray(probability, dtype=float)
    return np.select([p >= params.high_risk, p >= params.medium_risk],
                     ["high_risk", "medium_risk"], "low_risk")


def reason_codes(features: pd.DataFrame, *, max_reasons: int = 2) -> pd.Series:
    """Why each buyer may churn, as codes with the numbers they show (words come at display
    time: :func:`custops.labels.reason_words`).

    Checked in order; the first ``max_reasons`` that apply are joined with ``;``:
    ``complaint:n=…`` (complaints), ``overdue:days=…,gap=…`` (overdue against the customer's
    own rhythm), ``single:days=…`` (a single order day long ago), ``falling:recent=…,before=…``
    (falling activity), ``idle:days=…`` (no recent engagement); ``healthy`` when none applies.
    """
    f = features
    silent = f["days_since_last_order"].astype("Float64").fillna(0).astype(float).to_numpy()
    gap = f["mean_gap_days"].astype("Float64").astype(float).to_numpy()
    order_days = f["order_days"].astype("Float64").fillna(0).astype(float).to_numpy()
    complaints = (f["events_complaint"].astype("Float64").fillna(0).astype(float).to_numpy()
                  if "events_complaint" in f else np.zeros(len(f)))
    recent = f["orders_90d"].astype("Float64").fillna(0).astype(float).to_numpy()
    year = f["orders_365d"].astype("Float64").fillna(0).astype(float).to_numpy()
    before = np.maximum(year - recent, 0) / 3.0  # orders per 90 days in the 9 months before
    idle = (f["days_since_last_event"].astype("Float64").fillna(np.inf).astype(float).to_numpy()
            if "days_since_last_event" in f else np.full(len(f), np.nan))
    # (applies, the values its code shows, the code for row i): codes are formatted once per
    # distinct combination of shown values, not once per customer.
    candidates = [
        (complaints > 0, (complaints.astype(np.int64),),
         lambda i: f"complaint:n={int(complaints[i])}"),
        ((order_days >= 2) & (silent > 1.5 * np.nan_to_num(gap, nan=np.inf)),
         (silent.astype(np.int64), np.round(np.nan_to_num(gap))),
         lambda i: f"overdue:days={int(silent[i])},gap={round(gap[i])}"),
        ((order_days == 1) & (silent >= 30), (silent.astype(np.int64),),
         lambda i: f"single:days={int(silent[i])}"),
        ((before >= 1) & (recent < 0.5 * before), (recent.astype(np.int64), before),
         lambda i: f"falling:recent={int(recent[i])},before={float(before[i])!r}"),
        ((idle >= 60) & np.isfinite(idle),
         (np.where(np.isfinite(idle), idle, 0).astype(np.int64),),
         lambda i: f"idle:days={int(idle[i])}"),
    ]
    n = len(f)
    count = np.zeros(n, dtype=np.int64)
    parts = [np.full(n, "", dtype=object) for _ in range(max_reasons)]
    for mask, shown, make in candidates:
        rows = np.flatnonzero(mask & (count < max_reasons))
        if not len(rows):
            continue
        keys = pd.MultiIndex.from_arrays([values[rows] for values in shown])
        codes, uniques = pd.factorize(keys)
        first = np.zeros(len(uniques), dtype=np.int64)
        first[codes[::-1]] = rows[::-1]  # the first row of each combination
        texts = np.array([make(i) for i in first], dtype=object)[codes]
        for slot in range(max_reasons):
            here = count[rows] == slot
            parts[slot][rows[here]] = texts[here]
        count[rows] += 1
    joined = pd.Series(parts[0], dtype=object)
    for slot in range(1, max_reasons):
        more = count > slot
        joined[more] = joined[more] + ";" + pd.Series(parts[slot][more], dtype=object,
                                                      index=joined.index[more])
    joined[count == 0] = "healthy"
    return pd.Series(joined.to_numpy(), index=f.index)


def strategies(features: pd.DataFrame, segments: pd.DataFrame | None, band: np.ndarray,
               expected_value: np.ndarray) -> np.ndarray:
    """A suggested strategy per buyer (DOMAIN.md): recall the valuable churned first; new-user
    churn → onboarding; complaints → service; price-sensitive → subsidy; else product."""
    f = features
    if segments is not None:
        seg = join_by_customer(f[["customer_id"]], segments, ["lifecycle_stage", "value_tier"])
        stage = seg["lifecycle_stage"].astype("object").to_numpy()
        tier = seg["value_tier"].astype("object").to_numpy()
    else:
        stage = tier = np.full(len(f), None)
    value = np.nan_to_num(np.asarray(expected_value, dtype=float))
    high_value = np.isin(tier, ["vip", "large"]) | (value >= np.nanquantile(value, 0.8))
    churned = stage == "churned"
    order_days = f["order_days"].astype("Float64").fillna(0).astype(float).to_numpy()
    complaints = (f["events_complaint"].astype("Float64").fillna(0).astype(float).to_numpy()
                  if "events_complaint" in f else np.zeros(len(f)))
    refunds = f["refund_count"].astype("Float64").fillna(0).astype(float).to_numpy()
    at_risk = np.isin(band, ["high_risk", "medium_risk"])
    return np.select(
        [churned & high_value, churned, at_risk & (order_days <= 1), at_risk & (complaints > 0),
         at_risk & high_value, at_risk & (refunds > 0), at_risk],
        ["recall_high_value", "recall_low_cost", "onboarding", "service_callback",
         "service_callback", "price_subsidy", "product_offer"], default="monitor")


def score_customers(features_train: pd.DataFrame, features_now: pd.DataFrame,
                    segments: pd.DataFrame | None, winner: str,
                    params: ChurnParams = ChurnParams(), *, seed: int = 0, predict=None,
                    btyd_model: str = "bgnbd") -> tuple[pd.DataFrame, BTYDScores]:
    """The ``churn_scores`` artifact at ``as_of``: both models refitted on the latest data.
    ``predict(model, buyers)`` scores the buyers elsewhere (e.g. on Spark executors);
    ``btyd_model`` is the purchase model the backtest chose on its holdout
    (:attr:`Backtest.btyd_model`)."""
    from custops.models.classifier import SupervisedChurnModel  # noqa: PLC0415 - see the top

    _check_history(features_train, features_now, None)
    # The model learns from 150,000 buyers and the rule's cells from at most a million
    # customers: beyond that, a seeded sample of the training snapshot (never of the scored).
    (features_train,), _ = _customer_sample((features_train,), seed)
    train = buyers(features_train)
    train_y = outcome(features_train, features_now)["churned"]
    _check_labels(train_y, "nc.where_training")
    now = buyers(features_now)
    if segments is not None:  # the buyers' rows, in their order (positional when it matches)
        segments = buyers_of(segments, features_now)
    with _in_background_thread(btyd_scores, features_now, params, btyd_model) as btyd_done:
        supervised = SupervisedChurnModel(max_iter=params.max_iter,
                                          learning_rate=params.learning_rate,
                                          random_state=seed).fit(train, train_y)
        probability = (supervised.predict_proba(now) if predict is None
                       else predict(supervised, now))
    bt = btyd_done.result()
    out = bt.frame.copy()
    out["churn_probability_supervised"] = probability
    out["churn_probability_btyd"] = out["p_no_order"]
    out["churn_probability_rfm_rule"] = _rfm_rule_predict(_rfm_rule_fit(train, train_y), now,
                                                          float(train_y.mean()))
    out["churn_probability"] = out[f"churn_probability_{winner}"]
    out["model"] = winner
    churned = already_churned(now, segments)
    out["status"] = np.where(churned, "churned", "active")
    # Risk bands are for the buyers still active: the churned are recalled, not warned about.
    out["risk_band"] = np.where(churned, "already_churned",
                                risk_band(out["churn_probability"], params))
    out["reason"] = reason_codes(now).to_numpy()
    out["strategy"] = strategies(now, segments, out["risk_band"].to_numpy(),
                                 out["expected_value"].to_numpy())
    # Value saved by acting: for the active, the expected value the churn risk puts at stake;
    # for the churned, what they used to bring over the value horizon (all of it is lost).
    spend = now["net_spend"].astype(float).clip(lower=0).to_numpy()
    tenure = now["T_days"].astype("Float64").fillna(0).astype(float).clip(lower=30).to_numpy()
    past_value = spend / tenure * params.value_horizon_days
    # Without a usable BTYD value (see the BTYD section), what the buyer brought over a value
    # horizon in the past stands in for the active too; the section says so.
    expected = out["expected_value"].clip(lower=0).to_numpy()
    out["value_at_stake"] = np.where(churned | ~np.isfinite(expected), past_value, expected)
    out["priority"] = np.where(churned, out["value_at_stake"],
                               out["churn_probability"] * out["value_at_stake"])
    if segments is not None:
        out = join_by_customer(out, segments, ["value_tier", "rfm_class", "lifecycle_stage"])
    out = out.assign(_active=out["status"] == "active").sort_values(
        ["_active", "priority"], ascending=[False, False], kind="stable").drop(columns="_active")
    out = out.reset_index(drop=True)
    out.insert(1, "priority_rank", out.groupby("status").cumcount().to_numpy() + 1)
    return out, bt


def already_churned(features: pd.DataFrame, segments: pd.DataFrame | None,
                    churn_days: int = 180) -> np.ndarray:
    """Buyers already lost: in the churned lifecycle stage (silent longer than their own
    rhythm allows; :func:`custops.segment.lifecycle_stages`), or, without segments, silent for
    more than ``churn_days``."""
    if segments is not None and "lifecycle_stage" in segments:
        return segments["lifecycle_stage"].astype("object").to_numpy() == "churned"
    silent = features["days_since_last_order"].astype("Float64").fillna(0).astype(float)
    return silent.to_numpy() > churn_days


# -- report sections ---------------------------------------------------------------------------

def backtest_section(result: Backtest, params: ChurnParams = ChurnParams(), lang: str = "en"):
    """Metrics of the three models, calibration plot, and which model wins."""
    names = {m: t(f"churn.model_{m}", lang) for m in MODELS}
    names["btyd"] = BTYD_NAMES.get(result.btyd_model, result.btyd_model)
    na = t("not_available", lang)

    def number(value: Any, fmt: str) -> str:
        return na if value is None or not np.isfinite(value) else format(value, fmt)

    def shown(m: str, key: str, fmt: str) -> str:
        return number(result.metrics[m].get(key), fmt)

    table = pd.DataFrame({
        t("churn.model", lang): [names[m] for m in MODELS],
        t("churn.auc", lang): [shown(m, "auc", ".3f") for m in MODELS],
        t("churn.brier", lang): [shown(m, "brier", ".3f") for m in MODELS],
        t("churn.lift", lang): [shown(m, "top_decile_lift", ".2f") for m in MODELS],
        t("churn.capture", lang): [shown(m, "top_decile_capture", ".0%") for m in MODELS],
    })
    fig = plots.calibration_figure(
        {names[m]: pd.DataFrame(result.metrics[m]["calibration"]) for m in MODELS
         if result.metrics[m].get("calibration")},
        title=t("churn.calibration_title", lang), xaxis_title=t("churn.predicted", lang),
        yaxis_title=t("churn.actual", lang))
    win = result.metrics[result.winner]
    key = ("churn.backtest_rule_text_model" if result.winner == "rfm_rule"
           else "churn.backtest_text_model")
    text = t(key, lang, winner=names[result.winner], auc=win["auc"], btyd_model=names["btyd"],
             baseline=result.metrics["rfm_rule"]["auc"], capture=win["top_decile_capture"],
             supervised=result.metrics["supervised"]["auc"], btyd=result.metrics["btyd"]["auc"],
             tie=AUC_TIE, pred=result.predicted_vs_actual_orders["predicted_orders"],
             actual=result.predicted_vs_actual_orders["actual_orders"])
    if result.sample:
        text += " " + t("churn.backtest_sample", lang, **result.sample)
    rates = [result.metrics[m]["top_decile_rate"] for m in MODELS]
    if all(np.isfinite(r) and r >= 0.999 for r in rates):
        text += " " + t("churn.lift_ceiling", lang,
                        ceiling=1 / result.metrics[result.winner]["base_rate"])
    tables = [table]
    if result.btyd_models:
        names_btyd = {"bgnbd": "BG/NBD", "mbgnbd": "MBG/NBD", "pnbd": "Pareto/NBD"}
        tables.append(pd.DataFrame({
            t("churn.btyd_model", lang): [names_btyd.get(r["model"], r["model"])
                                          + (" ★" if r["best"] else "")
                                          for r in result.btyd_models],
            t("churn.usable", lang): [t("yes" if r["usable"] else "no", lang)
                                      for r in result.btyd_models],
            t("churn.log_likelihood", lang): [number(r["log_likelihood"], ",.1f")
                                              for r in result.btyd_models],
            t("churn.predicted_orders", lang): [number(r["predicted_orders"], ",.0f")
                                                for r in result.btyd_models],
            t("churn.actual_orders", lang): [number(r["actual_orders"], ",.0f")
                                             for r in result.btyd_models],
            t("churn.rmse", lang): [number(r["rmse"], ".3f") for r in result.btyd_models]}))
        text += " " + t("churn.btyd_compare_text_model", lang, btyd_model=names["btyd"])
    return Section(t("churn.backtest_title", lang, horizon=params.horizon_days), text=text,
                   tables=tables, figures=[fig], data=result.to_dict())


def btyd_section(btyd_fit: dict[str, Any], scores: pd.DataFrame,
                 params: ChurnParams = ChurnParams(), lang: str = "en"):
    """The BTYD fit (``btyd_params``: :func:`btyd_params`), its health, and what it says about
    the scored buyers (``churn_scores``: p_alive, expected_orders, expected_value). A fit that
    failed its health check is shown with the reason, and no number of it is used."""
    findings = [health_words(f, lang) for f in btyd_fit.get("health", [])]
    model = btyd_fit.get("model", "bgnbd")
    model_name = BTYD_NAMES.get(model, model)
    title = t("churn.btyd_title_model", lang, btyd_model=model_name)
    if not btyd_fit.get("usable", True):
        text = t("churn.btyd_unusable", lang, why="; ".join(findings) or "–")
        return Section(title, text=text, data=btyd_fit)
    def param_name(model: str, name: str, shown: str) -> str:
        key = f"btyd.{model}.{name}"
        return t(key, lang) if key in LABELS else f"{shown} {name}"

    fitted = {**{param_name(model, k, model_name): v
                 for k, v in btyd_fit[model]["params"].items()},
              **({param_name("gamma_gamma", k, "Gamma-Gamma"): v
                  for k, v in btyd_fit["gamma_gamma"]["params"].items()}
                 if btyd_fit.get("gamma_gamma") else {})}
    table = pd.DataFrame({t("churn.parameter", lang): list(fitted),
                          t("churn.value", lang): [round(v, 4) for v in fitted.values()]})
    hist = np.histogram(scores["p_alive"].dropna(), bins=np.linspace(0, 1, 21))
    fig = plots.bar_figure(pd.DataFrame({"p": (hist[1][:-1] + 0.025).round(3), "n": hist[0]}),
                           "p", "n", title=t("churn.palive_title", lang),
                           xaxis_title=t("churn.palive_axis", lang),
                           yaxis_title=t("customers", lang))
    text = t("churn.btyd_text", lang, alive=float((scores["p_alive"] >= 0.5).mean()),
             orders=float(scores["expected_orders"].sum()), horizon=params.horizon_days,
             value=float(scores["expected_value"].sum()), value_days=params.value_horizon_days)
    text += " " + t("churn.btyd_model_used", lang, btyd_model=model_name,
                    horizon=params.horizon_days)
    if findings:
        text += " " + t("churn.btyd_findings", lang, findings="; ".join(findings))
    return Section(title, text=text, tables=[table], figures=[fig], data=btyd_fit)


def btyd_params(scores: BTYDScores) -> dict[str, Any]:
    """The ``btyd_params.json`` artifact (time unit: days), with each fit's health and how
    expected value was computed."""
    return {"time_unit": "days", "model": scores.model,
            scores.model: scores.bgf.to_dict() if scores.bgf is not None else None,
            "gamma_gamma": scores.ggf.to_dict() if scores.ggf is not None else None,
            "usable": scores.usable, "health": scores.health,
            "value_method": scores.value_method}


def risk_section(scores: pd.DataFrame, lang: str = "en"):
    """Active buyers per risk band and value tier, how much expected value the high-risk
    hold, and how many buyers have already churned (they are recalled, not banded)."""
    tiers = ("vip", "large", "medium", "small")
    churned = int((scores["risk_band"] == "already_churned").sum())
    scores = scores[scores["risk_band"] != "already_churned"]
    table = pd.crosstab(scores["risk_band"], scores.get("value_tier", pd.Series(
        "small", index=scores.index))).reindex(index=list(RISK_BANDS), columns=list(tiers),
                                               fill_value=0)
    shown = table.copy()
    shown.index = [value_label(b, lang) for b in shown.index]
    shown.columns = [value_label(c, lang) for c in shown.columns]
    fig = plots.heatmap_figure(shown, title=t("churn.risk_title", lang))
    high = scores["risk_band"] == "high_risk"
    total_value = scores["expected_value"].clip(lower=0).sum()
    text = t("churn.risk_text", lang, high=int(high.sum()),
             value_share=float(scores.loc[high, "expected_value"].clip(lower=0).sum()
                               / total_value) if total_value > 0 else 0.0,
             hv_high=int(table.loc["high_risk", ["vip", "large"]].sum()))
    text += " " + t("churn.already_churned_text", lang, churned=churned)
    return Section(t("churn.risk_title", lang), text=text, figures=[fig],
                   data={"bands": table.to_dict(), "already_churned": churned})


def _list_table(at_risk: pd.DataFrame, lang: str, *, value_key: str) -> pd.DataFrame:
    return pd.DataFrame({
        "#": np.arange(1, len(at_risk) + 1),  # the rank in this list: no gaps
        t("churn.customer", lang): at_risk["customer_id"],
        t("churn.tier", lang): [value_label(v, lang) for v in at_risk.get("value_tier", "")],
        t("churn.stage", lang): [value_label(v, lang) for v in at_risk.get("lifecycle_stage", "")],
        t("churn.probability", lang): at_risk["churn_probability"].map(lambda v: f"{v:.0%}"),
        t(value_key, lang): at_risk["value_at_stake"].round(0),
        t("churn.reason", lang): reason_words(at_risk["reason"], lang).to_numpy(),
        t("churn.strategy", lang): [value_label(v, lang) for v in at_risk["strategy"]],
    })


def priority_section(scores: pd.DataFrame, lang: str = "en", *, top: int = 25):
    """Warnings: the ``top`` active buyers at risk, by expected value saved (risk × expected
    value), and customers and value per strategy."""
    at_risk = scores[~scores["risk_band"].isin(["low_risk", "already_churned"])].head(top)
    table = _list_table(at_risk, lang, value_key="churn.expected_value")
    counts = scores["strategy"].value_counts().reindex(list(STRATEGIES), fill_value=0)
    strategy_table = pd.DataFrame({
        t("churn.strategy", lang): [value_label(s, lang) for s in counts.index],
        t("customers", lang): counts.values,
        t("churn.expected_value", lang): [
            round(float(scores.loc[scores["strategy"] == s, "expected_value"].sum()))
            for s in counts.index],
    })
    return Section(t("churn.priority_title", lang), tables=[table, strategy_table],
                   text=t("churn.priority_text", lang,
                          n=int((~scores["risk_band"].isin(["low_risk", "already_churned"]))
                                .sum())),
                   data={"strategies": counts.to_dict()})


def recall_section(scores: pd.DataFrame, lang: str = "en", *, top: int = 25):
    """The recall list: buyers already churned, most valuable first (what they used to bring
    over the value horizon)."""
    churned = scores[scores["risk_band"] == "already_churned"]
    table = _list_table(churned.head(top), lang, value_key="churn.value_at_stake")
    return Section(t("churn.recall_title", lang), tables=[table],
                   text=t("churn.recall_text", lang, n=len(churned),
                          value=float(churned["value_at_stake"].sum())),
                   data={"customers": len(churned),
                         "value_at_stake": float(churned["value_at_stake"].sum())})


def exports_section(paths: list[str | Path], lang: str = "en"):
    """The churn lists written for the operators (their names)."""
    names = ", ".join(f"`{Path(p).name}`" for p in paths)
    return Section(t("churn.exports_title", lang), text=t("churn.exports_text", lang, files=names),
                   data={"files": [Path(p).name for p in paths]})


def trend_section(events: pd.DataFrame, as_of, lang: str = "en", *, churn_days: int = 180):
    """Newly churned and reactivated buyers per month with the churn rate (last 24 months);
    ``events``: :func:`custops.aggregates.churn_events`."""
    frame = events[pd.to_datetime(events["month"]) <= pd.Timestamp(as_of)].tail(24)
    months = pd.to_datetime(frame["month"]).dt.strftime("%Y-%m")
    fig = plots.bars_and_rate_figure(
        months, {t("churn.newly", lang): frame["newly_churned"],
                 t("churn.reactivated", lang): frame["reactivated"]}, frame["churn_rate"],
        title=t("churn.trend_title", lang, days=churn_days), rate_name=t("churn.rate", lang),
        yaxis_title=t("customers", lang))
    plots.date_axis(fig, lang)
    if frame.empty:
        return Section(t("churn.trend_title", lang, days=churn_days), figures=[fig])
    last = frame.iloc[-1]
    avg = frame["newly_churned"].tail(13).head(12).mean()
    peak = frame.loc[frame["newly_churned"].idxmax()]
    text = t("churn.trend_text", lang, last_new=int(last["newly_churned"]),
             last_month=pd.Timestamp(last["month"]).strftime("%Y-%m"),
             change=t("churn.vs_avg", lang, diff=last["newly_churned"] / avg - 1 if avg else 0),
             rate=float(last["churn_rate"]), peak=int(peak["newly_churned"]),
             peak_month=pd.Timestamp(peak["month"]).strftime("%Y-%m"))
    return Section(t("churn.trend_title", lang, days=churn_days), text=text, figures=[fig],
                   data={"monthly": frame.assign(month=months).to_dict("records")})
