"""Gradient-boosted churn classification: the model matrix, the classifier and its metrics.

:class:`ModelDesign` turns the feature table into the float matrix the boosted models take
(this churn classifier and the uplift model of :mod:`custops.models.uplift`);
:class:`SupervisedChurnModel` predicts churn from it; :func:`classification_metrics` grades
scores against what happened.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.metrics import brier_score_loss, roc_auc_score

from custops.errors import DataError
from custops.models.boosting import in_batches, predict_proba1
from custops.models.threads import openmp_threads

__all__ = [
    "CATEGORICAL_FEATURES",
    "NUMERIC_FEATURES",
    "ModelDesign",
    "SupervisedChurnModel",
    "classification_metrics",
    "sample_rows",
]

NUMERIC_FEATURES = (
    "days_since_last_order", "order_days", "order_count", "frequency", "recency_days", "T_days",
    "gross_spend", "net_spend", "refund_amount", "refund_count", "monetary_value",
    "avg_order_value", "mean_gap_days", "orders_30d", "orders_90d", "orders_180d", "orders_365d",
    "spend_30d", "spend_90d", "spend_180d", "spend_365d", "events_total", "events_visit",
    "events_check_in", "events_cart_add", "events_share", "events_referral", "events_review",
    "events_complaint", "days_since_last_event", "age", "city_tier", "favourite_hour",
)
CATEGORICAL_FEATURES = ("acquisition_channel", "favourite_channel", "favourite_category",
                        "gender", "occupation")


def _with_unknown(values: pd.Series) -> pd.Series:
    """A categorical feature with missing values written as the category "unknown"."""
    missing = values.isna()
    if not missing.any():
        return values
    if isinstance(values.dtype, pd.CategoricalDtype):
        values = values.astype("object")
    return values.where(~missing, "unknown")


# HistGradientBoosting takes at most 255 categories per feature (its bins): beyond that the
# rarest values are grouped into one category.
MAX_CATEGORIES = 255
OTHER = "other"


@dataclass
class ModelDesign:
    """The input of the boosted models: numeric features as floats, the overdue ratio, and the
    categoricals as codes into category lists fixed on the training data (sorted; "unknown"
    stands for missing; a value not seen there becomes missing; with more values than the
    boosting takes, the rarest are grouped as "other").

    :meth:`matrix` gives one float array for ``HistGradientBoosting*(categorical_features=
    design.mask)``: the same trees and predictions as ``"from_dtype"`` on a DataFrame of
    pandas categories, without the column transformer scikit-learn runs on every call, and
    built only for the rows a fit samples.
    """

    columns: list[str]
    categories: dict[str, pd.Index]

    @classmethod
    def of(cls, features: pd.DataFrame) -> ModelDesign:
        columns = [c for c in NUMERIC_FEATURES if c in features]
        if {"days_since_last_order", "mean_gap_days"} <= set(columns):
            columns.append("overdue_ratio")
        categories = {}
        for col in CATEGORICAL_FEATURES:
            if col in features:
                values = features[col]
                counts = values.value_counts(dropna=True)
                if len(counts) >= MAX_CATEGORIES:  # the rarest values become "other"
                    present = pd.Index(counts.index[:MAX_CATEGORIES - 2]).append(
                        pd.Index([OTHER]))
                else:
                    present = pd.Index(counts.index)
                if values.isna().any():
                    present = present.append(pd.Index(["unknown"]))
                categories[col] = pd.Categorical(present.unique()).categories
                columns.append(col)
        return cls(columns, categories)

    @property
    def mask(self) -> np.ndarray:
        """Which columns of :meth:`matrix` are categorical."""
        return np.array([c in self.categories for c in self.columns], dtype=bool)

    def matrix(self, features: pd.DataFrame) -> np.ndarray:
        """The float64 model input for ``features`` (a column it lacks is all missing)."""
        out = np.full((len(features), len(self.columns)), np.nan, dtype=np.float64, order="F")

        def floats(col: str) -> np.ndarray | None:
            return (features[col].to_numpy(dtype="float64", na_value=np.nan)
                    if col in features else None)

        for j, col in enumerate(self.columns):
            if col in self.categories:
                if col in features:
                    values = _with_unknown(features[col])
                    known = self.categories[col]
                    if OTHER in known:  # grouped: every value outside the list is "other"
                        values = values.astype("object").where(
                            values.isin(known) | values.isna(), OTHER)
                    codes = pd.Categorical(values, categories=known).codes
                    out[:, j] = np.where(codes >= 0, codes, np.nan)
            elif col == "overdue_ratio":
                silent, gap = floats("days_since_last_order"), floats("mean_gap_days")
                if silent is not None and gap is not None:
                    with np.errstate(divide="ignore", invalid="ignore"):
                        out[:, j] = silent / gap
            elif col in features:
                out[:, j] = floats(col)
        return out


def sample_rows(n: int, max_rows: int, seed: int) -> np.ndarray | None:
    """Sorted positions of a seeded random sample of ``max_rows`` out of ``n`` rows, or None
    when all ``n`` fit."""
    if n <= max_rows:
        return None
    return np.sort(np.random.default_rng(seed).choice(n, max_rows, replace=False))


class SupervisedChurnModel:
    """Gradient-boosted churn classifier (scikit-learn estimator conventions).

    Fits on at most ``max_train_rows`` customers (a seeded random sample): beyond a few hundred
    thousand rows the trees barely change, while the fit time keeps growing.
    """

    def __init__(self, *, max_iter: int = 100, learning_rate: float = 0.1, random_state: int = 0,
                 max_train_rows: int = 150_000):
        self.max_iter = max_iter
        self.learning_rate = learning_rate
        self.random_state = random_state
        self.max_train_rows = max_train_rows

    def fit(self, features: pd.DataFrame, churned: pd.Series) -> SupervisedChurnModel:
        self.design_ = ModelDesign.of(features)
        y = np.asarray(churned, dtype=int)
        keep = sample_rows(len(features), self.max_train_rows, self.random_state)
        if keep is not None:
            features, y = features.iloc[keep], y[keep]
        x = self.design_.matrix(features)
        if len(np.unique(y)) < 2:
            raise DataError("the churn label has one class only in the training window "
                            "(everyone churned or nobody did): use a longer history or "
                            "another horizon_days")
        model = HistGradientBoostingClassifier(
            max_iter=self.max_iter, learning_rate=self.learning_rate, max_leaf_nodes=15,
            min_samples_leaf=40, l2_regularization=1.0,
            categorical_features=self.design_.mask,
            early_stopping=False, random_state=self.random_state,
        )
        with openmp_threads(len(x)):
            self.model_ = model.fit(x, y)
        return self

    def predict_proba(self, features: pd.DataFrame) -> np.ndarray:
        """Churn probability per row of ``features``, scored in batches of rows."""
        def score(part: pd.DataFrame) -> dict[str, np.ndarray]:
            x = self.design_.matrix(part)
            with openmp_threads(len(x)):
                return {"p": predict_proba1(self.model_, x)}

        return in_batches(features, score)["p"]


def _top_share_positives(y: np.ndarray, score: np.ndarray, share: float) -> float:
    """Expected positives among the ``share`` highest scores, ties broken at random: customers
    tied at the cut-off count with their group's average (so a model that gives many customers
    the same score is not credited with an arbitrary order among them)."""
    n = len(y)
    if n == 0:
        return float("nan")
    k = max(int(np.ceil(n * share)), 1)
    cutoff = np.sort(score)[::-1][k - 1]
    above = score > cutoff
    tied = score == cutoff
    return float(y[above].sum() + (k - above.sum()) * y[tied].mean())


def classification_metrics(y: np.ndarray, score: np.ndarray, *, bins: int = 10) -> dict[str, Any]:
    """AUC, Brier score, top-decile lift and capture (tie-aware), and a calibration table."""

    y = np.asarray(y, dtype=int)
    score = np.clip(np.asarray(score, dtype=float), 0, 1)
    n = len(y)
    base_rate = y.mean() if n else float("nan")
    top_churned = _top_share_positives(y, score, 0.1)
    k = max(int(np.ceil(n * 0.1)), 1)
    top_rate = top_churned / k if n else float("nan")
    edges = np.linspace(0, 1, bins + 1)
    bucket = np.clip(np.digitize(score, edges[1:-1]), 0, bins - 1)
    calibration = (pd.DataFrame({"bin": bucket, "predicted": score, "actual": y})
                   .groupby("bin").agg(predicted=("predicted", "mean"), actual=("actual", "mean"),
                                       customers=("actual", "size")).reset_index())
    return {
        "auc": float(roc_auc_score(y, score)) if 0 < y.sum() < n else float("nan"),
        "brier": float(brier_score_loss(y, score)) if n else float("nan"),
        "base_rate": float(base_rate),
        "top_decile_rate": float(top_rate),
        "top_decile_lift": float(top_rate / base_rate) if base_rate > 0 else float("nan"),
        "top_decile_capture": float(top_churned / max(y.sum(), 1)),
        "calibration": calibration.to_dict("records"),
        "customers": int(n),
    }
