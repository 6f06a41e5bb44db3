"""A commented first mapping for an export: ``custops validate --suggest-mapping OUT``.

:func:`suggest_mapping` reads the orders file of a data folder (or a single data file or
workbook) the way the loader would, and writes the mapping YAML it can tell from it: the
separator and header, the columns recognised (and guesses, marked ``check``), a ``date_format``
when dates are not year first, ``line_items`` when order ids repeat with different products,
a status rule listing the status values, ``refund_amount``, a generated ``order_id`` and
``customers: from_orders``. Every guess is a comment the user reads before using the file.
"""

from __future__ import annotations

import re
import unicodedata
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml

from custops.errors import DataError
from custops.io.contract import TABLE_SCHEMAS, TABLE_SUFFIXES
from custops.io.csv_text import WHITESPACE
from custops.io.excel import WorkbookReader, read_xlsx, sheet_options
from custops.io.files import DirectoryReader, _read_table_file, _table_for_file
from custops.io.headers import normalize_header
from custops.io.mapping import match_columns
from custops.io.parse import as_bool_array, clean_cell_text, is_blank, parse_column, parse_ids
from custops.io.reader import RawTable

__all__ = ["suggest_mapping"]


_SAMPLE = 50_000  # rows looked at for the guesses
_PRODUCT_WORDS = ("stockcode", "sku", "product", "lineitemname", "description", "title", "商品",
                  "宝贝", "货号", "品名", "产品", "款号", "条码", "barcode", "item")
_PRICE_WORDS = ("unitprice", "price", "单价", "价格", "售价")
_QUANTITY_WORDS = ("quantity", "qty", "数量", "件数")
_STATUS_WORDS = ("status", "状态")
_NOT_SALE_WORDS = ("关闭", "取消", "等待买家付款", "未付款", "待付款", "cancel", "void",
                   "pending", "unpaid", "closed", "failed", "expired")
_REFUND_AMOUNT_WORDS = ("退款金额", "refundamount", "refundedamount", "amountrefunded")
_PAID_TIME_WORDS = ("付款时间", "支付时间", "paidat", "paytime", "paymenttime")
_ADDRESS_WORDS = ("收货地址", "地址", "address", "shippingaddress")
_PHONE_WORDS = ("联系手机", "手机", "电话", "phone", "mobile", "tel")
_NAME_WORDS = ("收货人姓名", "收货人", "姓名", "billingname", "shippingname", "customername")


def _yaml_value(value: Any) -> str:
    text = yaml.safe_dump(value, allow_unicode=True, default_flow_style=True, width=1000)
    lines = [line for line in text.splitlines() if line.strip() != "..."]
    return " ".join(lines).strip()


def _has(header: str, words: tuple[str, ...]) -> bool:
    key = normalize_header(header)
    return any(word in key for word in words)


# Words that suggest a column, most telling first (compared with normalized headers).
_GUESS_WORDS = {
    "order_id": ("invoice", "订单编号", "订单号", "单号", "orderid", "ordernumber", "orderno",
                 "order", "单据", "发票"),
    "customer_id": ("会员名", "买家", "客户", "会员", "用户", "customer", "email", "buyer",
                    "member", "user"),
    "order_time": ("创建时间", "下单", "时间", "日期", "createdat", "date", "time"),
    "amount": ("实际支付", "实付", "实收", "paid", "支付金额", "付款金额", "total", "金额",
               "amount", "revenue", "sales", "收入"),
}


def _pick(frame: pd.DataFrame, headers: list[str], words: tuple[str, ...],
          used: set[str]) -> str | None:
    """The first header (by the order of ``words``) holding a word and some values."""
    for word in words:
        for header in headers:
            if header in used or word not in normalize_header(header):
                continue
            if header in frame.columns and is_blank(frame[header]).all():
                continue
            return header
    return None


def _width(text: str) -> int:
    return sum(2 if unicodedata.east_asian_width(char) in "WF" else 1 for char in text)


def _find_orders_file(source: Path) -> tuple[Path, str | None, list[str]]:
    """The file holding the orders, the ``file:`` to write (or None), and notes."""
    reader = DirectoryReader(source, {})
    found = reader._find_file("orders")
    data_files = [p for p in reader.files if p.name.lower().endswith(TABLE_SUFFIXES)]
    others = [f"{p.name} ({_table_for_file(p)})" for p in data_files
              if _table_for_file(p) not in (None, "orders")]
    notes = [f"other tables found: {', '.join(others)} (read as they are)"] if others else []
    if found is not None:
        return found, None, notes
    if not data_files:
        raise DataError(f"no data file in {source} to suggest a mapping for; files found: "
                        f"{reader._file_list()}")
    largest = max(data_files, key=lambda p: p.stat().st_size if p.is_file() else 0)
    if len(data_files) > 1:
        notes.append(f"the orders are taken to be in {largest.name}, the largest data file; "
                     f"change file: if not")
    return largest, largest.name, notes


