"""Snapshots for a sample of customers (the churn steps beyond a million customers) and the one
Parquet-to-pandas reader: the same rows as the whole tables, nothing filtered stored as whole."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from custops import churn, features
from custops.features import build_features
from custops.frames import read_parquet_frame
from custops.run import context

SAMPLE = Path(__file__).resolve().parents[1] / "data" / "sample"


@pytest.fixture(scope="module")
def sample_ctx():
    ctx = context.open_run(data_dir=str(SAMPLE))
    ctx.get("features")
    return ctx


def _some(ids: pd.Series, n: int, seed: int = 3) -> pd.Index:
    rng = np.random.default_rng(seed)
    return pd.Index(ids.iloc[np.sort(rng.choice(len(ids), n, replace=False))])


def test_features_of_some_customers_equal_the_whole_tables_rows(sample_ctx):
    """A customer's features depend only on their own rows: the table built for a few
    customers (one date, or several in one pass) is the whole table's rows of them."""
    data = sample_ctx.dataset()
    dates = [sample_ctx.days_before(90), sample_ctx.days_before(180)]
    whole = {day: build_features(data, day) for day in dates}
    picked = _some(whole[dates[0]]["customer_id"], 700)
    picked = picked.append(pd.Index(["not-a-customer"]))
    for day in dates:
        expected = whole[day][whole[day]["customer_id"].isin(picked)].reset_index(drop=True)
        pd.testing.assert_frame_equal(build_features(data, day, customers=picked), expected)
    together = dict(features.build_feature_snapshots(data, dates, customers=picked))
    for day in dates:
        expected = whole[day][whole[day]["customer_id"].isin(picked)].reset_index(drop=True)
        pd.testing.assert_frame_equal(together[day], expected)


def test_customer_ids_at_are_the_snapshots_ids(sample_ctx):
    data = sample_ctx.dataset()
    for day in (sample_ctx.as_of, sample_ctx.days_before(90), sample_ctx.days_before(400)):
        ids = features.customer_ids_at(data, day)
        pd.testing.assert_series_equal(
            ids, build_features(data, day)["customer_id"].reset_index(drop=True))


def test_reader_gives_what_pandas_gives(tmp_path, sample_ctx):
    feats = sample_ctx.get("features")
    path = tmp_path / "features.parquet"
    feats.to_parquet(path, index=False)
    pd.testing.assert_frame_equal(read_parquet_frame(path), pd.read_parquet(path))
    picked = _some(feats["customer_id"], 123)
    read = pd.read_parquet(path)  # dates come back as datetime64[ms], as they always did
    expected = read[read["customer_id"].isin(picked)].reset_index(drop=True)
    pd.testing.assert_frame_equal(read_parquet_frame(path, customers=picked), expected)
    empty = feats.iloc[:0]
    empty.to_parquet(path, index=False)
    pd.testing.assert_frame_equal(read_parquet_frame(path), pd.read_parquet(path))


def test_run_snapshots_for_a_sample(tmp_path, monkeypatch):
    """features_at(date, customers=...) equals the whole table's rows whether the table is
    built for them (in a prefetch or on demand), read from the run folder or taken from
    memory; the run folder stores only whole tables; churn's sample depends only on ids."""
    monkeypatch.setattr(churn, "BACKTEST_CUSTOMERS", 1500)
    run = tmp_path / "run"
    ctx = context.open_run(data_dir=str(SAMPLE), run_dir=str(run))
    feats = ctx.get("features")
    test_day, train_day = ctx.days_before(90), ctx.days_before(180)
    sample = ctx.sampled_customers(ctx.as_of)
    assert len(sample) == 1500
    ctx.prefetch_features(test_day, train_day, customers=sample)
    built = {day: ctx.features_at(day, customers=sample) for day in (test_day, train_day)}
    assert not ctx._pending
    stored = sorted(p.name for p in (run / "artifacts").glob("features_*.parquet"))
    assert stored == []  # nothing filtered under the name of a whole table
    ids_then = ctx.customers_at(test_day)  # a distinct query: no table built
    assert sorted(p.name for p in (run / "artifacts").glob("features_*.parquet")) == []
    whole = {day: ctx.features_at(day) for day in (test_day, train_day)}  # built and stored
    pd.testing.assert_series_equal(ids_then, whole[test_day]["customer_id"])
    for day in (test_day, train_day):
        expected = whole[day][whole[day]["customer_id"].isin(sample)].reset_index(drop=True)
        pd.testing.assert_frame_equal(built[day], expected)
    # As the churn steps do it: the same rows as sampling the whole tables.
    (train, test, _now), info = churn._customer_sample(
        (whole[train_day], whole[test_day], feats), ctx.seed)
    pd.testing.assert_frame_equal(built[train_day], train)
    pd.testing.assert_frame_equal(built[test_day], test)
    assert info == {"customers": 1500, "of": len(feats)}
    # A later notebook: the whole table read from the run folder for the sample only.
    later = context.open_run(data_dir=str(SAMPLE), run_dir=str(run))
    training = later.sampled_customers(test_day)
    from_disk = pd.read_parquet(run / "artifacts" / f"features_{test_day:%Y-%m-%d}.parquet")
    (expected,), _ = churn._customer_sample((from_disk,), later.seed)
    pd.testing.assert_frame_equal(later.features_at(test_day, customers=training), expected)
    # Up to BACKTEST_CUSTOMERS nothing is sampled and no id is read.
    monkeypatch.setattr(churn, "BACKTEST_CUSTOMERS", len(feats))
    assert later.sampled_customers(test_day) is None
    assert later.sampled_customers(later.as_of) is None


def test_a_stored_backtest_needs_no_snapshots(tmp_path):
    """03 prefetches the backtest's snapshots only while its result is not stored: a later
    page of the run (a dashboard) reads the result and builds nothing."""
    run = tmp_path / "run"
    ctx = context.open_run(data_dir=str(SAMPLE), run_dir=str(run))
    assert not ctx.is_stored("churn_backtest")
    ctx.get("churn_backtest")
    later = context.open_run(data_dir=str(SAMPLE), run_dir=str(run))
    assert later.is_stored("churn_backtest") and not later.is_stored("churn_scores")
