"""The mapping's row steps around the contract checks: rules, computed columns, generated order
ids, line items gathered into orders, refund amounts, and customers made from the orders.

:func:`prepare` runs on the raw table, between reading and :func:`custops.io.checks.normalize_table`:
it copies order-level cells to all lines of an order, adds the ``computed`` columns, sets rows
aside by the ``rules`` and adds a generated ``order_id``. Rows keep their file line numbers, so
set-aside rows and rejects point at the right line. After the row checks, :func:`gather_lines`
turns line items into orders and :func:`expand_refunds` turns a refund-amount column into refund
rows. :func:`customers_from_orders` makes the customers table from the loaded orders.

Every step works on whole columns (pandas / numpy); Python loops run over rules, expressions and
columns, never over rows.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from custops.errors import DataError
from custops.io.addresses import split_addresses
from custops.io.contract import STRING_DTYPE, TABLE_SCHEMAS
from custops.io.expressions import Operand
from custops.io.headers import normalize_header
from custops.io.mapping import match_columns
from custops.io.parse import as_bool_array, clean_cell_text, is_blank, parse_ids, parse_numbers
from custops.io.reader import RawTable
from custops.io.rejects import empty_rejects

__all__ = [
    "GENERATED_ORDER_ID",
    "Prepared",
    "check_scientific_ids",
    "customers_from_orders",
    "expand_refunds",
    "gather_lines",
    "prepare",
]


GENERATED_ORDER_ID = "order_id (generated)"
"""The header of the order id column made by ``order_id: row_number`` or a composite key."""

SET_ASIDE_PREFIX = "set aside: "


@dataclass
class Prepared:
    """A raw table after the mapping's row steps, and what they set aside or rejected."""

    raw: RawTable
    explicit: dict[str, str]
    set_aside: pd.DataFrame = field(default_factory=empty_rejects)
    set_aside_by_rule: dict[str, int] = field(default_factory=dict)
    rejects: pd.DataFrame = field(default_factory=empty_rejects)
    line_refund: np.ndarray | None = None  # line items: which lines are refund lines
    generated: Any = None  # "row_number" or the key columns of a generated order id
    warnings: list[str] = field(default_factory=list)


def _where(settings: Mapping[str, Any], table: str) -> str:
    return f"{settings.get('_label', 'mapping')}: {table}"


class _Columns:
    """Find the column a mapping setting names: a header (exactly, then as normalized), a
    computed column, or a contract column (mapped or recognised)."""

    def __init__(self, raw: RawTable, table: str, explicit: Mapping[str, str],
                 settings: Mapping[str, Any]) -> None:
        self.raw, self.table, self.settings = raw, table, settings
        self.explicit = dict(explicit)
        self.refresh()

    def refresh(self) -> None:
        self.headers = [str(column) for column in self.raw.frame.columns]
        present = {column: header for column, header in self.explicit.items()
                   if self._header(header) is not None}
        self.chosen, _ = match_columns(self.headers, self.table, present, self.raw.file_label)

    def _header(self, name: str) -> str | None:
        if name in self.headers:
            return name
        key = normalize_header(name)
        matches = [header for header in self.headers if normalize_header(header) == key]
        return matches[0] if len(matches) == 1 else None

    def find(self, name: str, key: str) -> str:
        header = self._header(name)
        if header is None and name in self.chosen:
            header = self.chosen[name]
        if header is None:
            raise DataError(f"{_where(self.settings, self.table)}.{key}: no column {name!r} in "
                            f"{self.raw.file_label}; columns: {', '.join(self.headers)}")
        return header

    def contract(self, column: str) -> str | None:
        """The header read as a contract column, if any."""
        return self.chosen.get(column)


def _text_values(values: pd.Series) -> np.ndarray:
    return values.astype(STRING_DTYPE).fillna("").to_numpy(dtype=object)


def _listed_rows(raw: RawTable, table: str, mask: np.ndarray, column: str, reason: str,
                 values: pd.Series) -> pd.DataFrame:
    positions = np.flatnonzero(mask)
    return pd.DataFrame({"table": table, "file": raw.file_of_rows(positions),
                         "row": raw.rows[positions], "column": column, "reason": reason,
                         "value": _text_values(values.iloc[positions])})


