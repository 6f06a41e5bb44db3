"""Check a large Parquet table in DuckDB: the same rejects, counts and clean table as pandas.

:func:`custops.io.checks.normalize_table` parses and checks a table held whole in pandas: raw
text columns, their cleaned copies and the masks of every check side by side, several times
the table's size (tens of millions of events do not fit). Here the Parquet file stays on disk
and DuckDB reads it, in the same order of checks (see :mod:`custops.io.checks`):

* values that DuckDB can read exactly as the pandas parsers would (plain ASCII ids, ISO times,
  plain decimal numbers, typed Parquet columns) are parsed in SQL;
* every other value (blanks and null words with spaces, ``="…"`` wrappers, invisible
  characters, unusual dates, currency text) goes through the pandas parsers of
  :mod:`custops.io.parse` — only those rows, or, for few-valued columns (channels, flags), only
  the distinct values — so its result, its reason and the note it leaves are the same;
* duplicates are found with a window over the rows still kept, first row kept;
* rejected rows are listed by :class:`custops.io.rejects.RejectCollector` from their raw values
  read back from the file, so the rejects file is the same to the byte.

Only the clean table is handed to pandas (the rest of the run needs it as a frame), or, given
a ``clean_path`` (``load_dataset``'s ``clean_dir``), written there by DuckDB in batches as
``DataFrame.to_parquet`` would write it, so its rows never come into pandas at all. Tables
whose mapping has row steps (rules, computed columns, generated ids, line items, refund
amounts, ``date_format``, ``decimal: ","``) are checked by pandas as before.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from custops.errors import DataError
from custops.io.contract import (
    MAIN_TIME_COLUMN,
    NULL_TOKENS,
    STRING_DTYPE,
    TABLE_SCHEMAS,
    UNIQUE_KEYS,
    ColumnSpec,
)
from custops.io.personal import extra_kind, mask_sql, scrub_sql, sniff_sql
from custops.io.reader import RawTable
from custops.io.rejects import RejectCollector

__all__ = [
    "DUCKDB_MIN_ROWS",
    "ROW_STEP_KEYS",
    "arrow_reader",
    "check_parquet_table",
    "checks_in_duckdb",
    "lazy_parquet_table",
    "write_clean_parquet",
]


DUCKDB_MIN_ROWS = 1_000_000
"""Parquet tables with at least this many rows are checked in DuckDB (``load_dataset``'s
``duckdb_min_rows``: 0 sends every Parquet table there, None none)."""

ROW_STEP_KEYS = ("rules", "computed", "line_items", "refund_amount", "order_id", "date_format",
                 "from_orders")
"""Mapping keys whose row steps only the pandas checks run."""

_ROW = "__custops_row"
# Null words DuckDB can see without trimming: an ASCII value equal to one of these (any case)
# is missing, so it is left to the pandas parser (which says so).
_ASCII_NULLS = tuple(token for token in NULL_TOKENS if token and token.isascii())
_NULL_LENGTH = max(len(token) for token in _ASCII_NULLS)
_PLAIN_ID = r"[A-Za-z0-9_.:#@/-]+"
_WHOLE_FLOAT = r"[0-9]+\.0+"
_ISO_TIME = (r"(1[7-9][0-9][0-9]|2[01][0-9][0-9]|22[0-5][0-9])-[0-9]{2}-[0-9]{2}"
             r"([ T]([01][0-9]|2[0-3]):[0-5][0-9](:[0-5][0-9])?)?")
_PLAIN_NUMBER = r"-?[0-9]{1,15}(\.[0-9]{1,6})?"
_PLAIN_INTEGER = r"-?[0-9]{1,15}"


#: Share of the machine's memory one table's check may use in DuckDB before spilling to disk.
#: Two tables are checked at a time (``load_dataset``), and each in-memory DuckDB connection
#: would otherwise take 80 % of the memory: a 10M-customer load reached 20.8 GiB that way.
CHECK_MEMORY_SHARE = 0.25


#: Share of the machine's memory the feature layer's DuckDB may use (one connection at a
#: time, next to the per-customer tables pandas holds): at 10M customers it reached 14.6 GiB
#: with DuckDB's default of 80 %.
FEATURE_MEMORY_SHARE = 0.3


def memory_settings(share: float) -> list[str]:
    """The statements that limit a DuckDB connection to ``share`` of the machine's memory
    (at least 1 GiB) and let it spill to a temporary folder beyond it."""
    total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    limit_mib = max(1024, int(total * share / 2**20))
    spill = Path(tempfile.gettempdir()) / "custops-duckdb-spill"
    return [f"SET memory_limit = '{limit_mib}MiB'",
            f"SET temp_directory = {_literal(str(spill))}"]


def bounded_connection(share: float = CHECK_MEMORY_SHARE) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB connection limited to ``share`` of the machine's memory
    (:func:`memory_settings`)."""
    con = duckdb.connect()
    for statement in memory_settings(share):
        con.execute(statement)
    return con


