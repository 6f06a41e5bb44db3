"""Value parsers: ids, numbers, integers, flags, categories and times; the as_of and tz checks.

Each parser takes a column as read and returns :class:`Parsed`: the values and numpy boolean
masks of the missing and the invalid ones.
"""

from __future__ import annotations

import re
import zoneinfo
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from custops.errors import ParameterError
from custops.io.contract import (
    DEFAULT_TZ,
    FALSE_TOKENS,
    NULL_TOKENS,
    STRING_DTYPE,
    TRUE_TOKENS,
    ColumnSpec,
)
from custops.io.headers import normalize_header

__all__ = [
    "DateOrderError",
    "Parsed",
    "as_bool_array",
    "check_time_zone",
    "clean_cell_text",
    "is_blank",
    "parse_as_of",
    "parse_column",
    "parse_ids",
    "parse_numbers",
]


_EXCEL_EPOCH = np.datetime64("1899-12-30T00:00:00", "ns")
_NS_MIN, _NS_MAX = pd.Timestamp("1677-09-22"), pd.Timestamp("2262-04-10")
# [0-9] and " " rather than \d and \s keep pandas on pyarrow's fast regex engine
_AWARE_TIME_RE = r"[0-9]{1,2}:[0-9]{2}(?::[0-9]{2}(?:[.,][0-9]+)?)? *(?:Z|z|UTC|GMT|[+-][0-9]{2}(?::?[0-9]{2})?)$"


def check_time_zone(tz: str) -> str:
    try:
        zoneinfo.ZoneInfo(str(tz))
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise ParameterError(
            f"unknown time zone {tz!r}; use an IANA name such as {DEFAULT_TZ!r}") from None
    return str(tz)


def parse_as_of(as_of: Any) -> pd.Timestamp | None:
    if as_of is None or (isinstance(as_of, str) and not as_of.strip()):
        return None
    try:
        timestamp = pd.Timestamp(as_of)
    except (ValueError, TypeError):
        raise ParameterError(f"as_of must be a date like 2025-06-30, got {as_of!r}") from None
    if pd.isna(timestamp):
        raise ParameterError(f"as_of must be a date like 2025-06-30, got {as_of!r}")
    if timestamp.tzinfo is not None:
        timestamp = timestamp.tz_localize(None)
    return timestamp.normalize()


@dataclass
class Parsed:
    values: pd.Series
    missing: np.ndarray
    invalid: np.ndarray
    note: str | None = None  # something the user should know (how ambiguous values were read)


class DateOrderError(ValueError):
    """Times write the day and month before the year and the column does not tell which is
    first (or tells both): the caller turns it into a DataError naming the file and column."""


def as_bool_array(values: Any) -> np.ndarray:
    if isinstance(values, pd.Series | pd.Index):
        return values.to_numpy(dtype=bool, na_value=False)
    return np.asarray(values, dtype=bool)


_MAX_NULL_TOKEN_LENGTH = max(len(token) for token in NULL_TOKENS)


def _clean_text(values: pd.Series) -> pd.Series:
    """Strip text and turn blanks and null words (NULL, nan, 未知, …) into NA."""
    text = values.astype(STRING_DTYPE).str.strip()
    # Lower-casing never shortens text, so only short values can be null words: ids of
    # millions of rows skip the lower-casing.
    short = _short_text(text, _MAX_NULL_TOKEN_LENGTH)
    null_word = np.zeros(len(text), dtype=bool)
    if short.any():
        null_word[short] = as_bool_array(text[short].str.lower().isin(list(NULL_TOKENS)))
    return text.mask(null_word | as_bool_array(text.isna()))


def _short_text(text: pd.Series, max_length: int) -> np.ndarray:
    """Which values have at most ``max_length`` characters (False for missing values)."""
    try:
        lengths = pc.utf8_length(pa.array(text.array))
        short = pc.fill_null(pc.less_equal(lengths, max_length), False)
        return np.asarray(short.to_numpy(zero_copy_only=False), dtype=bool)
    except Exception:  # noqa: BLE001 - not arrow-backed: pandas' own length
        return as_bool_array(text.str.len() <= max_length)


