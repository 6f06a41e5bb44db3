"""Read the tables of an ibis connection (any backend with list_tables and table)."""

from __future__ import annotations

from typing import Any

from custops.errors import DataError
from custops.io.mapping import table_from_alias
from custops.io.reader import RawTable, Reader, raw_from_frame

__all__ = ["IbisReader"]


class IbisReader(Reader):
    def __init__(self, connection: Any, table_mappings: dict[str, dict[str, Any]],
                 label: str | None = None) -> None:
        super().__init__()
        self.connection = connection
        self.table_mappings = table_mappings
        self.label = label or f"ibis {getattr(connection, 'name', type(connection).__name__)}"
        self.table_names = list(connection.list_tables())

    def read(self, table: str) -> RawTable | None:
        wanted = self.table_mappings.get(table, {}).get("table")
        matches = [name for name in self.table_names
                   if (name == wanted if wanted else table_from_alias(name) == table)]
        if not matches:
            if wanted:
                raise DataError(f"{self.label}: no table {wanted!r}; tables: "
                                f"{', '.join(self.table_names)}")
            return None
        frame = self.connection.table(matches[0]).to_pandas()
        return raw_from_frame(frame, table, f"ibis:{matches[0]}", f"{self.label} {matches[0]}")

    def missing_orders_message(self) -> str:
        return (f"no orders table in {self.label}. Tables found: "
                f"{', '.join(self.table_names) or '(none)'}. Name the table orders, or set "
                f"`orders: {{table: ...}}` in a mapping YAML")