def _is_text(arrow_type: pa.DataType) -> bool:
    """A text column, or a dictionary (categorical) of text."""
    if pa.types.is_dictionary(arrow_type):
        arrow_type = arrow_type.value_type
    return pa.types.is_string(arrow_type) or pa.types.is_large_string(arrow_type)


def checks_in_duckdb(table: str, settings: Mapping[str, Any]) -> bool:
    """Whether ``table`` with these mapping settings can be checked in DuckDB."""
    return (not any(key in settings for key in ROW_STEP_KEYS)
            and settings.get("decimal", ".") == "." and table in TABLE_SCHEMAS)


def lazy_parquet_table(path: Path, table: str, min_rows: int) -> RawTable | None:
    """A Parquet table of at least ``min_rows`` rows left on disk (columns, no rows), or None."""
    try:
        file = pq.ParquetFile(path)
    except Exception as exc:  # noqa: BLE001 - pyarrow raises many types for bad files
        raise DataError(f"{path}: cannot read as Parquet ({exc})") from None
    rows = file.metadata.num_rows
    if rows == 0 or rows < min_rows:
        return None
    frame = _to_pandas(file.schema_arrow.empty_table()).reset_index(drop=True)
    frame.columns = [str(column) for column in frame.columns]
    return RawTable(table, path.name, str(path), frame, np.zeros(0, dtype=np.int64),
                    parquet_path=path, lazy_rows=rows)


def _to_pandas(table: pa.Table) -> pd.DataFrame:
    """Arrow → pandas exactly as ``pandas.read_parquet`` converts (text as ``str``)."""
    from pandas.io._util import arrow_table_to_pandas

    return arrow_table_to_pandas(table)


def _quote(name: str) -> str:
    return '"' + str(name).replace('"', '""') + '"'


def _literal(text: str) -> str:
    return "'" + str(text).replace("'", "''") + "'"


@dataclass
class _Column:
    """How one contract column is read: SQL for the values DuckDB reads, and which rows (or
    distinct values) go to the pandas parser."""

    spec: ColumnSpec
    header: str
    value: str  # SQL value where DuckDB reads it
    missing: str
    invalid: str
    residue: str | None = None  # SQL condition: rows parsed by pandas
    distinct: bool = False  # parse the distinct raw values in pandas and join them back


