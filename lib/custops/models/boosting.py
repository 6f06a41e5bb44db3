"""Predictions of scikit-learn's histogram gradient boosting on many rows, without two costs
of its public ``predict`` that do not change the result.

A model fitted with ``categorical_features`` re-encodes every input through a
``ColumnTransformer`` whose ``hstack`` returns a C-ordered copy, and the compiled tree walk
reads a C-ordered matrix about 1.5× slower than the column-major one our model matrices are
built as (:meth:`custops.models.classifier.ModelDesign.matrix`). On a million customers that
is ~1 s per model: 04 predicts nine such models, 03 two.

:func:`predict_proba1` and :func:`predict_value` encode once, keep the column-major layout,
then add up the trees as scikit-learn's ``_raw_predict`` does (same predictors, same order,
same link), block of rows by block of rows (:func:`_raw_predict`), so the numbers are
identical (tested against the public methods). The fast path uses scikit-learn internals
(``_preprocessor``, ``_predictors``, ``_bin_mapper``, ``_baseline_prediction``, ``_loss``);
if a release renames any of them, the public method is used instead, with the same result.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np
import pandas as pd
from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor

try:
    from sklearn.utils._openmp_helpers import _openmp_effective_n_threads
except ImportError:  # a release that moved it: the public methods are used
    _openmp_effective_n_threads = None

__all__ = ["FAST_PATH_ROWS", "SCORE_BATCH_ROWS", "fast_path_available", "in_batches",
           "predict_proba1", "predict_value"]

FAST_PATH_ROWS = 50_000  # below this the public method is as quick; keep it simple there
# Rows scored at a time: the model matrix of 500,000 customers is ~150 MB, ~0.5 GB with the
# encoded copies (measured ~3x the matrix at the peak), where 10 million customers at once
# would take ~9 GB.
SCORE_BATCH_ROWS = 500_000


def fast_path_available(model) -> bool:
    """Whether ``model`` (fitted) exposes the internals :func:`_raw_predict` relies on."""
    return _openmp_effective_n_threads is not None and all(hasattr(model, name) for name in
               ("_preprocessor", "_predictors", "_baseline_prediction", "_loss",
                "_bin_mapper", "n_trees_per_iteration_"))


# Rows one thread walks through every tree before its next block. Each tree costs a dozen
# NumPy calls per block, so small blocks are call overhead: on a million rows and 50 trees of
# depth 3, 8,192-row blocks took 1.66 s, 32,768 0.74 s, 65,536 0.64 s, 131,072 0.61 s
# (two threads, same process; benchmarks/NOTES.md). Fewer rows than two blocks are split in
# two halves (at least MIN_BLOCK_ROWS) so that both threads still work.
BLOCK_ROWS = 65_536
MIN_BLOCK_ROWS = 8_192


def _block_rows(rows: int, threads: int) -> int:
    """The block size for ``rows`` rows on ``threads`` threads."""
    return max(MIN_BLOCK_ROWS, min(BLOCK_ROWS, -(-rows // max(1, threads))))


def _raw_predict(model, x: np.ndarray) -> np.ndarray:
    """scikit-learn's ``_raw_predict`` on a column-major encoded copy of ``x``, in blocks of
    rows: each block goes through every tree on one thread, the blocks spread over the
    threads OpenMP may use. scikit-learn instead runs one parallel loop per tree; with one
    barrier per tree, a core taken by another process stalls every tree (on this shared
    2-core machine, 1.5-2x slower than the blocks). Each block starts from the baseline and
    adds the trees in the same order as scikit-learn, so the sums are the same numbers."""
    if model._preprocessor is not None:  # categorical features: encode, keep column-major
        x = np.asfortranarray(model._preprocessor.transform(x))
    elif x.dtype != np.float64:
        x = np.asfortranarray(x, dtype=np.float64)
    k = model.n_trees_per_iteration_
    raw = np.zeros((x.shape[0], k), dtype=model._baseline_prediction.dtype, order="F")
    raw += model._baseline_prediction
    bitsets, feature_map = model._bin_mapper.make_known_categories_bitsets()

    # Trees with numeric splits only are walked with NumPy (one comparison per split on a
    # column of the block, np.where up to the root): the same leaf values as the compiled
    # walk, about twice as fast on the shallow trees of the uplift models.
    compiled = [[_numeric_tree(tree.nodes) for tree in trees] for trees in model._predictors]

    size = _block_rows(x.shape[0], _openmp_effective_n_threads(None))

    def walk(start: int) -> None:
        block = x[start:start + size]
        out = raw[start:start + size]  # a view: each block writes its own rows
        for trees, numeric in zip(model._predictors, compiled, strict=True):
            for j, (tree, splits) in enumerate(zip(trees, numeric, strict=True)):
                if splits is not None:
                    out[:, j] += _leaf_values(splits, block)
                else:
                    out[:, j] += tree.predict(block, known_cat_bitsets=bitsets,
                                              f_idx_map=feature_map, n_threads=1)

    starts = range(0, x.shape[0], size)
    threads = max(1, min(_openmp_effective_n_threads(None), len(starts)))
    if threads == 1:
        for start in starts:
            walk(start)
    else:
        with ThreadPoolExecutor(max_workers=threads,
                                thread_name_prefix="custops-trees") as pool:
            list(pool.map(walk, starts))
    return raw


def _numeric_tree(nodes: np.ndarray):
    """A fitted tree's nodes as nested tuples (feature, threshold, missing go left, left,
    right) down to leaf values (floats), or None when a split is categorical."""
    if nodes["is_categorical"].any():
        return None

    def node(i: int):
        row = nodes[i]
        if row["is_leaf"]:
            return float(row["value"])
        return (int(row["feature_idx"]), float(row["num_threshold"]),
                bool(row["missing_go_to_left"]), node(int(row["left"])),
                node(int(row["right"])))

    return node(0)


def _leaf_values(tree, block: np.ndarray):
    """Each row's leaf value: scikit-learn's rule, ``x <= threshold`` goes left and a missing
    value goes where the split sent missing values in training (``not x > threshold`` is
    true for NaN, ``x <= threshold`` false)."""
    if isinstance(tree, float):
        return tree
    feature, threshold, missing_left, left, right = tree
    column = block[:, feature]
    go_left = ~(column > threshold) if missing_left else column <= threshold
    return np.where(go_left, _leaf_values(left, block), _leaf_values(right, block))


def _usable(model, x) -> bool:
    return (isinstance(x, np.ndarray) and x.ndim == 2 and len(x) >= FAST_PATH_ROWS
            and x.shape[1] == model.n_features_in_ and fast_path_available(model))


def _fast_raw(model, x) -> np.ndarray | None:
    """:func:`_raw_predict`, or None when it does not apply or the installed scikit-learn's
    internals no longer fit it (a changed signature: the public method is used instead)."""
    if not _usable(model, x):
        return None
    try:
        return _raw_predict(model, x)
    except (AttributeError, TypeError, ValueError):
        return None


def predict_proba1(model: HistGradientBoostingClassifier, x: np.ndarray) -> np.ndarray:
    """``model.predict_proba(x)[:, 1]`` of a fitted binary classifier, computed faster on
    many rows of a float matrix ``x``."""
    raw = _fast_raw(model, x)
    if raw is None:
        return model.predict_proba(x)[:, 1]
    return model._loss.predict_proba(raw)[:, 1]


def predict_value(model: HistGradientBoostingRegressor, x: np.ndarray) -> np.ndarray:
    """``model.predict(x)`` of a fitted regressor, computed faster on many rows of ``x``."""
    raw = _fast_raw(model, x)
    if raw is None:
        return model.predict(x)
    return model._loss.link.inverse(raw.ravel())


def in_batches(frame: pd.DataFrame, score: Callable[[pd.DataFrame], dict[Any, np.ndarray]],
               rows: int | None = None) -> dict[Any, np.ndarray]:
    """``score(part)`` on consecutive slices of at most ``rows`` rows of ``frame``, its arrays
    joined in order: each row's prediction depends on that row alone, so the result is the
    one of ``score(frame)``, with the model matrix of one slice in memory at a time
    (``rows``: :data:`SCORE_BATCH_ROWS` unless given)."""
    rows = SCORE_BATCH_ROWS if rows is None else rows
    if len(frame) <= rows:
        return score(frame)
    parts = [score(frame.iloc[start:start + rows]) for start in range(0, len(frame), rows)]
    return {key: np.concatenate([part[key] for part in parts]) for key in parts[0]}
