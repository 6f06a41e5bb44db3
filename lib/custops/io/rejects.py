"""The rejects table: its columns, an empty one, and the collector giving each row one reason."""

from __future__ import annotations

import numpy as np
import pandas as pd

from custops.io.contract import STRING_DTYPE

__all__ = ["REJECTS_COLUMNS", "RejectCollector", "empty_rejects"]


REJECTS_COLUMNS = ("table", "file", "row", "column", "reason", "value")


def empty_rejects() -> pd.DataFrame:
    """Return a rejects table with no rows, with the columns and dtypes of a full one."""
    frame = pd.DataFrame({name: pd.Series(dtype=STRING_DTYPE) for name in REJECTS_COLUMNS})
    frame["row"] = frame["row"].astype("int64")
    return frame


class RejectCollector:
    """Give each row at most one reason: the first check that flags it."""

    def __init__(self, row_count: int) -> None:
        self.code = np.zeros(row_count, dtype=np.int32)
        self.reasons: list[tuple[str, str, str | None]] = []  # (reason, column, source header)

    def flag(self, mask: np.ndarray, reason: str, column: str, header: str | None) -> None:
        new = np.asarray(mask, dtype=bool) & (self.code == 0)
        if new.any():
            self.reasons.append((reason, column, header))
            self.code[new] = len(self.reasons)

    @property
    def rejected(self) -> np.ndarray:
        return self.code != 0

    def to_frame(self, table: str, file_label: str, rows: np.ndarray, raw: pd.DataFrame,
                 row_files: np.ndarray | None = None) -> pd.DataFrame:
        parts = []
        for number, (reason, column, header) in enumerate(self.reasons, start=1):
            positions = np.flatnonzero(self.code == number)
            if header is not None and header in raw.columns:
                raw_values = raw[header].iloc[positions]
                values = raw_values.astype(STRING_DTYPE).fillna("").to_numpy(dtype=object)
            else:
                values = np.full(len(positions), "", dtype=object)
            files = file_label if row_files is None else row_files[positions]
            parts.append(pd.DataFrame({"table": table, "file": files,
                                       "row": rows[positions], "column": column,
                                       "reason": reason, "value": values}))
        if not parts:
            return empty_rejects()
        return pd.concat(parts, ignore_index=True)