def _strip_wrapper(text: pd.Series) -> pd.Series:
    """Remove the ``="…"`` that exports put around long numbers to keep Excel from rounding
    them (only values starting with ``="`` are rewritten)."""
    wrapped = as_bool_array(text.str.startswith('="'))
    if not wrapped.any():
        return text
    inner = text[wrapped].str.replace(r'^="(.*)"$', r"\1", regex=True).str.strip()
    inner = inner.mask(inner == "")
    text = text.copy()
    text[wrapped] = inner
    return text


def clean_cell_text(values: pd.Series) -> pd.Series:
    """Values as text for comparisons: trimmed, ``="…"`` removed, whole floats without ``.0``
    when the column is numeric; missing values stay missing."""
    if pd.api.types.is_numeric_dtype(values.dtype) and not pd.api.types.is_bool_dtype(values):
        text = _numbers_to_text(values)
    else:
        text = values.astype(STRING_DTYPE)
    return _strip_wrapper(text.str.strip())


def is_blank(values: pd.Series) -> np.ndarray:
    """Where a value is blank: empty, spaces, or a null word (``NULL``, ``-``, ``未知``, …)."""
    if pd.api.types.is_numeric_dtype(values.dtype) or pd.api.types.is_datetime64_any_dtype(
            values.dtype):
        return as_bool_array(values.isna())
    return as_bool_array(_clean_text(values).isna())


def _normalize_value(value: str) -> str:
    return normalize_header(value)


def _map_unique_values(text: pd.Series, function: Callable[[str], Any]) -> pd.Series:
    """Apply a Python function to each distinct value only (vectorised over the rows).

    When the function leaves every distinct value as it is (the usual case: values already
    spelled as the contract spells them), ``text`` itself is returned — building an object
    column of millions of rows costs far more than the mapping.
    """
    distinct = [value for value in text.unique() if not pd.isna(value)]
    if all(isinstance(value, str) and function(value) == value for value in distinct):
        return text
    codes, uniques = pd.factorize(text)
    mapped = [function(str(value)) for value in uniques]
    result = np.empty(len(codes), dtype=object)
    result[:] = None
    if len(mapped):
        lookup = np.empty(len(mapped), dtype=object)
        lookup[:] = mapped
        present = codes >= 0
        result[present] = lookup[codes[present]]
    return pd.Series(result, index=text.index, dtype=object)


def _value_lookup(spec: ColumnSpec) -> dict[str, str]:
    lookup: dict[str, str] = {}
    for canonical, spellings in spec.values.items():
        for spelling in (canonical, *spellings):
            lookup[_normalize_value(spelling)] = canonical
    return lookup


def _numbers_to_text(values: pd.Series) -> pd.Series:
    """Numbers as id text: whole floats lose their ``.0`` (Excel stores ids as floats)."""
    if pd.api.types.is_float_dtype(values.dtype):
        numbers = values.to_numpy(dtype=float, na_value=np.nan)
        whole = np.isfinite(numbers) & (np.abs(numbers) < 2**53)
        whole &= np.floor(np.where(whole, numbers, 0)) == np.where(whole, numbers, 0)
        text = values.astype(STRING_DTYPE).to_numpy(dtype=object, copy=True)
        text[whole] = numbers[whole].astype(np.int64).astype(str)
        return pd.Series(text, index=values.index, dtype=STRING_DTYPE)
    return values.astype(STRING_DTYPE)


def parse_ids(values: pd.Series) -> Parsed:
    """Ids and free text: trimmed, ``="…"`` removed, whole floats (``12346.0``) as integers."""
    if pd.api.types.is_numeric_dtype(values.dtype) and not pd.api.types.is_bool_dtype(values):
        text = _clean_text(_numbers_to_text(values))
    else:
        text = _strip_wrapper(_clean_text(values))
        # Only text with a dot can be a whole float ("123.0"): the regex runs on those alone.
        dotted = as_bool_array(text.str.contains(".", regex=False))
        if dotted.any() and as_bool_array(text[dotted].str.fullmatch(r"[0-9]+\.0+")).any():
            text = text.str.replace(r"^([0-9]+)\.0+$", r"\1", regex=True)
    text, note = _without_invisible_characters(text)
    missing = as_bool_array(text.isna())
    return Parsed(text.astype(STRING_DTYPE), missing, np.zeros(len(text), dtype=bool), note)


