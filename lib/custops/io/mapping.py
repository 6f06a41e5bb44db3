"""Map the user's headers onto the contract: the mapping language, presets, header matching.

:func:`read_mapping` reads a mapping (YAML file or dict, optionally on top of a shipped preset)
and checks every setting, so that a mistake stops loading with one line naming the setting
before any data is read. The language is described in ``docs/data.md`` (*The mapping language*).
"""

from __future__ import annotations

import codecs
import datetime as dt
import importlib.resources
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from custops.errors import DataError
from custops.io.contract import TABLE_FILE_STEMS, TABLE_NAMES, TABLE_SCHEMAS
from custops.io.expressions import ExpressionError, parse_expression
from custops.io.headers import normalize_header
from custops.io.row_rules import RuleError, parse_rule

__all__ = [
    "SEPARATORS",
    "TABLE_KEYS",
    "match_columns",
    "missing_columns_message",
    "normalize_header",
    "preset_names",
    "read_mapping",
    "table_from_alias",
]


_COMMON_KEYS = ("file", "sheet", "table", "encoding", "separator", "header", "names",
                "skip_lines", "skip_footer", "date_format", "decimal", "columns", "rules",
                "computed")
TABLE_KEYS = {
    "orders": (*_COMMON_KEYS, "order_id", "line_items", "refund_amount"),
    "customers": (*_COMMON_KEYS, "from_orders"),
    "events": _COMMON_KEYS,
    "touches": _COMMON_KEYS,
}
"""The settings each table block of a mapping may hold."""

SEPARATORS = {",": ",", ";": ";", "\t": "\t", "\\t": "\t", "tab": "\t", "|": "|",
              "whitespace": "whitespace", "space": "whitespace", "spaces": "whitespace"}
"""Spellings of ``separator`` → the separator used (``"whitespace"``: runs of spaces/tabs)."""

_LINE_ITEM_KEYS = ("key", "amount", "fill", "refund_prefix", "refund_if_negative")
_FROM_ORDERS_EXTRA = ("address", "name")
_PRESET_PACKAGE = "custops.io"
_MERGED_MAPS = ("columns", "computed", "line_items", "from_orders")


def preset_names() -> list[str]:
    """The presets shipped in ``custops/io/presets`` (file names without ``.yaml``)."""
    folder = importlib.resources.files(_PRESET_PACKAGE).joinpath("presets")
    try:
        return sorted(entry.name[:-5] for entry in folder.iterdir()
                      if entry.name.endswith(".yaml"))
    except (FileNotFoundError, NotADirectoryError):  # pragma: no cover - broken install
        return []


def _load_preset(name: str) -> dict[str, Any]:
    names = preset_names()
    if name not in names:
        raise DataError(f"unknown preset {name!r}; shipped presets: "
                        f"{', '.join(names) or '(none)'}")
    resource = importlib.resources.files(_PRESET_PACKAGE).joinpath("presets", f"{name}.yaml")
    text = _decode_small_text(resource.read_bytes())
    try:
        loaded = yaml.safe_load(text) or {}
    except yaml.YAMLError as exc:
        raise DataError(f"preset {name}: not valid YAML: {_one_line(exc)}") from None
    if not isinstance(loaded, Mapping):
        raise DataError(f"preset {name}: expected `table: {{...}}` at the top level")
    if "preset" in loaded:
        raise DataError(f"preset {name}: a preset cannot itself name a preset")
    return dict(loaded)


def _one_line(exc: Exception) -> str:
    return " ".join(str(exc).split())


def _load_mapping_source(mapping: Mapping[str, Any] | str | Path) -> tuple[Any, str]:
    if isinstance(mapping, str | Path):
        path = Path(mapping)
        if not path.is_file():
            raise DataError(f"mapping file {path} does not exist")
        text = _decode_small_text(path.read_bytes())
        try:
            return yaml.safe_load(text) or {}, str(path)
        except yaml.YAMLError as exc:
            raise DataError(f"mapping file {path} is not valid YAML: {_one_line(exc)}") from None
    return mapping, "mapping"


