"""Read .xlsx workbooks: a sheet per table, cells as text, rows numbered as on the sheet."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import openpyxl
import pandas as pd

from custops.errors import DataError
from custops.io.contract import STRING_DTYPE
from custops.io.mapping import table_from_alias
from custops.io.reader import RawTable, Reader, blank_rows, count_title_rows

__all__ = ["WorkbookReader", "read_xlsx", "sheet_options"]


def _excel_cell_text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() and abs(value) < 1e15 else repr(value)
    if hasattr(value, "isoformat"):
        return value.isoformat(sep=" ") if hasattr(value, "hour") and hasattr(
            value, "year") else value.isoformat()
    return str(value)


def read_xlsx(path: Path, table: str, sheet: str | None, *, header: bool = True,
              names: list[str] | None = None, skip_lines: int | None = None,
              skip_footer: int = 0) -> RawTable:
    """Read one sheet as text, rows numbered as on the sheet.

    ``header=False`` reads the first row as data, with ``names``; ``skip_lines`` sheet rows
    above the header are skipped (instead of detecting title rows); ``skip_footer`` drops the
    last non-blank rows.
    """
    try:
        workbook = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:  # noqa: BLE001 - openpyxl raises many types for bad files
        raise DataError(f"{path}: cannot open the workbook ({exc}); save it again as .xlsx "
                        f"in Excel") from None
    try:
        if sheet is not None and sheet not in workbook.sheetnames:
            raise DataError(f"{path}: no sheet {sheet!r}; sheets: {', '.join(workbook.sheetnames)}")
        if sheet is None:
            matching = [name for name in workbook.sheetnames if table_from_alias(name) == table]
            sheet = matching[0] if matching else workbook.sheetnames[0]
        worksheet = workbook[sheet]
        sheet_count = len(workbook.sheetnames)
        sheet_rows = [(number, [_excel_cell_text(value) for value in cells])
                      for number, cells in enumerate(worksheet.iter_rows(values_only=True), 1)
                      if any(value is not None and str(value).strip() for value in cells)]
    finally:
        workbook.close()
    label = f"{path.name}[{sheet}]" if sheet_count > 1 else path.name
    if not sheet_rows:
        return RawTable(table, label, f"{path} sheet {sheet}", pd.DataFrame(),
                        np.zeros(0, np.int64))
    warnings_found = []
    if skip_lines is not None:
        sheet_rows = [(number, cells) for number, cells in sheet_rows if number > skip_lines]
        header_index = 0
    elif header:
        header_index = count_title_rows(cells for _, cells in sheet_rows)
        if header_index:
            warnings_found.append(f"{label}: skipped {header_index} title row(s) above the "
                                  f"header")
    else:
        header_index = 0
    if header and header_index < len(sheet_rows):
        header_cells = sheet_rows[header_index][1]
        while header_cells and (header_cells[-1] is None or not header_cells[-1].strip()):
            header_cells = header_cells[:-1]
        headers = [cell.strip() if cell and cell.strip() else f"Unnamed: {i}"
                   for i, cell in enumerate(header_cells)]
        data = sheet_rows[header_index + 1:]
    else:
        headers = list(names or [])
        data = sheet_rows[header_index:] if not header else []
    if skip_footer:
        data = data[:max(0, len(data) - skip_footer)]
        warnings_found.append(f"{label}: skipped {skip_footer} footer row(s)")
    width = len(headers)
    columns = {header: [(cells[i] if i < len(cells) else None) for _, cells in data]
               for i, header in enumerate(headers)}
    frame = pd.DataFrame({name: pd.Series(values, dtype=STRING_DTYPE)
                          for name, values in columns.items()})
    rows = np.asarray([number for number, _ in data], dtype=np.int64)
    if width and len(data):
        keep = ~blank_rows(frame)
        frame, rows = frame.loc[keep].reset_index(drop=True), rows[keep]
    return RawTable(table, label, f"{path} sheet {sheet}", frame, rows, warnings=warnings_found)


def sheet_options(settings: dict[str, Any]) -> dict[str, Any]:
    """The reading settings of a mapping's table block that apply to a sheet."""
    return {"header": settings.get("header", True), "names": settings.get("names"),
            "skip_lines": settings.get("skip_lines"), "skip_footer": settings.get("skip_footer", 0)}


class WorkbookReader(Reader):
    """An .xlsx workbook: sheets named after the tables, or a single sheet of orders."""

    def __init__(self, path: Path, table_mappings: dict[str, dict[str, Any]]) -> None:
        super().__init__()
        self.path = path
        self.label = str(path)
        self.table_mappings = table_mappings
        try:
            workbook = openpyxl.load_workbook(path, read_only=True, data_only=True)
            self.sheet_names = list(workbook.sheetnames)
            workbook.close()
        except Exception as exc:  # noqa: BLE001 - openpyxl raises many types for bad files
            raise DataError(f"{path}: cannot open the workbook ({exc}); save it again as .xlsx "
                            f"in Excel") from None

    def _sheet_for(self, table: str) -> str | None:
        wanted = self.table_mappings.get(table, {}).get("sheet")
        if wanted:
            if wanted not in self.sheet_names:
                raise DataError(f"{self.path}: no sheet {wanted!r}; sheets: "
                                f"{', '.join(self.sheet_names)}")
            return wanted
        for name in self.sheet_names:
            if table_from_alias(name) == table:
                return name
        if table == "orders" and len(self.sheet_names) == 1:
            return self.sheet_names[0]
        return None

    def read(self, table: str) -> RawTable | None:
        sheet = self._sheet_for(table)
        if sheet is None:
            return None
        settings = self.table_mappings.get(table, {})
        return read_xlsx(self.path, table, sheet, **sheet_options(settings))

    def missing_orders_message(self) -> str:
        return (f"{self.path}: no sheet named orders (or 订单); sheets: "
                f"{', '.join(self.sheet_names)}. Rename the sheet, or set `orders: {{sheet: ...}}` "
                f"in a mapping YAML")