# Zero-width and bidirectional-control characters: invisible, but they make two ids that look
# the same differ, and a right-to-left override can make an id read backwards in a page or a
# spreadsheet. They are removed from ids (the documented rule) and counted.
_INVISIBLE = "[\u200b-\u200f\u202a-\u202e\u2060-\u2069\ufeff]"


def _without_invisible_characters(text: pd.Series) -> tuple[pd.Series, str | None]:
    present = text.notna().to_numpy()
    if not present.any():
        return text, None
    has = np.zeros(len(text), dtype=bool)
    has[present] = as_bool_array(text[present].str.contains(_INVISIBLE, regex=True))
    if not has.any():
        return text, None
    examples = ", ".join(repr(v).encode("ascii", "backslashreplace").decode()
                         for v in text[has].head(3))
    cleaned = text.copy()
    cleaned[has] = text[has].str.replace(_INVISIBLE, "", regex=True)
    return cleaned.mask(cleaned == ""), (
        f"{int(has.sum()):,} value(s) held invisible or right-to-left control characters "
        f"(e.g. {examples}); they were removed")


def _clean_number_text(text: pd.Series) -> tuple[pd.Series, np.ndarray]:
    """Remove currency signs, thousands separators and units; brackets mean negative."""
    text = text.str.normalize("NFKC").str.strip()
    bracketed = as_bool_array(text.str.fullmatch(r"\(.*\)"))
    text = text.str.replace(r"(?i)rmb|cny|元|[()¥$€£,\s]", "", regex=True)
    text = text.str.replace(r"^([+]?)(\d+(?:\.\d*)?)-$", r"-\2", regex=True)
    return text, bracketed


def _strings_to_float(text: pd.Series) -> np.ndarray:
    """Plain numbers as float64, NaN where not a plain number (a writable copy)."""
    try:  # pyarrow's cast is much faster than pd.to_numeric, but all-or-nothing
        cast = pc.cast(pa.array(text.array), pa.float64())
        return np.array(cast.to_numpy(zero_copy_only=False), dtype=float)
    except Exception:  # noqa: BLE001 - some value is not a plain number, or not arrow-backed
        converted = pd.to_numeric(text, errors="coerce")
        return converted.to_numpy(dtype=float, na_value=np.nan, copy=True)


def _decimal_comma_to_point(text: pd.Series) -> pd.Series:
    """``1.234,56`` → ``1234.56`` and ``12,5`` → ``12.5`` (``decimal: ","``)."""
    text = text.str.replace(r"[.\s\u00a0\u202f']", "", regex=True)
    return text.str.replace(",", ".", regex=False)


def parse_numbers(values: pd.Series, decimal: str = ".") -> Parsed:
    """Numbers (amounts): currency signs, units, thousands separators and brackets are read;
    ``decimal=","`` reads ``1.234,56``."""
    if decimal == "," and not pd.api.types.is_numeric_dtype(values.dtype):
        text = _clean_text(values)
        missing = as_bool_array(text.isna())
        parsed = _parse_numbers(_decimal_comma_to_point(text))
        return Parsed(parsed.values, missing, parsed.invalid & ~missing)
    return _parse_numbers(values)


def _parse_numbers(values: pd.Series) -> Parsed:
    if pd.api.types.is_bool_dtype(values.dtype):
        numbers = values.astype(float)
        return Parsed(numbers, np.zeros(len(values), bool), np.zeros(len(values), bool))
    if pd.api.types.is_numeric_dtype(values.dtype):
        array = values.to_numpy(dtype=float, na_value=np.nan)
        missing = np.isnan(array)
        return Parsed(pd.Series(array, index=values.index), missing,
                      ~missing & ~np.isfinite(array))
    text = _clean_text(values)
    missing = as_bool_array(text.isna())
    array = _strings_to_float(text)
    residue = ~missing & np.isnan(array)
    if residue.any():
        cleaned, bracketed = _clean_number_text(text[residue])
        retry = pd.to_numeric(cleaned, errors="coerce").to_numpy(dtype=float, na_value=np.nan)
        array[residue] = np.where(bracketed, -np.abs(retry), retry)
    invalid = ~missing & ~np.isfinite(array)
    array[invalid] = np.nan
    return Parsed(pd.Series(array, index=values.index), missing, invalid)