def read_mapping(mapping: Mapping[str, Any] | str | Path | None,
                 preset: str | None = None) -> dict[str, dict[str, Any]]:
    """Read and check a mapping (a dict, or the path of a YAML file), on top of a preset.

    Parameters
    ----------
    mapping : dict, str, Path or None
        ``{table: {"file": ..., "columns": {contract_column: your_header}, "rules": [...],
        ...}}``, optionally with a top-level ``preset: NAME``; the settings are described in
        ``docs/data.md``. ``columns`` may also be written the other way round
        (``{your_header: contract_column}``).
    preset : str, optional
        A shipped preset (``lib/custops/io/presets/<name>.yaml``) the mapping refines: per
        table, map settings (``columns``, ``computed``, ``line_items``, ``from_orders``) merge
        key by key, other settings replace the preset's, and ``null`` removes one.

    Returns
    -------
    dict
        Table → checked settings: ``columns`` as ``{contract_column: your_header}``, ``rules``
        as :class:`custops.io.row_rules.Rule`, ``computed`` as name →
        :class:`custops.io.expressions.Expr`, ``date_format`` as a list, ``separator`` as
        ``","``, ``";"``, ``"\\t"``, ``"|"`` or ``"whitespace"``, and so on.

    Raises
    ------
    DataError
        The file is missing or not valid YAML, the preset is unknown, or a setting is wrong:
        one line naming the setting (``mapping.yaml: orders.rules[2].drop: ...``).
    """
    raw: Any = {}
    label = "mapping"
    if mapping is not None:
        raw, label = _load_mapping_source(mapping)
    if not isinstance(raw, Mapping):
        raise DataError(f"{label}: expected `table: {{columns: {{...}}}}` at the top level, "
                        f"got {type(raw).__name__}")
    raw = dict(raw)
    named = raw.pop("preset", None)
    if named is not None and not isinstance(named, str):
        raise DataError(f"{label}: preset: must be a preset name, got {named!r}")
    if preset is not None and named is not None and preset != named:
        raise DataError(f"{label}: preset: {named!r} differs from the preset asked for "
                        f"({preset!r}); give one")
    preset = preset or named
    if preset is None:
        return _check_tables(raw, label)
    base = _load_preset(preset)
    _check_tables(base, f"preset {preset}")
    merged = _merge(_by_table(base, f"preset {preset}"), _by_table(raw, label))
    return _check_tables(merged, label if mapping is not None else f"preset {preset}")


def _by_table(raw: Mapping[str, Any], label: str) -> dict[str, Any]:
    tables: dict[str, Any] = {}
    for key, settings in raw.items():
        table = table_from_alias(str(key))
        if table is None:
            raise DataError(f"{label}: unknown table {key!r}; use one of {', '.join(TABLE_NAMES)}"
                            f" (or preset:)")
        tables[table] = settings
    return tables