def _read(path: Path, settings: dict[str, Any]) -> RawTable:
    if path.suffix.lower() in (".xlsx", ".xlsm"):
        workbook = WorkbookReader(path, {"orders": settings})
        sheet = workbook._sheet_for("orders") or workbook.sheet_names[0]
        raw = read_xlsx(path, "orders", sheet, **sheet_options(settings))
        raw.details["sheet"] = sheet if len(workbook.sheet_names) > 1 else None
        return raw
    return _read_table_file(path, "orders", settings)


def _looks_like_data(cells: list[str]) -> bool:
    return bool(cells) and all(re.fullmatch(r"-?[0-9][0-9.,/:\- ]*", str(cell).strip() or "x")
                               for cell in cells)


def _guess_names(frame: pd.DataFrame) -> list[str]:
    """Names for the columns of a file without a header, from their values."""
    names: list[str | None] = [None] * frame.shape[1]
    kinds = []
    for column in frame.columns:
        values = frame[column].dropna().astype(str).str.strip().head(2000)
        if values.str.fullmatch(r"(19|20)[0-9]{6}").all() or values.str.fullmatch(
                r"[0-9]{4}-[0-9]{1,2}-[0-9]{1,2}.*").all():
            kinds.append("date")
        elif values.str.fullmatch(r"-?[0-9]+").all():
            numbers = pd.to_numeric(values, errors="coerce")
            kinds.append("small" if numbers.abs().max() <= 1000 and not values.str.startswith(
                "0").any() else "id")
        elif values.str.fullmatch(r"-?[0-9]*\.[0-9]+").all():
            kinds.append("decimal")
        else:
            kinds.append("text")
    for wanted, kind in (("order_time", "date"), ("amount", "decimal")):
        positions = [i for i, k in enumerate(kinds) if k == kind]
        if positions:
            names[positions[-1] if wanted == "amount" else positions[0]] = wanted
    ids = [i for i, k in enumerate(kinds) if k in ("id", "small", "text") and names[i] is None]
    if ids:
        names[ids[0]] = "customer_id"
    small = [i for i, k in enumerate(kinds) if k == "small" and names[i] is None]
    if small:
        names[small[0]] = "quantity"
    return [name or f"column{i + 1}" for i, name in enumerate(names)]


def _date_format(values: pd.Series, tz: str = "UTC") -> tuple[str | None, str]:
    """A date_format for the order times when they need one, and the comment to write."""
    text = clean_cell_text(values).dropna()
    if not len(text):
        return None, ""
    spec = next(s for s in TABLE_SCHEMAS["orders"] if s.name == "order_time")
    example = str(text.iloc[0])
    if text.str.fullmatch(r"(19|20)[0-9]{6}").all():
        return "%Y%m%d", f"detected: dates like {example}"
    parts = text.str.extract(r"^([0-9]{1,2})[/.-]([0-9]{1,2})[/.-]([0-9]{4})(.*)$")
    matched = parts[0].notna()
    if matched.mean() < 0.5:
        try:
            parsed = parse_column(spec, text.head(_SAMPLE), tz)
        except ValueError:
            return None, ""
        if parsed.invalid.mean() > 0.5:
            return None, f"check: times like {example} are not understood; add date_format"
        return None, ""
    first = pd.to_numeric(parts.loc[matched, 0])
    second = pd.to_numeric(parts.loc[matched, 1])
    rest = parts.loc[matched, 3].fillna("").str.strip()
    separator = re.match(r"[0-9]{1,2}([/.-])", str(text[matched].iloc[0])).group(1)
    time = ""
    if rest.str.len().gt(0).any():
        with_seconds = rest.str.fullmatch(r"[0-9]{1,2}:[0-9]{2}:[0-9]{2}.*").any()
        am_pm = rest.str.contains(r"(?i)[ap]m").any()
        hour = "%I" if am_pm else "%H"
        time = f" {hour}:%M" + (":%S" if with_seconds else "") + (" %p" if am_pm else "")
    day_first, month_first = bool((first > 12).any()), bool((second > 12).any())
    if day_first and not month_first:
        layout, note = f"%d{separator}%m{separator}%Y{time}", "detected: day first"
    elif month_first and not day_first:
        layout, note = f"%m{separator}%d{separator}%Y{time}", "detected: month first"
    else:
        layout = f"%d{separator}%m{separator}%Y{time}"
        note = (f"check: every date has day and month ≤ 12, so custops cannot tell which comes "
                f"first; write %m{separator}%d if the month is first")
    evidence = text[matched][(first > 12) | (second > 12)]
    example = str(evidence.iloc[0]) if len(evidence) else example
    return layout, f"{note} (values like {example})"