def _parse_integers(values: pd.Series, spec: ColumnSpec, decimal: str = ".") -> Parsed:
    if spec.values and not pd.api.types.is_numeric_dtype(values.dtype):
        lookup = _value_lookup(spec)
        text = _clean_text(values)
        values = _map_unique_values(text, lambda value: lookup.get(_normalize_value(value), value))
    parsed = parse_numbers(values, decimal)
    array = parsed.values.to_numpy(dtype=float, copy=True)
    fractional = np.isfinite(array) & (np.floor(np.nan_to_num(array)) != np.nan_to_num(array))
    invalid = parsed.invalid | fractional
    array[invalid] = np.nan
    return Parsed(pd.Series(array, index=values.index).astype("Int64"), parsed.missing, invalid)


def _parse_booleans(values: pd.Series) -> Parsed:
    """Flags: 1/0, true/false, yes/no, 是/否, Y/N; blank is False."""
    if pd.api.types.is_bool_dtype(values.dtype):
        flags = values.to_numpy(dtype=bool, na_value=False)
        missing = as_bool_array(values.isna())
        return Parsed(pd.Series(flags, index=values.index), missing, np.zeros(len(values), bool))
    if pd.api.types.is_numeric_dtype(values.dtype):
        array = values.to_numpy(dtype=float, na_value=np.nan)
        missing = np.isnan(array)
        invalid = ~missing & ~np.isin(array, (0.0, 1.0))
        return Parsed(pd.Series(np.nan_to_num(array) != 0, index=values.index), missing, invalid)
    text = _clean_text(values)
    truth = {**{token: True for token in TRUE_TOKENS}, **{token: False for token in FALSE_TOKENS}}
    mapped = _map_unique_values(text, lambda value: truth.get(value.strip().lower()))
    missing = as_bool_array(text.isna())
    invalid = ~missing & as_bool_array(mapped.isna())
    flags = mapped.where(~(missing | invalid), False).astype(bool)
    return Parsed(flags, missing, invalid)


_SPREAD_MIN_ROWS = 100_000  # from this many rows, a few-valued column is parsed per value


def _parse_categories(values: pd.Series, spec: ColumnSpec) -> Parsed:
    if len(values) >= _SPREAD_MIN_ROWS and not pd.api.types.is_numeric_dtype(values.dtype):
        codes, uniques = pd.factorize(values)
        # Object columns may hold 1, 1.0 and True, which factorize treats as one value.
        textual = values.dtype != object or all(isinstance(u, str) for u in uniques)
        if textual and len(uniques) * 100 <= len(values):
            # Few distinct values (channels, event types): clean and map each once and spread
            # the results by code, instead of cleaning every row.
            part = _parse_categories(pd.Series(uniques), spec)
            present = codes >= 0
            return Parsed(
                pd.Series(part.values.array.take(codes, allow_fill=True), index=values.index),
                np.where(present, part.missing[np.where(present, codes, 0)], True),
                np.where(present, part.invalid[np.where(present, codes, 0)], False))
    text = _clean_text(_numbers_to_text(values) if pd.api.types.is_numeric_dtype(values.dtype)
                       else values)
    missing = as_bool_array(text.isna())
    if spec.kind == "region":
        cleaned = _map_unique_values(text, _short_region_name)
    elif spec.values:
        lookup = _value_lookup(spec)
        keep_unknown = spec.kind != "gender"
        cleaned = _map_unique_values(
            text, lambda value: lookup.get(_normalize_value(value), value if keep_unknown else None))
    else:
        return Parsed(text, missing, np.zeros(len(text), bool))
    return Parsed(cleaned.astype(STRING_DTYPE), missing, np.zeros(len(text), bool))


def _short_region_name(name: str) -> str:
    """广东省 → 广东, 广西壮族自治区 → 广西, 广州市 → 广州 (the contract uses short names)."""
    short = re.sub(r"(维吾尔自治区|壮族自治区|回族自治区|自治区|特别行政区|省|市)$", "", name.strip())
    return short if len(short) >= 2 else name.strip()


