"""Read delimited text files: encoding, delimiter, title lines, bad lines and true line numbers."""

from __future__ import annotations

import codecs
import contextlib
import csv
import io
import re
import threading
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from charset_normalizer import from_bytes

from custops.errors import DataError
from custops.io.contract import STRING_DTYPE
from custops.io.parse import as_bool_array
from custops.io.reader import TITLE_SCAN_ROWS, RawTable, blank_rows, count_title_rows

__all__ = ["READ_GATE", "WHITESPACE", "detect_delimiter", "drop_footer", "read_csv"]


_HEAD_BYTES = 1 << 20


def _detect_encoding(head: bytes) -> str:
    if head.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            codecs.getincrementaldecoder(encoding)().decode(head, final=False)
            return encoding
        except UnicodeDecodeError:
            continue
    best = from_bytes(head).best()
    if best is None:
        raise DataError("cannot tell the text encoding")
    return best.encoding


def _count_lines(path: Path) -> int:
    """Count physical lines: newline characters, plus one for a last line without a newline."""
    newlines, last_byte = 0, b"\n"
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 24):
            newlines += chunk.count(b"\n")
            last_byte = chunk[-1:]
    return newlines + (0 if last_byte == b"\n" else 1)


WHITESPACE = "whitespace"  # the separator setting for space-aligned files


def _split_lines(lines: list[str], delimiter: str) -> list[list[str]]:
    if delimiter == WHITESPACE:
        return [line.split() for line in lines]
    return list(csv.reader(lines, delimiter=delimiter))


def _title_lines(head_text: str, delimiter: str) -> int:
    """Return how many title lines sit above the header (the title-row rule shared with Excel)."""
    lines = head_text.splitlines()[:TITLE_SCAN_ROWS]
    return count_title_rows(_split_lines(lines, delimiter))


def detect_delimiter(path: Path, first_line: str) -> str:
    """The separator of a text file: tab for ``.tsv``, else the most frequent of , tab ; | in
    the first line (comma when none is there)."""
    delimiter = "\t" if path.suffix.lower() == ".tsv" else max(
        (",", "\t", ";", "|"), key=first_line.count)
    return delimiter if first_line.count(delimiter) else ","


