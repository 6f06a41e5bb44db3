"""Check a table against the contract (parse, reject, deduplicate, measure) and across tables.

Before the checks, the mapping's row steps (:func:`custops.io.transform.prepare`) set rows aside
by its rules and reject rows whose computed columns have operands that are not numbers
(``unparseable <column>``); after them, line items are gathered into orders and refund amounts
become refund rows. Order of the row checks (the first failing check names the row's reason):

1. ``wrong number of fields`` (CSV lines with more fields than the header);
2. for each required column, in contract order: ``missing <column>`` (blank, ``NULL``, ``未知`` …)
   then ``unparseable <column>`` (text in a time, number or flag column);
3. for each optional column present, in contract order: ``unparseable <column>``;
4. ``<time column> after as_of`` (only when ``as_of`` is given; ``as_of`` includes its whole day);
5. ``duplicate order_id`` (same ``order_id`` and same ``is_refund``; the first row is kept; not
   for line items) and ``duplicate customer_id`` in the customers table.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
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
from custops.io.headers import normalize_header
from custops.io.mapping import match_columns, missing_columns_message
from custops.io.parse import DateOrderError, Parsed, as_bool_array, parse_column, parse_numbers
from custops.io.reader import RawTable
from custops.io.rejects import RejectCollector, empty_rejects
from custops.io.transform import Prepared, expand_refunds, gather_lines, prepare

__all__ = [
    "MAX_REJECTED_SHARE",
    "order_totals",
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
    frame: pd.DataFrame | None  # None: the clean rows are in the Parquet file ``path``
    rejects: pd.DataFrame
    quality: dict[str, Any]
    warnings: list[str]
    set_aside: pd.DataFrame = field(default_factory=empty_rejects)
    hints: list[str] = field(default_factory=list)  # added to the "mostly rejected" stop
    path: Path | None = None  # where the clean rows were written instead (DuckDB checks)


def normalize_table(raw: RawTable, table: str, explicit: Mapping[str, str], tz: str,
                    cutoff: pd.Timestamp | None,
                    settings: Mapping[str, Any] | None = None) -> TableResult:
    """Map, parse and check one raw table: the rows kept, the rejects, quality and warnings.

    ``settings`` is the table's block of a checked mapping (:func:`custops.io.read_mapping`):
    its row steps (rules, computed columns, generated ids, line items, refund amounts) run
    around the checks, and ``date_format`` / ``decimal`` tell the parsers how to read values.
    """
    settings = settings or {}
    frame = raw.frame
    specs = TABLE_SCHEMAS[table]
    if frame.shape[1] == 0:  # an empty file: no header to check
        frame = pd.DataFrame({spec.name: pd.Series(dtype=STRING_DTYPE)
                              for spec in specs if spec.required})
        raw = RawTable(raw.table, raw.file_label, raw.source, frame, np.zeros(0, np.int64),
                       details=raw.details, warnings=raw.warnings)
    prepared = prepare(raw, table, explicit, settings)
    raw, explicit = prepared.raw, prepared.explicit
    frame = raw.frame
    headers = [str(column) for column in frame.columns]
    chosen, found_warnings = match_columns(headers, table, explicit, raw.file_label)
    found_warnings.extend(prepared.warnings)
    missing_columns = [spec.name for spec in specs if spec.required and spec.name not in chosen]
    if missing_columns:
        raise DataError(missing_columns_message(raw.file_label, table, missing_columns, headers,
                                                chosen))
    row_count = len(frame)
    collector = RejectCollector(row_count)
    parsed: dict[str, Parsed] = {}
    formats = settings.get("date_format")
    decimal = settings.get("decimal", ".")
    ordered_specs = [s for s in specs if s.required] + [s for s in specs if not s.required]
    for spec in ordered_specs:
        if spec.name not in chosen:
            continue
        header = chosen[spec.name]
        try:
            result = parse_column(spec, frame[header], tz, formats, decimal)
        except DateOrderError as exc:
            raise DataError(f"{raw.file_label}: {spec.name} (column {header!r}) {exc}") from None
        if result.note:
            found_warnings.append(f"{raw.file_label}: {spec.name} (column {header!r}): "
                                  f"{result.note}")
        parsed[spec.name] = result
        if spec.required:
            collector.flag(result.missing, f"missing {spec.name}", spec.name, header)
        collector.flag(result.invalid, f"unparseable {spec.name}", spec.name, header)
    refund_header = settings.get("refund_amount") if table == "orders" else None
    refund_values = None
    if refund_header is not None:
        refund_header = _find_header(headers, refund_header, settings, "refund_amount",
                                     raw.file_label)
        refund_parsed = parse_numbers(frame[refund_header], decimal)
        collector.flag(refund_parsed.invalid, "unparseable refund_amount", "refund_amount",
                       refund_header)
        refund_values = refund_parsed.values.to_numpy(dtype=float)

    columns: dict[str, pd.Series] = {spec.name: parsed[spec.name].values
                                     for spec in specs if spec.name in parsed}
    line_items = settings.get("line_items") if table == "orders" else None
    if table == "orders":
        refund_flag = (columns["is_refund"].to_numpy(dtype=bool) if "is_refund" in columns
                       else np.zeros(row_count, dtype=bool))
        amounts = columns["amount"].to_numpy(dtype=float)
        if line_items is not None:
            # lines keep their sign; the order's sign is set when the lines are gathered
            refund_flag = refund_flag | prepared.line_refund
        else:
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
    hints: list[str] = []
    distinct_orders = -1
    if table in UNIQUE_KEYS and line_items is None:
        key_columns = UNIQUE_KEYS[table]
        candidates = ~collector.rejected
        duplicated = np.zeros(row_count, dtype=bool)
        duplicated[candidates], distinct_orders = _duplicated_keys(
            [columns[name][candidates] for name in key_columns])
        collector.flag(duplicated, f"duplicate {key_columns[0]}", key_columns[0],
                       chosen[key_columns[0]])
        if duplicated.any() and table == "orders":
            if isinstance(prepared.generated, list):
                found_warnings.append(
                    f"{raw.file_label}: {int(duplicated.sum()):,} rows share their generated "
                    f"order id ({' | '.join(prepared.generated)}) with an earlier row and were "
                    f"rejected as duplicate order_id, not merged; add a column to order_id, or "
                    f"use order_id: row_number if each row is one order")
            hint = _line_item_hint(frame, columns["order_id"], duplicated, chosen)
            if hint:
                hints.append(hint)

    kept = ~collector.rejected
    rows_kept = int(kept.sum())
    extra_headers = [h for h in headers if h not in chosen.values()]
    output = pd.DataFrame({name: series.to_numpy() if not isinstance(series.dtype, pd.StringDtype)
                           else series.array for name, series in columns.items()})
    output = output.loc[kept].reset_index(drop=True)
    for header in extra_headers:
        output[header] = frame[header].loc[kept].reset_index(drop=True)
    kept_refunds = refund_values[kept] if refund_values is not None else None
    if line_items is not None:
        output, kept_refunds = gather_lines(output, columns["is_refund"].to_numpy(bool)[kept],
                                            line_items["amount"], kept_refunds)
        distinct_orders = -1
    refund_counts = None
    if kept_refunds is not None:
        output, partial, full = expand_refunds(output, kept_refunds)
        refund_counts = {"partly": partial, "fully": full}
    output = _apply_dtypes(output, specs)

    rejects = collector.to_frame(table, raw.file_label, raw.rows, frame, raw.row_files)
    parts = [rejects]
    if raw.structural_rejects:
        parts.insert(0, pd.DataFrame({
            "table": table,
            "file": [entry[2] if len(entry) > 2 else raw.file_label
                     for entry in raw.structural_rejects],
            "row": [entry[0] for entry in raw.structural_rejects], "column": "",
            "reason": "wrong number of fields",
            "value": [entry[1] for entry in raw.structural_rejects]}))
    if len(prepared.rejects):
        parts.append(prepared.rejects)
    rejects = pd.concat(parts, ignore_index=True) if len(parts) > 1 else rejects
    sort_keys = ["file", "row"] if raw.row_files is not None else ["row"]
    rejects = rejects.sort_values(sort_keys, kind="stable").reset_index(drop=True)
    rejects["row"] = rejects["row"].astype("int64")

    quality = _table_quality(raw, table, output, rejects, chosen, extra_headers, rows_kept,
                             prepared, distinct_orders)
    if line_items is not None:
        quality["line_items"] = True
    if refund_counts is not None:
        quality["refunded_orders"] = refund_counts
    return TableResult(output, rejects, quality, found_warnings, prepared.set_aside, hints)


def _find_header(headers: list[str], name: str, settings: Mapping[str, Any], key: str,
                 file_label: str) -> str:
    if name in headers:
        return name
    matches = [h for h in headers if normalize_header(h) == normalize_header(name)]
    if len(matches) == 1:
        return matches[0]
    raise DataError(f"{settings.get('_label', 'mapping')}: orders.{key}: no column {name!r} in "
                    f"{file_label}; columns: {', '.join(headers)}")


_PRODUCT_WORDS = ("stockcode", "sku", "product", "item", "description", "title", "商品", "宝贝",
                  "货号", "品名", "产品", "lineitem", "名称", "款号", "条码", "barcode")


def _line_item_hint(frame: pd.DataFrame, order_ids: pd.Series, duplicated: np.ndarray,
                    chosen: Mapping[str, str]) -> str | None:
    """When rows sharing an order id name different products, the file is a line-item export."""
    used = set(chosen.values())
    products = [h for h in frame.columns if h not in used
                and any(word in normalize_header(h) for word in _PRODUCT_WORDS)]
    if not products:
        return None
    repeated_ids = order_ids[duplicated].dropna().unique()
    in_repeats = as_bool_array(order_ids.isin(repeated_ids))
    ids = order_ids[in_repeats].reset_index(drop=True)
    for header in products:
        values = frame[header][in_repeats].astype(STRING_DTYPE).reset_index(drop=True)
        pairs = pd.DataFrame({"id": ids, "value": values}).drop_duplicates()
        if len(pairs) > ids.nunique():
            example = str(ids.iloc[0])
            return (f"Rows that share an order id name different products ({header}; e.g. "
                    f"order {example}): this looks like a line-item export, one row per "
                    f"product. Gather the lines into orders with `line_items: true` under "
                    f"orders in the mapping (and `computed: {{amount: Quantity * Price}}` when "
                    f"there is no line amount), or run custops validate --data ... "
                    f"--suggest-mapping mapping.yaml for a first mapping")
    return None


def _duplicated_keys(keys: list[pd.Series]) -> tuple[np.ndarray, int]:
    """Rows whose key (one value per series) appeared in an earlier row, like
    ``DataFrame.duplicated(keep="first")`` (missing values equal each other), and the number
    of distinct values of the first key. DuckDB groups millions of text keys several times
    faster than pandas: each key's first row is kept.

    The orders' key (``order_id``, ``is_refund``) is grouped by the order id alone, with the
    first purchase row and the first refund row of each id: one pass gives both the
    duplicates and the distinct orders."""
    n = len(keys[0]) if keys else 0
    columns = {"_row": pa.array(np.arange(n, dtype=np.int64))}
    for number, values in enumerate(keys):
        array = values.array if isinstance(values.dtype, pd.StringDtype) else values.to_numpy()
        columns[f"k{number}"] = pa.array(array)
    rows = pa.table(columns)
    flag_key = len(keys) == 2 and pd.api.types.is_bool_dtype(keys[1].dtype)
    with duckdb.connect() as con:
        con.register("rows", rows)
        if flag_key:
            result = con.execute(
                "select min(_row) filter (where not k1) as sale, "
                "min(_row) filter (where k1) as refund from rows group by k0").fetchnumpy()
            firsts = [np.asarray(result[name].compressed() if np.ma.isMaskedArray(result[name])
                                 else result[name][~pd.isna(result[name])], dtype=np.int64)
                      for name in ("sale", "refund")]
            first = np.concatenate(firsts)
            distinct = len(result["sale"])
        else:
            group = ", ".join(f"k{number}" for number in range(len(keys)))
            result = con.execute(f"select min(_row) as first from rows group by {group}"
                                 ).fetchnumpy()
            first = np.asarray(result["first"], dtype=np.int64)
            distinct = -1
    duplicated = np.ones(n, dtype=bool)
    duplicated[first] = False
    return duplicated, distinct


def count_distinct(*columns: pd.Series) -> int:
    """Distinct non-missing values over one or more columns (DuckDB counts text ids several
    times faster than pandas at millions of rows)."""
    chunks = []
    for column in columns:
        array = pa.array(column.astype(STRING_DTYPE).array)
        chunks.extend(array.chunks if isinstance(array, pa.ChunkedArray) else [array])
    if not chunks:
        return 0
    kinds = {chunk.type for chunk in chunks}
    # One text type: the chunks as they are. Mixed string/large_string: copied into one type
    # (the copy of every id costs seconds and hundreds of MB on tens of millions of events).
    kind = kinds.pop() if len(kinds) == 1 else pa.large_string()
    if kinds:
        chunks = [chunk.cast(kind) for chunk in chunks]
    with duckdb.connect() as con:
        con.register("ids", pa.table({"id": pa.chunked_array(chunks, type=kind)}))
        return int(con.execute("select count(distinct id) from ids").fetchone()[0])


def _ids_not_in(ids: pd.Series | Path, known: pd.Series | Path, examples: int = 3
                ) -> tuple[int, list[str]]:
    """How many distinct ``ids`` are not among ``known`` (each a column, or the
    ``customer_id`` column of a Parquet file), and the smallest few of them."""
    def table(column: pd.Series) -> pa.Table:
        return pa.table({"id": pa.array(column.astype(STRING_DTYPE).array)})

    with duckdb.connect() as con:
        for name, column in (("ids", ids), ("known", known)):
            if isinstance(column, Path):
                literal = "'" + str(column).replace("'", "''") + "'"
                con.execute(f"create temp view {name} as select customer_id as id "
                            f"from read_parquet({literal})")
            else:
                con.register(name, table(column))
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


def _table_quality(raw: RawTable, table: str, frame: pd.DataFrame, rejects: pd.DataFrame,
                   chosen: Mapping[str, str], extra_headers: list[str], rows_kept: int,
                   prepared: Prepared, distinct_orders: int = -1,
                   distinct_customers: int = -1, *,
                   date_range: tuple[str | None, str | None] | None = None,
                   order_stats: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The quality dict of a checked table (``distinct_*`` and ``date_range`` — first and
    last time, ``%Y-%m-%d %H:%M:%S`` — when already known; ``frame`` may then be None, for
    orders when ``order_stats`` holds ``refunds`` and :func:`order_totals`' numbers)."""
    rows_rejected = len(rejects)
    rows_set_aside = len(prepared.set_aside)
    time_column = MAIN_TIME_COLUMN[table]
    date_min = date_max = None
    if date_range is not None:
        date_min, date_max = date_range
    elif time_column in frame.columns and frame[time_column].notna().any():
        date_min = frame[time_column].min().strftime("%Y-%m-%d %H:%M:%S")
        date_max = frame[time_column].max().strftime("%Y-%m-%d %H:%M:%S")
    by_reason = rejects["reason"].value_counts(sort=True)
    quality: dict[str, Any] = {
        "source": raw.source,
        "file": raw.file_label,
        "rows_read": rows_kept + rows_rejected + rows_set_aside,
        "rows_kept": rows_kept,
        "rows_rejected": rows_rejected,
        "rejected_by_reason": {str(reason): int(count) for reason, count in by_reason.items()},
        "date_min": date_min,
        "date_max": date_max,
        "customers": (distinct_customers if distinct_customers >= 0
                      else count_distinct(frame["customer_id"]) if "customer_id" in frame
                      else 0),
        "columns": {column: str(header) for column, header in chosen.items()},
        "extra_columns": [str(header) for header in extra_headers],
    }
    if table == "orders":
        quality["refunds"] = (int(order_stats["refunds"]) if order_stats is not None
                              else int(frame["is_refund"].sum()))
    quality["rows_set_aside"] = rows_set_aside
    quality["set_aside_by_rule"] = {rule: count for rule, count
                                    in prepared.set_aside_by_rule.items() if count}
    if table == "orders":
        quality.update({k: v for k, v in order_stats.items() if k != "refunds"}
                       if order_stats is not None else order_totals(frame, distinct_orders))
    quality.update({key: value for key, value in raw.details.items() if value is not None})
    return quality


