"""Read the tables of a DuckDB database file (read-only) or of an open DuckDB connection."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import duckdb

from custops.errors import DataError
from custops.io.mapping import table_from_alias
from custops.io.reader import RawTable, Reader, raw_from_frame

__all__ = ["DuckDBReader"]


class DuckDBReader(Reader):
    def __init__(self, source: Any, table_mappings: dict[str, dict[str, Any]], label: str) -> None:
        super().__init__()
        self.label = label
        self.table_mappings = table_mappings
        self.owns_connection = isinstance(source, Path)
        if self.owns_connection:
            try:
                self.connection = duckdb.connect(str(source), read_only=True)
            except duckdb.Error as exc:
                raise DataError(f"{source}: cannot open as a DuckDB database ({exc})") from None
        else:
            self.connection = source
        rows = self.connection.execute(
            "select table_schema, table_name from information_schema.tables "
            "order by table_schema = 'main' desc, table_name").fetchall()
        self.table_names = [(schema, name) for schema, name in rows]

    def _find(self, table: str) -> tuple[str, str] | None:
        wanted = self.table_mappings.get(table, {}).get("table")
        for schema, name in self.table_names:
            if (name == wanted) if wanted else (table_from_alias(name) == table):
                return schema, name
        if wanted:
            raise DataError(f"{self.label}: no table {wanted!r}; tables: {self._table_list()}")
        return None

    def _table_list(self) -> str:
        return ", ".join(name for _, name in self.table_names) or "(no tables)"

    def read(self, table: str) -> RawTable | None:
        found = self._find(table)
        if found is None:
            return None
        schema, name = found
        frame = self.connection.execute(f'select * from "{schema}"."{name}"').df()
        database = Path(self.label).name if self.owns_connection else "duckdb"
        return raw_from_frame(frame, table, f"{database}:{name}", f"{self.label} table {name}")

    def missing_orders_message(self) -> str:
        return (f"no orders table in {self.label}. Tables found: {self._table_list()}. Name the "
                f"table orders, or set `orders: {{table: ...}}` in a mapping YAML")

    def close(self) -> None:
        if self.owns_connection:
            self.connection.close()
