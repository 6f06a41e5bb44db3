"""Pick the reader for a source: folder, data file, workbook, DuckDB file or connection, ibis."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import duckdb
import ibis

from custops.errors import DataError
from custops.io.contract import DATABASE_SUFFIXES, TABLE_SUFFIXES
from custops.io.duckdb_reader import DuckDBReader
from custops.io.excel import WorkbookReader
from custops.io.files import DirectoryReader, SingleFileReader
from custops.io.ibis_reader import IbisReader
from custops.io.reader import Reader

__all__ = ["open_source"]


def open_source(source: Any, table_mappings: dict[str, dict[str, Any]]) -> Reader:
    if hasattr(source, "list_tables") and hasattr(source, "table"):
        return IbisReader(source, table_mappings)
    if isinstance(source, duckdb.DuckDBPyConnection):
        return DuckDBReader(source, table_mappings, label="DuckDB connection")
    if isinstance(source, str) and source.lower().startswith("duckdb://"):
        # read DuckDB files ourselves (read-only, no ibis needed)
        return open_source(Path(source[len("duckdb://"):]), table_mappings)
    if isinstance(source, str) and "://" in source:
        try:
            connection = ibis.connect(source)
        except Exception as exc:  # noqa: BLE001 - any backend error becomes a user message
            raise DataError(f"cannot connect to {source}: {exc}") from None
        return IbisReader(connection, table_mappings, label=source)
    if not isinstance(source, str | Path):
        raise DataError(f"cannot read data from a {type(source).__name__}; pass a folder, a "
                        f"DuckDB file or an ibis connection")
    path = Path(source).expanduser()
    if path.is_dir() and not path.name.lower().endswith(".parquet"):
        return DirectoryReader(path, table_mappings)
    if not path.exists():
        raise DataError(f"{path} does not exist; --data must be a data folder, a DuckDB file "
                        f"(.duckdb) or a data file")
    suffix = path.suffix.lower()
    if suffix in DATABASE_SUFFIXES:
        return DuckDBReader(path, table_mappings, label=str(path))
    if suffix in (".xlsx", ".xlsm"):
        return WorkbookReader(path, table_mappings)
    if path.name.lower().endswith(TABLE_SUFFIXES):
        return SingleFileReader(path, table_mappings)
    raise DataError(f"{path}: cannot read {suffix or 'this'} files; use a folder of .csv, .xlsx or "
                    f".parquet files, or a DuckDB database (.duckdb)")
