"""Read a folder of data files, or a single data file, table by table."""

from __future__ import annotations

import glob
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from custops.errors import DataError
from custops.io.contract import TABLE_FILE_STEMS, TABLE_SUFFIXES
from custops.io.csv_text import read_csv
from custops.io.duckdb_checks import checks_in_duckdb, lazy_parquet_table
from custops.io.excel import read_xlsx, sheet_options
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

    def _find_files(self, table: str) -> list[Path]:
        """The files of ``table``: the mapping's ``file`` (a path or a glob, relative to the
        data folder), else the file named after the table."""
        settings = self.table_mappings.get(table, {})
        if "file" in settings:
            wanted = Path(settings["file"]).expanduser()
            pattern = wanted if wanted.is_absolute() else self.directory / wanted
            if glob.has_magic(settings["file"]):
                matches = sorted((Path(found) for found in glob.glob(str(pattern))
                                  if not Path(found).name.startswith((".", "~$"))),
                                 key=lambda found: str(found))
                if matches:
                    return matches
            elif pattern.exists():
                return [pattern]
            raise DataError(
                f"the mapping says {table} are in {settings['file']!r}, but "
                f"{'no file matches it' if glob.has_magic(settings['file']) else 'there is no such file'}"
                f" in {self.directory} (file: is relative to the data folder). "
                f"Files found: {self._file_list()}")
        found = self._find_file(table)
        return [found] if found is not None else []

    def _find_file(self, table: str) -> Path | None:
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
        paths = self._find_files(table)
        if not paths:
            return None
        settings = self.table_mappings.get(table, {})
        lazy = self.duckdb_min_rows if len(paths) == 1 else None
        parts = [_read_table_file(path, table, settings, lazy) for path in paths]
        return parts[0] if len(parts) == 1 else concat_raw_tables(parts, settings["file"])

    def missing_orders_message(self) -> str:
        return (f"no orders table in {self.directory}. Files found: {self._file_list()}. "
                f"Name the orders file orders.csv (or orders.xlsx / orders.parquet), or point to "
                f"it in a mapping YAML passed with --mapping:\n  orders:\n    file: 订单导出.csv\n"
                f"custops validate --data {self.directory} --suggest-mapping mapping.yaml drafts "
                f"such a mapping; --preset reads a platform's export as it comes (taobao, "
                f"online-retail, shopify, transaction-log)")


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
        return _read_table_file(self.path, table, self.table_mappings.get(table, {}),
                                self.duckdb_min_rows)

    def missing_orders_message(self) -> str:  # pragma: no cover - orders always present
        return f"no orders in {self.path}"


def _table_for_file(path: Path) -> str | None:
    name = path.name.lower()
    for suffix in TABLE_SUFFIXES:
        if name.endswith(suffix):
            return table_from_alias(path.name[: -len(suffix)])
    return None


def concat_raw_tables(parts: list[RawTable], pattern: str) -> RawTable:
    """Several files of one table (a ``file:`` glob) as one table; each row keeps its file."""
    columns = [list(part.frame.columns) for part in parts if part.frame.shape[1]]
    for part in parts:
        if part.frame.shape[1] and list(part.frame.columns) != columns[0]:
            raise DataError(
                f"file: {pattern!r} matches files with different columns: {parts[0].file_label} "
                f"has {', '.join(columns[0])}; {part.file_label} has "
                f"{', '.join(map(str, part.frame.columns))}. Make the glob match one kind of "
                f"export")
    frames = [part.frame for part in parts if part.frame.shape[1]]
    frame = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
    row_files = np.concatenate([np.full(len(part.frame), part.file_label, dtype=object)
                                for part in parts if part.frame.shape[1]] or
                               [np.zeros(0, dtype=object)])
    rows = np.concatenate([part.rows for part in parts if part.frame.shape[1]] or
                          [np.zeros(0, np.int64)])
    structural = [(row, line, part.file_label) for part in parts
                  for row, line, *_ in part.structural_rejects]
    details: dict[str, Any] = {}
    for part in parts:
        for key, value in part.details.items():
            details.setdefault(key, value)
    details["files"] = [part.file_label for part in parts]
    return RawTable(parts[0].table, " + ".join(part.file_label for part in parts),
                    ", ".join(part.source for part in parts), frame, rows, structural, details,
                    [warning for part in parts for warning in part.warnings],
                    row_files=row_files)


def _read_table_file(path: Path, table: str, settings: Mapping[str, Any],
                     duckdb_min_rows: int | None = None) -> RawTable:
    name = path.name.lower()
    if name.endswith((".xlsx", ".xlsm")):
        return read_xlsx(path, table, settings.get("sheet"), **sheet_options(settings))
    if name.endswith((".parquet", ".pq")):
        if duckdb_min_rows is not None and checks_in_duckdb(table, settings):
            lazy = lazy_parquet_table(path, table, duckdb_min_rows)
            if lazy is not None:
                return lazy
        try:
            frame = pd.read_parquet(path)
        except Exception as exc:  # noqa: BLE001 - pyarrow raises many types for bad files
            raise DataError(f"{path}: cannot read as Parquet ({exc})") from None
        raw = raw_from_frame(frame, table, path.name, str(path))
        raw.rows = np.arange(1, len(frame) + 1)
        return raw
    return read_csv(path, table, settings.get("encoding"), separator=settings.get("separator"),
                    header=settings.get("header", True), names=settings.get("names"),
                    skip_lines=settings.get("skip_lines"),
                    skip_footer=settings.get("skip_footer", 0))