def _within_ns_range(parsed: pd.Series) -> pd.Series:
    return parsed.where((parsed >= _NS_MIN) & (parsed <= _NS_MAX))


def _to_naive_local(parsed: pd.Series, tz: str) -> np.ndarray:
    """Aware times → the dataset zone, naive, as datetime64[ns]."""
    local = parsed.dt.tz_convert(tz).dt.tz_localize(None)
    return _within_ns_range(local).to_numpy(dtype="datetime64[ns]")


def _naive_ns(parsed: pd.Series) -> np.ndarray:
    return _within_ns_range(parsed).to_numpy(dtype="datetime64[ns]")


def _times_from_numbers(numbers: np.ndarray, tz: str) -> np.ndarray:
    """Excel serial days (20000–80000), yyyymmdd[HHMM[SS]] numbers, Unix seconds or milliseconds."""
    out = np.full(len(numbers), np.datetime64("NaT"), dtype="datetime64[ns]")
    finite = np.isfinite(numbers)
    safe = np.where(finite, numbers, 0.0)
    whole = finite & (np.floor(safe) == safe)
    serial = finite & (safe >= 20000) & (safe <= 80000)
    if serial.any():
        seconds = np.round(safe[serial] * 86400.0).astype(np.int64)
        out[serial] = _EXCEL_EPOCH + seconds.astype("timedelta64[s]")
    for low, high, layout in ((1e7, 1e8, "%Y%m%d"), (1e11, 1e12, "%Y%m%d%H%M"),
                              (1e13, 1e14, "%Y%m%d%H%M%S")):
        selected = whole & (safe >= low) & (safe < high)
        if selected.any():
            digits = pd.Series(safe[selected].astype(np.int64).astype(str))
            out[selected] = _naive_ns(pd.to_datetime(digits, format=layout, errors="coerce"))
    for low, high, unit in ((1e9, 4e9, "s"), (1e12, 4e12, "ms")):
        selected = finite & (safe >= low) & (safe < high)
        if selected.any():
            parsed = pd.to_datetime(pd.Series(safe[selected]), unit=unit, utc=True)
            out[selected] = _to_naive_local(parsed, tz)
    return out


def _parse_with_formats(text: pd.Series, formats: Sequence[str], tz: str) -> np.ndarray:
    """Each value with the first of ``formats`` that reads it; NaT where none does."""
    array = np.full(len(text), np.datetime64("NaT"), dtype="datetime64[ns]")
    todo = as_bool_array(text.notna()).copy()
    for layout in formats:
        if not todo.any():
            break
        parsed = pd.to_datetime(text[todo], format=layout, errors="coerce")
        if getattr(parsed.dtype, "tz", None) is not None:
            part = _to_naive_local(parsed, tz)
        else:
            part = _naive_ns(parsed)
        positions = np.flatnonzero(todo)
        array[positions] = part
        todo[positions] = np.isnat(part)
    return array


# Day and month before a four-digit year: 12/20/2010, 20.12.2010 17:05, 1-2-2011 5:01 PM.
_DAY_MONTH_RE = (r"^(?P<a>[0-9]{1,2})[/.-](?P<b>[0-9]{1,2})[/.-](?P<y>[0-9]{4})"
                 r"(?P<rest>(?:[ T]+[0-9]{1,2}:[0-9]{2}(?::[0-9]{2})?(?: *[AaPp][Mm])?)?)$")


def _day_month_layouts(order: str) -> list[str]:
    first, second = ("%d", "%m") if order == "day" else ("%m", "%d")
    date = f"{first}/{second}/%Y"
    return [f"{date} %H:%M:%S", f"{date} %H:%M", date, f"{date} %I:%M:%S %p",
            f"{date} %I:%M %p"]


