"""Check a table against the contract (parse, reject, deduplicate, measure) and across tables.

Order of the row checks (the first failing check names the row's reason):

1. ``wrong number of fields`` (CSV lines with more fields than the header);
2. for each required column, in contract order: ``missing <column>`` (blank, ``NULL``, ``未知`` …)
   then ``unparseable <column>`` (text in a time, number or flag column);
3. for each optional column present, in contract order: ``unparseable <column>``;
4. ``<time column> after as_of`` (only when ``as_of`` is given; ``as_of`` includes its whole day);
5. ``duplicate order_id`` (same ``order_id`` and same ``is_refund``; the first row is kept) and
   ``duplicate customer_id`` in the customers table.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa

from custops.errors import DataError
from custops.io.contract import (
    MAIN_TIME_COLUMN,
    STRING_DTYPE,
    TABLE_SCHEMAS,
    UNIQUE_KEYS,
    ColumnSpec,
)
from custops.io.mapping import match_columns, missing_columns_message
from custops.io.parse import Parsed, as_bool_array, parse_column
from custops.io.reader import RawTable
from custops.io.rejects import RejectCollector

__all__ = [
    "MAX_REJECTED_SHARE",
    "TableResult",
    "count_distinct",
    "cross_table_warnings",
    "normalize_table",
    "raise_if_mostly_rejected",
]


MAX_REJECTED_SHARE = 0.5
"""Loading stops with a :class:`DataError` when more than this share of order rows is rejected."""


@dataclass
class TableResult:
    frame: pd.DataFrame
    rejects: pd.DataFrame
    quality: dict[str, Any]
    warnings: list[str]


def normalize_table(raw: RawTable, table: str, explicit: Mapping[str, str], tz: str,
                    cutoff: pd.Timestamp | None) -> TableResult:
    """Map, parse and check one raw table: the rows kept, the rejects, quality and warnings."""
    frame = raw.frame
    specs = TABLE_SCHEMAS[table]
    if frame.shape[1] == 0:  # an empty file: no header to check
        frame = pd.DataFrame({spec.name: pd.Series(dtype=STRING_DTYPE)
                              for spec in specs if spec.required})
        raw = RawTable(raw.table, raw.file_label, raw.source, frame, np.zeros(0, np.int64),
                       details=raw.details, warnings=raw.warnings)
    headers = [str(column) for column in frame.columns]
    chosen, found_warnings = match_columns(headers, table, explicit, raw.file_label)
    missing_columns = [spec.name for spec in specs if spec.required and spec.name not in chosen]
    if missing_columns:
        raise DataError(missing_columns_message(raw.file_label, table, missing_columns, headers,
                                                chosen))
    row_count = len(frame)
    collector = RejectCollector(row_count)
    parsed: dict[str, Parsed] = {}
    ordered_specs = [s for s in specs if s.required] + [s for s in specs if not s.required]
    for spec in ordered_specs:
        if spec.name not in chosen:
            continue
        header = chosen[spec.name]
        result = parse_column(spec, frame[header], tz)
        parsed[spec.name] = result
        if spec.required:
            collector.flag(result.missing, f"missing {spec.name}", spec.name, header)
        collector.flag(result.invalid, f"unparseable {spec.name}", spec.name, header)

    columns: dict[str, pd.Series] = {spec.name: parsed[spec.name].values
                                     for spec in specs if spec.name in parsed}
    if table == "orders":
        refund_flag = (columns["is_refund"].to_numpy(dtype=bool) if "is_refund" in columns
                       else np.zeros(row_count, dtype=bool))
        amounts = columns["amount"].to_numpy(dtype=float)
        refund_flag = refund_flag | (amounts < 0)
        columns["amount"] = pd.Series(np.where(refund_flag, -np.abs(amounts), amounts))
        columns["is_refund"] = pd.Series(refund_flag)
    if table == "touches" and "revenue" in columns and "converted" in columns:
        not_converted = ~columns["converted"].to_numpy(dtype=bool)
        revenue = columns["revenue"].to_numpy(dtype=float)
        columns["revenue"] = pd.Series(np.where(not_converted & np.isnan(revenue), 0.0, revenue))

    time_column = MAIN_TIME_COLUMN[table]
    if cutoff is not None and time_column in columns:
        times = columns[time_column].to_numpy(dtype="datetime64[ns]")
        late = ~np.isnat(times) & (times >= cutoff.to_datetime64())
        collector.flag(late, f"{time_column} after as_of", time_column, chosen[time_column])
    if table in UNIQUE_KEYS:
        key_columns = UNIQUE_KEYS[table]
        candidates = ~collector.rejected
        duplicated = np.zeros(row_count, dtype=bool)
        duplicated[candidates] = _duplicated_keys(
            [columns[name][candidates] for name in key_columns])
        collector.flag(duplicated, f"duplicate {key_columns[0]}", key_columns[0],
                       chosen[key_columns[0]])

    kept = ~collector.rejected
    extra_headers = [h for h in headers if h not in chosen.values()]
    output = pd.DataFrame({name: series.to_numpy() if not isinstance(series.dtype, pd.StringDtype)
                           else series.array for name, series in columns.items()})
    output = output.loc[kept].reset_index(drop=True)
    for header in extra_headers:
        output[header] = frame[header].loc[kept].reset_index(drop=True)
    output = _apply_dtypes(output, specs)

    rejects = collector.to_frame(table, raw.file_label, raw.rows, frame)
    if raw.structural_rejects:
        structural = pd.DataFrame({
            "table": table, "file": raw.file_label,
            "row": [row for row, _ in raw.structural_rejects], "column": "",
            "reason": "wrong number of fields",
            "value": [line for _, line in raw.structural_rejects]})
        rejects = pd.concat([structural, rejects], ignore_index=True)
    rejects = rejects.sort_values("row", kind="stable").reset_index(drop=True)
    rejects["row"] = rejects["row"].astype("int64")

    found_warnings.extend(_id_warnings(raw.file_label, output, table))
    quality = _table_quality(raw, table, output, rejects, chosen, extra_headers)
    return TableResult(output, rejects, quality, found_warnings)


def _duplicated_keys(keys: list[pd.Series]) -> np.ndarray:
    """Rows whose key (one value per series) appeared in an earlier row, like
    ``DataFrame.duplicated(keep="first")`` (missing values equal each other). DuckDB groups
    millions of text keys several times faster than pandas: each key's first row is kept."""
    n = len(keys[0]) if keys else 0
    columns = {"_row": pa.array(np.arange(n, dtype=np.int64))}
    for number, values in enumerate(keys):
        array = values.array if isinstance(values.dtype, pd.StringDtype) else values.to_numpy()
        columns[f"k{number}"] = pa.array(array)
    rows = pa.table(columns)
    group = ", ".join(f"k{number}" for number in range(len(keys)))
    with duckdb.connect() as con:
        con.register("rows", rows)
        first = con.execute(f"select min(_row) as first from rows group by {group}").fetchnumpy()
    duplicated = np.ones(n, dtype=bool)
    duplicated[np.asarray(first["first"], dtype=np.int64)] = False
    return duplicated