def _varying_product(frame: pd.DataFrame, keys: pd.Series, used: set[str]) -> str | None:
    repeated = as_bool_array(keys.duplicated(keep=False) & keys.notna())
    if not repeated.any():
        return None
    candidates = [h for word in _PRODUCT_WORDS for h in frame.columns
                  if h not in used and word in normalize_header(h)
                  and not _has(h, _QUANTITY_WORDS + _PRICE_WORDS)]
    for header in dict.fromkeys(candidates):
        pairs = pd.DataFrame({"key": keys[repeated].to_numpy(),
                              "value": frame[header][repeated].astype(str).to_numpy()})
        if len(pairs.drop_duplicates()) > pairs["key"].nunique():
            return str(header)
    return None


def _order_level_columns(frame: pd.DataFrame, keys: pd.Series) -> list[str]:
    """Columns filled on an order's first line and blank on its other lines (Shopify)."""
    first = as_bool_array(~keys.duplicated(keep="first"))
    later = ~first & as_bool_array(keys.notna())
    if not later.any():
        return []
    found = []
    for header in frame.columns:
        blank = is_blank(frame[header])
        if blank[later].mean() >= 0.9 and (~blank[first]).mean() >= 0.5:
            found.append(str(header))
    return found


def suggest_mapping(source: Any) -> str:
    """Return a commented first mapping (YAML text) for the orders of ``source``.

    Parameters
    ----------
    source : str or Path
        A data folder (its orders file, or its largest data file), a data file or a workbook.

    Returns
    -------
    str
        YAML that :func:`custops.io.read_mapping` reads; the guesses are marked ``check``.
    """
    path = Path(source).expanduser()
    if not path.exists():
        raise DataError(f"{path} does not exist; --data must be a data folder or a data file")
    notes: list[str] = []
    file_setting = None
    if path.is_dir() and not path.name.lower().endswith(".parquet"):
        orders_path, file_setting, notes = _find_orders_file(path)
    else:
        orders_path = path
    settings: dict[str, Any] = {}
    raw = _read(orders_path, settings)
    lines: list[tuple[str, str]] = []  # (yaml line, comment)
    text_file = orders_path.suffix.lower() not in (".xlsx", ".xlsm", ".parquet", ".pq")
    if text_file and raw.frame.shape[1] == 1:
        header = str(raw.frame.columns[0])
        if len(header.split()) >= 2:
            settings["separator"] = WHITESPACE
            raw = _read(orders_path, settings)
            lines.append((f"separator: {WHITESPACE}", "detected: fields separated by spaces"))
    elif text_file and raw.details.get("delimiter") not in (None, ","):
        lines.append((f"separator: {_yaml_value(raw.details['delimiter'])}", "detected"))
    if raw.details.get("encoding") and not str(raw.details["encoding"]).startswith("utf-8"):
        encoding = str(raw.details["encoding"]).split()[0]
        lines.insert(0, (f"encoding: {encoding}", "detected"))
    if raw.details.get("sheet"):
        lines.insert(0, (f"sheet: {_yaml_value(raw.details['sheet'])}", "check: the orders sheet"))
    headers = [str(h) for h in raw.frame.columns]
    if headers and _looks_like_data(headers):
        settings.update(header=False, names=[f"column{i + 1}" for i in range(len(headers))])
        raw = _read(orders_path, settings)
        names = _guess_names(raw.frame)
        raw.frame.columns = names
        headers = names
        lines.append(("header: false", "detected: the first line is already data"))
        lines.append((f"names: {_yaml_value(names)}", "check: guessed from the values"))
    frame = raw.frame.head(_SAMPLE * 4)
    chosen, _warnings = match_columns(headers, "orders", {}, raw.file_label)

    body: list[tuple[str, str]] = []
    used = set(chosen.values())
    column_lines: list[tuple[str, str]] = []
    for spec in TABLE_SCHEMAS["orders"]:
        if spec.name in chosen:
            if settings.get("header") is False and chosen[spec.name] == spec.name:
                continue
            column_lines.append((f"{spec.name}: {_yaml_value(chosen[spec.name])}", "recognised"))
    for name in ("order_id", "customer_id", "order_time"):
        if name in chosen:
            continue
        guess = _pick(frame, headers, _GUESS_WORDS[name], used)
        if guess is None and name == "order_id":  # Shopify-like order names: #1001
            guess = next((h for h in headers if h not in used and clean_cell_text(
                frame[h]).dropna().str.fullmatch(r"#[0-9]+").mean() > 0.9), None)
        if guess is None and name == "order_id":
            continue  # no order id: row_number below
        column_lines.append((f"{name}: {_yaml_value(guess) if guess else '<your column>'}",
                             "check: a guess" if guess else "check: not found; name the column"))
        if guess:
            chosen[name] = guess
            used.add(guess)
    # order key, line items
    keys = parse_ids(frame[chosen["order_id"]]).values if "order_id" in chosen else None
    product = _varying_product(frame, keys, used) if keys is not None else None
    quantity = chosen.get("quantity") or next(
        (h for h in headers if h not in used and _has(h, _QUANTITY_WORDS)), None)
    price = next((h for h in headers if h not in used and _has(h, _PRICE_WORDS)), None)
    if "amount" not in chosen and quantity and price:
        body.append(("computed:", ""))
        body.append((f"  amount: {_yaml_value(f'{quantity} * {price}')}",
                     "check: the line amount is quantity × unit price"))
    elif "amount" not in chosen:
        guess = _pick(frame, headers, _GUESS_WORDS["amount"], used)
        if guess:
            chosen["amount"] = guess
            used.add(guess)
        column_lines.append((f"amount: {_yaml_value(guess) if guess else '<your column>'}",
                             "check: a guess" if guess else "check: not found; name the column"))
    if "order_time" in chosen and chosen["order_time"] in frame.columns:
        layout, note = _date_format(frame[chosen["order_time"]])
        if layout:
            lines.append((f"date_format: {_yaml_value(layout)}", note))
        elif note:
            lines.append(("# date_format: \"%d/%m/%Y %H:%M\"", note))
    if column_lines:
        body.insert(0, ("columns:", ""))
        body[1:1] = [(f"  {line}", comment) for line, comment in column_lines]
    order_level = _order_level_columns(frame, keys) if product is not None else []
    first_lines = (as_bool_array(~keys.duplicated(keep="first")) if product is not None
                   else np.ones(len(frame), dtype=bool))
    if "order_id" not in chosen:
        body.append(("order_id: row_number", "no order id: each row is one order (or a list "
                                             "of columns that name an order)"))
    status_lines, status = _status_rule(frame, used)
    body.extend(status_lines)
    paid = next((h for h in headers if h not in used and h != chosen.get("order_time")
                 and _has(h, _PAID_TIME_WORDS)), None)
    unpaid = int(is_blank(frame[paid])[first_lines].sum()) if paid is not None else 0
    if unpaid:
        if not status_lines:
            body.append(("rules:", ""))
        body.append((f"  - {{name: unpaid, keep: {_yaml_value(paid)}, blank: false}}",
                     f"check: {unpaid:,} orders have no {paid}"))
    refund = next((h for h in headers if h not in used and _has(h, _REFUND_AMOUNT_WORDS)), None)
    if refund is not None:
        body.append((f"refund_amount: {_yaml_value(refund)}",
                     "refunded amount per order: netted as refund rows"))
    customers, customer_fields = _from_orders(frame, headers, used,
                                              path if path.is_dir() else None)
    if product is not None:
        items = [("line_items:", f"{chosen['order_id']} repeats with different {product}: one "
                                 f"row per product, gathered into orders")]
        amount_header = chosen.get("amount")
        if amount_header in order_level:
            items.append(("  amount: order", f"check: {amount_header} is on the first line of "
                                             f"each order only: it is the order's amount"))
        needed = {status, paid, refund, *customer_fields}
        fill = [h for h in order_level if h in needed]
        if fill:
            items.append((f"  fill: {_yaml_value(fill)}",
                          "order-level columns written on the first line only"))
        items.extend(_prefix_lines(frame, keys, quantity, chosen["order_id"]))
        position = next((i for i, (line, _) in enumerate(body)
                         if line.startswith(("rules:", "order_id:", "refund_amount:"))),
                        len(body))
        body[position:position] = items
    elif keys is not None and keys.duplicated().any():
        body.append(("# line_items: true", f"check: {int(keys.duplicated().sum()):,} rows "
                                           f"repeat an order id"))
    if file_setting is not None:
        lines.insert(0, (f"file: {_yaml_value(file_setting)}", ""))
    return _render(orders_path, lines + body, customers, notes)