def _plan(spec: ColumnSpec, header: str, kind: pa.DataType) -> _Column:
    v = _quote(header)
    nulls = ", ".join(_literal(token) for token in _ASCII_NULLS)
    every_row = _Column(spec, header, "NULL", "false", "false", residue="true")
    integer = pa.types.is_integer(kind)
    floating = pa.types.is_floating(kind)
    text = pa.types.is_string(kind) or pa.types.is_large_string(kind)
    if spec.kind in ("id", "text"):
        if integer:
            return _Column(spec, header, f"cast({v} as varchar)", f"{v} is null", "false")
        if text:
            # The second regex and lower() only where they can match (a '.', a short
            # value): each is a pass over every row's text (~0.5 s of 17.8M event rows).
            plain = (f"(regexp_full_match({v}, '{_PLAIN_ID}') and not (case when "
                     f"contains({v}, '.') then regexp_full_match({v}, '{_WHOLE_FLOAT}') "
                     f"else false end) and not (case when length({v}) <= {_NULL_LENGTH} "
                     f"then lower({v}) in ({nulls}) else false end))")
            return _Column(spec, header, v, f"{v} is null", "false",
                           residue=f"{v} is not null and not {plain}")
        return every_row
    if spec.kind == "time":
        if pa.types.is_timestamp(kind) and kind.tz is None:
            within = f"{v} between TIMESTAMP '1677-09-22' and TIMESTAMP '2262-04-10'"
            return _Column(spec, header, f"case when {within} then try_cast({v} as timestamp_ns) end",
                           f"{v} is null", f"{v} is not null and not ({within})")
        if text:
            plain = (f"(regexp_full_match({v}, '{_ISO_TIME}') "
                     f"and try_cast({v} as timestamp) is not null)")
            return _Column(spec, header, f"try_cast({v} as timestamp_ns)", f"{v} is null", "false",
                           residue=f"{v} is not null and not {plain}")
        return every_row
    if spec.kind == "amount":
        if integer:
            return _Column(spec, header, f"cast({v} as double)", f"{v} is null", "false")
        if floating:
            bad = f"(isnan({v}) or isinf({v}))"
            return _Column(spec, header, f"case when not {bad} then try_cast({v} as double) end",
                           f"({v} is null or isnan({v}))", f"coalesce(isinf({v}), false)")
        if text:
            plain = f"regexp_full_match({v}, '{_PLAIN_NUMBER}')"
            return _Column(spec, header, f"cast({v} as double)", f"{v} is null", "false",
                           residue=f"{v} is not null and not {plain}")
        return every_row
    if spec.kind == "integer":
        if integer:
            return _Column(spec, header, f"cast({v} as bigint)", f"{v} is null", "false")
        if floating:
            good = f"(not isnan({v}) and not isinf({v}) and {v} = floor({v}))"
            return _Column(spec, header, f"case when {good} then try_cast({v} as bigint) end",
                           f"({v} is null or isnan({v}))",
                           f"coalesce(not isnan({v}) and not {good}, false)")
        if text:
            plain = f"regexp_full_match({v}, '{_PLAIN_INTEGER}')"
            return _Column(spec, header, f"cast({v} as bigint)", f"{v} is null", "false",
                           residue=f"{v} is not null and not {plain}")
        return every_row
    if spec.kind == "boolean":
        if pa.types.is_boolean(kind):
            return _Column(spec, header, f"coalesce({v}, false)", f"{v} is null", "false")
        if integer or floating:
            nan = f"isnan({v})" if floating else "false"
            return _Column(spec, header,
                           f"coalesce(case when {nan} then false else {v} != 0 end, false)",
                           f"({v} is null or {nan})",
                           f"coalesce(not {nan} and {v} not in (0, 1), false)")
        return _Column(spec, header, "NULL", "false", "false", distinct=True)
    # category, gender, region: few distinct values, each parsed once by pandas
    return _Column(spec, header, "NULL", "false", "false", distinct=True)


