"""Running custops where the data lives: the run's heavy steps on a Spark session.

``custops report --engine spark --spark-master URL`` (run parameters ``engine`` and
``spark_master``) computes the feature table and every feature snapshot on Spark and scores
every buyer's churn probability on the executors; the per-customer work that needs the driver
(segments, the BTYD fits, the plan) runs on the collected per-customer table, as on DuckDB.
The feature table is the same ibis expression as on DuckDB
(:func:`custops.features.build_feature_snapshots` with an ``ibis.pyspark`` connection), so
both engines give identical features (tested on the sample).

One Spark session serves a whole kernel (:func:`session`; each notebook of a report is its own
kernel, so a report starts one JVM per notebook that needs it). Data comes in as for DuckDB —
a data folder, data files, a DuckDB file, an ibis URL — or as tables in the session's catalogue
(``spark-catalog://DATABASE``, :func:`data_source`); either way it is validated by the same
loader, and the validated tables the run stores as Parquet are what Spark reads.

The library API (:func:`features_table`, :func:`score_churn`) serves scripts that keep the
feature table on the cluster.
"""

from __future__ import annotations

import atexit
import os
import shutil
import sys
import tempfile
import threading
import uuid
from pathlib import Path
from typing import Any

import ibis
import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pyarrow.types as pa_types

from custops.errors import DataError, ParameterError
from custops.features import feature_expression, finish_features, to_date, vocabulary

__all__ = ["CATALOG_SCHEME", "ENGINES", "SCORE_SCHEMA", "CatalogTables", "check_engine",
           "data_source", "executor_predict", "feature_tables", "features_table",
           "read_parquet", "score_churn", "session"]

ENGINES = ("duckdb", "spark")
DEFAULT_MASTER = "local[2]"
CATALOG_SCHEME = "spark-catalog://"  # --data spark-catalog://crm: the tables of database crm
SCORE_SCHEMA = "customer_id string, churn_probability double"
LOCAL_SHUFFLE_PARTITIONS = 4  # the default 200 makes a local sample run wait on empty tasks
FEATURE_TABLES = ("orders", "customers", "events")
_TEMP_PREFIX = "custops-spark-"

_LOG4J = """rootLogger.level = error
rootLogger.appenderRef.stderr.ref = console
appender.console.type = Console
appender.console.name = console
appender.console.target = SYSTEM_ERR
appender.console.layout.type = PatternLayout
appender.console.layout.pattern = spark %p %c{1}: %m%n
"""

_lock = threading.Lock()
_sessions: dict[str, Any] = {}  # master -> the kernel's session


def check_engine(engine: str, spark_master: str = "") -> None:
    """Raise :class:`ParameterError` unless ``engine`` is known (and a master goes with spark)."""
    if engine not in ENGINES:
        raise ParameterError(f"engine={engine!r}: expected one of {', '.join(ENGINES)}")
    if spark_master and engine != "spark":
        raise ParameterError(f"spark_master={spark_master!r} is given but engine={engine!r}: "
                             "pass --engine spark")


def _is_local(master: str) -> bool:
    return master == "local" or master.startswith("local[")


def _remove_stale_dirs() -> None:
    """Scratch folders of kernels that are gone (a report's kernels are killed, not closed)."""
    for folder in Path(tempfile.gettempdir()).glob(f"{_TEMP_PREFIX}*"):
        try:
            pid = int(folder.name[len(_TEMP_PREFIX):].split("-")[0])
        except ValueError:
            continue
        if pid != os.getpid() and not Path(f"/proc/{pid}").exists():
            shutil.rmtree(folder, ignore_errors=True)