def _day_month_times(text: pd.Series, total: int, tz: str) -> tuple[np.ndarray, str | None]:
    """Read values like ``12/20/2010 5:01`` when the column shows whether the day or the
    month comes first; NaT for the others. Raise :class:`DateOrderError` when it does not and
    such values are most of the column; otherwise leave them unread, with a note."""
    parts = text.str.extract(_DAY_MONTH_RE)
    matched = as_bool_array(parts["a"].notna())
    array = np.full(len(text), np.datetime64("NaT"), dtype="datetime64[ns]")
    if not matched.any():
        return array, None
    first = pd.to_numeric(parts.loc[matched, "a"]).to_numpy()
    second = pd.to_numeric(parts.loc[matched, "b"]).to_numpy()
    day_first, month_first = bool((first > 12).any()), bool((second > 12).any())
    example = str(text[matched].iloc[0])
    if day_first == month_first:
        if day_first:
            problem = (f"has both day-first values ({text[matched][first > 12].iloc[0]}) and "
                       f"month-first values ({text[matched][second > 12].iloc[0]})")
        else:
            problem = (f"has dates like {example} where the day and the month are both 12 or "
                       f"less, so they could be read either way")
        advice = ('set date_format in the mapping, e.g. date_format: "%d/%m/%Y %H:%M" '
                  '(day first) or "%m/%d/%Y %H:%M" (month first)')
        if int(matched.sum()) * 2 >= total:
            raise DateOrderError(f"{problem}; custops does not guess: {advice}")
        return array, (f"{int(matched.sum()):,} values like {example} put the day and month "
                       f"before the year and were rejected as unparseable; {advice}")
    order = "day" if day_first else "month"
    normalized = (parts.loc[matched, "a"] + "/" + parts.loc[matched, "b"] + "/"
                  + parts.loc[matched, "y"] + parts.loc[matched, "rest"].fillna(""))
    array[matched] = _parse_with_formats(normalized.str.replace("T", " ", regex=False),
                                         _day_month_layouts(order), tz)
    evidence = (text[matched][first > 12] if day_first else text[matched][second > 12]).iloc[0]
    layout = "%d/%m/%Y" if day_first else "%m/%d/%Y"
    reading = "day/month/year" if day_first else "month/day/year"
    position = "first" if day_first else "second"
    note = (f"read dates like {example} as {reading} ({evidence} has a {position} number above "
            f'12); set date_format: "{layout} %H:%M" in the mapping to say so')
    return array, note


def _parse_times(values: pd.Series, tz: str, formats: Sequence[str] | None = None,
                 present_elsewhere: int = 0) -> Parsed:
    """Parse times to naive datetime64[ns] in ``tz``.

    ``present_elsewhere`` counts the non-missing values of the same column that are not in
    ``values`` (already read by another engine): the day/month decision weighs the whole column.

    Accepts datetime columns (aware ones are converted), ISO 8601 with or without an offset
    (``Z``, ``+08:00``), ``2025/6/18 12:03``, ``2025.6.18``, ``2025年6月18日 下午3:03``, Excel
    serial days, ``20250618`` and Unix epoch numbers. Strict fast parsers run first; the slower
    clean-ups run only on the values still unparsed.
    """
    index = values.index
    if pd.api.types.is_datetime64_any_dtype(values.dtype):
        if getattr(values.dtype, "tz", None) is not None:
            array = _to_naive_local(values, tz)
        else:
            array = _naive_ns(values)
        missing = as_bool_array(values.isna())
        return Parsed(pd.Series(array, index=index), missing, ~missing & np.isnat(array))
    numeric = pd.api.types.is_numeric_dtype(values.dtype) and not pd.api.types.is_bool_dtype(
        values)
    if numeric and not formats:
        numbers = values.to_numpy(dtype=float, na_value=np.nan)
        array = _times_from_numbers(numbers, tz)
        missing = np.isnan(numbers)
        return Parsed(pd.Series(array, index=index), missing, ~missing & np.isnat(array))

    text = _clean_text(_numbers_to_text(values) if numeric else values)
    missing = as_bool_array(text.isna())
    if formats:
        array = _parse_with_formats(text, formats, tz)
        rest = ~missing & np.isnat(array)
        if rest.any():  # year-first ISO times cannot be misread (Excel cells with real dates)
            iso = as_bool_array(text[rest].str.match(r"[0-9]{4}-[0-9]{1,2}-[0-9]{1,2}"))
            if iso.any():
                positions = np.flatnonzero(rest)[iso]
                array[positions] = _parse_times(text.iloc[positions], tz).values.to_numpy(
                    dtype="datetime64[ns]")
        return Parsed(pd.Series(array, index=index), missing, ~missing & np.isnat(array))
    array = np.full(len(text), np.datetime64("NaT"), dtype="datetime64[ns]")
    aware = ~missing & as_bool_array(text.str.contains(_AWARE_TIME_RE, regex=True))
    if aware.any():
        aware_text = text[aware].str.replace(r" *(?:UTC|GMT)$", "Z", regex=True)
        aware_text = aware_text.str.replace(r" +([+-][0-9]{2}(?::?[0-9]{2})?)$", r"\1", regex=True)
        parsed = pd.to_datetime(aware_text, format="ISO8601", utc=True, errors="coerce")
        array[aware] = _to_naive_local(parsed, tz)
    naive = ~missing & ~aware
    if naive.any():
        array[naive] = _naive_ns(pd.to_datetime(text[naive], format="ISO8601", errors="coerce"))
    residue = ~missing & ~aware & np.isnat(array)
    note = None
    if residue.any():
        residue_text = text[residue]
        day_month, note = _day_month_times(residue_text,
                                           int((~missing).sum()) + present_elsewhere, tz)
        array[residue] = day_month
        rest = np.isnat(day_month)
        if rest.any():
            positions = np.flatnonzero(residue)[rest]
            array[positions] = _parse_unusual_times(residue_text[rest], tz)
    invalid = ~missing & np.isnat(array)
    return Parsed(pd.Series(array, index=index), missing, invalid, note)


