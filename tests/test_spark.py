"""The feature layer runs unchanged on a Spark session (local mode) and gives identical output."""

from __future__ import annotations

import shutil
from pathlib import Path
from types import SimpleNamespace

import ibis
import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from custops import churn
from custops.errors import ParameterError
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

    # The kernel's session as the report makes it (executors on this interpreter, UTC,
    # loopback only); stopped when the process ends.
    session = on_spark.session("local[2]")
    assert on_spark.session("local[2]") is session  # one per process
    assert session.conf.get("spark.sql.session.timeZone") == "UTC"
    assert isinstance(session, SparkSession) and pyspark.__version__
    return session


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


def _sample_model(dataset):
    past = build_features({"orders": dataset.orders}, "2026-07-02")
    now = build_features({"orders": dataset.orders}, "2026-09-30")
    model = classifier.SupervisedChurnModel(random_state=1).fit(
        churn.buyers(past), churn.outcome(past, now)["churned"])
    return model


def test_report_scoring_hook_scores_every_buyer_on_the_executors(spark, tmp_path):
    """executor_predict (the report's churn scoring under --engine spark) gives the local
    probabilities, in the buyers' order: from the run's features.parquet, and shipped from
    the driver when the run stored none."""
    dataset = load_dataset(ROOT / "data" / "sample", mapping=None)
    model = _sample_model(dataset)
    customers = build_features(dataset, "2026-09-30")
    buyers = churn.buyers(customers).sample(frac=1.0, random_state=3).reset_index(drop=True)
    expected = model.predict_proba(buyers)
    ctx = SimpleNamespace(params={"spark_master": "local[2]"}, artifacts_dir=None)
    shipped = on_spark.executor_predict(ctx)(model, buyers)
    assert np.allclose(shipped, expected, rtol=1e-12, atol=1e-12)
    (tmp_path / "artifacts").mkdir()
    customers.to_parquet(tmp_path / "artifacts" / "features.parquet", index=False)
    ctx = SimpleNamespace(params={"spark_master": "local[2]"}, artifacts_dir=tmp_path / "artifacts")
    stored = on_spark.executor_predict(ctx)(model, buyers)
    assert np.allclose(stored, expected, rtol=1e-12, atol=1e-12)
    # A stored table of other customers is refused, not silently scored as missing.
    customers.iloc[:100].to_parquet(tmp_path / "artifacts" / "features.parquet", index=False)
    with pytest.raises(Exception, match="not scored"):
        on_spark.executor_predict(ctx)(model, buyers)


def test_parquet_nanosecond_times_read_as_timestamps(spark, tmp_path):
    frame = pd.DataFrame({"customer_id": ["a", "b"],
                          "order_time": pd.to_datetime(["2026-03-01 23:59:59.123456",
                                                        "2026-09-30 08:00:00"],
                                                       format="ISO8601").astype("datetime64[ns]"),
                          "amount": [1.5, 2.0]})
    frame.to_parquet(tmp_path / "orders.parquet", index=False)
    assert str(pq.read_schema(tmp_path / "orders.parquet").field("order_time").type) == \
        "timestamp[ns]"
    back = on_spark.read_parquet(spark, tmp_path / "orders.parquet").toPandas()
    assert back["order_time"].tolist() == frame["order_time"].tolist()
    assert back["amount"].tolist() == [1.5, 2.0]


def test_tables_of_a_spark_catalogue_load_like_the_files(spark):
    """--data spark-catalog://DATABASE: the loader reads the database's tables through the
    session and finds the same rows, rejects and counts as from the data folder."""
    spark.sql("CREATE DATABASE IF NOT EXISTS custops_crm")
    for name in ("orders", "customers"):
        raw = pd.read_csv(ROOT / "data" / "sample" / f"{name}.csv", dtype=str,
                          keep_default_na=False)
        spark.createDataFrame(raw).write.mode("overwrite").saveAsTable(f"custops_crm.{name}")
    source = on_spark.data_source("spark-catalog://custops_crm", "local[2]")
    assert sorted(source.list_tables()) == ["customers", "orders"]
    from_spark = load_dataset(source, as_of="2026-09-30")
    from_files = load_dataset(ROOT / "data" / "sample", as_of="2026-09-30")
    pd.testing.assert_frame_equal(from_spark.orders, from_files.orders)
    assert from_spark.quality["orders"]["rows_read"] == from_files.quality["orders"]["rows_read"]
    assert from_spark.quality["orders"]["rows_kept"] == from_files.quality["orders"]["rows_kept"]
    with pytest.raises(Exception, match="custops_missing"):
        on_spark.data_source("spark-catalog://custops_missing", "local[2]")
    assert on_spark.data_source(ROOT / "data", "local[2]") == ROOT / "data"


def test_catalogue_tables_need_the_spark_engine():
    with pytest.raises(ParameterError, match="--engine spark"):
        on_spark.data_source("spark-catalog://crm", engine="duckdb")
    assert on_spark.data_source(ROOT / "data", engine="duckdb") == ROOT / "data"


def test_engine_parameters_are_checked():
    on_spark.check_engine("duckdb")
    on_spark.check_engine("spark", "local[2]")
    with pytest.raises(ParameterError, match="engine='polars'"):
        on_spark.check_engine("polars")
    with pytest.raises(ParameterError, match="--engine spark"):
        on_spark.check_engine("duckdb", "spark://host:7077")
