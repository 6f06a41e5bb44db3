"""Small vectorized helpers of the generator: codes, fixed-width ids, Arrow strings."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa

__all__ = ["STRING_DTYPE", "bytes_to_strings", "digits", "draw_codes", "draw_codes_by_row", "format_ids", "group_bounds", "string_series", "take_strings"]


def bytes_to_strings(matrix: np.ndarray) -> pa.Array:
    """Rows of a uint8 matrix (fixed-width ASCII) → an Arrow string array, without Python."""
    n, width = matrix.shape
    offsets = np.arange(n + 1, dtype=np.int64) * width
    data = pa.py_buffer(np.ascontiguousarray(matrix))
    if offsets[-1] < 2**31 - 1:
        return pa.StringArray.from_buffers(n, pa.py_buffer(offsets.astype(np.int32)), data)
    return pa.LargeStringArray.from_buffers(n, pa.py_buffer(offsets), data)


def digits(numbers: np.ndarray, width: int) -> np.ndarray:
    """Zero-padded decimal digits of non-negative integers as a uint8 matrix."""
    out = np.empty((len(numbers), width), dtype=np.uint8)
    rest = numbers.astype(np.int64).copy()
    for position in range(width - 1, -1, -1):
        out[:, position] = rest % 10 + ord("0")
        rest //= 10
    return out


def format_ids(prefix: str, numbers: np.ndarray, width: int) -> pa.Array:
    head = np.frombuffer(prefix.encode("ascii"), dtype=np.uint8)
    matrix = np.hstack([np.broadcast_to(head, (len(numbers), len(head))),
                        digits(numbers, width)])
    return bytes_to_strings(matrix)


#: pandas' default string dtype (``str``, missing = NaN), as ``custops.io.dataset.load_dataset`` returns.
STRING_DTYPE = pd.StringDtype("pyarrow", na_value=np.nan)


def string_series(values: pa.Array) -> pd.Series:
    """Arrow strings → a pandas ``str`` Series (no copy through Python objects)."""
    return pd.Series(pd.arrays.ArrowStringArray(values, dtype=STRING_DTYPE))


def take_strings(vocabulary: tuple[str | None, ...] | list, codes: np.ndarray) -> pd.Series:
    return string_series(pa.array(list(vocabulary), type=pa.string()).take(pa.array(codes)))


def draw_codes(rng: np.random.Generator, weights: np.ndarray, size: int) -> np.ndarray:
    """Draw category codes 0..k-1 with the given weights (normalized)."""
    cumulative = np.cumsum(np.asarray(weights, dtype=float))
    cumulative /= cumulative[-1]
    codes = np.searchsorted(cumulative, rng.random(size), side="right")
    return np.minimum(codes, len(cumulative) - 1).astype(np.int16)


def draw_codes_by_row(rng: np.random.Generator, weight_rows: np.ndarray,
                      row_of_item: np.ndarray) -> np.ndarray:
    """Draw one code per item from the weight row it points at (few distinct rows)."""
    codes = np.empty(len(row_of_item), dtype=np.int16)
    draws = rng.random(len(row_of_item))
    cumulative = np.cumsum(weight_rows, axis=1)
    cumulative /= cumulative[:, -1:]
    for row in range(weight_rows.shape[0]):
        mask = row_of_item == row
        codes[mask] = np.searchsorted(cumulative[row], draws[mask], side="right")
    return np.minimum(codes, weight_rows.shape[1] - 1)


def group_bounds(counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    ends = np.cumsum(counts)
    return ends - counts, ends