def session(master: str = "") -> Any:
    """The kernel's Spark session for ``master`` (default ``local[2]``), started on first use.

    The UI is off, shuffle and warehouse folders live in a scratch folder of this process
    (removed when it ends, or by the next session after a killed kernel), times are UTC
    wall-clock (the run's tables hold naive local times) and Parquet nanosecond timestamps
    are readable (:func:`read_parquet`). A local master runs the executors on this
    interpreter with a small shuffle partition count; on a cluster every worker needs the
    custops package (``pip install custops`` there, or ``--py-files``).
    """
    master = master or DEFAULT_MASTER
    with _lock:
        if master in _sessions:
            return _sessions[master]
        try:
            from pyspark.sql import SparkSession
        except ImportError:
            raise ParameterError("engine=spark needs pyspark: pip install 'custops[spark]'") \
                from None
        if shutil.which("java") is None and not os.environ.get("JAVA_HOME"):
            raise ParameterError("engine=spark needs Java 17 (e.g. apt-get install "
                                 "openjdk-17-jre-headless) or JAVA_HOME set")
        _remove_stale_dirs()
        scratch = Path(tempfile.mkdtemp(prefix=f"{_TEMP_PREFIX}{os.getpid()}-"))
        # Spark's own messages (its default log profile, warnings, progress bars) would land
        # in the runner's output: errors only.
        (scratch / "log4j2.properties").write_text(_LOG4J, encoding="utf-8")
        java_options = (f"-Dderby.system.home={scratch / 'derby'} "
                        f"-Dlog4j2.configurationFile=file:{scratch / 'log4j2.properties'}")
        builder = (SparkSession.builder.master(master).appName("custops")
                   .config("spark.ui.enabled", "false")
                   .config("spark.ui.showConsoleProgress", "false")
                   .config("spark.local.dir", str(scratch / "local"))
                   .config("spark.sql.warehouse.dir", str(scratch / "warehouse"))
                   .config("spark.driver.extraJavaOptions", java_options)
                   .config("spark.sql.session.timeZone", "UTC")
                   .config("spark.sql.legacy.parquet.nanosAsLong", "true")
                   .config("spark.sql.execution.arrow.pyspark.enabled", "true"))
        if _is_local(master):
            # A local session talks to itself over loopback only.
            os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
            os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
            builder = (builder.config("spark.driver.host", "127.0.0.1")
                       .config("spark.driver.bindAddress", "127.0.0.1")
                       .config("spark.pyspark.python", sys.executable)
                       .config("spark.pyspark.driver.python", sys.executable)
                       .config("spark.sql.shuffle.partitions", str(LOCAL_SHUFFLE_PARTITIONS)))
        try:
            spark = builder.getOrCreate()
        except Exception as exc:  # noqa: BLE001 - JVM and master errors become one line
            shutil.rmtree(scratch, ignore_errors=True)
            raise ParameterError(f"cannot start a Spark session on {master}: "
                                 f"{str(exc).splitlines()[0] if str(exc) else exc}") from None
        spark.sparkContext.setLogLevel("ERROR")
        _sessions[master] = spark

        def stop() -> None:
            try:
                spark.stop()
            finally:
                shutil.rmtree(scratch, ignore_errors=True)

        atexit.register(stop)
        return spark


# -- data ----------------------------------------------------------------------------------

class CatalogTables:
    """The tables of one database of a Spark catalogue as the loader reads an ibis connection
    (``list_tables`` and ``table``); a mapping's ``table:`` may name ``db.table``."""

    name = "spark"

    def __init__(self, spark: Any, database: str = "") -> None:
        self.spark = spark
        self.database = database or spark.catalog.currentDatabase()
        self._con = ibis.pyspark.connect(spark)
        try:
            # the database's own tables: the session's temporary views (listed with every
            # database) are not part of it
            self._names = [t.name for t in spark.catalog.listTables(self.database)
                           if not t.isTemporary]
        except Exception as exc:  # noqa: BLE001 - e.g. no such database
            raise DataError(f"{CATALOG_SCHEME}{self.database}: cannot list its tables "
                            f"({str(exc).splitlines()[0]})") from None

    def list_tables(self) -> list[str]:
        return list(self._names)

    def table(self, name: str):
        database, _, table = name.rpartition(".")
        return self._con.table(table, database=database or self.database)


def data_source(data_dir: Any, master: str = "", *, engine: str = "spark") -> Any:
    """What the loader reads for ``--data``: the tables of a catalogue database for
    ``spark-catalog://DATABASE`` (empty: the current one; the Spark engine only), else
    ``data_dir``."""
    text = str(data_dir)
    if text.startswith(CATALOG_SCHEME):
        if engine != "spark":
            raise ParameterError(f"--data {text}: tables of a Spark catalogue need "
                                 "--engine spark")
        return CatalogTables(session(master), text[len(CATALOG_SCHEME):].strip("/"))
    return data_dir


