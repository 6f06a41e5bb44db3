"""Uplift (incremental effect of a contact) learned from randomized campaigns.

:class:`MultiArmUpliftModel` is an X-learner per treatment arm against a control arm on
gradient-boosted trees (any DataFrame of numeric and categorical features, any number of arms);
:class:`UpliftModel` is its one-treatment case on the custops feature table, as the reach step
uses it. :func:`qini_auc` grades uplift scores on observed outcomes (the normalised Qini area);
:func:`evaluate_uplift` grades the reach model on held-out campaign rows;
:func:`out_of_fold_uplift` and :func:`oracle_qini_fraction` grade it against known true effects
(simulated data);
:func:`sample_campaign_rows` bounds the campaign history it learns from.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator
from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor

from custops.errors import DataError, ParameterError
from custops.models import experiment
from custops.models.boosting import in_batches, predict_proba1, predict_value
from custops.models.classifier import ModelDesign, sample_rows
from custops.models.threads import SMALL_FIT_ROWS, openmp_threads

__all__ = [
    "BAG_ROWS",
    "CampaignArmsUpliftModel",
    "MAX_CAMPAIGN_ROWS",
    "MAX_CATEGORIES",
    "MIN_ARM_ROWS",
    "FrameDesign",
    "MultiArmUpliftModel",
    "UpliftModel",
    "evaluate_uplift",
    "oracle_qini_fraction",
    "out_of_fold_uplift",
    "qini_auc",
    "sample_campaign_rows",
]

MAX_CAMPAIGN_ROWS = 150_000  # campaign rows the uplift model learns and is graded from
MAX_CATEGORIES = 255  # categories of one feature HistGradientBoosting takes (its max_bins)
MIN_ARM_ROWS = 30  # rows an arm needs before its outcome model means anything
OTHER = "other"  # the category rare values of a high-cardinality feature are grouped into
BAG_ROWS = 10_000  # below this many rows per arm pair, the effect models are bagged


def sample_campaign_rows(touches: pd.DataFrame | None, max_rows: int | None = MAX_CAMPAIGN_ROWS,
                         seed: int = 0) -> pd.DataFrame | None:
    """At most ``max_rows`` touches, drawn uniformly at random (seeded): a random subset of a
    randomized campaign is still randomized. The model trains on at most
    ``UpliftModel.max_train_rows`` rows, so feature snapshots for every touched customer of a
    long history would be wasted."""

    keep = None if touches is None or max_rows is None else sample_rows(len(touches), max_rows,
                                                                          seed)
    return touches if keep is None else touches.iloc[keep].reset_index(drop=True)


# -- the model matrix of any feature frame ---------------------------------------------------

def _is_numeric(values: pd.Series) -> bool:
    return (pd.api.types.is_bool_dtype(values.dtype)
            or (pd.api.types.is_numeric_dtype(values.dtype)
                and not pd.api.types.is_complex_dtype(values.dtype)))


def _as_text(values: pd.Series) -> pd.Series:
    """Category values as strings (so mixed objects compare alike), missing kept missing."""
    missing = values.isna().to_numpy()
    text = values.astype("object").astype(str).astype("object")
    return text.where(~missing, None)


@dataclass
class FrameDesign:
    """Every column of a feature frame as the float matrix the boosted models take.

    Numeric and boolean columns become floats (missing stays missing). Any other column is
    categorical: its values (as text) are coded into the categories seen when fitting; a
    column with more than :data:`MAX_CATEGORIES` values keeps the ``MAX_CATEGORIES - 1`` most
    frequent and groups the rest, and values first seen later, into ``"other"`` (without
    grouping, an unseen value is missing). Date and time columns are refused: turn them into
    ages or durations first.
    """

    columns: list[Hashable]
    categories: dict[Hashable, pd.Index]
    grouped: frozenset

    @classmethod
    def of(cls, features: pd.DataFrame) -> FrameDesign:
        """The design of ``features``: which columns are categorical, and their categories."""
        if not len(features.columns):
            raise DataError("X has no columns: an uplift model needs at least one feature")
        if not features.columns.is_unique:
            dupes = sorted({str(c) for c in features.columns[features.columns.duplicated()]})
            raise DataError(f"X has duplicate column names: {', '.join(dupes)}")
        categories: dict[Hashable, pd.Index] = {}
        grouped = set()
        for col in features.columns:
            values = features[col]
            if _is_numeric(values):
                continue
            if (pd.api.types.is_datetime64_any_dtype(values.dtype)
                    or pd.api.types.is_timedelta64_dtype(values.dtype)):
                raise ParameterError(f"X column {col!r} holds dates or durations; pass a number "
                                     "(e.g. days since) or a category instead")
            counts = _as_text(values).value_counts(dropna=True)
            if len(counts) > MAX_CATEGORIES:
                # most frequent first, ties by value: the same categories for the same data
                ranked = counts.rename_axis("value").reset_index(name="n").sort_values(
                    ["n", "value"], ascending=[False, True], kind="stable")
                kept = [v for v in ranked["value"] if v != OTHER][: MAX_CATEGORIES - 1]
                categories[col] = pd.Index(sorted(kept) + [OTHER], dtype="object")
                grouped.add(col)
            else:
                categories[col] = pd.Index(sorted(counts.index), dtype="object")
        return cls(list(features.columns), categories, frozenset(grouped))

    @property
    def mask(self) -> np.ndarray:
        """Which columns of :meth:`matrix` are categorical."""
        return np.array([c in self.categories for c in self.columns], dtype=bool)

    def matrix(self, features: pd.DataFrame) -> np.ndarray:
        """The float64 model input for ``features`` (columns it has beyond the fitted ones are
        ignored; a fitted one it lacks is an error)."""
        missing = [c for c in self.columns if c not in features.columns]
        if missing:
            raise DataError(f"X lacks the column(s) the model was fitted on: "
                            f"{', '.join(map(str, missing))}")
        out = np.full((len(features), len(self.columns)), np.nan, dtype=np.float64, order="F")
        for j, col in enumerate(self.columns):
            values = features[col]
            if col in self.categories:
                text = _as_text(values)
                unseen = OTHER if col in self.grouped else None
                text = text.where(text.isna() | text.isin(self.categories[col]), unseen)
                codes = pd.Categorical(text, categories=self.categories[col]).codes
                out[:, j] = np.where(codes >= 0, codes, np.nan)
            else:
                try:
                    out[:, j] = values.to_numpy(dtype="float64", na_value=np.nan)
                except (TypeError, ValueError) as err:
                    raise DataError(f"X column {col!r} was numeric when the model was fitted "
                                    f"and is not now: {err}") from None
        return out


FIT_THREADS = 2  # boosted fits run side by side (each on one OpenMP thread below 200k rows)


def _fit_one(job, rows: int):
    estimator, x, target = job
    with openmp_threads(rows):  # OpenMP's thread count is set per calling thread
        return estimator.fit(x, target)


def _fit_all(jobs: list, rows: int) -> list:
    """``estimator.fit(x, target)`` for every (estimator, x, target), on up to
    :data:`FIT_THREADS` threads: scikit-learn's histogram and split loops release the GIL,
    so two small fits take about the time of one on a machine with a free core. Each fit
    sees the same rows, options, seed and OpenMP threads (:func:`openmp_threads` of
    ``rows``, the model's training rows) as alone, so it grows the same trees. Fits that use
    every core already (``rows`` above :data:`SMALL_FIT_ROWS`) run one after the other."""
    if len(jobs) <= 1 or FIT_THREADS <= 1 or rows >= SMALL_FIT_ROWS:
        return [_fit_one(job, rows) for job in jobs]
    with ThreadPoolExecutor(max_workers=min(FIT_THREADS, len(jobs)),
                            thread_name_prefix="custops-fits") as pool:
        return list(pool.map(lambda job: _fit_one(job, rows), jobs))


# -- the estimator -----------------------------------------------------------------------------

def _as_frame(X) -> pd.DataFrame:
    """X as a DataFrame (a 2-D array gets columns x0, x1, ...)."""
    if isinstance(X, pd.DataFrame):
        return X
    array = np.asarray(X)
    if array.ndim != 2:
        raise DataError(f"X must be a table (a DataFrame or a 2-D array), got {array.ndim} "
                        "dimension(s)")
    return pd.DataFrame(array, columns=[f"x{j}" for j in range(array.shape[1])])


def _vector(values, n: int, name: str) -> np.ndarray:
    """One value per row of X, as a 1-D array."""
    out = np.asarray(values.to_numpy() if isinstance(values, pd.Series) else values)
    if out.ndim != 1 or len(out) != n:
        raise DataError(f"{name} must hold one value per row of X ({n}), got shape "
                        f"{out.shape}")
    return out


def _outcome(y, n: int) -> tuple[np.ndarray, bool]:
    """The outcome as floats, and whether it is binary (0/1)."""
    raw = _vector(y, n, "y")
    try:
        values = pd.to_numeric(pd.Series(raw), errors="raise").to_numpy(dtype="float64",
                                                                          na_value=np.nan)
    except (TypeError, ValueError):
        raise DataError("y must be numeric (0/1 for conversions, or an amount)") from None
    if np.isnan(values).any():
        raise DataError(f"y has {int(np.isnan(values).sum()):,} missing value(s); drop those "
                        "rows or fill them")
    return values, bool(np.isin(values, (0.0, 1.0)).all())


def _labels(treatment, n: int) -> np.ndarray:
    """Each row's arm label; none may be missing."""
    labels = _vector(treatment, n, "treatment")
    if pd.isna(pd.Series(labels)).any():
        raise DataError("treatment has missing arm labels: every row needs its arm")
    return labels


def _sorted_arms(labels: np.ndarray) -> list:
    """The distinct arm labels, sorted when they can be."""
    unique = pd.unique(labels).tolist()  # numpy scalars as Python values
    try:
        return sorted(unique)
    except TypeError:  # mixed label types: keep first appearance
        return unique


def _check_positive_int(name: str, value, minimum: int = 1) -> None:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < minimum:
        raise ParameterError(f"{name} must be a whole number ≥ {minimum}, got {value!r}")


class MultiArmUpliftModel(BaseEstimator):
    """Uplift of each treatment arm over a control arm: an X-learner (Künzel et al. 2019) per
    arm on gradient-boosted trees, for randomized experiments.

    Stage 1 fits the outcome per arm, μ_a(x) (a classifier for a 0/1 outcome, a regressor for
    an amount). Stage 2, for each arm k against the control arm 0, regresses the imputed
    individual effects on x: on arm k's rows y − μ0(x), on the control rows μk(x) − y, giving
    τ1(x) and τ0(x). The uplift is g·τ0(x) + (1 − g)·τ1(x), g being arm k's share of the rows
    of arm k and control: the known randomization propensity, no propensity model. The effect
    to learn is much smaller than the outcome's noise, so the trees are shallow with large
    leaves, and the effect models split categorical features as ordered codes (the outcome
    models split them natively). Below :data:`BAG_ROWS` rows per arm pair stage 2 is bagged
    (8 fits on random ``bag_fraction`` subsamples of each arm, averaged), which steadies the
    ranking learned from a few thousand rows; above it bagging no longer helps.

    Parameters
    ----------
    control : label of the control arm in ``treatment`` (a string, an int, False...).
    max_iter, learning_rate, max_depth, min_samples_leaf : the boosted trees of both stages.
    n_bags : effect-model fits per arm, averaged; None: 8 below :data:`BAG_ROWS` rows per arm
        pair, else 1.
    bag_fraction : the share of each arm's rows one bag draws (without replacement).
    max_train_rows : fit on a seeded random sample of at most this many rows.
    random_state : seed of the row sample, the bags and the trees.

    Fitted attributes: ``classes_`` (every arm label, control included), ``arms_`` (the
    treatment arms, the columns of :meth:`predict`), ``control_``, ``propensity_`` (arm →
    g), ``arm_rows_`` (arm → rows used), ``binary_outcome_``, ``n_bags_`` (arm → bags),
    ``design_`` (the model matrix), ``n_features_in_`` and ``feature_names_in_``.
    """

    def __init__(self, control: Hashable = "control", *, max_iter: int = 50,
                 learning_rate: float = 0.1, max_depth: int = 3, min_samples_leaf: int = 80,
                 n_bags: int | None = None, bag_fraction: float = 0.7,
                 max_train_rows: int = 100_000, random_state: int | None = None):
        self.control = control
        self.max_iter = max_iter
        self.learning_rate = learning_rate
        self.max_depth = max_depth
        self.min_samples_leaf = min_samples_leaf
        self.n_bags = n_bags
        self.bag_fraction = bag_fraction
        self.max_train_rows = max_train_rows
        self.random_state = random_state

    # hooks for the one-treatment model on the custops feature table
    def _make_design(self, X: pd.DataFrame):
        return FrameDesign.of(X)

    def _arm_name(self, arm) -> str:
        return f"arm {arm!r}"

    def _check_params(self) -> None:
        _check_positive_int("max_iter", self.max_iter)
        _check_positive_int("max_depth", self.max_depth, 1)
        _check_positive_int("min_samples_leaf", self.min_samples_leaf)
        _check_positive_int("max_train_rows", self.max_train_rows, 2 * MIN_ARM_ROWS)
        if self.n_bags is not None:
            _check_positive_int("n_bags", self.n_bags)
        if not (isinstance(self.learning_rate, int | float) and 0 < self.learning_rate <= 1):
            raise ParameterError(f"learning_rate must be in (0, 1], got {self.learning_rate!r}")
        if not (isinstance(self.bag_fraction, int | float) and 0 < self.bag_fraction <= 1):
            raise ParameterError(f"bag_fraction must be in (0, 1], got {self.bag_fraction!r}")
        if not isinstance(self.control, Hashable) or self.control is None:
            raise ParameterError(f"control must be the control arm's label, got "
                                 f"{self.control!r}")

    def _options(self, mask: np.ndarray, seed: int) -> dict[str, Any]:
        return dict(max_iter=self.max_iter, learning_rate=self.learning_rate,
                    max_depth=self.max_depth, min_samples_leaf=self.min_samples_leaf,
                    categorical_features=mask, early_stopping=False, random_state=seed)

    def _effect_options(self, mask: np.ndarray, seed: int) -> dict[str, Any]:
        # Categories as ordered codes: a native categorical split picks the best subset of
        # categories for the noisy imputed effects, so a many-valued feature with no effect
        # wrecks the ranking (simulated two-arm test data: a 30-value noise feature cut the
        # oracle fraction from 0.86 to 0.77, 100 values to 0.52; ordered codes kept 0.86).
        return self._options(np.zeros_like(mask), seed)

    def _bags_for(self, rows: int) -> int:
        if self.n_bags is not None:
            return int(self.n_bags)
        return 8 if rows < BAG_ROWS else 1

    def fit(self, X, treatment, y) -> MultiArmUpliftModel:
        """Learn the uplift of every arm of ``treatment`` over the ``control`` arm.

        ``X``: features (a DataFrame; numeric, boolean and categorical columns), ``treatment``:
        each row's arm label, ``y``: the outcome (0/1, or an amount).
        """
        self._check_params()
        X = _as_frame(X)
        labels = _labels(treatment, len(X))
        values, binary = _outcome(y, len(X))
        rng = np.random.default_rng(self.random_state)
        keep = sample_rows(len(X), self.max_train_rows, int(rng.integers(2**31)))
        if keep is not None:  # a random subset of a randomized experiment is still one
            X, labels, values = X.iloc[keep], labels[keep], values[keep]
        classes = _sorted_arms(labels)
        if not any(c == self.control for c in classes):
            raise DataError(f"the control arm {self.control!r} is not among the arms in "
                            f"treatment ({', '.join(map(repr, classes))}); pass control=")
        if len(classes) < 2:
            raise DataError(f"treatment holds one arm only ({classes[0]!r}): uplift needs the "
                            "control arm and at least one treatment arm")
        control = next(c for c in classes if c == self.control)
        members = {arm: np.flatnonzero(labels == arm) for arm in classes}
        for arm, rows in members.items():
            if len(rows) < MIN_ARM_ROWS:
                raise DataError(f"{self._arm_name(arm)} has {len(rows)} row(s); an uplift model "
                                f"needs at least {MIN_ARM_ROWS} per arm")
            outcomes = np.unique(values[rows])
            if len(outcomes) < 2:
                need = "both 0 and 1" if binary else "a varying outcome"
                raise DataError(
                    f"{self._arm_name(arm)} has no variation in the outcome (all "
                    f"{outcomes[0]:g} in {len(rows):,} rows): an uplift model needs {need} in "
                    "every arm; drop the arm or add data")
        self.design_ = self._make_design(X)
        x = self.design_.matrix(X)
        mask = self.design_.mask
        # The seeds and bags are drawn in the order of one fit after the other; the fits
        # themselves are independent and run side by side (:func:`_fit_all`): the same trees.
        outcome_jobs = {}
        for arm, rows in members.items():
            seed = int(rng.integers(2**31))
            estimator = (HistGradientBoostingClassifier if binary
                         else HistGradientBoostingRegressor)(**self._options(mask, seed))
            outcome_jobs[arm] = (estimator, rows, values[rows].astype(int) if binary
                                 else values[rows])
        fitted = _fit_all([(est, x[rows], target) for est, rows, target
                           in outcome_jobs.values()], len(x))
        outcome_models = dict(zip(outcome_jobs, fitted, strict=True))
        with openmp_threads(len(x)):
            effect_jobs, propensity, n_bags = [], {}, {}
            treated_arms = [arm for arm in classes if arm is not control]
            for arm in treated_arms:
                treated, untreated = members[arm], members[control]
                g = len(treated) / (len(treated) + len(untreated))
                effect_treated = (values[treated]
                                  - self._expected(outcome_models[control], x[treated], binary))
                effect_control = (self._expected(outcome_models[arm], x[untreated], binary)
                                  - values[untreated])
                bags = self._bags_for(len(treated) + len(untreated))
                for _ in range(bags):
                    pick_t = self._bag(rng, len(treated), bags)
                    pick_c = self._bag(rng, len(untreated), bags)
                    seed = int(rng.integers(2**31))
                    options = self._effect_options(mask, seed)
                    effect_jobs.append((HistGradientBoostingRegressor(**options),
                                        x[treated[pick_t]], effect_treated[pick_t]))
                    effect_jobs.append((HistGradientBoostingRegressor(**options),
                                        x[untreated[pick_c]], effect_control[pick_c]))
                propensity[arm], n_bags[arm] = g, bags
        fitted = iter(_fit_all(effect_jobs, len(x)))
        effect_models = {arm: [(next(fitted), next(fitted)) for _ in range(n_bags[arm])]
                         for arm in treated_arms}
        self.classes_ = np.array(classes, dtype=object)
        self.control_ = control
        self.arms_ = treated_arms
        self.outcome_models_ = outcome_models
        self.effect_models_ = effect_models
        self.propensity_ = propensity
        self.n_bags_ = n_bags
        self.arm_rows_ = {arm: len(rows) for arm, rows in members.items()}
        self.binary_outcome_ = binary
        self.n_features_in_ = len(self.design_.columns)
        self.feature_names_in_ = np.array([str(c) for c in self.design_.columns], dtype=object)
        return self

    def _bag(self, rng: np.random.Generator, n: int, bags: int) -> np.ndarray:
        if bags == 1 or self.bag_fraction >= 1:
            return np.arange(n)
        size = max(int(round(self.bag_fraction * n)), min(n, MIN_ARM_ROWS))
        return np.sort(rng.choice(n, size, replace=False))

    @staticmethod
    def _expected(model, x: np.ndarray, binary: bool) -> np.ndarray:
        return predict_proba1(model, x) if binary else predict_value(model, x)

    def _check_fitted(self) -> None:
        if not hasattr(self, "effect_models_"):
            raise ParameterError(f"this {type(self).__name__} is not fitted yet: call fit first")

    def _effects(self, x: np.ndarray) -> dict[Hashable, np.ndarray]:
        with openmp_threads(len(x)):
            return self._effects_of(x)

    def _effects_of(self, x: np.ndarray) -> dict[Hashable, np.ndarray]:
        out = {}
        for arm in self.arms_:
            g = self.propensity_[arm]
            fits = self.effect_models_[arm]
            total = np.zeros(len(x))
            for tau_treated, tau_control in fits:
                total += (g * predict_value(tau_control, x)
                          + (1 - g) * predict_value(tau_treated, x))
            out[arm] = total / len(fits)
        return out

    def predict(self, X) -> pd.DataFrame:
        """Estimated uplift per row and treatment arm (one column per arm of ``arms_``): the
        change in the probability of the outcome (0/1) or in its mean (an amount) that the
        arm causes compared with the control arm."""
        self._check_fitted()
        X = _as_frame(X)
        effects = in_batches(X, lambda part: self._effects(self.design_.matrix(part)))
        return pd.DataFrame(effects, index=X.index, columns=pd.Index(self.arms_, dtype=object))

    def predict_outcome(self, X) -> pd.DataFrame:
        """Expected outcome per row under each arm (probability for a 0/1 outcome), from the
        stage-1 models; the control column is the baseline without contact."""
        self._check_fitted()
        X = _as_frame(X)

        def score(part: pd.DataFrame) -> dict[Hashable, np.ndarray]:
            x = self.design_.matrix(part)
            with openmp_threads(len(x)):
                return {arm: self._expected(model, x, self.binary_outcome_)
                        for arm, model in self.outcome_models_.items()}

        out = in_batches(X, score)
        return pd.DataFrame(out, index=X.index, columns=pd.Index(list(out), dtype=object))


class CampaignArmsUpliftModel(MultiArmUpliftModel):
    """Several arms (channels, offers) of past campaigns against their control group on the
    custops feature table: :class:`MultiArmUpliftModel` with the features of
    :class:`~custops.models.classifier.ModelDesign` (other columns, such as ids, are ignored)
    and errors that name the touches' arm."""

    def _make_design(self, X: pd.DataFrame):
        return ModelDesign.of(X)

    def _arm_name(self, arm) -> str:
        return ("touches: the control group" if arm == self.control
                else f"touches: the arm {arm!r}")


class UpliftModel(MultiArmUpliftModel):
    """One treatment against its control on the custops feature table: the reach step's model.

    :class:`MultiArmUpliftModel` with ``treated`` (True/False) as the arms and the features of
    :class:`~custops.models.classifier.ModelDesign` (the feature table's known columns; other
    columns of the frame, such as ids, are ignored). 50 trees at learning rate 0.1 rank as well
    as 100 at 0.05 at half the cost: scoring every customer walks every tree.
    """

    def __init__(self, *, max_iter: int = 50, learning_rate: float = 0.1, max_depth: int = 3,
                 min_samples_leaf: int = 80, random_state: int = 0,
                 max_train_rows: int = 100_000, n_bags: int | None = None,
                 bag_fraction: float = 0.7):
        super().__init__(control=False, max_iter=max_iter, learning_rate=learning_rate,
                         max_depth=max_depth, min_samples_leaf=min_samples_leaf, n_bags=n_bags,
                         bag_fraction=bag_fraction, max_train_rows=max_train_rows,
                         random_state=random_state)

    def _make_design(self, X: pd.DataFrame):
        return ModelDesign.of(X)

    def _arm_name(self, arm) -> str:
        return "touches: the treatment group" if arm else "touches: the control group"

    def fit(self, features: pd.DataFrame, treated, converted) -> UpliftModel:
        treated = np.asarray(treated, dtype=bool)
        super().fit(features, treated, np.asarray(converted, dtype=int))
        self.treated_share_ = self.propensity_[True]
        return self

    def predict(self, features: pd.DataFrame) -> np.ndarray:
        """Estimated uplift (change in conversion probability) per customer."""
        return super().predict(features)[True].to_numpy()

    def predict_control(self, features: pd.DataFrame) -> np.ndarray:
        """Conversion probability without contact."""
        self._check_fitted()

        def score(part: pd.DataFrame) -> dict[str, np.ndarray]:
            x = self.design_.matrix(part)
            with openmp_threads(len(x)):
                return {"p": predict_proba1(self.outcome_models_[False], x)}

        return in_batches(features, score)["p"]

    def predict_both(self, features: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        """:meth:`predict` and :meth:`predict_control` from one model matrix."""
        self._check_fitted()

        def score(part: pd.DataFrame) -> dict[str, np.ndarray]:
            x = self.design_.matrix(part)
            with openmp_threads(len(x)):
                return {"uplift": self._effects_of(x)[True],
                        "baseline": predict_proba1(self.outcome_models_[False], x)}

        both = in_batches(features, score)
        return both["uplift"], both["baseline"]


# -- grading ---------------------------------------------------------------------------------

def _qini_points(y: np.ndarray, score: np.ndarray, treated: np.ndarray
                 ) -> tuple[np.ndarray, np.ndarray]:
    """Rows targeted and incremental outcome at the end of every group of tied scores (and
    0, 0): Y_T(k) − Y_C(k)·N_T(k)/N_C(k) over the k highest scores."""
    order = np.argsort(-score, kind="stable")
    s, t, v = score[order], treated[order], y[order]
    ends = np.r_[np.flatnonzero(np.diff(s) != 0), len(s) - 1]
    n_t = np.cumsum(t)[ends]
    n_c = (ends + 1) - n_t
    y_t = np.cumsum(v * t)[ends]
    y_c = np.cumsum(v * ~t)[ends]
    ratio = np.divide(n_t, n_c, out=np.zeros(len(ends)), where=n_c > 0)
    return np.r_[0.0, ends + 1.0], np.r_[0.0, y_t - y_c * ratio]


def _qini_gain(y: np.ndarray, score: np.ndarray, treated: np.ndarray) -> float:
    """Area between the Qini curve of ``score`` and random targeting (rows × outcome)."""
    x, q = _qini_points(y, score, treated)
    return float(np.trapezoid(q, x) - x[-1] * q[-1] / 2)


def _qini_auc_one(y: np.ndarray, score: np.ndarray, treated: np.ndarray) -> float:
    if treated.all() or not treated.any():
        raise DataError("qini_auc needs rows of the arm and of the control arm")
    if np.isnan(score).any():
        raise DataError("uplift scores have missing values")
    perfect = _qini_gain(y, np.where(treated, y, -y), treated)
    return _qini_gain(y, score, treated) / perfect if perfect > 0 else float("nan")


def qini_auc(y, uplift, treatment, *, control: Hashable = "control") -> float | pd.Series:
    """The Qini area normalised so that random targeting scores 0 and a perfect model 1.

    Rows are sorted by ``uplift`` (highest first). After the top k rows the Qini curve is the
    incremental outcome Q(k) = Y_T(k) − Y_C(k)·N_T(k)/N_C(k) (Y: sum of ``y``, N: rows, of
    the treated arm T and the control arm C among those k). With A(s) the area under Q over
    k = 0…N (trapezoids) and A_random = N·Q(N)/2 (the straight line of random targeting)::

        qini_auc = (A(uplift) − A_random) / (A(perfect) − A_random)

    where *perfect* is the best ordering of the observed outcomes (Radcliffe's perfect Qini
    curve, scikit-uplift's ``perfect_qini_curve`` with ``negative_effect=True``): the treated
    rows with an outcome first, by size, the control rows with an outcome last. Real data
    has no true effects, so this is the reference; on observed 0/1 outcomes it is far above
    any model (a few hundredths is a usual score), but random targeting is ≈ 0 and ratios
    between models on the same rows are comparable. Ties: the curve is taken only at the end
    of each group of equal scores and is linear across the group, i.e. the average over the
    orders of tied rows (a constant score scores exactly 0). NaN when the perfect ordering
    gains nothing (no outcome in the data).

    ``treatment``: each row's arm label; ``control``: the control arm's label. ``uplift``: one
    score per row when there is one treatment arm besides control, or a DataFrame (or mapping)
    with one column per arm, as :meth:`MultiArmUpliftModel.predict` returns — then each arm is
    graded on its rows and the control rows, and the result is a Series by arm.
    """
    y = np.asarray(y, dtype=float)
    labels = _labels(treatment, len(y))
    if np.isnan(y).any():
        raise DataError("y has missing values")
    is_control = labels == control
    if not is_control.any():
        raise DataError(f"the control arm {control!r} is not in treatment")
    if isinstance(uplift, pd.DataFrame | Mapping):
        out = {}
        for arm in uplift.keys():
            rows = is_control | (labels == arm)
            score = np.asarray(uplift[arm], dtype=float)
            if len(score) != len(y):
                raise DataError(f"uplift[{arm!r}] has {len(score)} values for {len(y)} rows")
            out[arm] = _qini_auc_one(y[rows], score[rows], ~is_control[rows])
        return pd.Series(out, dtype=float, name="qini_auc")
    score = _vector(uplift, len(y), "uplift").astype(float)
    arms = _sorted_arms(labels[~is_control])
    if len(arms) != 1:
        raise ParameterError(f"treatment holds {len(arms)} treatment arm(s) besides control; "
                             "for several arms pass uplift as a DataFrame with one column per "
                             "arm (MultiArmUpliftModel.predict)")
    return _qini_auc_one(y, score, ~is_control)


def _qini_curve(score, treated, converted, *, points: int = 50) -> pd.DataFrame:
    """Incremental conversions when targeting the top share of customers by ``score``.

    At each cut: conversions among treated − conversions among control × (treated / control
    counts in the cut). ``qini`` is the area between this curve and random targeting.
    """
    order = np.argsort(-np.asarray(score, dtype=float), kind="stable")
    t = np.asarray(treated, dtype=bool)[order]
    y = np.asarray(converted, dtype=float)[order]
    n_t, n_c = np.cumsum(t), np.cumsum(~t)
    y_t, y_c = np.cumsum(y * t), np.cumsum(y * ~t)
    with np.errstate(divide="ignore", invalid="ignore"):
        incremental = y_t - np.where(n_c > 0, y_c * n_t / n_c, 0.0)
    n = len(order)
    cuts = np.unique(np.linspace(0, n - 1, min(points, n)).astype(int)) if n else np.array([])
    share = (cuts + 1) / n if n else cuts
    curve = pd.DataFrame({"share": np.r_[0.0, share], "incremental": np.r_[0.0, incremental[cuts]]})
    curve["random"] = curve["share"] * (incremental[-1] if n else 0.0)
    return curve


def _qini_coefficient(curve: pd.DataFrame) -> float:
    """Area between the Qini curve and random targeting (trapezoids over the share)."""
    gap = curve["incremental"] - curve["random"]
    return float(np.trapezoid(gap, curve["share"]))


def evaluate_uplift(training: pd.DataFrame, *, test_share: float = 0.3, seed: int = 0
                    ) -> dict[str, Any]:
    """Fit on a random part of the campaign data, report the Qini on the held-out part
    (``qini``: incremental conversions over random targeting; ``qini_auc``: normalised,
    :func:`qini_auc`)."""
    test = experiment.holdout_mask(training["customer_id"].astype(str)
                                 + "|" + training["campaign_id"].astype(str),
                                 "uplift-eval", test_share, seed=seed)
    model = UpliftModel(random_state=seed).fit(training[~test], training.loc[~test, "treated"],
                                               training.loc[~test, "converted"])
    held = training[test].reset_index(drop=True)
    score = model.predict(held)
    curve = _qini_curve(score, held["treated"], held["converted"])
    treated = held["treated"].to_numpy(bool)
    graded = treated.any() and not treated.all()
    return {"model": model, "test": held, "score": score, "curve": curve,
            "qini": _qini_coefficient(curve),
            "qini_auc": (qini_auc(held["converted"].to_numpy(float), score, treated,
                                  control=False) if graded else float("nan"))}


def out_of_fold_uplift(training: pd.DataFrame, *, folds: int = 5, random_state: int = 0
                       ) -> np.ndarray:
    """Every row of a campaign training frame (:func:`custops.reach.campaign_training_frame`:
    ``customer_id``, ``treated``, ``converted`` and the features) scored by an
    :class:`UpliftModel` fitted on the other folds. A customer's rows (one per campaign) share
    a fold, so no row is scored by a model that saw the same customer."""
    _check_positive_int("folds", folds, 2)
    ids = training["customer_id"].astype(str)
    unique = ids.unique()
    fold_of = pd.Series(np.random.default_rng(random_state).permutation(len(unique)) % folds,
                        index=unique)
    fold = ids.map(fold_of).to_numpy()
    score = np.empty(len(training))
    for k in range(folds):
        part = training[fold != k]
        model = UpliftModel(random_state=random_state).fit(part, part["treated"],
                                                           part["converted"])
        score[fold == k] = model.predict(training[fold == k])
    return score


def oracle_qini_fraction(true_effect, score) -> float:
    """Expected Qini of ranking by ``score`` as a fraction of ranking by the true effect.

    For data with known individual effects (a simulation): the incremental outcome of the k
    rows ranked first is the sum of their true effects; its area above random targeting
    (the straight line to the total effect), over the same area for the ranking by the true
    effect itself. 1 = the oracle's order, 0 = random, negative = worse than random.
    """
    true_effect = np.asarray(true_effect, dtype=float)
    score = np.asarray(score, dtype=float)
    if len(score) != len(true_effect) or np.isnan(true_effect).any() or np.isnan(score).any():
        raise DataError("oracle_qini_fraction needs one finite score per true effect")

    def expected_qini(s: np.ndarray) -> float:
        cumulative = np.cumsum(true_effect[np.argsort(-s, kind="stable")])
        share = np.arange(1, len(cumulative) + 1) / len(cumulative)
        return float(np.mean(cumulative - share * cumulative[-1]))

    return expected_qini(score) / expected_qini(true_effect)