def check_scientific_ids(raw: RawTable, chosen: Mapping[str, str]) -> None:
    """Stop when ids are in scientific notation (``3.34568E+18``): Excel saved the file and
    the digits are gone, so different orders or customers now share an id."""
    for column in ("order_id", "customer_id"):
        header = chosen.get(column)
        if header is None or header not in raw.frame.columns:
            continue
        values = raw.frame[header]
        if pd.api.types.is_float_dtype(values.dtype):
            numbers = values.to_numpy(dtype=float, na_value=np.nan)
            lost = np.isfinite(numbers) & (np.abs(numbers) >= 2**53)
            example = f"{numbers[lost][0]:.5E}" if lost.any() else ""
        elif pd.api.types.is_numeric_dtype(values.dtype):
            continue
        else:
            text = values.astype(STRING_DTYPE)
            plus = as_bool_array(text.str.contains("+", regex=False))
            lost = np.zeros(len(text), dtype=bool)
            if plus.any():
                lost[plus] = as_bool_array(text[plus].str.strip().str.fullmatch(
                    r"[0-9](?:\.[0-9]+)?[eE]\+[0-9]+"))
            example = str(text[lost].iloc[0]).strip() if lost.any() else ""
        if lost.any():
            rows = raw.rows[lost]
            raise DataError(
                f"{raw.file_label}: {int(lost.sum()):,} {column} value(s) in column {header!r} "
                f"are in scientific notation (e.g. {example} on row {int(rows[0])}): the file was "
                f"opened and saved in Excel, which keeps only 15 digits, so different ids have "
                f"become the same. Export the file again from the platform and load it as "
                f"exported; to look at it in Excel, import it (数据 → 从文本/CSV, set the id "
                f"column to 文本/Text) and do not save over the export")


def _operands(raw: RawTable, columns: _Columns, decimal: str, computed_name: str):
    cache: dict[str, tuple[Operand, str]] = {}

    def read(name: str) -> Operand:
        header = columns.find(name, f"computed.{computed_name}")
        if header not in cache:
            parsed = parse_numbers(raw.frame[header], decimal)
            cache[header] = (Operand(parsed.values.to_numpy(dtype=float), parsed.missing,
                                     parsed.invalid), header)
        return cache[header][0]

    return read, cache


def prepare(raw: RawTable, table: str, explicit: Mapping[str, str],
            settings: Mapping[str, Any]) -> Prepared:
    """Run the mapping's row steps on a raw table (see the module docstring).

    Returns the rows left, the mapping with computed and generated columns added, and the
    rows set aside (per rule) or rejected (computed columns whose operands are not numbers).
    """
    prepared = Prepared(raw, dict(explicit))
    if raw.frame.shape[1] == 0:
        return prepared
    raw = RawTable(raw.table, raw.file_label, raw.source, raw.frame.copy(deep=False), raw.rows,
                   raw.structural_rejects, raw.details, raw.warnings, raw.row_files)
    columns = _Columns(raw, table, prepared.explicit, settings)
    check_scientific_ids(raw, columns.chosen)
    decimal = settings.get("decimal", ".")
    line_items = settings.get("line_items") if table == "orders" else None
    key_codes = None
    if line_items is not None:
        key_header = columns.contract("order_id")
        if key_header is None:
            raise DataError(f"{_where(settings, table)}.line_items: no order key column in "
                            f"{raw.file_label}; set line_items: {{key: ...}} or map order_id "
                            f"in columns")
        key_codes, _ = pd.factorize(parse_ids(raw.frame[key_header]).values)
        to_fill = [columns.find(name, "line_items.fill") for name in line_items["fill"]]
        customer_header = columns.contract("customer_id")
        if customer_header is not None:
            to_fill.append(customer_header)
        amount_header = columns.contract("amount")
        if line_items["amount"] == "order" and amount_header is not None:
            to_fill.append(amount_header)
        for header in dict.fromkeys(to_fill):
            raw.frame[header] = _fill_within_orders(raw.frame[header], key_codes)

    bad_rows: list[tuple[np.ndarray, str, str, pd.Series]] = []
    for name, expression in (settings.get("computed") or {}).items():
        read, cache = _operands(raw, columns, decimal, name)
        values, _blank = expression.evaluate(read, len(raw.frame))
        bad = np.zeros(len(raw.frame), dtype=bool)
        culprit = pd.Series([""] * len(raw.frame), dtype=object)
        for operand, header in cache.values():
            new = operand.bad & ~bad
            if new.any():
                culprit[new] = _text_values(raw.frame[header])[new]
                bad |= new
        if bad.any():
            bad_rows.append((bad, name, name, culprit))
        if name in columns.headers:
            prepared.warnings.append(f"{raw.file_label}: the computed column {name} replaces "
                                     f"the file's column {name}")
        raw.frame[name] = np.where(bad, np.nan, values)
        if name in [spec.name for spec in TABLE_SCHEMAS[table]]:
            prepared.explicit[name] = name
        columns.explicit = prepared.explicit
        columns.refresh()

    set_aside = np.zeros(len(raw.frame), dtype=bool)
    parts = []
    for index, rule in enumerate(settings.get("rules") or []):
        header = columns.find(rule.column, f"rules[{index}].{rule.action}")
        hit = rule.sets_aside(raw.frame[header], decimal) & ~set_aside
        prepared.set_aside_by_rule[rule.name] = (prepared.set_aside_by_rule.get(rule.name, 0)
                                                 + int(hit.sum()))
        if hit.any():
            parts.append(_listed_rows(raw, table, hit, header, SET_ASIDE_PREFIX + rule.name,
                                      raw.frame[header]))
            set_aside |= hit
    if parts:
        prepared.set_aside = _sorted(pd.concat(parts, ignore_index=True), raw)

    rejected = np.zeros(len(raw.frame), dtype=bool)
    reject_parts = []
    for bad, name, column, culprit in bad_rows:
        new = bad & ~set_aside & ~rejected
        if new.any():
            reject_parts.append(_listed_rows(raw, table, new, column, f"unparseable {name}",
                                             culprit))
            rejected |= new
    if reject_parts:
        prepared.rejects = pd.concat(reject_parts, ignore_index=True)
    keep = ~set_aside & ~rejected
    if not keep.all():
        raw = raw.take(keep)
        if key_codes is not None:
            key_codes = key_codes[keep]
        columns.raw = raw

    generated = settings.get("order_id") if table == "orders" else None
    if generated is not None:
        raw.frame[GENERATED_ORDER_ID] = _generated_ids(raw, columns, generated)
        prepared.explicit["order_id"] = GENERATED_ORDER_ID
        prepared.generated = generated
    if line_items is not None:
        prepared.line_refund = _refund_lines(raw, columns, line_items, decimal)
    prepared.raw = raw
    return prepared