def read_parquet(spark: Any, path: str | os.PathLike) -> Any:
    """A Parquet file as a Spark DataFrame, nanosecond timestamps (pandas' default) included:
    Spark reads them as integers (``nanosAsLong``), turned back into timestamps here."""
    from pyspark.sql import functions as F

    frame = spark.read.parquet(str(path))
    schema = pq.read_schema(path)
    for field in schema:
        if pa_types.is_timestamp(field.type) and field.type.unit == "ns":
            frame = frame.withColumn(
                field.name, F.timestamp_micros(F.floor(F.col(field.name) / 1000)))
    return frame


def _view(spark: Any, con: Any, frame: Any, name: str):
    view = f"custops_{name}_{uuid.uuid4().hex[:8]}"
    frame.createOrReplaceTempView(view)
    return con.table(view)


def feature_tables(ctx: Any) -> tuple[Any, Any]:
    """What the feature layer reads under the Spark engine, and the ibis connection: the run's
    validated tables read by Spark from their Parquet files; without a run folder (a notebook
    opened alone) the loaded tables, handed to Spark."""
    spark = session(ctx.params.get("spark_master", ""))
    con = ibis.pyspark.connect(spark)
    paths = {name: ctx.parquet_table(name) for name in FEATURE_TABLES}
    if paths["orders"] is None:
        return ctx.dataset(), con
    return {name: _view(spark, con, read_parquet(spark, path), name)
            for name, path in paths.items() if path is not None}, con


# -- scoring on the executors --------------------------------------------------------------

def _restore_dtypes(batch: pd.DataFrame, dtypes: dict[str, Any]) -> pd.DataFrame:
    """A batch as Arrow hands it to an executor, with the driver's column dtypes again."""
    out = {}
    for name, dtype in dtypes.items():
        column = batch[name]
        if pd.api.types.is_datetime64_any_dtype(dtype):
            column = pd.to_datetime(column)
        out[name] = column.astype(dtype)
    return pd.DataFrame(out)


def executor_predict(ctx: Any, features_path: Path | None = None):
    """``predict(model, buyers) -> probabilities`` for :func:`custops.churn.score_customers`:
    every buyer is scored on the executors (``mapInPandas``). The buyers are read by Spark
    from the run's ``features.parquet`` when the run stored it (else shipped from the driver);
    the fitted model goes to the executors with the task."""

    def predict(model: Any, buyers: pd.DataFrame) -> np.ndarray:
        spark = session(ctx.params.get("spark_master", ""))
        dtypes = buyers.dtypes.to_dict()
        path = features_path
        if path is None and ctx.artifacts_dir is not None:
            stored = ctx.artifacts_dir / "features.parquet"
            path = stored if stored.exists() else None
        if path is not None:
            table = read_parquet(spark, path).filter("is_buyer")
        else:
            frame = buyers.copy()
            for name, dtype in dtypes.items():  # Spark turns NaN in text into "NaN"
                if pd.api.types.is_string_dtype(dtype) or pd.api.types.is_object_dtype(dtype):
                    frame[name] = frame[name].astype(object).where(frame[name].notna(), None)
            table = spark.createDataFrame(frame)
        table = table.select(*[str(c) for c in buyers.columns])
        scored = _score_partitions(table, model, dtypes, finish=None).toPandas()
        found = scored.drop_duplicates("customer_id").set_index("customer_id")[
            "churn_probability"].reindex(buyers["customer_id"].astype(str))
        if found.isna().any():
            missing = found.index[found.isna()][:5].tolist()
            raise DataError(f"churn scores on Spark: {int(found.isna().sum())} buyer(s) not "
                            f"scored (e.g. {missing}); the stored features.parquet does not "
                            "match this run: run the report again")
        return found.to_numpy(dtype=float)

    return predict


def _score_partitions(table: Any, model: Any, dtypes: dict[str, Any] | None,
                      finish: Any) -> Any:
    def score(batches):
        for batch in batches:
            frame = finish(batch) if finish is not None else _restore_dtypes(batch, dtypes)
            yield pd.DataFrame({
                "customer_id": frame["customer_id"].astype(str),
                "churn_probability": np.asarray(model.predict_proba(frame), dtype=float),
            })

    return table.mapInPandas(score, SCORE_SCHEMA)


# -- the library API -------------------------------------------------------------------------

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
    return _score_partitions(features, model, None,
                             finish=lambda batch: finish_features(batch, as_of_date))