def order_totals(orders: pd.DataFrame, distinct_orders: int = -1) -> dict[str, Any]:
    """Distinct orders, purchases (rows that are not refunds), and the gross (purchases) and
    net (refunds netted) amounts of an orders table (``distinct_orders`` when already known).
    """
    refund = orders["is_refund"].to_numpy(dtype=bool)
    amounts = orders["amount"].to_numpy(dtype=float)
    if distinct_orders < 0:
        distinct_orders = count_distinct(orders["order_id"]) if len(orders) else 0
    return {"orders": int(distinct_orders),
            "purchases": int((~refund).sum()),
            "gross_amount": round(float(amounts[~refund].sum()), 2),
            "net_amount": round(float(amounts.sum()), 2)}


def raise_if_mostly_rejected(orders: TableResult) -> None:
    """Stop when most order rows are unusable: a wrong column mapping is the likely cause.

    Rows after ``as_of`` are a choice of snapshot, not a data problem, so they do not count, nor
    do rows set aside by the mapping's rules; but if they leave no order at all, that is an
    error too.
    """
    quality = orders.quality
    rows_set_aside = quality.get("rows_set_aside", 0)
    rows_read = quality["rows_read"] - rows_set_aside
    by_reason = {reason: count for reason, count in quality["rejected_by_reason"].items()
                 if not reason.endswith("after as_of")}
    rows_rejected = sum(by_reason.values())
    if rows_set_aside and rows_read == 0:
        rules = ", ".join(f"{name}: {count:,}" for name, count
                          in quality.get("set_aside_by_rule", {}).items() if count)
        raise DataError(f"{quality['file']}: the mapping's rules set aside all "
                        f"{rows_set_aside:,} order rows ({rules}); check the rules' columns and "
                        f"values (keep: keeps the rows that match, drop: drops them)")
    if rows_read and quality["rows_kept"] == 0 and not by_reason:
        first = orders.rejects.loc[orders.rejects["reason"].str.endswith("after as_of"), "value"]
        raise DataError(f"{quality['file']}: all {rows_read:,} orders are after as_of; choose a "
                        f"later as_of (the first order is at {first.min()})")
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
        + "".join(f"\n{hint}" for hint in orders.hints)
        + "\nFix the file or map the right columns in a mapping YAML (--mapping), e.g.\n"
          "  orders:\n    columns: {order_time: 下单时间, amount: 实付金额}")


def cross_table_warnings(loaded: Mapping[str, TableResult],
                         as_of_day: pd.Timestamp | None) -> list[str]:
    found = []
    orders = loaded["orders"].frame  # None: DuckDB wrote the clean orders to a file
    order_ids = loaded["orders"].path if orders is None else orders["customer_id"]
    customers = loaded.get("customers")
    if customers is not None and customers.quality["rows_kept"]:
        known = (customers.path if customers.frame is None
                 else customers.frame["customer_id"])
        count, examples = _ids_not_in(order_ids, known)
        if count:
            found.append(f"{count:,} customers with orders are not in the customers table "
                         f"(e.g. {', '.join(examples)}); their profile attributes will be blank")
    date_max = loaded["orders"].quality.get("date_max")
    if as_of_day is not None and (len(orders) if orders is not None else date_max):
        last_order = (orders["order_time"].max() if orders is not None
                      else pd.Timestamp(date_max))
        gap_days = (as_of_day - last_order.normalize()).days
        if gap_days > 30:
            found.append(f"the last order is on {last_order:%Y-%m-%d}, {gap_days} days before "
                         f"as_of {as_of_day:%Y-%m-%d} — check that as_of is right")
    return found
