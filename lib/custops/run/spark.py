"""Running custops where the data lives: features and churn scores on a Spark session.

The feature table is the same ibis expression as on DuckDB (:func:`custops.features.
build_features` with ``con=ibis.pyspark.connect(spark)``). Scoring a per-customer table that is
too large to collect runs on the executors with ``mapInPandas``: the model is fitted on a sample
in the driver and shipped to the workers, which score their partitions in pandas.
"""

from __future__ import annotations

from typing import Any

import ibis
import numpy as np
import pandas as pd

from custops.features import feature_expression, finish_features, to_date, vocabulary

__all__ = ["SCORE_SCHEMA", "features_table", "score_churn"]

SCORE_SCHEMA = "customer_id string, churn_probability double"


def features_table(spark: Any, orders: Any, as_of: str, *, customers: Any = None,
                   events: Any = None) -> Any:
    """The per-customer feature table as a Spark DataFrame (not collected).

    ``orders`` (and the optional tables) are Spark DataFrames or table names.
    """
    con = ibis.pyspark.connect(spark)

    def table(obj: Any, name: str):
        if obj is None:
            return None
        if isinstance(obj, str):
            return con.table(obj)
        obj.createOrReplaceTempView(f"custops_{name}")
        return con.table(f"custops_{name}")

    o = table(orders, "orders")
    vocabularies = {c: vocabulary(con, o, c) for c in ("channel", "category")}
    expr = feature_expression(o, as_of, customers=table(customers, "customers"),
                              events=table(events, "events"), vocabularies=vocabularies)
    return spark.sql(str(con.compile(expr)))


def score_churn(features: Any, model: Any, as_of: str) -> Any:
    """Churn probability for every row of a Spark feature table, computed on the executors.

    ``features`` comes from :func:`features_table`; each partition gets the same
    engine-independent finishing as on DuckDB (derived ratios, dtypes) before scoring.
    ``model`` is a fitted :class:`custops.models.classifier.SupervisedChurnModel` (fit it on a
    sample collected with ``features.sample(...).toPandas()``).
    """
    as_of_date = to_date(as_of)

    def score(batches):
        for batch in batches:
            frame = finish_features(batch, as_of_date)
            yield pd.DataFrame({
                "customer_id": frame["customer_id"].astype(str),
                "churn_probability": np.asarray(model.predict_proba(frame), dtype=float),
            })

    return features.mapInPandas(score, SCORE_SCHEMA)
