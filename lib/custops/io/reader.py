"""What every reader shares: the raw table it returns, the Reader base, blank rows, title rows."""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from custops.io.contract import STRING_DTYPE
from custops.io.parse import as_bool_array

__all__ = [
    "TITLE_SCAN_ROWS",
    "RawTable",
    "Reader",
    "blank_rows",
    "count_title_rows",
    "raw_from_frame",
]


@dataclass
class RawTable:
    """A table as read, before mapping and parsing."""

    table: str
    file_label: str  # shown in the rejects "file" column
    source: str  # full description for the summary
    frame: pd.DataFrame
    rows: np.ndarray  # the user's row number for each frame row
    # (row, raw line), or (row, raw line, file label) when the table comes from several files
    structural_rejects: list[tuple] = field(default_factory=list)
    details: dict[str, Any] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    row_files: np.ndarray | None = None  # the file label of each row, when there are several
    # A large Parquet table left on disk for DuckDB to check (custops.io.duckdb_checks):
    # ``frame`` then has the columns and dtypes but no rows, and ``lazy_rows`` is its length.
    parquet_path: Path | None = None
    lazy_rows: int = 0

    def file_of_rows(self, positions: np.ndarray) -> Any:
        """The file label of the rows at ``positions`` (one label, or an array of labels)."""
        if self.row_files is None:
            return self.file_label
        return self.row_files[positions]

    def take(self, keep: np.ndarray) -> RawTable:
        """The same table with only the rows where ``keep`` is true."""
        return RawTable(self.table, self.file_label, self.source,
                        self.frame.loc[keep].reset_index(drop=True), self.rows[keep],
                        self.structural_rejects, self.details, self.warnings,
                        None if self.row_files is None else self.row_files[keep])


class Reader:
    """The tables of one source: :meth:`read` returns a table, or None when it is not there."""

    label = ""

    def __init__(self) -> None:
        self.warnings: list[str] = []
        # Parquet tables of at least this many rows are left on disk for DuckDB to check
        # (None: every table is read into pandas); set by load_dataset.
        self.duckdb_min_rows: int | None = None

    def read(self, table: str) -> RawTable | None:  # pragma: no cover - interface
        raise NotImplementedError

    def missing_orders_message(self) -> str:  # pragma: no cover - interface
        raise NotImplementedError

    def close(self) -> None:
        """Release connections opened by the reader."""


def raw_from_frame(frame: pd.DataFrame, table: str, file_label: str, source: str) -> RawTable:
    frame = frame.reset_index(drop=True)
    frame.columns = [str(column) for column in frame.columns]
    return RawTable(table, file_label, source, frame, np.arange(1, len(frame) + 1))


def blank_rows(frame: pd.DataFrame) -> np.ndarray:
    """Rows whose every field is empty; each column is checked only on rows still blank."""
    if not len(frame.columns):
        return np.zeros(len(frame), dtype=bool)
    candidates = np.arange(len(frame))
    for column in frame.columns:
        values = frame[column].iloc[candidates]
        empty = values.isna() | (values.astype(STRING_DTYPE).str.strip() == "")
        candidates = candidates[as_bool_array(empty)]
        if not len(candidates):
            break
    blank = np.zeros(len(frame), dtype=bool)
    blank[candidates] = True
    return blank


TITLE_SCAN_ROWS = 20  # title rows are looked for among the first rows only


def count_title_rows(rows: Iterable[Sequence[str | None]]) -> int:
    """Return how many title rows sit above the header (CRM exports often add a report title).

    ``rows`` are the cells of the first rows (only the first :data:`TITLE_SCAN_ROWS` are read).
    The header is the first row with at least two non-blank cells and at least half as many as
    the widest row; when no row has two non-blank cells, there is no title.
    """
    counts = [sum(1 for cell in cells if cell is not None and cell.strip())
              for cells in itertools.islice(rows, TITLE_SCAN_ROWS)]
    widest = max(counts, default=0)
    if widest < 2:
        return 0
    return next(index for index, count in enumerate(counts)
                if count >= max(2, math.ceil(0.5 * widest)))