def _merge(base: Mapping[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    merged: dict[str, Any] = {table: dict(settings or {}) for table, settings in base.items()}
    for table, settings in override.items():
        if settings is None:
            merged.setdefault(table, {})
            continue
        if not isinstance(settings, Mapping):
            merged[table] = settings  # reported by the checks
            continue
        target = merged.setdefault(table, {})
        for key, value in settings.items():
            if value is None:
                target.pop(key, None)
            elif (key in _MERGED_MAPS and isinstance(value, Mapping)
                  and isinstance(target.get(key), Mapping)):
                combined = dict(target[key])
                if key == "columns":  # either way round: drop the preset's entry for a column
                    _drop_column_entries(combined, value)
                for inner_key, inner_value in value.items():
                    if inner_value is None:
                        combined.pop(inner_key, None)
                    else:
                        combined[inner_key] = inner_value
                target[key] = combined
            else:
                target[key] = value
        _drop_replaced_definitions(target, settings)
    return merged


def _drop_replaced_definitions(merged: dict[str, Any], override: Mapping[str, Any]) -> None:
    """A contract column the user defines one way replaces the preset's other way of defining
    it: computed vs columns, a generated order_id vs a mapped one."""
    columns = merged.get("columns")
    computed = merged.get("computed")
    if isinstance(override.get("computed"), Mapping) and isinstance(columns, Mapping):
        user_columns = override.get("columns") if isinstance(override.get("columns"),
                                                             Mapping) else {}
        for name in override["computed"]:
            if name not in user_columns and name not in user_columns.values():
                merged["columns"] = columns = {k: v for k, v in columns.items()
                                               if str(k) != str(name) and str(v) != str(name)}
    if isinstance(override.get("columns"), Mapping) and isinstance(computed, Mapping):
        mapped = {str(k) for k in override["columns"]} | {str(v) for v in
                                                           override["columns"].values()}
        user_computed = override.get("computed") if isinstance(override.get("computed"),
                                                               Mapping) else {}
        merged["computed"] = {name: text for name, text in computed.items()
                              if name not in mapped or name in user_computed}
    if override.get("order_id") is not None and isinstance(columns, Mapping):
        merged["columns"] = {k: v for k, v in columns.items()
                             if "order_id" not in (str(k), str(v))}
    if isinstance(override.get("columns"), Mapping) and "order_id" in (
            {str(k) for k in override["columns"]} | {str(v) for v in override["columns"].values()}):
        merged.pop("order_id", None)


def _drop_column_entries(columns: dict[Any, Any], override: Mapping[Any, Any]) -> None:
    """Remove the preset's entries for the contract columns the user maps (either spelling)."""
    contract = {spec.name for specs in TABLE_SCHEMAS.values() for spec in specs}
    wanted = {str(k) if str(k) in contract else str(v) for k, v in override.items()}
    for key, value in list(columns.items()):
        if str(key) in wanted or str(value) in wanted:
            del columns[key]


def _check_tables(raw: Mapping[str, Any], label: str) -> dict[str, dict[str, Any]]:
    checked: dict[str, dict[str, Any]] = {}
    for table_key, settings in raw.items():
        table = table_from_alias(str(table_key))
        if table is None:
            raise DataError(f"{label}: unknown table {table_key!r}; use one of "
                            f"{', '.join(TABLE_NAMES)} (or preset:)")
        checked[table] = _check_table(table, str(table_key), settings or {}, label)
    return checked


class _Where:
    """Builds the one-line error naming the setting: ``label: orders.rules[2].drop: ...``."""

    def __init__(self, label: str, table: str) -> None:
        self.label, self.table = label, table

    def error(self, key: str, message: str) -> DataError:
        return DataError(f"{self.label}: {self.table}.{key}: {message}")


def _text(where: _Where, key: str, value: Any) -> str:
    if isinstance(value, bool) or not isinstance(value, str | int | float) or not str(
            value).strip():
        raise where.error(key, f"must be a text, got {value!r}")
    return str(value).strip()


def _text_list(where: _Where, key: str, value: Any, *, allow_one: bool = True) -> list[str]:
    if isinstance(value, list | tuple):
        items = list(value)
    elif allow_one:
        items = [value]
    else:
        raise where.error(key, f"must be a list, e.g. [a, b], got {value!r}")
    if not items:
        raise where.error(key, "must not be empty")
    return [_text(where, f"{key}[{index}]", item) for index, item in enumerate(items)]


def _count(where: _Where, key: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise where.error(key, f"must be a whole number of lines (0 or more), got {value!r}")
    return int(value)


_FORMAT_CODES = set("aAbBdfHIjmMpSyYz%")


def check_date_format(layout: str) -> str | None:
    """Return why ``layout`` is not a usable strptime format, or None when it is."""
    codes = re.findall(r"%(.?)", layout)
    unknown = [code for code in codes if code not in _FORMAT_CODES]
    if unknown:
        return (f"unknown code %{unknown[0]} in {layout!r}; use %Y %m %d %H %M %S (and %y %b "
                f"%p %f %z)")
    if "Y" not in codes and "y" not in codes:
        return f"{layout!r} has no year (%Y or %y)"
    sample = dt.datetime(2011, 12, 20, 17, 5, 9, tzinfo=dt.timezone(dt.timedelta(hours=8)))
    try:
        dt.datetime.strptime(sample.strftime(layout), layout)
    except ValueError as exc:
        return f"{layout!r} cannot be used ({exc})"
    return None


def _check_table(table: str, table_key: str, settings: Any, label: str) -> dict[str, Any]:
    where = _Where(label, table_key)
    if not isinstance(settings, Mapping):
        raise DataError(f"{label}: {table_key} must hold settings such as file: or columns:, "
                        f"got {settings!r}")
    allowed = TABLE_KEYS[table]
    unknown = [str(key) for key in settings if key not in allowed]
    if unknown:
        other = [name for name, keys in TABLE_KEYS.items() if unknown[0] in keys]
        only = f" ({unknown[0]} is only for {', '.join(other)})" if other else ""
        raise where.error(unknown[0], f"unknown setting{only}; allowed: {', '.join(allowed)}")
    entry: dict[str, Any] = {"_label": label}
    for key in ("file", "sheet", "table", "encoding", "refund_amount"):
        if settings.get(key) is not None:
            entry[key] = _text(where, key, settings[key])
    if "encoding" in entry:
        try:
            codecs.lookup(entry["encoding"])
        except LookupError:
            raise where.error("encoding", f"unknown encoding {entry['encoding']!r}; e.g. "
                                          f"utf-8, gb18030, utf-16") from None
    if settings.get("separator") is not None:
        separator = settings["separator"]
        spelling = separator if isinstance(separator, str) and separator in SEPARATORS else (
            separator.strip(" ").lower() if isinstance(separator, str) else None)
        if spelling not in SEPARATORS:
            raise where.error("separator", f"unknown separator {separator!r}; use \",\", \";\", "
                                           f"\"\\t\" (tab), \"|\" or whitespace")
        entry["separator"] = SEPARATORS[spelling]
    if settings.get("header") is not None:
        if not isinstance(settings["header"], bool):
            raise where.error("header", f"must be true or false, got {settings['header']!r}")
        entry["header"] = settings["header"]
    if settings.get("names") is not None:
        names = _text_list(where, "names", settings["names"], allow_one=False)
        repeated = sorted({name for name in names if names.count(name) > 1})
        if repeated:
            raise where.error("names", f"{repeated[0]!r} is given twice")
        entry["names"] = names
    if entry.get("header") is False and "names" not in entry:
        raise where.error("header", "header: false needs names: [...] (the column names, in "
                                    "file order)")
    if "names" in entry and entry.get("header", True):
        raise where.error("names", "names: is for files without a header line; add header: "
                                   "false (or map the headers in columns:)")
    for key in ("skip_lines", "skip_footer"):
        if settings.get(key) is not None:
            entry[key] = _count(where, key, settings[key])
    if settings.get("date_format") is not None:
        layouts = _text_list(where, "date_format", settings["date_format"])
        for index, layout in enumerate(layouts):
            problem = check_date_format(layout)
            if problem:
                key = "date_format" if len(layouts) == 1 else f"date_format[{index}]"
                raise where.error(key, problem)
        entry["date_format"] = layouts
    if settings.get("decimal") is not None:
        if settings["decimal"] not in (".", ","):
            raise where.error("decimal", f'must be "." or ",", got {settings["decimal"]!r}')
        entry["decimal"] = settings["decimal"]
    entry["columns"] = _check_mapping_columns(table, settings.get("columns") or {}, label,
                                              table_key)
    _check_rules(where, settings, entry)
    _check_computed(where, table, settings, entry)
    if table == "orders":
        _check_order_settings(where, settings, entry)
    if table == "customers" and settings.get("from_orders") not in (None, False):
        entry["from_orders"] = _check_from_orders(where, settings["from_orders"])
        others = [key for key in settings if key != "from_orders" and settings[key] is not None
                  and not (key == "columns" and not settings[key])]
        if others:
            raise where.error("from_orders", f"cannot be combined with {others[0]}: (the "
                                             f"customers are made from the orders)")
    return entry


def _check_rules(where: _Where, settings: Mapping[str, Any], entry: dict[str, Any]) -> None:
    rules = settings.get("rules")
    if rules is None:
        return
    if not isinstance(rules, list | tuple):
        raise where.error("rules", "must be a list of rules, e.g. [{drop: StockCode, in: "
                                   "[POST]}]")
    checked = []
    for index, rule in enumerate(rules):
        try:
            checked.append(parse_rule(rule))
        except RuleError as exc:
            key = f"rules[{index}]" + (f".{exc.key}" if exc.key else "")
            raise where.error(key, str(exc)) from None
    entry["rules"] = checked


def _check_computed(where: _Where, table: str, settings: Mapping[str, Any],
                    entry: dict[str, Any]) -> None:
    computed = settings.get("computed")
    if computed is None:
        return
    if not isinstance(computed, Mapping):
        raise where.error("computed", "must map new column names to expressions, e.g. "
                                      "{amount: Quantity * Price}")
    expressions = {}
    contract = [spec.name for spec in TABLE_SCHEMAS[table]]
    for name, text in computed.items():
        name_text = _text(where, "computed", name)
        key = f"computed.{name_text}"
        if isinstance(text, bool) or not isinstance(text, str | int | float):
            raise where.error(key, f"must be an expression such as Quantity * Price, got "
                                   f"{text!r}")
        try:
            expressions[name_text] = parse_expression(str(text))
        except ExpressionError as exc:
            raise where.error(key, f"cannot read {str(text)!r}: {exc}") from None
        if name_text in contract and name_text in entry["columns"]:
            raise where.error(key, f"{name_text} is also mapped in columns ({name_text}: "
                                   f"{entry['columns'][name_text]}); keep one of them")
    entry["computed"] = expressions


def _check_order_settings(where: _Where, settings: Mapping[str, Any],
                          entry: dict[str, Any]) -> None:
    order_id = settings.get("order_id")
    if order_id is not None:
        if order_id == "row_number":
            entry["order_id"] = "row_number"
        elif isinstance(order_id, list | tuple):
            entry["order_id"] = _text_list(where, "order_id", order_id, allow_one=False)
        else:
            raise where.error("order_id", f"must be row_number or a list of columns, e.g. "
                                          f"[customer_id, order_time]; got {order_id!r} (to "
                                          f"name the order id column, use columns: {{order_id: "
                                          f"...}})")
        if "order_id" in entry["columns"]:
            raise where.error("order_id", f"the order id is both made ({order_id}) and mapped "
                                          f"(columns: order_id: {entry['columns']['order_id']}); "
                                          f"keep one")
    line_items = settings.get("line_items")
    if line_items not in (None, False):
        if line_items is True:
            line_items = {}
        if not isinstance(line_items, Mapping):
            raise where.error("line_items", f"must be true or a map of {', '.join(_LINE_ITEM_KEYS)};"
                                            f" got {line_items!r}")
        unknown = [str(key) for key in line_items if key not in _LINE_ITEM_KEYS]
        if unknown:
            raise where.error(f"line_items.{unknown[0]}", f"unknown setting; allowed: "
                                                          f"{', '.join(_LINE_ITEM_KEYS)}")
        checked: dict[str, Any] = {"key": None, "amount": "lines", "fill": [],
                                   "refund_prefix": [], "refund_if_negative": None}
        if line_items.get("key") is not None:
            checked["key"] = _text(where, "line_items.key", line_items["key"])
            mapped = entry["columns"].get("order_id")
            if mapped is not None and mapped != checked["key"]:
                raise where.error("line_items.key", f"{checked['key']!r} differs from columns: "
                                                    f"order_id: {mapped}; give one")
            entry["columns"]["order_id"] = checked["key"]
        if line_items.get("amount") is not None:
            if line_items["amount"] not in ("lines", "order"):
                raise where.error("line_items.amount", f"must be lines (sum the line amounts) "
                                                       f"or order (the amount column is the "
                                                       f"order's), got {line_items['amount']!r}")
            checked["amount"] = line_items["amount"]
        if line_items.get("fill") is not None:
            checked["fill"] = _text_list(where, "line_items.fill", line_items["fill"])
        if line_items.get("refund_prefix") is not None:
            checked["refund_prefix"] = _text_list(where, "line_items.refund_prefix",
                                                  line_items["refund_prefix"])
        if line_items.get("refund_if_negative") is not None:
            checked["refund_if_negative"] = _text(where, "line_items.refund_if_negative",
                                                  line_items["refund_if_negative"])
        if "order_id" in entry:
            raise where.error("line_items", "cannot be combined with order_id: (line items "
                                            "need the order id of each line)")
        entry["line_items"] = checked


def _check_from_orders(where: _Where, value: Any) -> dict[str, str]:
    if value is True:
        return {}
    if not isinstance(value, Mapping):
        raise where.error("from_orders", f"must be true or a map such as {{address: 收货地址, "
                                         f"phone: 联系手机}}; got {value!r}")
    allowed = [spec.name for spec in TABLE_SCHEMAS["customers"] if spec.name != "customer_id"]
    allowed += list(_FROM_ORDERS_EXTRA)
    checked = {}
    for key, header in value.items():
        if key not in allowed:
            raise where.error(f"from_orders.{key}", f"unknown field; use {', '.join(allowed)}")
        if header is not None:
            checked[str(key)] = _text(where, f"from_orders.{key}", header)
    if "address" in checked and ("province" in checked or "city" in checked):
        raise where.error("from_orders.address", "give address (read into province and city) "
                                                 "or province/city columns, not both")
    return checked


def _check_mapping_columns(table: str, columns: Any, label: str,
                           table_key: str | None = None) -> dict[str, str]:
    table_key = table_key or table
    if not isinstance(columns, Mapping):
        raise DataError(f"{label}: {table_key}.columns must map contract columns to your "
                        f"headers, e.g. {{customer_id: 客户ID}}; got {columns!r}")
    known = [spec.name for spec in TABLE_SCHEMAS[table]]
    checked: dict[str, str] = {}
    for key, value in columns.items():
        key_text, value_text = str(key).strip(), "" if value is None else str(value).strip()
        if key_text in known:
            contract_column, header = key_text, value_text
        elif value_text in known:
            contract_column, header = value_text, key_text
        else:
            raise DataError(
                f"{label}: {table_key}.columns has {key_text!r}: {value_text!r}, but neither is "
                f"a {table} column. {table} columns are: {', '.join(known)}")
        if header:
            checked[contract_column] = header
    return checked


def _decode_small_text(raw_bytes: bytes) -> str:
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            return raw_bytes.decode(encoding)
        except UnicodeDecodeError:
            continue
    return raw_bytes.decode("utf-8", errors="replace")


def table_from_alias(name: str) -> str | None:
    key = normalize_header(name)
    for table, stems in TABLE_FILE_STEMS.items():
        if key in stems:
            return table
    return None


def match_columns(headers: list[str], table: str, explicit: Mapping[str, str],
                  file_label: str) -> tuple[dict[str, str], list[str]]:
    """Return ``{contract_column: header}`` and warnings about ambiguous headers."""
    normalized = [normalize_header(header) for header in headers]
    chosen: dict[str, str] = {}
    used: set[str] = set()
    for column, wanted in explicit.items():
        header = wanted if wanted in headers else next(
            (h for h, key in zip(headers, normalized, strict=True)
             if key == normalize_header(wanted)), None)
        if header is None:
            raise DataError(
                f"{file_label}: the mapping says {column} is in column {wanted!r}, but there is "
                f"no such column. Columns found: {', '.join(map(str, headers))}")
        chosen[column] = header
        used.add(header)
    found_warnings = []
    for spec in TABLE_SCHEMAS[table]:
        if spec.name in chosen:
            continue
        candidates: list[str] = []
        for synonym in (spec.name, *spec.synonyms):
            key = normalize_header(synonym)
            candidates.extend(h for h, header_key in zip(headers, normalized, strict=True)
                              if header_key == key and h not in used and h not in candidates)
        if candidates:
            chosen[spec.name] = candidates[0]
            used.add(candidates[0])
            if len(candidates) > 1:
                found_warnings.append(
                    f"{file_label}: columns {', '.join(repr(c) for c in candidates)} could all "
                    f"be {spec.name}; used {candidates[0]!r} (map another one in the mapping "
                    f"YAML to choose)")
    return chosen, found_warnings


_COLUMN_HINT_WORDS = {
    "id": ("id", "编号", "号", "编码", "code", "no"),
    "time": ("时间", "日期", "time", "date", "at"),
    "amount": ("金额", "价", "额", "amount", "price", "total", "收入", "revenue"),
    "category": ("类型", "类", "type", "分组", "group"),
}


def missing_columns_message(file_label: str, table: str, missing: list[str],
                            headers: list[str], chosen: Mapping[str, str]) -> str:
    recognised = ", ".join(f"{header} → {column}" for column, header in chosen.items())
    unmapped = [h for h in headers if h not in chosen.values()]
    example_lines = []
    for column in missing:
        kind = next(spec.kind for spec in TABLE_SCHEMAS[table] if spec.name == column)
        hints = _COLUMN_HINT_WORDS.get(kind, ())
        guess = next((h for h in unmapped if any(word in str(h).lower() for word in hints)), None)
        example_lines.append(f"      {column}: {guess if guess else '<your column name>'}"
                             + ("   # a guess — check it" if guess else ""))
    if "order_id" in missing:
        id_note = (" Orders need an order id to find duplicates and refunds; custops does not "
                   "invent one unless told: export the order number (订单号) with the orders, or "
                   "write `order_id: row_number` under orders in the mapping when each row is one "
                   "order.")
    else:
        id_note = ""
    layout_note = ""
    if len(headers) == 1 and len(str(headers[0]).split()) >= 2:
        layout_note = (f"\nThe file was read as one column ({headers[0]!r}): if its fields are "
                       f"separated by spaces, write `separator: whitespace` (and `header: false` "
                       f"with `names:` when the first line is data).")
    return (
        f"{file_label}: missing required {table} column(s): {', '.join(missing)}.{id_note}\n"
        f"Columns found: {', '.join(map(str, headers)) or '(none)'}\n"
        f"Recognised: {recognised or '(none)'}{layout_note}\n"
        f"Fix: let custops draft a mapping for this export with `custops validate --data "
        f"<your data> --suggest-mapping mapping.yaml`, or a shipped one with --preset (taobao, "
        f"online-retail, shopify, transaction-log); or rename the column in the file, or map it "
        f"in a mapping YAML passed with --mapping (mapping=... in Python):\n  {table}:\n"
        f"    columns:\n" + "\n".join(example_lines))
