"""The reach step's speed-ups give the numbers of the plain computations."""

from __future__ import annotations

import threading

import numpy as np
import pandas as pd
from sklearn.ensemble import HistGradientBoostingRegressor
from sklearn.ensemble._hist_gradient_boosting.predictor import TreePredictor

from custops.models import boosting, uplift


def test_numeric_trees_are_walked_with_numpy_and_give_the_public_predictions(monkeypatch):
    """Trees with numeric splits only are walked without scikit-learn's compiled walk, with
    the same numbers: missing values on both sides of splits, infinities, ties on thresholds."""
    rng = np.random.default_rng(7)
    n = 3_000
    x = rng.normal(size=(n, 5)).round(1)  # ties on the thresholds
    x[rng.random(n) < 0.1, 1] = np.nan
    x[rng.random(n) < 0.1, 3] = np.nan
    y = x[:, 0] + np.nan_to_num(x[:, 1], nan=2.0) - np.nan_to_num(x[:, 3], nan=-1.0) \
        + rng.normal(size=n)
    model = HistGradientBoostingRegressor(max_iter=30, max_depth=3, min_samples_leaf=20,
                                          early_stopping=False, random_state=0).fit(x, y)
    many = np.asfortranarray(np.tile(x, (20, 1)))
    many[:50, 0] = np.inf
    many[50:100, 2] = -np.inf
    many[100:150, 4] = np.nan  # missing where training had none
    calls = []
    original = TreePredictor.predict
    monkeypatch.setattr(TreePredictor, "predict",
                        lambda self, *a, **k: calls.append(1) or original(self, *a, **k))
    fast = boosting._raw_predict(model, many)
    assert not calls  # no compiled walk
    monkeypatch.setattr(TreePredictor, "predict", original)
    assert np.array_equal(model._loss.link.inverse(fast.ravel()), model.predict(many))


def test_tree_walk_blocks_cover_every_row_and_keep_both_threads_busy():
    """Blocks of many rows (few NumPy calls per tree), a ragged last block, and inputs smaller
    than two blocks split in halves: the same numbers as scikit-learn's public predict."""
    assert boosting._block_rows(1_000_000, 2) == boosting.BLOCK_ROWS
    assert boosting._block_rows(60_000, 2) == 30_000  # two threads, two blocks
    assert boosting._block_rows(10_000, 2) == boosting.MIN_BLOCK_ROWS
    assert boosting._block_rows(60_000, 1) == 60_000
    rng = np.random.default_rng(11)
    x = rng.normal(size=(3_001, 4))
    x[rng.random(3_001) < 0.1, 2] = np.nan
    y = x[:, 0] - np.nan_to_num(x[:, 2], nan=1.0) + rng.normal(size=3_001)
    model = HistGradientBoostingRegressor(max_iter=20, max_depth=3, min_samples_leaf=20,
                                          early_stopping=False, random_state=0).fit(x, y)
    many = np.asfortranarray(np.tile(x, (70, 1)))  # 210,070 rows: 3 full blocks and a part
    assert len(many) % boosting.BLOCK_ROWS
    assert np.array_equal(boosting.predict_value(model, many), model.predict(many))


def test_uplift_fits_run_side_by_side_and_grow_the_same_trees(monkeypatch):
    """The X-learner's boosted fits run on two threads; its predictions equal those of the
    fits one after the other."""
    rng = np.random.default_rng(1)
    n = 4_000
    X = pd.DataFrame(rng.normal(size=(n, 4)), columns=list("abcd"))
    arm = rng.choice(["control", "sms", "email"], n)
    y = (X["a"] + (arm == "sms") * X["b"] + rng.normal(size=n) > 0.5).astype(int)
    names = []
    fit = HistGradientBoostingRegressor.fit

    def recording(self, *a, **k):
        names.append(threading.current_thread().name)
        return fit(self, *a, **k)

    monkeypatch.setattr(HistGradientBoostingRegressor, "fit", recording)
    together = uplift.MultiArmUpliftModel(random_state=3).fit(X, arm, y).predict(X)
    assert any(name.startswith("custops-fits") for name in names)
    monkeypatch.setattr(uplift, "FIT_THREADS", 1)
    alone = uplift.MultiArmUpliftModel(random_state=3).fit(X, arm, y).predict(X)
    pd.testing.assert_frame_equal(together, alone, check_exact=True)


def test_campaign_snapshots_are_built_together_with_the_tables_of_each_date(monkeypatch):
    """The training frame asks campaign_features_at for every campaign date at once (the
    parts the snapshots share computed once) and gets the frame of one date at a time."""
    from pathlib import Path

    from custops import reach
    from custops.run import context

    ctx = context.open_run(data_dir=str(Path(__file__).resolve().parents[1] / "data" / "sample"))
    touches = uplift.sample_campaign_rows(ctx.dataset().touches, 3_000, seed=2)
    features_at = reach.campaign_features_at(ctx.dataset(), touches)
    asked = []
    one_day = reach.build_features
    monkeypatch.setattr(reach, "build_features",
                        lambda *a, **k: asked.append(a[1]) or one_day(*a, **k))
    together = reach.campaign_training_frame(touches, features_at)
    assert not asked  # no date built alone
    alone = reach.campaign_training_frame(touches, lambda day: features_at(day))
    assert len(asked) == touches["campaign_id"].nunique() > 1
    pd.testing.assert_frame_equal(together, alone, check_exact=True)