def read_csv(path: Path, table: str, encoding: str | None = None, *,
             separator: str | None = None, header: bool = True, names: list[str] | None = None,
             skip_lines: int | None = None, skip_footer: int = 0) -> RawTable:
    """Read a delimited text file as text, rows numbered by their line in the file.

    ``separator`` (``","``, ``";"``, ``"\\t"``, ``"|"`` or ``"whitespace"``) replaces the
    detection; ``header=False`` reads the first line as data, with ``names``; ``skip_lines``
    replaces the title-line detection; ``skip_footer`` drops the last non-blank lines.
    """
    with path.open("rb") as handle:
        head = handle.read(_HEAD_BYTES)
    warnings_found: list[str] = []
    if not head.strip():
        return RawTable(table, path.name, str(path), pd.DataFrame(), np.zeros(0, np.int64),
                        details={"encoding": None})
    try:
        encoding = encoding or _detect_encoding(head)
    except DataError:
        raise DataError(f"{path}: cannot tell the text encoding; save it as UTF-8 CSV "
                        f"(Excel: 另存为 → CSV UTF-8) or set `encoding:` in the mapping") from None
    head_text = head.decode(encoding, errors="ignore")
    first_line = head_text.splitlines()[0] if head_text else ""
    delimiter = separator or detect_delimiter(path, first_line)
    header_rows = 1 if header else 0
    if skip_lines is not None:
        title_lines = skip_lines
    else:
        title_lines = _title_lines(head_text, delimiter) if header else 0
        if title_lines:
            warnings_found.append(
                f"{path.name}: skipped {title_lines} title line(s) above the header")

    if delimiter == WHITESPACE:
        raw = _read_whitespace(path, table, encoding, title_lines, header, names)
        raw.warnings[:0] = warnings_found
        if skip_footer:
            raw.frame, raw.rows, raw.structural_rejects = drop_footer(
                raw.frame, raw.rows, raw.structural_rejects, skip_footer)
            raw.warnings.append(f"{path.name}: skipped {skip_footer} footer line(s)")
        return raw
    fallbacks = [encoding] + [e for e in ("utf-8-sig", "gb18030") if e != encoding]
    frame: pd.DataFrame | None = None
    bad_lines: list[int] = []
    overflow_columns: list[str] = []
    is_utf16 = encoding.startswith("utf-16")
    physical_lines = (path.read_text(encoding=encoding).count("\n") + 1 if is_utf16
                      else _count_lines(path))
    for attempt, candidate in enumerate(fallbacks + [encoding]):
        encoding_errors = "replace" if attempt == len(fallbacks) else "strict"
        if encoding_errors == "strict" and not is_utf16 and delimiter != WHITESPACE:
            frame = _read_csv_fast(path, candidate, delimiter, title_lines, physical_lines,
                                   names if not header else None)
            if frame is not None:
                bad_lines = []
                break
        try:
            frame, bad_lines, truncated = _read_csv_frame(
                path, candidate, delimiter, title_lines, encoding_errors,
                names if not header else None)
            if truncated:
                # The first data row has more fields than the header (a trailing delimiter, or
                # an unquoted 1,234): read the wider rows whole and judge them below.
                header_cells, first_row = _header_and_first_row(head_text, delimiter,
                                                                title_lines, header)
                wide_names = _unique_names(header_cells if header else list(names or []))
                overflow_columns = [f"__overflow_{i}"
                                    for i in range(len(first_row) - len(wide_names))]
                frame, bad_lines, _ = _read_csv_frame(
                    path, candidate, delimiter, title_lines + header_rows, encoding_errors,
                    wide_names + overflow_columns)
        except UnicodeDecodeError:
            continue
        if encoding_errors == "replace":
            warnings_found.append(f"{path.name}: some bytes are not valid {encoding} text and were "
                                  f"replaced with �; check the file's encoding")
        break
    assert frame is not None
    if candidate != encoding:
        warnings_found.append(f"{path.name}: read as {candidate} (the start of the file "
                              f"looked like {encoding})")
    encoding = candidate

    header_line = title_lines + header_rows  # the line before the first data line
    rows, bad_rows = _csv_line_numbers(frame, header_line, bad_lines, physical_lines)
    structural_rejects = []
    if len(bad_rows):
        raw_lines = _read_physical_lines(path, encoding, set(bad_rows.tolist()))
        structural_rejects = [(int(row), raw_lines.get(int(row), "")) for row in bad_rows]
    if overflow_columns:
        overflow = ~blank_rows(frame[overflow_columns])
        if overflow.any():
            wide = frame.loc[overflow]
            joiner = " " if delimiter == WHITESPACE else delimiter
            texts = wide.iloc[:, 0].str.cat([wide[c] for c in wide.columns[1:]], sep=joiner)
            structural_rejects += list(zip(rows[overflow].tolist(),
                                           texts.str.rstrip(joiner).tolist(), strict=True))
            frame, rows = frame.loc[~overflow].reset_index(drop=True), rows[~overflow]
        frame = frame.drop(columns=overflow_columns)
    blank = blank_rows(frame)
    if blank.any():
        frame = frame.loc[~blank].reset_index(drop=True)
        rows = rows[~blank]
    if skip_footer:
        frame, rows, structural_rejects = drop_footer(frame, rows, structural_rejects,
                                                      skip_footer)
        warnings_found.append(f"{path.name}: skipped {skip_footer} footer line(s)")
    return RawTable(table, path.name, str(path), frame, rows, structural_rejects,
                     {"encoding": "gb18030 (GBK)" if encoding == "gb18030" else encoding,
                      "delimiter": delimiter},
                    warnings_found)


