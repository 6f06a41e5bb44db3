"""Map the user's headers onto the contract: mapping file, header normalization, column matching."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from custops.errors import DataError
from custops.io.contract import TABLE_FILE_STEMS, TABLE_NAMES, TABLE_SCHEMAS

__all__ = [
    "match_columns",
    "missing_columns_message",
    "normalize_header",
    "read_mapping",
    "table_from_alias",
]


_MAPPING_TABLE_KEYS = ("file", "sheet", "table", "encoding", "columns")


def read_mapping(mapping: Mapping[str, Any] | str | Path | None) -> dict[str, dict[str, Any]]:
    """Read and check a column mapping (a dict, or the path of a YAML file).

    Parameters
    ----------
    mapping : dict, str, Path or None
        ``{table: {"file": ..., "sheet": ..., "table": ..., "encoding": ..., "columns":
        {contract_column: your_header}}}``. ``columns`` may also be written the other way round
        (``{your_header: contract_column}``).

    Returns
    -------
    dict
        Table → settings, with ``columns`` as ``{contract_column: your_header}``; the YAML
        file's folder is kept under ``"_base"`` to resolve relative ``file`` paths.

    Raises
    ------
    DataError
        The file is missing or not valid YAML, or names an unknown table or column.
    """
    if mapping is None:
        return {}
    base: Path | None = None
    label = "mapping"
    if isinstance(mapping, str | Path):
        path = Path(mapping)
        label = str(path)
        if not path.is_file():
            raise DataError(f"mapping file {path} does not exist")
        raw_bytes = path.read_bytes()
        text = _decode_small_text(raw_bytes)
        try:
            mapping = yaml.safe_load(text) or {}
        except yaml.YAMLError as exc:
            raise DataError(f"mapping file {path} is not valid YAML: {exc}") from None
        base = path.parent
    if not isinstance(mapping, Mapping):
        raise DataError(f"{label}: expected `table: {{columns: {{...}}}}` at the top level, "
                        f"got {type(mapping).__name__}")
    checked: dict[str, dict[str, Any]] = {}
    for table_key, settings in mapping.items():
        table = table_from_alias(str(table_key))
        if table is None:
            raise DataError(f"{label}: unknown table {table_key!r}; use one of "
                            f"{', '.join(TABLE_NAMES)}")
        settings = settings or {}
        if not isinstance(settings, Mapping):
            raise DataError(f"{label}: {table_key} must hold file/columns settings, "
                            f"got {settings!r}")
        unknown_keys = [key for key in settings if key not in _MAPPING_TABLE_KEYS]
        if unknown_keys:
            raise DataError(f"{label}: {table_key} has unknown setting(s) {unknown_keys}; "
                            f"allowed: {', '.join(_MAPPING_TABLE_KEYS)}")
        entry: dict[str, Any] = {key: str(value) for key, value in settings.items()
                                 if key != "columns" and value is not None}
        entry["columns"] = _check_mapping_columns(table, settings.get("columns") or {}, label)
        if base is not None:
            entry["_base"] = base
        checked[table] = entry
    return checked


def _check_mapping_columns(table: str, columns: Any, label: str) -> dict[str, str]:
    if not isinstance(columns, Mapping):
        raise DataError(f"{label}: {table}.columns must map contract columns to your headers, "
                        f"e.g. {{customer_id: 客户ID}}; got {columns!r}")
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
                f"{label}: {table}.columns has {key_text!r}: {value_text!r}, but neither is a "
                f"{table} column. {table} columns are: {', '.join(known)}")
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


def normalize_header(header: Any) -> str:
    text = unicodedata.normalize("NFKC", str(header)).replace("\ufeff", "").replace("\u200b", "")
    without_unit = re.sub(r"[(\[【].*?[)\]】]", "", text)
    if without_unit.strip():
        text = without_unit
    return re.sub(r"[\s_\-./:·'\"]+", "", text).lower()


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
                   "invent one — export the order number (订单号) with the orders.")
    else:
        id_note = ""
    return (
        f"{file_label}: missing required {table} column(s): {', '.join(missing)}.{id_note}\n"
        f"Columns found: {', '.join(map(str, headers)) or '(none)'}\n"
        f"Recognised: {recognised or '(none)'}\n"
        f"Fix: rename the column in the file, or map it in a mapping YAML passed with --mapping "
        f"(mapping=... in Python):\n  {table}:\n    columns:\n" + "\n".join(example_lines))
