"""Parquet and Arrow tables to pandas frames, column by column.

The run's tables and artifacts are read here (:func:`read_parquet_frame`) and the feature
layer's Arrow results converted here (:func:`frame_from_arrow`): one column at a time, so a
10M-customer table (~4 GiB in Arrow and again in pandas) is never whole twice. Counts and days
of a feature table become nullable integers (:func:`narrow_integers`), dates ``datetime64``.
"""

from __future__ import annotations

import os
import re
import tempfile
import uuid
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

__all__ = ["frame_from_arrow", "integer_columns", "narrow_integers", "read_parquet_frame",
           "spill_file"]


_INTEGER_FEATURES = frozenset({"order_days", "order_count", "frequency", "recency_days",
                               "T_days", "days_since_last_order", "refund_count",
                               "favourite_hour"})
_WINDOW_COUNT = re.compile(r"orders_\d+d")


def integer_columns(names) -> list[str]:
    """The count and day columns of a feature table, typed as nullable integers
    (:func:`custops.features.finish_features`): the fixed counts, ``orders_<n>d`` per window
    and ``events_<type>``."""
    return [c for c in names if c in _INTEGER_FEATURES or _WINDOW_COUNT.fullmatch(c)
            or c.startswith("events_")]


_TO_INT64 = {getattr(pa, name)(): pd.Int64Dtype() for name in (
    "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32")}


def spill_file(prefix: str) -> Path:
    """A new file name in the folder DuckDB spills to (:func:`memory_settings`)."""
    folder = Path(tempfile.gettempdir()) / "custops-duckdb-spill"
    folder.mkdir(parents=True, exist_ok=True)
    return folder / f"{prefix}-{os.getpid()}-{uuid.uuid4().hex}.parquet"


def _column_to_pandas(name: str, column: pa.ChunkedArray, integers: set[str]) -> pd.Series:
    """One Arrow column as pandas: counts straight to ``Int64``, dates as ``datetime64``,
    everything else as ``pyarrow.Table.to_pandas`` converts it."""
    if name in integers and column.type in _TO_INT64:
        series = column.to_pandas(types_mapper=_TO_INT64.get)
    elif pa.types.is_date(column.type):
        series = column.to_pandas(date_as_object=False)
    else:
        series = column.to_pandas()
    return series.rename(name)


def read_parquet_frame(path: str | os.PathLike, *, engine_written: bool = False,
                       customers: pd.Index | None = None) -> pd.DataFrame:
    """A Parquet file as a pandas frame, read one column at a time: only the frame and one
    Arrow column are ever in memory (at 10M customers a feature table is ~4 GiB in Arrow and
    again in pandas; the two are never both whole). The one Parquet-to-pandas reader of the
    run's tables and artifacts.

    ``engine_written``: the file is what an engine (DuckDB) wrote for the feature layer, not
    pandas: count and day columns become ``Int64`` straight from Arrow and dates
    ``datetime64`` (as :func:`frame_from_arrow` converts them). Otherwise the file's pandas
    metadata gives the dtypes, as ``pd.read_parquet`` does (with a default index).

    ``customers``: only the rows of these customer ids (the file needs a ``customer_id``
    column), in the file's order.
    """
    source = pq.ParquetFile(path)
    names = [n for n in source.schema_arrow.names if not n.startswith("__index_level_")]
    keep = None
    if customers is not None:
        ids = source.read(columns=["customer_id"]).column(0)
        wanted = pa.array(pd.Index(customers).astype("string").to_numpy(dtype=object),
                          type=pa.string())
        keep = pc.is_in(ids.cast(pa.string()), value_set=wanted)
        del ids
    integers = set(integer_columns(names)) if engine_written else set()
    columns: dict[str, pd.Series] = {}
    for name in names:
        table = source.read(columns=[name], use_pandas_metadata=False)
        if keep is not None:
            table = table.filter(keep)
        if engine_written:
            series = _column_to_pandas(name, table.column(0), integers)
        else:  # the schema's pandas metadata restores the column's dtype
            series = table.to_pandas(split_blocks=True, self_destruct=True)[name]
        del table
        columns[name] = series.reset_index(drop=True)
    frame = pd.DataFrame(columns, copy=False)
    pa.default_memory_pool().release_unused()  # Arrow's freed buffers back to the system
    return frame


def frame_from_arrow(holder: list) -> pd.DataFrame:
    """The Arrow table in ``holder`` (a one-item list, emptied here) as a pandas frame, one
    column at a time, each Arrow column let go once converted: the table and the frame are
    never both whole in memory (at 10M customers each is ~4 GiB). Count and day columns become
    ``Int64`` straight from Arrow and dates ``datetime64`` (not Python date objects); every
    other column converts as ``pyarrow.Table.to_pandas`` does."""
    table = holder.pop()
    integers = set(integer_columns(table.column_names))
    columns: dict[str, pd.Series] = {}
    while table.num_columns:
        name, column = table.column_names[0], table.column(0)
        table = table.remove_column(0)
        columns[name] = _column_to_pandas(name, column, integers)
        del column
    return pd.DataFrame(columns, copy=False)


_INT32 = np.iinfo(np.int32)


def narrow_integers(values: pd.Series) -> pd.Series:
    """Whole numbers (counts, days, hours, ages) as nullable ``Int32`` when every value fits,
    else ``Int64``: the same numbers in 5 bytes a row instead of 9 (a 10M-customer feature
    table holds ~25 such columns)."""
    values = values.astype("Int64")
    low, high = values.min(), values.max()
    if low is pd.NA or (_INT32.min <= low and high <= _INT32.max):
        return values.astype("Int32")
    return values
