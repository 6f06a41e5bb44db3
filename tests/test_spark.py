"""The feature layer runs unchanged on a Spark session (local mode) and gives identical output."""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd
import pytest

from custops.data import load_dataset
from custops.features import build_features

ROOT = Path(__file__).resolve().parents[1]

pytestmark = [pytest.mark.spark, pytest.mark.slow]


@pytest.fixture(scope="module")
def spark():
    pyspark = pytest.importorskip("pyspark")
    if shutil.which("java") is None:
        pytest.fail("Java is missing: `make test` installs it (system-deps); run it first")
    from pyspark.sql import SparkSession

    session = (SparkSession.builder.master("local[2]").appName("custops-test")
               .config("spark.ui.enabled", "false")
               .config("spark.sql.session.timeZone", "UTC")
               .config("spark.sql.shuffle.partitions", "4")
               .getOrCreate())
    session.sparkContext.setLogLevel("ERROR")
    assert pyspark.__version__
    yield session
    session.stop()


def test_duckdb_and_spark_give_identical_features(spark):
    import ibis

    dataset = load_dataset(ROOT / "data" / "sample")
    on_duckdb = build_features(dataset, "2026-09-30")
    on_spark = build_features(dataset, "2026-09-30", con=ibis.pyspark.connect(spark))
    assert len(on_duckdb) == 5000
    pd.testing.assert_frame_equal(on_duckdb, on_spark)
