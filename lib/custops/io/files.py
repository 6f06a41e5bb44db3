"""Read a folder of data files, or a single data file, table by table."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from custops.errors import DataError
from custops.io.contract import TABLE_FILE_STEMS, TABLE_SUFFIXES
from custops.io.csv_text import read_csv
from custops.io.excel import read_xlsx
from custops.io.mapping import normalize_header, table_from_alias
from custops.io.reader import RawTable, Reader, raw_from_frame

__all__ = ["DirectoryReader", "SingleFileReader"]


class DirectoryReader(Reader):
    def __init__(self, directory: Path, table_mappings: dict[str, dict[str, Any]]) -> None:
        super().__init__()
        self.directory = directory
        self.label = str(directory)
        self.table_mappings = table_mappings
        self.files = sorted(
            (p for p in directory.iterdir()
             if not p.name.startswith((".", "~$")) and (p.is_file() or p.suffix == ".parquet")),
            key=lambda p: p.name)

    def _find_file(self, table: str) -> Path | None:
        settings = self.table_mappings.get(table, {})
        if "file" in settings:
            wanted = Path(settings["file"]).expanduser()
            bases = [self.directory] + ([settings["_base"]] if "_base" in settings else [])
            candidates = [wanted] if wanted.is_absolute() else [b / wanted for b in bases]
            for candidate in candidates:
                if candidate.exists():
                    return candidate
            raise DataError(
                f"the mapping says {table} are in {settings['file']!r}, but there is no such file "
                f"in {self.directory}. Files found: {self._file_list()}")
        candidates = [p for p in self.files if _table_for_file(p) == table]
        old_excel = [p for p in self.files
                     if p.suffix.lower() == ".xls" and normalize_header(p.stem)
                     in TABLE_FILE_STEMS[table]]
        if not candidates and old_excel:
            raise DataError(f"{old_excel[0]}: old .xls workbooks cannot be read; open it in Excel "
                            f"and save it as .xlsx (or export CSV)")
        if len(candidates) > 1:
            self.warnings.append(
                f"several {table} files found ({', '.join(p.name for p in candidates)}); using "
                f"{candidates[0].name} — set `{table}: {{file: ...}}` in the mapping to choose")
        return candidates[0] if candidates else None

    def _file_list(self) -> str:
        return ", ".join(p.name for p in self.files) or "(the folder is empty)"

    def read(self, table: str) -> RawTable | None:
        path = self._find_file(table)
        if path is None:
            return None
        return _read_table_file(path, table, self.table_mappings.get(table, {}))

    def missing_orders_message(self) -> str:
        return (f"no orders table in {self.directory}. Files found: {self._file_list()}. "
                f"Name the orders file orders.csv (or orders.xlsx / orders.parquet), or point to "
                f"it in a mapping YAML passed with --mapping:\n  orders:\n    file: 订单导出.csv")


class SingleFileReader(Reader):
    """A single data file: it holds the orders."""

    def __init__(self, path: Path, table_mappings: dict[str, dict[str, Any]]) -> None:
        super().__init__()
        self.path = path
        self.label = str(path)
        self.table_mappings = table_mappings

    def read(self, table: str) -> RawTable | None:
        if table != "orders":
            return None
        return _read_table_file(self.path, table, self.table_mappings.get(table, {}))

    def missing_orders_message(self) -> str:  # pragma: no cover - orders always present
        return f"no orders in {self.path}"


def _table_for_file(path: Path) -> str | None:
    name = path.name.lower()
    for suffix in TABLE_SUFFIXES:
        if name.endswith(suffix):
            return table_from_alias(path.name[: -len(suffix)])
    return None


def _read_table_file(path: Path, table: str, settings: Mapping[str, Any]) -> RawTable:
    name = path.name.lower()
    if name.endswith((".xlsx", ".xlsm")):
        return read_xlsx(path, table, settings.get("sheet"))
    if name.endswith((".parquet", ".pq")):
        try:
            frame = pd.read_parquet(path)
        except Exception as exc:  # noqa: BLE001 - pyarrow raises many types for bad files
            raise DataError(f"{path}: cannot read as Parquet ({exc})") from None
        raw = raw_from_frame(frame, table, path.name, str(path))
        raw.rows = np.arange(1, len(frame) + 1)
        return raw
    return read_csv(path, table, settings.get("encoding"))
