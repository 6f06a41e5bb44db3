"""The feature layer runs unchanged on a Spark session (local mode) and gives identical output."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import ibis
import numpy as np
import pandas as pd
import pytest

from custops import churn
from custops.features import build_features
from custops.io.dataset import load_dataset
from custops.models import classifier
from custops.run import spark as on_spark

ROOT = Path(__file__).resolve().parents[1]

pytestmark = [pytest.mark.spark, pytest.mark.slow]


@pytest.fixture(scope="module")
def spark():
    pyspark = pytest.importorskip("pyspark")
    if shutil.which("java") is None:
        pytest.fail("Java is missing: `make test` installs it (system-deps); run it first")
    from pyspark.sql import SparkSession

    # Executors must run the interpreter that has custops installed (on a cluster: install
    # the package on the workers, or ship it with --py-files).
    os.environ["PYSPARK_PYTHON"] = sys.executable
    session = (SparkSession.builder.master("local[2]").appName("custops-test")
               .config("spark.pyspark.python", sys.executable)
               .config("spark.pyspark.driver.python", sys.executable)
               .config("spark.ui.enabled", "false")
               .config("spark.sql.session.timeZone", "UTC")
               .config("spark.sql.shuffle.partitions", "4")
               .getOrCreate())
    session.sparkContext.setLogLevel("ERROR")
    assert pyspark.__version__
    yield session
    session.stop()


def test_duckdb_and_spark_give_identical_features(spark):
    dataset = load_dataset(ROOT / "data" / "sample")
    on_duckdb = build_features(dataset, "2026-09-30")
    on_spark = build_features(dataset, "2026-09-30", con=ibis.pyspark.connect(spark))
    assert len(on_duckdb) == 5000
    pd.testing.assert_frame_equal(on_duckdb, on_spark)


def test_scoring_runs_on_the_executors(spark):
    """A model fitted on a collected sample scores the Spark feature table with mapInPandas and
    matches scoring the same customers locally."""
    dataset = load_dataset(ROOT / "data" / "sample")
    orders = spark.createDataFrame(dataset.orders[["customer_id", "order_id", "order_time",
                                                   "amount", "is_refund", "channel",
                                                   "category"]])
    remote = on_spark.features_table(spark, orders, "2026-09-30")
    past = build_features({"orders": dataset.orders}, "2026-07-02")
    now = build_features({"orders": dataset.orders}, "2026-09-30")
    model = classifier.SupervisedChurnModel(random_state=1).fit(
        churn.buyers(past), churn.outcome(past, now)["churned"])
    buyers = remote.filter("order_days > 0")
    scored = on_spark.score_churn(buyers, model, "2026-09-30").toPandas().set_index("customer_id")
    local = churn.buyers(now)
    expected = pd.Series(model.predict_proba(local), index=local["customer_id"].astype(str))
    assert len(scored) == len(local)
    assert np.allclose(scored.loc[expected.index, "churn_probability"], expected, atol=1e-9)