def _parse_unusual_times(text: pd.Series, tz: str) -> np.ndarray:
    text = text.str.normalize("NFKC")
    text = text.str.replace(r"(\d{4})\s*年\s*(\d{1,2})\s*月\s*(\d{1,2})\s*[日号]?", r"\1-\2-\3",
                            regex=True)
    text = text.str.replace(r"^(\d{4})\.(\d{1,2})\.(\d{1,2})", r"\1-\2-\3", regex=True)
    text = text.str.replace(r"(\d)\s*[时点]\s*(\d)", r"\1:\2", regex=True)
    text = text.str.replace(r"(\d)\s*分\s*(\d)", r"\1:\2", regex=True)
    text = text.str.replace(r"\s*[分秒]$", "", regex=True)
    afternoon = as_bool_array(text.str.contains(r"下午|晚上|(?i:pm)", regex=True))
    morning = as_bool_array(text.str.contains(r"上午|早上|凌晨|(?i:am)", regex=True))
    text = text.str.replace(r"\s*(?:上午|下午|早上|晚上|凌晨|中午|(?i:am|pm))\s*", " ", regex=True)
    text = text.str.replace(r"\s+", " ", regex=True).str.strip()
    parsed = pd.to_datetime(text, format="ISO8601", errors="coerce")
    hours = parsed.dt.hour.to_numpy(dtype=float, na_value=np.nan)
    shift = np.where(afternoon & (hours < 12), 12, np.where(morning & (hours == 12), -12, 0))
    parsed = parsed + pd.to_timedelta(shift, unit="h")
    array = _naive_ns(parsed)
    digits = np.isnat(array) & as_bool_array(text.str.fullmatch(r"\d+(?:\.\d+)?"))
    if digits.any():
        numbers = pd.to_numeric(text[digits], errors="coerce").to_numpy(dtype=float)
        array[digits] = _times_from_numbers(numbers, tz)
    return array


def parse_column(spec: ColumnSpec, values: pd.Series, tz: str,
                 formats: Sequence[str] | None = None, decimal: str = ".",
                 present_elsewhere: int = 0) -> Parsed:
    """Parse a column as ``spec.kind``; ``formats`` (strptime layouts) for times, ``decimal``
    (``"."`` or ``","``) for numbers. ``present_elsewhere``: for times, the non-missing
    values of the column left out of ``values`` (see :func:`_parse_times`)."""
    if spec.kind == "id":
        return parse_ids(values)
    if spec.kind == "time":
        return _parse_times(values, tz, formats, present_elsewhere)
    if spec.kind == "amount":
        return parse_numbers(values, decimal)
    if spec.kind == "integer":
        return _parse_integers(values, spec, decimal)
    if spec.kind == "boolean":
        return _parse_booleans(values)
    if spec.kind in ("category", "gender", "region"):
        return _parse_categories(values, spec)
    return parse_ids(values)  # free text (occupation, phone): trimmed, numbers without ".0"