def check_parquet_table(raw: RawTable, table: str, explicit: Mapping[str, str], tz: str,
                        cutoff: pd.Timestamp | None,
                        settings: Mapping[str, Any] | None = None, *,
                        clean_path: Path | None = None) -> Any:
    """The DuckDB twin of :func:`custops.io.checks.normalize_table` for a lazy Parquet table
    (:func:`lazy_parquet_table`): the same kept rows, rejects, quality and warnings.

    With ``clean_path`` the kept rows are written there by :func:`write_clean_parquet` (the
    file ``DataFrame.to_parquet`` would write of the clean table) instead of coming into
    pandas; the result's ``frame`` is then None and its ``path`` that file. A table whose
    columns have no fixed Parquet type in pandas (``object`` extras) is returned as a frame.
    """
    from custops.io.checks import TableResult, _apply_dtypes, _line_item_hint, _table_quality
    from custops.io.mapping import match_columns, missing_columns_message
    from custops.io.parse import DateOrderError, parse_column
    from custops.io.transform import Prepared, check_scientific_ids

    settings = settings or {}
    if not checks_in_duckdb(table, settings) or raw.parquet_path is None:
        raise ValueError(f"{raw.file_label}: not a table DuckDB can check")
    path = raw.parquet_path
    specs = TABLE_SCHEMAS[table]
    headers = [str(column) for column in raw.frame.columns]
    chosen, found_warnings = match_columns(headers, table, dict(explicit), raw.file_label)
    missing_columns = [spec.name for spec in specs if spec.required and spec.name not in chosen]
    if missing_columns:
        raise DataError(missing_columns_message(raw.file_label, table, missing_columns, headers,
                                                chosen))
    schema = pq.read_schema(path)
    ordered = [s for s in specs if s.required] + [s for s in specs if not s.required]
    plans = {spec.name: _plan(spec, chosen[spec.name], schema.field(chosen[spec.name]).type)
             for spec in ordered if spec.name in chosen}
    row_count = raw.lazy_rows

    def read_rows(columns: list[str], positions: np.ndarray) -> pd.DataFrame:
        """Raw values of ``columns`` at 0-based ``positions``, typed as pandas reads them."""
        arrow = pq.read_table(path, columns=list(dict.fromkeys(columns)))
        return _to_pandas(arrow.take(pa.array(positions, type=pa.int64())))

    with bounded_connection() as con:
        # large_string results: pandas' str dtype takes them as they are (no copy of the text)
        con.execute("SET arrow_large_buffer_size = true")
        con.sql(f"create view src as select *, file_row_number + 1 as {_ROW} from "
                    f"read_parquet({_literal(str(path))}, file_row_number = true)")
        # One scan counts, per column, the rows left to pandas and the values DuckDB read.
        residues = [plan for plan in plans.values() if plan.residue and not plan.distinct]
        counts: dict[str, tuple[int, int]] = {}
        every_row = [plan for plan in residues if plan.residue == "true"]
        counts = {plan.spec.name: (row_count, 0) for plan in every_row}
        partial = [plan for plan in residues if plan.residue != "true"]
        if partial:
            # residue rows are never null here: the values DuckDB read are the others
            parts = []
            for plan in partial:
                parts += [f"count(*) filter (where {plan.residue})",
                          f"count({_quote(plan.header)})"]
            found_counts = con.execute(f"select {', '.join(parts)} from src").fetchall()[0]
            counts.update({plan.spec.name: (int(found_counts[2 * i]),
                                            int(found_counts[2 * i + 1] - found_counts[2 * i]))
                           for i, plan in enumerate(partial)})
        # Ids Excel turned into scientific notation stop the load, as in pandas; only rows
        # whose id is not plain can be such ids.
        suspects = [plans[name] for name in ("order_id", "customer_id")
                    if name in plans and counts.get(name, (0, 0))[0]]
        if suspects:
            where = " or ".join(f"({plan.residue})" for plan in suspects)
            positions = con.execute(f"select {_ROW} - 1 as p from src where {where} "
                                    f"order by {_ROW}").fetchnumpy()["p"]
            subset = read_rows([plan.header for plan in suspects], positions)
            check_scientific_ids(RawTable(table, raw.file_label, raw.source, subset,
                                          positions + 1), chosen)

        joins, notes = [], []
        for index, (name, plan) in enumerate(plans.items()):
            fix = f"fix{index}"
            if plan.distinct:
                found = con.sql(f"select distinct {_quote(plan.header)} as raw from src "
                                f"where {_quote(plan.header)} is not null").to_arrow_table()
                values = _to_pandas(found.cast(pa.schema([schema.field(plan.header)
                                                          .with_name("raw")])))["raw"]
                parsed = parse_column(plan.spec, values.reset_index(drop=True), tz)
                inline = _inline_lookup(plan, found["raw"], parsed)
                if inline is not None:
                    plan.value, plan.missing, plan.invalid = inline
                    plan.distinct = False
                    continue
                con.register(fix, pa.table({
                    "raw": found["raw"], "v": _arrow_values(parsed.values, plan.spec),
                    "m": pa.array(parsed.missing), "i": pa.array(parsed.invalid)}))
                joins.append((plan, fix, f"left join {fix} on src.{_quote(plan.header)} = "
                                         f"{fix}.raw"))
                continue
            if plan.residue is None:
                continue
            if not counts[name][0]:
                continue
            positions = con.execute(f"select {_ROW} - 1 as p from src where {plan.residue} "
                                    f"order by {_ROW}").fetchnumpy()["p"]
            values = read_rows([plan.header], positions)[plan.header]
            try:
                parsed = parse_column(plan.spec, values, tz, present_elsewhere=counts[name][1])
            except DateOrderError as exc:
                raise DataError(f"{raw.file_label}: {name} (column {plan.header!r}) {exc}"
                                ) from None
            if parsed.note:
                notes.append((name, f"{raw.file_label}: {name} (column {plan.header!r}): "
                                    f"{parsed.note}"))
            con.register(fix, pa.table({
                "row": pa.array(positions + 1, type=pa.int64()),
                "v": _arrow_values(parsed.values, plan.spec),
                "m": pa.array(parsed.missing), "i": pa.array(parsed.invalid)}))
            joins.append((plan, fix, f"left join {fix} on src.{_ROW} = {fix}.row"))
        # notes in contract order, as the pandas checks append them
        order = {spec.name: i for i, spec in enumerate(ordered)}
        found_warnings.extend(note for _, note in sorted(notes, key=lambda n: order[n[0]]))

        by_name = {plan.spec.name: (plan, fix) for plan, fix, _ in joins}
        selects = []
        for name, plan in plans.items():
            if name in by_name:
                _, fix = by_name[name]
                if plan.distinct:
                    selects += [f"{fix}.v as v_{name}",
                                f"coalesce({fix}.m, src.{_quote(plan.header)} is null) "
                                f"as m_{name}", f"coalesce({fix}.i, false) as i_{name}"]
                else:
                    selects += [f"case when {fix}.row is null then {plan.value} else {fix}.v "
                                f"end as v_{name}",
                                f"coalesce({fix}.m, {plan.missing}) as m_{name}",
                                f"coalesce({fix}.i, {plan.invalid}) as i_{name}"]
            elif plan.distinct:  # no value at all: every row missing
                selects += [f"NULL as v_{name}", f"true as m_{name}", f"false as i_{name}"]
            else:
                selects += [f"{plan.value} as v_{name}", f"{plan.missing} as m_{name}",
                            f"{plan.invalid} as i_{name}"]
        extra_headers = [h for h in headers if h not in chosen.values()]
        personal: dict[str, str] = {}
        if clean_path is not None:  # the extra columns go straight to the clean file
            for i, header in enumerate(extra_headers):
                # contact keys outside the contract are masked on the way (io.personal)
                floating = pa.types.is_floating(schema.field(header).type)
                kind = extra_kind(header, sniff_sql(con, "src", f"src.{_quote(header)}",
                                                    floating=floating))
                value = f"src.{_quote(header)}"
                if kind is not None and not pa.types.is_boolean(schema.field(header).type) \
                        and not pa.types.is_temporal(schema.field(header).type):
                    personal[header] = kind
                    value = mask_sql(value, kind, floating=floating)
                elif _is_text(schema.field(header).type):
                    value = scrub_sql(value)  # numbers inside free text
                    if pa.types.is_dictionary(schema.field(header).type):
                        personal[header] = ""  # comes back as text, as pandas scrubs it
                selects.append(f"{value} as x_{i}")
        con.sql(f"create temp view parsed as select src.{_ROW}, {', '.join(selects)} from "
                    f"src {' '.join(join for _, _, join in joins)}")

        # The checks in the order of custops.io.checks: the first failing one names the row.
        reasons: list[tuple[str, str, str]] = []
        cases = []
        for spec in ordered:
            if spec.name not in plans:
                continue
            if spec.required:
                reasons.append((f"missing {spec.name}", spec.name, plans[spec.name].header))
                cases.append(f"when m_{spec.name} then {len(reasons)}")
            reasons.append((f"unparseable {spec.name}", spec.name, plans[spec.name].header))
            cases.append(f"when i_{spec.name} then {len(reasons)}")
        values = {name: f"v_{name}" for name in plans}
        for spec in specs:
            if spec.kind == "boolean" and spec.name in plans:
                values[spec.name] = f"coalesce(v_{spec.name}, false)"
        if table == "orders":
            refund = ("(coalesce(v_is_refund, false) or coalesce(v_amount < 0, false))"
                      if "is_refund" in plans else "coalesce(v_amount < 0, false)")
            values["is_refund"] = refund
            values["amount"] = f"case when {refund} then -abs(v_amount) else v_amount end"
        if table == "touches" and "revenue" in plans and "converted" in plans:
            values["revenue"] = ("case when not coalesce(v_converted, false) and v_revenue is "
                                 "null then 0.0 else v_revenue end")
        time_column = MAIN_TIME_COLUMN[table]
        if cutoff is not None and time_column in plans:
            reasons.append((f"{time_column} after as_of", time_column,
                            plans[time_column].header))
            cases.append(f"when v_{time_column} >= TIMESTAMP "
                         f"{_literal(cutoff.strftime('%Y-%m-%d %H:%M:%S.%f'))} "
                         f"then {len(reasons)}")
        first_checks = f"case {' '.join(cases)} else 0 end" if cases else "0"
        con.sql(f"create temp view checked as select *, {first_checks} as pre from parsed")
        flagged = con.execute(f"select {_ROW} as r, pre from checked where pre > 0"
                              ).fetchnumpy()
        flagged_rows = np.asarray(flagged["r"], dtype=np.int64)
        flagged_codes = np.asarray(flagged["pre"], dtype=np.int32)
        distinct_orders = -1
        order_stats: dict[str, Any] | None = None  # orders written straight to clean_path
        duplicates = np.zeros(0, dtype=np.int64)
        if table in UNIQUE_KEYS:
            # Like pandas' duplicated(keep="first") on the rows still kept: keys are counted
            # in one group-by; only keys seen twice are looked at row by row.
            keys = UNIQUE_KEYS[table]
            reasons.append((f"duplicate {keys[0]}", keys[0], plans[keys[0]].header))
            duplicate = len(reasons)
            key = values[keys[0]]
            flag = values[keys[1]] if len(keys) > 1 else "false"
            groups = (f"select {key} as k, count(*) filter (where not {flag}) as a, "
                      f"count(*) filter (where {flag}) as b from checked where pre = 0 "
                      f"group by all")
            distinct_keys, repeated_keys = con.execute(
                f"select count(*), count(*) filter (where a > 1 or b > 1) from ({groups})"
            ).fetchall()[0]
            distinct_orders = int(distinct_keys) if table == "orders" else -1
            if repeated_keys:
                duplicates = np.asarray(con.execute(
                    f"select r from (select {_ROW} as r, row_number() over (partition by "
                    f"{key}, {flag} order by {_ROW}) as n from checked where pre = 0 and "
                    f"{key} in (select k from ({groups}) where a > 1 or b > 1)) where n > 1 "
                    f"order by r").fetchnumpy()["r"], dtype=np.int64)
        if len(duplicates):
            flagged_rows = np.concatenate([flagged_rows, duplicates])
            flagged_codes = np.concatenate([flagged_codes,
                                            np.full(len(duplicates), duplicate, np.int32)])
        order_rows = np.argsort(flagged_rows, kind="stable")
        flagged_rows, flagged_codes = flagged_rows[order_rows], flagged_codes[order_rows]
        con.register("duplicate_rows", pa.table({"r": pa.array(duplicates, pa.int64())}))

        hints: list[str] = []
        if table == "orders" and len(duplicates):
            repeated = con.execute(
                f"select {_ROW} - 1 as p, v_order_id as id, {_ROW} in (select r from "
                f"duplicate_rows) as dup from parsed where v_order_id in (select v_order_id "
                f"from parsed where {_ROW} in (select r from duplicate_rows)) order by {_ROW}"
            ).fetchnumpy()
            subset = read_rows(headers, np.asarray(repeated["p"], dtype=np.int64))
            ids = pd.Series(np.asarray(repeated["id"], dtype=object), dtype=STRING_DTYPE)
            hint = _line_item_hint(subset, ids, np.asarray(repeated["dup"], dtype=bool), chosen)
            if hint:
                hints.append(hint)

        clean_names = [spec.name for spec in specs if spec.name in plans]
        if table == "orders" and "is_refund" not in clean_names:
            clean_names.append("is_refund")
        clean_sql = ", ".join(f"{values[name]} as {_quote(name)}" for name in clean_names)
        not_duplicate = (f" and {_ROW} not in (select r from duplicate_rows)"
                         if len(duplicates) else "")
        target = None
        if clean_path is not None and not set(extra_headers) & set(clean_names):
            empty = _to_pandas(con.sql(f"select {clean_sql} from checked limit 0"
                                       ).to_arrow_table())
            extras = read_rows(extra_headers, np.zeros(0, dtype=np.int64))
            for header in extra_headers:
                empty[header] = (pd.Series([], dtype=STRING_DTYPE) if header in personal
                                 else extras[header])
            target = _parquet_schema(_apply_dtypes(empty, specs))
        if target is not None:
            extra_sql = "".join(f", x_{i} as {_quote(h)}" for i, h in enumerate(extra_headers))
            clean_rows = (f"select {_ROW} - 1 as {_ROW}, {clean_sql}{extra_sql} from checked "
                          f"where pre = 0{not_duplicate}")
            # Joins may reorder rows: then the rows are sorted; otherwise the order is checked
            # while writing, and sorted only if it was not kept.
            rows_kept = write_clean_parquet(con, clean_rows, clean_path, target,
                                            ordered=bool(joins or len(duplicates)))
            if rows_kept is None:
                rows_kept = write_clean_parquet(con, clean_rows, clean_path, target,
                                                ordered=True)
            time_column = MAIN_TIME_COLUMN[table]
            summary = [f"min({_quote(time_column)})", f"max({_quote(time_column)})"] \
                if time_column in clean_names else ["NULL", "NULL"]
            if "customer_id" in clean_names:
                summary.append("count(distinct customer_id)")
            if table == "orders":  # the order totals, as checks.order_totals counts them
                summary += ["count(*) filter (where is_refund)",
                            "count(*) filter (where not is_refund)",
                            "coalesce(fsum(amount) filter (where not is_refund), 0)",
                            "coalesce(fsum(amount), 0)"]
            found = con.execute(f"select {', '.join(summary)} from read_parquet("
                                f"{_literal(str(clean_path))})").fetchall()[0]
            date_range = tuple(None if value is None else
                               pd.Timestamp(value).strftime("%Y-%m-%d %H:%M:%S")
                               for value in found[:2])
            distinct_customers = int(found[2]) if "customer_id" in clean_names else -1
            if table == "orders":
                refunds, purchases, gross, net = found[-4:]
                order_stats = {"refunds": int(refunds), "orders": int(distinct_orders),
                               "purchases": int(purchases),
                               "gross_amount": round(float(gross), 2),
                               "net_amount": round(float(net), 2)}
            output = None
        if target is None:
            clean = con.sql(f"select {_ROW} - 1 as {_ROW}, {clean_sql} from checked "
                            f"where pre = 0{not_duplicate}").to_arrow_table()
            if len(clean) and not pc.all(pc.greater(clean[_ROW][1:], clean[_ROW][:-1])
                                         ).as_py():
                clean = clean.take(pc.sort_indices(clean[_ROW]))  # joins may reorder rows
            distinct_customers = -1
            if "customer_id" in clean_names:
                con.register("clean_rows", clean)
                distinct_customers = int(con.execute(
                    "select count(distinct customer_id) from clean_rows").fetchall()[0][0])
    if target is None:
        kept_positions = clean[_ROW].to_numpy()
        output = _to_pandas(clean.drop_columns([_ROW]))
        del clean
        if extra_headers:
            extras = read_rows(extra_headers, kept_positions)
            for header in extra_headers:
                output[header] = extras[header]
        output = _apply_dtypes(output, specs)
        rows_kept, date_range = len(output), None

    collector = RejectCollector(len(flagged_rows))
    used = sorted(set(flagged_codes.tolist()))
    renumber = np.zeros(len(reasons) + 1, dtype=np.int32)
    for number, code_value in enumerate(used, start=1):
        collector.reasons.append(reasons[code_value - 1])
        renumber[code_value] = number
    collector.code = renumber[flagged_codes]
    reject_headers = sorted({reasons[c - 1][2] for c in used})
    raw_values = (read_rows(reject_headers, flagged_rows - 1) if len(flagged_rows)
                  else pd.DataFrame())
    rejects = collector.to_frame(table, raw.file_label, flagged_rows, raw_values)
    rejects = rejects.sort_values(["row"], kind="stable").reset_index(drop=True)
    rejects["row"] = rejects["row"].astype("int64")

    prepared = Prepared(raw, dict(explicit))
    if rows_kept + len(rejects) != row_count:
        raise RuntimeError(f"{raw.file_label}: {rows_kept} kept + {len(rejects)} rejected rows "
                           f"are not the {row_count} rows read")
    quality = _table_quality(raw, table, output, rejects, chosen, extra_headers, rows_kept,
                             prepared, distinct_orders, distinct_customers,
                             date_range=date_range, order_stats=order_stats)
    masked = {header: kind for header, kind in personal.items() if kind}
    if masked and output is None:
        quality["personal_columns"] = masked
    return TableResult(output, rejects, quality, found_warnings, prepared.set_aside, hints,
                       path=None if output is not None else clean_path)