def _read_whitespace(path: Path, table: str, encoding: str, title_lines: int, header: bool,
                     names: list[str] | None) -> RawTable:
    """Read a space-aligned file: any run of spaces or tabs separates fields (no quoting).

    Lines are split with vectorised string operations, so every row keeps its line number and
    a line with more fields than the header is a ``wrong number of fields`` reject.
    """
    warnings_found: list[str] = []
    for candidate in [encoding] + [e for e in ("utf-8-sig", "gb18030") if e != encoding]:
        try:
            text = path.read_text(encoding=candidate)
            break
        except UnicodeDecodeError:
            continue
    else:
        candidate = encoding
        text = path.read_text(encoding=encoding, errors="replace")
        warnings_found.append(f"{path.name}: some bytes are not valid {encoding} text and were "
                              f"replaced with �; check the file's encoding")
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    start = title_lines
    if header:
        while start < len(lines) and not lines[start].strip():
            start += 1
        names = lines[start].split() if start < len(lines) else []
        start += 1
    names = _unique_names(list(names or []))
    data = pd.Series(lines[start:], dtype=STRING_DTYPE).str.rstrip("\r")
    rows = np.arange(start + 1, start + 1 + len(data), dtype=np.int64)
    stripped = data.str.strip()
    present = as_bool_array(stripped != "")
    stripped, rows, data = stripped[present], rows[present], data[present]
    counts = stripped.str.count(r"[ \t]+").to_numpy(dtype=np.int64, na_value=0) + 1
    wide = counts > len(names)
    structural = list(zip(rows[wide].tolist(), stripped[wide].tolist(), strict=True))
    stripped, rows = stripped[~wide].reset_index(drop=True), rows[~wide]
    if len(stripped):
        parts = stripped.str.split(r"[ \t]+", regex=True, expand=True)
    else:
        parts = pd.DataFrame(index=range(0))
    frame = pd.DataFrame({name: (parts[i].astype(STRING_DTYPE) if i in parts.columns
                                 else pd.Series([None] * len(stripped), dtype=STRING_DTYPE))
                          for i, name in enumerate(names)})
    if candidate != encoding:
        warnings_found.append(f"{path.name}: read as {candidate} (the start of the file "
                              f"looked like {encoding})")
    return RawTable(table, path.name, str(path), frame, rows, structural,
                    {"encoding": "gb18030 (GBK)" if candidate == "gb18030" else candidate,
                     "delimiter": WHITESPACE}, warnings_found)


def drop_footer(frame: pd.DataFrame, rows: np.ndarray, structural: list[tuple[int, str]],
                count: int) -> tuple[pd.DataFrame, np.ndarray, list[tuple[int, str]]]:
    """Drop the last ``count`` rows (by line number, bad lines included)."""
    numbers = np.sort(np.concatenate([rows, np.asarray([r for r, _ in structural], np.int64)]))
    if not len(numbers):
        return frame, rows, structural
    first_footer = numbers[max(0, len(numbers) - count)]
    keep = rows < first_footer
    return (frame.loc[keep].reset_index(drop=True), rows[keep],
            [(row, line) for row, line in structural if row < first_footer])


def _trailing_blank_lines(path: Path) -> int:
    """Count empty lines at the very end of a file (pandas' fast reader drops them)."""
    with path.open("rb") as handle:
        handle.seek(max(0, path.stat().st_size - 4096))
        tail = handle.read().replace(b"\r\n", b"\n")
    return len(tail) - len(tail.rstrip(b"\n")) - 1 if tail.endswith(b"\n") else 0


def _read_csv_fast(path: Path, encoding: str, delimiter: str, title_lines: int,
                   physical_lines: int, names: list[str] | None = None) -> pd.DataFrame | None:
    """Read with pyarrow (several times faster) when the file is regular.

    Returns None — and the caller reads again with pandas' C parser, which keeps blank lines
    and reports bad lines — when pyarrow fails (a row with too many or too few fields, bytes
    not in ``encoding``) or when its rows do not account for every line (blank lines inside).
    """
    options: dict[str, Any] = {"skiprows": title_lines}
    if names is not None:
        options.update(header=None, names=names)
    try:
        frame = pd.read_csv(path, engine="pyarrow", sep=delimiter, encoding=encoding, dtype=str,
                            keep_default_na=False, na_values=[], **options)
    except Exception:  # noqa: BLE001 - any failure just means "use the careful parser"
        return None
    header_rows = 0 if names is not None else 1
    expected_lines = physical_lines - _trailing_blank_lines(path) - (title_lines + header_rows)
    if len(frame) != expected_lines:
        line_breaks_in_values = sum(
            int(frame[column].str.count("\n").sum()) for column in frame.columns)
        if len(frame) + line_breaks_in_values != expected_lines:
            return None
    return frame


class _ReadGate:
    """CSV reads record pandas' warnings (bad lines) with ``warnings.catch_warnings``, whose
    state is process-wide: a table check in a worker thread leaving its own pandas-internal
    ``catch_warnings`` during a read would drop the recorder, and a bad line would go
    unrecorded. So a CSV read waits until no table check runs, and no check starts while a
    CSV is read; checks still run two at a time, and Parquet or database reads overlap them.
    """

    def __init__(self) -> None:
        self._condition = threading.Condition()
        self._checks = 0
        self._reading = False

    @contextlib.contextmanager
    def check(self):
        with self._condition:
            self._condition.wait_for(lambda: not self._reading)
            self._checks += 1
        try:
            yield
        finally:
            with self._condition:
                self._checks -= 1
                self._condition.notify_all()

    @contextlib.contextmanager
    def read(self):
        with self._condition:
            self._condition.wait_for(lambda: not self._reading and self._checks == 0)
            self._reading = True
        try:
            yield
        finally:
            with self._condition:
                self._reading = False
                self._condition.notify_all()


