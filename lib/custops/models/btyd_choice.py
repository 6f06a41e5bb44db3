"""Choosing a BTYD purchase model on a holdout period: :func:`compare_btyd` fits each model on
a calibration period and scores its forecast of the holdout; :func:`best_btyd` picks the usable
one with the lowest error (ties to the simpler model). :mod:`custops.models.btyd` re-exports
both.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike

from custops.models.btyd import BTYD_MODELS, BetaGeoFitter  # noqa: F401 (BetaGeoFitter: docs)
from custops.models.btyd_fit import (
    BTYDDataError,
    BTYDParameterError,
    ConvergenceWarning,
    _as_float_vector,
    _check_option,
    _check_rfm,
    _check_same_length,
    _first_positions,
)

__all__ = ["best_btyd", "compare_btyd"]


def compare_btyd(
    calibration: Mapping[str, ArrayLike] | pd.DataFrame,
    holdout_orders: ArrayLike,
    holdout_length: float,
    models: tuple[str, ...] | list[str] = ("bgnbd", "mbgnbd", "pnbd"),
    *,
    time_unit: str = "days",
) -> pd.DataFrame:
    """Fit BTYD purchase models on a calibration period and score their holdout forecasts.

    Each model is fitted on the calibration (frequency, recency, T) and predicts every
    customer's repeat orders in the ``holdout_length`` that follows the calibration period
    (:meth:`~BetaGeoFitter.conditional_expected_number_of_purchases_up_to_time`), which is
    compared with the orders the customer actually placed there.

    Parameters
    ----------
    calibration : mapping or DataFrame
        ``"frequency"``, ``"recency"`` and ``"T"`` per customer over the calibration period,
        as for :meth:`BetaGeoFitter.fit`.
    holdout_orders : array-like
        Repeat orders of each customer in (T, T + holdout_length] (same order as
        ``calibration``; >= 0).
    holdout_length : float
        Length of the holdout period, in ``time_unit`` (> 0).
    models : sequence of str, default ("bgnbd", "mbgnbd", "pnbd")
        Keys of :data:`BTYD_MODELS` to compare.
    time_unit : str, default "days"
        Unit of recency, T and ``holdout_length``, recorded in the fitted models.

    Returns
    -------
    pandas.DataFrame
        One row per model, in the order of ``models``, with columns ``model`` (key),
        ``usable`` (no error finding, see :meth:`BetaGeoFitter.health`), ``findings`` (tuple
        of the finding codes), ``converged``, ``log_likelihood``, ``params`` (dict),
        ``predicted_orders`` and ``actual_orders`` (holdout totals), ``rmse`` and ``mae``
        (per-customer error of the predicted holdout orders). :func:`best_btyd` picks one.

    Raises
    ------
    BTYDDataError
        If the inputs are inconsistent, or cannot be fitted (e.g. no repeat purchases).
    BTYDParameterError
        If a model key is unknown or ``holdout_length`` is not > 0.
    """
    unknown = [key for key in models if key not in BTYD_MODELS]
    if unknown or not len(models):
        raise BTYDParameterError(
            f"models must be a non-empty selection of {list(BTYD_MODELS)}; unknown: {unknown}."
        )
    try:
        columns = [calibration[name] for name in ("frequency", "recency", "T")]
    except (KeyError, TypeError, IndexError) as exc:
        raise BTYDDataError(
            "`calibration` must provide 'frequency', 'recency' and 'T' (a dict of arrays or a "
            f"DataFrame); missing {exc}."
        ) from exc
    x, t_x, age = _check_rfm(*columns)
    actual = _as_float_vector(holdout_orders, "holdout_orders")
    _check_same_length(calibration=x, holdout_orders=actual)
    if (actual < 0).any():
        raise BTYDDataError(
            f"`holdout_orders` must be >= 0; negative at positions {_first_positions(actual < 0)}."
        )
    horizon = _check_option("holdout_length", holdout_length, minimum=0.0, strict=True)
    rows = []
    for key in models:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)  # reported by health()
            model = BTYD_MODELS[key](time_unit=time_unit).fit(x, t_x, age)
        findings = model.health()
        predicted = model.conditional_expected_number_of_purchases_up_to_time(horizon, x, t_x, age)
        error = predicted - actual
        rows.append(
            {
                "model": key,
                "usable": not any(f["severity"] == "error" for f in findings),
                "findings": tuple(f["code"] for f in findings),
                "converged": bool(model.converged_),
                "log_likelihood": model.log_likelihood_,
                "params": dict(model.params_),
                "predicted_orders": float(predicted.sum()),
                "actual_orders": float(actual.sum()),
                "rmse": float(np.sqrt(np.mean(error * error))),
                "mae": float(np.mean(np.abs(error))),
            }
        )
    return pd.DataFrame(rows)


def best_btyd(table: pd.DataFrame, metric: str = "rmse", rel_tol: float = 1e-3) -> str | None:
    """The usable model of a :func:`compare_btyd` table with the lowest per-customer error.

    Models whose ``metric`` is within ``rel_tol`` (relative) of the lowest tie, and a tie goes
    to the simpler model: BG/NBD, then MBG/NBD, then Pareto/NBD (the order of
    :data:`BTYD_MODELS`).

    Parameters
    ----------
    table : pandas.DataFrame
        Output of :func:`compare_btyd` (columns ``model``, ``usable`` and ``metric``).
    metric : {"rmse", "mae"}, default "rmse"
        Per-customer error to minimize.
    rel_tol : float, default 1e-3
        Relative difference below which two errors count as a tie.

    Returns
    -------
    str or None
        The chosen model key, or None when no model is usable.
    """
    rel_tol = _check_option("rel_tol", rel_tol, minimum=0.0, strict=False)
    missing = {"model", "usable", metric} - set(table.columns)
    if missing:
        raise BTYDDataError(f"`table` lacks column(s) {sorted(missing)}; pass compare_btyd output.")
    scores = table[metric].to_numpy(dtype=np.float64)
    candidates = table["usable"].to_numpy(dtype=bool) & np.isfinite(scores)
    if not candidates.any():
        return None
    best = float(scores[candidates].min())
    tied = candidates & (scores <= best + rel_tol * abs(best))
    order = {key: i for i, key in enumerate(BTYD_MODELS)}
    return min(table["model"][tied], key=lambda key: (order.get(key, len(order)), str(key)))