def _sorted(frame: pd.DataFrame, raw: RawTable) -> pd.DataFrame:
    keys = ["file", "row"] if raw.row_files is not None else ["row"]
    return frame.sort_values(keys, kind="stable").reset_index(drop=True)


def _fill_within_orders(values: pd.Series, codes: np.ndarray) -> pd.Series:
    """Blank cells take the first non-blank value of their order (order-level columns that an
    export writes on the first line only)."""
    blank = is_blank(values)
    if not blank.any():
        return values
    text = clean_cell_text(values).mask(blank)
    first = text.groupby(codes).transform("first") if (codes >= 0).any() else text
    first = first.where(codes >= 0)
    fillable = blank & as_bool_array(first.notna())
    if not fillable.any():
        return values
    result = values.astype(STRING_DTYPE) if not isinstance(values.dtype, pd.StringDtype) \
        else values.copy()
    result[fillable] = first[fillable]
    return result


def _generated_ids(raw: RawTable, columns: _Columns, generated: Any) -> pd.Series:
    if generated == "row_number":
        ids = pd.Series(raw.rows.astype(str), dtype=STRING_DTYPE)
        if raw.row_files is not None:
            ids = pd.Series(raw.row_files.astype(str), dtype=STRING_DTYPE) + ":" + ids
        return ids
    parts = [parse_ids(raw.frame[columns.find(name, f"order_id[{index}]")]).values
             .reset_index(drop=True) for index, name in enumerate(generated)]
    present = np.zeros(len(raw.frame), dtype=bool)
    for part in parts:
        present |= as_bool_array(part.notna())
    joined = parts[0].fillna("").str.cat([part.fillna("") for part in parts[1:]], sep="|") \
        if len(parts) > 1 else parts[0].fillna("")
    return joined.mask(~present).astype(STRING_DTYPE)


def _refund_lines(raw: RawTable, columns: _Columns, line_items: Mapping[str, Any],
                  decimal: str) -> np.ndarray:
    refund = np.zeros(len(raw.frame), dtype=bool)
    if line_items["refund_prefix"]:
        keys = parse_ids(raw.frame[columns.contract("order_id")]).values
        refund |= as_bool_array(keys.fillna("").str.startswith(tuple(line_items["refund_prefix"])))
    if line_items["refund_if_negative"]:
        header = columns.find(line_items["refund_if_negative"], "line_items.refund_if_negative")
        numbers = parse_numbers(raw.frame[header], decimal).values.to_numpy(dtype=float)
        with np.errstate(invalid="ignore"):
            refund |= numbers < 0
    return refund