def count_distinct(*columns: pd.Series) -> int:
    """Distinct non-missing values over one or more columns (DuckDB counts text ids several
    times faster than pandas at millions of rows)."""
    chunks = []
    for column in columns:
        array = pa.array(column.astype(STRING_DTYPE).array)
        for chunk in (array.chunks if isinstance(array, pa.ChunkedArray) else [array]):
            chunks.append(chunk.cast(pa.large_string()))
    if not chunks:
        return 0
    with duckdb.connect() as con:
        con.register("ids", pa.table({"id": pa.chunked_array(chunks, type=pa.large_string())}))
        return int(con.execute("select count(distinct id) from ids").fetchone()[0])


def _ids_not_in(ids: pd.Series, known: pd.Series, examples: int = 3) -> tuple[int, list[str]]:
    """How many distinct ``ids`` are not among ``known``, and the smallest few of them."""
    def table(column: pd.Series) -> pa.Table:
        return pa.table({"id": pa.array(column.astype(STRING_DTYPE).array)})

    with duckdb.connect() as con:
        con.register("ids", table(ids))
        con.register("known", table(known))
        con.execute("create temp table unknown as select distinct ids.id from ids "
                    "anti join known on ids.id = known.id where ids.id is not null")
        count = con.execute("select count(*) from unknown").fetchone()[0]
        first = con.execute(f"select id from unknown order by id limit {int(examples)}").fetchall()
    return int(count), [str(row[0]) for row in first]


def _apply_dtypes(frame: pd.DataFrame, specs: Iterable[ColumnSpec]) -> pd.DataFrame:
    dtypes = {"id": STRING_DTYPE, "time": "datetime64[ns]", "amount": "float64",
              "integer": "Int64", "boolean": "bool", "category": STRING_DTYPE,
              "gender": STRING_DTYPE, "region": STRING_DTYPE, "text": STRING_DTYPE}
    for spec in specs:
        if spec.name in frame.columns:
            frame[spec.name] = frame[spec.name].astype(dtypes[spec.kind])
    return frame


def _id_warnings(file_label: str, frame: pd.DataFrame, table: str) -> list[str]:
    found = []
    for column in ("customer_id", "order_id"):
        if column in frame.columns and len(frame):
            # Only text with a "+" can be scientific notation: the regex runs on those alone.
            plus = as_bool_array(frame[column].str.contains("+", regex=False))
            scientific = pd.Series(False, index=frame.index)
            if plus.any():
                scientific[plus] = as_bool_array(frame.loc[plus, column].str.fullmatch(
                    r"[0-9](?:\.[0-9]+)?[eE]\+[0-9]+"))
            if scientific.any():
                example = frame.loc[scientific.to_numpy(dtype=bool), column].iloc[0]
                found.append(
                    f"{file_label}: {int(scientific.sum()):,} {column} values look like Excel "
                    f"scientific notation (e.g. {example}); digits were lost when the file was "
                    f"saved in Excel — export the ids as text")
    return found