def _parquet_schema(empty: pd.DataFrame) -> pa.Schema | None:
    """The Arrow schema (with pandas' metadata) ``empty.to_parquet`` writes for a frame of
    these columns and dtypes, or None when a column's type depends on its values (``object``
    columns, which pandas types by what they hold)."""
    schema = pa.Schema.from_pandas(empty, preserve_index=False)
    if any(pa.types.is_null(field.type) for field in schema):
        return None
    return schema


_WRITE_BATCH_ROWS = 1 << 20


def arrow_reader(relation: duckdb.DuckDBPyRelation, rows: int) -> pa.RecordBatchReader:
    """The rows of a DuckDB relation streamed as Arrow batches of ``rows`` (DuckDB 2 names
    it ``to_arrow_reader``, earlier versions ``fetch_record_batch``). Close it (``with``)
    before running anything else on the connection."""
    stream = getattr(relation, "to_arrow_reader", None) or relation.fetch_record_batch
    return stream(rows)


def write_clean_parquet(con: duckdb.DuckDBPyConnection, query: str, path: Path,
                        schema: pa.Schema, *, ordered: bool) -> int | None:
    """Write the rows of ``query`` (its first column the row number, then the clean columns)
    to ``path`` as ``DataFrame.to_parquet`` writes the clean frame: ``schema`` (from
    :func:`_parquet_schema`) with its pandas metadata, so ``pandas.read_parquet`` gives the
    same dtypes. Rows stream from DuckDB in batches; none is held whole in memory.

    ``ordered``: sort by row number. Otherwise the rows are written as DuckDB hands them
    and None is returned (nothing left at ``path``) if they were not in row order.
    Returns the number of rows written. The file appears only once complete.
    """
    partial = path.with_name(path.name + ".partial")
    path.parent.mkdir(parents=True, exist_ok=True)
    sql = f"{query} order by 1" if ordered else query
    rows = 0
    last = -1
    try:
        with pq.ParquetWriter(partial, schema, compression="snappy") as writer, \
                arrow_reader(con.sql(sql), _WRITE_BATCH_ROWS) as batches:
            for batch in batches:
                if not batch.num_rows:
                    continue
                numbers = batch.column(0)
                if numbers[0].as_py() <= last or (batch.num_rows > 1 and not pc.all(
                        pc.greater(numbers[1:], numbers[:-1])).as_py()):
                    if ordered:
                        raise RuntimeError(f"{path.name}: sorted rows came out of order")
                    partial.unlink()
                    return None
                last = numbers[-1].as_py()
                columns = [batch.column(i + 1).cast(field.type)
                           for i, field in enumerate(schema)]
                writer.write_batch(pa.RecordBatch.from_arrays(columns, schema=schema))
                rows += batch.num_rows
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    partial.replace(path)
    return rows