def gather_lines(lines: pd.DataFrame, line_refund: np.ndarray, amount_mode: str,
                 refund: np.ndarray | None) -> tuple[pd.DataFrame, np.ndarray | None]:
    """Line items → one row per order (and refund side): amounts summed (or the order's amount
    once), the earliest time, quantities summed, other columns from the first line.

    Returns the orders and, when ``refund`` (per line) is given, the refund per order.
    """
    if not len(lines):
        return lines, refund
    order_codes, _ = pd.factorize(lines["order_id"])
    groups, _ = pd.factorize(order_codes.astype(np.int64) * 2 + line_refund.astype(np.int64))
    grouped = lines.groupby(groups, sort=True)
    orders = grouped.first()
    if amount_mode == "order":
        amounts = grouped["amount"].first().to_numpy(dtype=float)
    else:
        amounts = grouped["amount"].sum(min_count=1).to_numpy(dtype=float)
    orders["order_time"] = grouped["order_time"].min()
    if "quantity" in lines.columns:
        orders["quantity"] = grouped["quantity"].sum(min_count=1)
    refund_side = pd.Series(line_refund).groupby(groups, sort=True).first().to_numpy(dtype=bool)
    is_refund = refund_side | (amounts < 0)
    orders["amount"] = np.where(is_refund, -np.abs(amounts), amounts)
    orders["is_refund"] = is_refund
    per_order = None
    if refund is not None:
        per_order = pd.Series(refund).groupby(groups, sort=True).first().to_numpy(dtype=float)
    return orders.reset_index(drop=True)[list(lines.columns)], per_order


def expand_refunds(orders: pd.DataFrame, refund: np.ndarray) -> tuple[pd.DataFrame, int, int]:
    """Refund amounts → refund rows: a partly refunded order gets a refund row (same order id,
    customer and time, amount ``-refund``) after its sale; a fully refunded order (refund ≥
    amount) becomes a refund row of amount 0 — refunded, not a sale.

    Returns the orders, and how many were partly and fully refunded.
    """
    refund = np.abs(np.nan_to_num(np.asarray(refund, dtype=float), nan=0.0))
    is_refund = orders["is_refund"].to_numpy(dtype=bool)
    amounts = orders["amount"].to_numpy(dtype=float)
    eligible = ~is_refund & (refund > 0)
    full = eligible & (refund >= amounts - 1e-9)
    partial = eligible & ~full
    result = orders.copy()
    if full.any():
        result.loc[full, "is_refund"] = True
        result.loc[full, "amount"] = 0.0
    if partial.any():
        refunds = orders.loc[partial].copy()
        refunds["is_refund"] = True
        refunds["amount"] = -refund[partial]
        position = np.concatenate([np.arange(len(orders)) * 2,
                                   np.flatnonzero(partial) * 2 + 1])
        result = pd.concat([result, refunds], ignore_index=True)
        result = result.iloc[np.argsort(position, kind="stable")].reset_index(drop=True)
    return result, int(partial.sum()), int(full.sum())


def customers_from_orders(orders: pd.DataFrame, order_columns: Mapping[str, str],
                          fields: Mapping[str, str], file_label: str,
                          settings: Mapping[str, Any]) -> tuple[RawTable, dict[str, str]]:
    """The customers table made from the kept orders: one row per customer, each field its
    latest non-blank value (by order time); ``address`` gives province and city.

    ``order_columns`` is the orders' contract column → header read (to find a header that was
    read as a contract column). Returns the raw customers table and its column mapping.
    """
    by_header = {header: column for column, header in order_columns.items()}
    available = [str(column) for column in orders.columns]
    sources: dict[str, str] = {}
    for name, header in fields.items():
        if header in orders.columns:
            sources[name] = header
        elif header in by_header and by_header[header] in orders.columns:
            sources[name] = by_header[header]
        else:
            matches = [c for c in available if normalize_header(c) == normalize_header(header)]
            if len(matches) != 1:
                raise DataError(f"{_where(settings, 'customers')}.from_orders.{name}: no column "
                                f"{header!r} in the orders ({file_label}); columns: "
                                f"{', '.join(available)}")
            sources[name] = matches[0]
    ordered = orders.sort_values("order_time", kind="stable")
    data = pd.DataFrame({"customer_id": ordered["customer_id"].to_numpy()})
    for name, column in sources.items():
        values = ordered[column].reset_index(drop=True)
        data[name] = clean_cell_text(values).mask(is_blank(values))
    latest = data.groupby("customer_id", sort=False).last() if sources else (
        data.drop_duplicates("customer_id").set_index("customer_id"))
    latest = latest.reset_index()
    frame = pd.DataFrame({"customer_id": latest["customer_id"].astype(STRING_DTYPE)})
    for name in sources:
        if name == "address":
            regions = split_addresses(latest["address"])
            frame["province"] = regions["province"].to_numpy()
            frame["city"] = regions["city"].to_numpy()  # the full address is not kept
        else:
            frame[name] = latest[name].astype(STRING_DTYPE).to_numpy()
    label = f"{file_label} (customers from orders)"
    raw = RawTable("customers", label, f"made from the orders in {file_label}", frame,
                   np.arange(1, len(frame) + 1))
    explicit = {name: name for name in frame.columns
                if name in [spec.name for spec in TABLE_SCHEMAS["customers"]]}
    return raw, explicit