READ_GATE = _ReadGate()


def _read_csv_frame(path: Path, encoding: str, delimiter: str, skip: int,
                    encoding_errors: str, names: list[str] | None = None,
                    ) -> tuple[pd.DataFrame, list[int], bool]:
    """Read every field as text; return the frame, the skipped (too long) lines, and whether
    pandas cut the rows to the header's width because the first data row was longer.

    ``skip`` lines are skipped; then the header line is read, or with ``names`` there is none.
    """
    options: dict[str, Any] = {
        "sep": delimiter, "encoding": encoding,
        "encoding_errors": encoding_errors, "dtype": str, "na_filter": False,
        "skip_blank_lines": False, "on_bad_lines": "warn", "engine": "c", "index_col": False,
        "skiprows": skip}
    if names is not None:
        options.update(header=None, names=names)
    with READ_GATE.read(), warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            frame = pd.read_csv(path, **options)
        except pd.errors.EmptyDataError:
            return pd.DataFrame(), [], False
        except pd.errors.ParserError as exc:
            raise DataError(f"{path}: cannot be read as CSV ({exc}). Look for an unclosed quote "
                            f"(\") near that row") from None
    bad_lines, truncated = [], False
    for warning in caught:
        message = str(warning.message)
        bad_lines.extend(int(n) for n in re.findall(r"Skipping line (\d+)", message))
        truncated |= "does not match length of data" in message
    return frame, sorted(bad_lines), truncated


def _header_and_first_row(head_text: str, delimiter: str, title_lines: int, header: bool = True,
                          ) -> tuple[list[str], list[str]]:
    if delimiter == WHITESPACE:
        lines = head_text.splitlines()[title_lines:]
        lines = [line for line in lines if line.strip()]
        cells = [line.split() for line in lines[:2]]
    else:
        reader = csv.reader(io.StringIO(head_text), delimiter=delimiter)
        for _ in range(title_lines):
            next(reader, None)
        cells = [next(reader, []), next(reader, [])]
    cells += [[], []]
    return (cells[0], cells[1]) if header else ([], cells[0])


def _unique_names(fields: list[str]) -> list[str]:
    """Header names as pandas makes them: blanks → ``Unnamed: i``, repeats → ``name.1``."""
    names: list[str] = []
    for index, name in enumerate(fields):
        name = name.strip() or f"Unnamed: {index}"
        candidate, repeat = name, 0
        while candidate in names:
            repeat += 1
            candidate = f"{name}.{repeat}"
        names.append(candidate)
    return names


def _csv_line_numbers(frame: pd.DataFrame, header_line: int, bad_lines: list[int],
                      physical_lines: int) -> tuple[np.ndarray, np.ndarray]:
    """Return the physical line of each parsed record and of each skipped (bad) record.

    pandas numbers records, not lines, and leaves out the records it skipped; a quoted field can
    hold line breaks. Records are renumbered around the skipped ones, then shifted by the line
    breaks inside earlier records (counted only when the file has more lines than records).
    """
    record_count = len(frame)
    bad = np.asarray(bad_lines, dtype=np.int64)
    base = header_line + 1 + np.arange(record_count, dtype=np.int64)
    records = base + np.searchsorted(bad - np.arange(len(bad)), base, side="right")
    extra = np.zeros(record_count, dtype=np.int64)
    if physical_lines > header_line + record_count + len(bad) and record_count:
        for column in frame.columns:
            extra += frame[column].str.count("\n").to_numpy(dtype=np.int64, na_value=0)
    extra_before = np.concatenate([[0], np.cumsum(extra)[:-1]]) if record_count else extra
    lines = records + extra_before
    if len(bad):
        preceding = np.searchsorted(records, bad, side="left")
        cumulative = np.concatenate([[0], np.cumsum(extra)])
        bad = bad + cumulative[preceding]
    return lines, bad


def _read_physical_lines(path: Path, encoding: str, wanted: set[int]) -> dict[int, str]:
    found: dict[int, str] = {}
    with path.open(encoding=encoding, errors="replace", newline="") as handle:
        for number, line in enumerate(handle, start=1):
            if number in wanted:
                found[number] = line.rstrip("\r\n")
                if len(found) == len(wanted):
                    break
    return found