def _prefix_lines(frame: pd.DataFrame, keys: pd.Series, quantity: str | None,
                  key_header: str) -> list[tuple[str, str]]:
    prefixes = keys.dropna().str.extract(r"^([A-Za-z]+)[0-9]")[0]
    digits = keys.dropna().str.fullmatch(r"[0-9]+")
    if not digits.mean() > 0.5 or prefixes.dropna().empty:
        return []
    found = []
    negative = None
    if quantity is not None:
        numbers = pd.to_numeric(frame[quantity], errors="coerce")
        negative = (numbers < 0).reindex(keys.dropna().index)
    refund_prefixes, other = [], []
    for prefix, count in prefixes.value_counts().items():
        rows = prefixes == prefix
        if negative is not None and negative[rows].mean() > 0.5:
            refund_prefixes.append((prefix, count))
        else:
            other.append((prefix, count))
    if refund_prefixes:
        names = [prefix for prefix, _ in refund_prefixes]
        found.append((f"  refund_prefix: {_yaml_value(names if len(names) > 1 else names[0])}",
                      "check: order ids starting with it have negative quantities: "
                      "cancellations, read as refunds"))
    for prefix, count in other:
        found.append((f"# rules: [{{name: not a sale, drop: {_yaml_value(key_header)}, "
                      f"starts_with: {prefix}}}]", f"check: {count:,} rows have order ids "
                                                   f"starting with {prefix}; set them aside if "
                                                   f"they are not sales"))
    return found