def _arrow_values(values: pd.Series, spec: ColumnSpec) -> pa.Array:
    """Parsed values as Arrow, typed for the SQL that joins them back."""
    if spec.kind == "time":
        return pa.array(values.to_numpy(dtype="datetime64[ns]"), type=pa.timestamp("ns"))
    if spec.kind == "amount":
        return pa.array(values.to_numpy(dtype=float, na_value=np.nan), from_pandas=True)
    if spec.kind == "integer":
        return pa.array(values.astype("Int64").to_numpy(dtype=object, na_value=None),
                        type=pa.int64())
    if spec.kind == "boolean":
        return pa.array(values.to_numpy(dtype=bool))
    return pa.array(values.astype(STRING_DTYPE).to_numpy(dtype=object, na_value=None),
                    type=pa.string())


_INLINE_VALUES = 2000  # distinct values written into the SQL as a CASE (more: a join)


def _inline_lookup(plan: _Column, raw: pa.ChunkedArray, parsed: Any) -> tuple[str, str, str] | None:
    """SQL for a few-valued text column: value, missing and invalid as CASE expressions over
    the raw text (no join, so the rows keep their order)."""
    if len(raw) > _INLINE_VALUES or not (pa.types.is_string(raw.type)
                                         or pa.types.is_large_string(raw.type)):
        return None
    column = _quote(plan.header)
    texts = [_literal(text) for text in raw.to_pylist()]
    if plan.spec.kind == "boolean":
        flags = parsed.values.to_numpy(dtype=bool)
        true_texts = [text for text, flag in zip(texts, flags, strict=True) if flag]
        value = f"coalesce({column} in ({', '.join(true_texts)}), false)" if true_texts \
            else "false"
    else:
        results = parsed.values.astype(STRING_DTYPE).to_numpy(dtype=object, na_value=None)
        whens = " ".join(f"when {text} then {'NULL' if result is None else _literal(result)}"
                         for text, result in zip(texts, results, strict=True))
        value = f"(case {column} {whens} end)" if whens else "NULL"

    def among(mask: np.ndarray) -> str:
        chosen = [text for text, hit in zip(texts, mask, strict=True) if hit]
        return f"{column} in ({', '.join(chosen)})" if chosen else "false"

    return value, f"({column} is null or {among(parsed.missing)})", f"({among(parsed.invalid)})"