def _table_quality(raw: RawTable, table: str, frame: pd.DataFrame, rejects: pd.DataFrame,
                   chosen: Mapping[str, str], extra_headers: list[str]) -> dict[str, Any]:
    rows_rejected = len(rejects)
    rows_kept = len(frame)
    time_column = MAIN_TIME_COLUMN[table]
    date_min = date_max = None
    if time_column in frame.columns and frame[time_column].notna().any():
        date_min = frame[time_column].min().strftime("%Y-%m-%d %H:%M:%S")
        date_max = frame[time_column].max().strftime("%Y-%m-%d %H:%M:%S")
    by_reason = rejects["reason"].value_counts(sort=True)
    quality: dict[str, Any] = {
        "source": raw.source,
        "file": raw.file_label,
        "rows_read": rows_kept + rows_rejected,
        "rows_kept": rows_kept,
        "rows_rejected": rows_rejected,
        "rejected_by_reason": {str(reason): int(count) for reason, count in by_reason.items()},
        "date_min": date_min,
        "date_max": date_max,
        "customers": count_distinct(frame["customer_id"]) if "customer_id" in frame else 0,
        "columns": {column: str(header) for column, header in chosen.items()},
        "extra_columns": [str(header) for header in extra_headers],
    }
    if table == "orders":
        quality["refunds"] = int(frame["is_refund"].sum())
    quality.update({key: value for key, value in raw.details.items() if value is not None})
    return quality


def raise_if_mostly_rejected(orders: TableResult) -> None:
    """Stop when most order rows are unusable: a wrong column mapping is the likely cause.

    Rows after ``as_of`` are a choice of snapshot, not a data problem, so they do not count;
    but if they leave no order at all, that is an error too.
    """
    quality = orders.quality
    rows_read = quality["rows_read"]
    by_reason = {reason: count for reason, count in quality["rejected_by_reason"].items()
                 if not reason.endswith("after as_of")}
    rows_rejected = sum(by_reason.values())
    if rows_read and quality["rows_kept"] == 0 and not by_reason:
        raise DataError(f"{quality['file']}: all {rows_read:,} orders are after as_of; choose a "
                        f"later as_of (the first order is at {orders.rejects['value'].min()})")
    if not rows_read or rows_rejected / rows_read <= MAX_REJECTED_SHARE:
        return
    top_reasons = []
    for reason, count in list(by_reason.items())[:3]:
        example = orders.rejects.loc[orders.rejects["reason"] == reason].iloc[0]
        column = example["column"]
        read_from = (f", column {column} read from {quality['columns'][column]!r}"
                     if column in quality["columns"] else "")
        hint = ("; a value holding the delimiter, such as 1,234, must be quoted"
                if reason == "wrong number of fields" else "")
        top_reasons.append(f"{reason}: {count:,} rows (e.g. row {example['row']}: "
                           f"{example['value']!r}{read_from}{hint})")
    raise DataError(
        f"{quality['file']}: {rows_rejected:,} of {rows_read:,} order rows "
        f"({rows_rejected / rows_read:.0%}) were rejected, so a column is probably mapped "
        f"wrongly or the file is not an orders export.\nTop reasons:\n  "
        + "\n  ".join(top_reasons)
        + "\nColumns used: " + ", ".join(f"{c} ← {h!r}" for c, h in quality["columns"].items())
        + "\nFix the file or map the right columns in a mapping YAML (--mapping), e.g.\n"
          "  orders:\n    columns: {order_time: 下单时间, amount: 实付金额}")


def cross_table_warnings(loaded: Mapping[str, TableResult],
                         as_of_day: pd.Timestamp | None) -> list[str]:
    found = []
    orders = loaded["orders"].frame
    if "customers" in loaded and len(loaded["customers"].frame):
        count, examples = _ids_not_in(orders["customer_id"], loaded["customers"].frame["customer_id"])
        if count:
            found.append(f"{count:,} customers with orders are not in the customers table "
                         f"(e.g. {', '.join(examples)}); their profile attributes will be blank")
    if as_of_day is not None and len(orders):
        last_order = orders["order_time"].max()
        gap_days = (as_of_day - last_order.normalize()).days
        if gap_days > 30:
            found.append(f"the last order is on {last_order:%Y-%m-%d}, {gap_days} days before "
                         f"as_of {as_of_day:%Y-%m-%d} — check that as_of is right")
    return found