def _status_rule(frame: pd.DataFrame, used: set[str]) -> tuple[list[tuple[str, str]],
                                                                  str | None]:
    status = next((h for h in frame.columns if h not in used and _has(h, _STATUS_WORDS)), None)
    if status is None:
        return [], None
    counts = clean_cell_text(frame[status]).mask(is_blank(frame[status])).value_counts()
    if len(counts) > 30 or not len(counts):
        return [], None
    listed = ", ".join(f"{value} ({count:,})" for value, count in counts.items())
    not_sales = [str(v) for v in counts.index if any(w in str(v).lower() for w in _NOT_SALE_WORDS)]
    lines = [("rules:", f"{status} has these values (rows): {listed}")]
    if not_sales:
        lines.append((f"  - {{name: not a sale, drop: {_yaml_value(status)}, in: "
                      f"{_yaml_value(not_sales)}}}", "check: the statuses that are not sales"))
    else:
        lines.append((f"  # - {{name: not a sale, drop: {_yaml_value(status)}, in: [...]}}",
                      "check: list the statuses that are not sales"))
    return lines, str(status)


def _from_orders(frame: pd.DataFrame, headers: list[str], used: set[str],
                 folder: Path | None) -> tuple[list[tuple[str, str]], list[str]]:
    if folder is not None and DirectoryReader(folder, {})._find_file("customers") is not None:
        return [], []
    fields: dict[str, str] = {}
    for name, words in (("address", _ADDRESS_WORDS), ("phone", _PHONE_WORDS),
                        ("name", _NAME_WORDS)):
        header = _pick(frame, headers, words, used | set(fields.values()))
        if header is not None:
            fields[name] = header
    if not fields:
        return [], []
    lines = [("from_orders:", "no customers file: customers are made from the order rows")]
    comments = {"address": "province and city are read from it",
                "phone": "kept as it is: personal data", "name": "kept as column name"}
    lines += [(f"  {name}: {_yaml_value(header)}", comments[name])
              for name, header in fields.items()]
    return lines, list(fields.values())


def _render(path: Path, orders: list[tuple[str, str]], customers: list[tuple[str, str]],
            notes: list[str]) -> str:
    out = [f"# A first mapping for {path.name}, written by custops validate --suggest-mapping.",
           "# Read it through and fix every line marked `check`, then run",
           "#   custops validate --data <your data> --mapping <this file>",
           "# The mapping language is described in docs/data.md (The mapping language)."]
    out += [f"# Note: {note}" for note in notes]
    out.append("orders:")
    out += _lines(orders, "  ")
    if customers:
        out.append("customers:")
        out += _lines(customers, "  ")
    return "\n".join(out) + "\n"


def _lines(items: list[tuple[str, str]], indent: str) -> list[str]:
    rendered = []
    width = max((_width(line) for line, comment in items if comment), default=0)
    width = min(width, 40)
    for line, comment in items:
        if comment and line.lstrip().startswith("#"):
            rendered.append(f"{indent}{line}   # {comment}")
        elif comment:
            padding = " " * max(0, width - _width(line))
            rendered.append(f"{indent}{line}{padding}   # {comment}")
        else:
            rendered.append(f"{indent}{line}")
    return rendered


