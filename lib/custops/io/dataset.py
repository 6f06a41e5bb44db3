"""The Dataset and load_dataset: read each table of a source, check it, gather the results.

:func:`load_dataset` reads a data directory (CSV in UTF-8, UTF-8 with BOM or GBK/GB18030; Excel
``.xlsx``; Parquet), a single data file or workbook, a DuckDB database file or an ibis connection.
It maps Chinese and English column headers onto the data contract (``docs/data.md``), parses ids,
times, amounts and flags with vectorised pandas operations, and keeps every row it cannot use out
of the tables: each such row is counted in :attr:`Dataset.quality` and listed once, with the first
problem found, in :attr:`Dataset.rejects` (the order of the checks is in :mod:`custops.io.checks`).
``custops validate`` (:func:`custops.io.summary.cli_validate`) prints the resulting data-quality
summary.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from custops.errors import DataError
from custops.exports import write_csv
from custops.io.checks import (
    TableResult,
    count_distinct,
    cross_table_warnings,
    normalize_table,
    order_totals,
    raise_if_mostly_rejected,
)
from custops.io.contract import DEFAULT_TZ, STRING_DTYPE, TABLE_NAMES
from custops.io.csv_text import READ_GATE
from custops.io.duckdb_checks import DUCKDB_MIN_ROWS, check_parquet_table
from custops.io.mapping import read_mapping
from custops.io.parse import check_time_zone, parse_as_of
from custops.io.personal import scrub_text
from custops.io.rejects import empty_rejects
from custops.io.sources import open_source
from custops.io.transform import customers_from_orders

__all__ = ["CLEAN_ON_DISK_TABLES", "Dataset", "MostlyRejectedError", "StoredTable",
           "load_dataset"]

CLEAN_ON_DISK_TABLES = ("orders", "events", "touches")
"""Tables that DuckDB's checks write straight to ``load_dataset``'s ``clean_dir`` by default
(the long tables the steps read through DuckDB: the order totals, date range and distinct
counts are taken from the written file). Customers may be added (``clean_tables``; a run
keeps them in pandas to mask their contact keys before storing them). Orders stay in pandas
when the customers are made from them (a mapping's ``from_orders``)."""


class MostlyRejectedError(DataError):
    """Loading stopped because most order rows were rejected (or all were set aside by the
    mapping's rules). ``rejects`` holds the rows that were kept out, in the rejects-file
    columns (rejected rows and rows set aside by rules), so they can still be written."""

    def __init__(self, message: str, rejects: pd.DataFrame) -> None:
        super().__init__(message)
        self.rejects = rejects


class StoredTable:
    """A checked table that DuckDB wrote to a Parquet file (see ``clean_dir`` of
    :func:`load_dataset`): read into pandas on first use, once."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._frame: pd.DataFrame | None = None
        self._lock = threading.Lock()  # a prefetch thread may ask at the same time

    @property
    def loaded(self) -> bool:
        return self._frame is not None

    def read(self) -> pd.DataFrame:
        with self._lock:
            if self._frame is None:
                self._frame = pd.read_parquet(self.path)
            return self._frame

    def __repr__(self) -> str:
        return f"StoredTable({str(self.path)!r})"


class _Table:
    """A table attribute of :class:`Dataset`: a frame, None, or a :class:`StoredTable` that
    reading the attribute turns into its frame."""

    def __set_name__(self, owner: type, name: str) -> None:
        self.slot = f"_table_{name}"

    def __get__(self, obj: Any, owner: type | None = None) -> pd.DataFrame | None:
        if obj is None:
            return None  # the dataclass default
        value = obj.__dict__.get(self.slot)
        return value.read() if isinstance(value, StoredTable) else value

    def __set__(self, obj: Any, value: pd.DataFrame | StoredTable | None) -> None:
        obj.__dict__[self.slot] = value


@dataclass(repr=False)
class Dataset:
    """The loaded tables, their data-quality summary and the rows that were kept out.

    Attributes
    ----------
    orders : pandas.DataFrame
        ``customer_id``, ``order_id`` (string), ``order_time`` (datetime64[ns], naive, in ``tz``),
        ``amount`` (float64, refunds negative), ``is_refund`` (bool), and the optional contract
        columns found (``channel``, ``category``, ``quantity``), then any extra columns as read.
    customers, events, touches : pandas.DataFrame or None
        ``None`` when the table was not found. A table DuckDB wrote to ``clean_dir`` (see
        :func:`load_dataset`) is held as a :class:`StoredTable` and read into pandas when the
        attribute is first read; :meth:`parquet_path` gives its file without reading it.
    quality : dict
        Table name → ``source``, ``file``, ``rows_read``, ``rows_kept``, ``rows_rejected``,
        ``rejected_by_reason``, ``date_min``, ``date_max``, ``customers`` (distinct ids kept),
        ``columns`` (contract column → header read), ``extra_columns`` and, where known,
        ``encoding``. ``rows_read == rows_kept + rows_rejected`` always.
    rejects : pandas.DataFrame
        One row per rejected input row: ``table``, ``file``, ``row`` (the line or sheet row the
        user sees, header = 1; 1-based row index for database tables), ``column``, ``reason``,
        ``value`` (the raw offending value as text).
    set_aside : pandas.DataFrame
        The rows the mapping's rules set aside, in the same columns (``reason`` is ``set
        aside: RULE``); :meth:`write_rejects` writes them with the rejects.
    as_of : pandas.Timestamp or None
        Snapshot date; rows timed after the end of that day were rejected.
    tz : str
        Time zone of every time column (naive values).
    source : str
        What was read.
    warnings : list of str
        Problems that did not reject rows (missing optional tables, ambiguous headers, …).
    checked_in : dict
        Table name → ``"duckdb"`` or ``"pandas"``: which engine checked it (the results are
        the same; see ``duckdb_min_rows`` of :func:`load_dataset`).
    """

    orders: pd.DataFrame = _Table()
    customers: pd.DataFrame | None = _Table()
    events: pd.DataFrame | None = _Table()
    touches: pd.DataFrame | None = _Table()
    quality: dict[str, dict[str, Any]] = field(default_factory=dict)
    rejects: pd.DataFrame = field(default_factory=empty_rejects)
    set_aside: pd.DataFrame = field(default_factory=empty_rejects)
    as_of: pd.Timestamp | None = None
    tz: str = DEFAULT_TZ
    source: str = ""
    warnings: list[str] = field(default_factory=list)
    checked_in: dict[str, str] = field(default_factory=dict)

    def __repr__(self) -> str:
        def shown(name: str) -> str:
            held = self.__dict__.get(f"_table_{name}")
            return repr(held) if held is None or isinstance(held, StoredTable) \
                else f"<{len(held):,} rows>"

        tables = ", ".join(f"{name}={shown(name)}" for name in TABLE_NAMES)
        return f"Dataset({tables}, source={self.source!r}, as_of={self.as_of!r})"

    def tables(self) -> dict[str, pd.DataFrame]:
        """Return the loaded tables by name, leaving out those not found (tables held in
        Parquet files are read into pandas)."""
        return {name: frame for name in TABLE_NAMES
                if (frame := getattr(self, name)) is not None}

    def parquet_path(self, name: str) -> Path | None:
        """The Parquet file table ``name`` is held in (written by DuckDB's checks to
        ``clean_dir``), or None when it was loaded as a frame or not found."""
        held = self.__dict__.get(f"_table_{name}")
        return held.path if isinstance(held, StoredTable) else None

    def in_memory(self, name: str) -> bool:
        """Whether reading table ``name`` costs nothing: a frame already in pandas, or no
        table at all (not a Parquet file still to read)."""
        held = self.__dict__.get(f"_table_{name}")
        return not isinstance(held, StoredTable) or held.loaded

    def summary(self) -> dict[str, Any]:
        """Return the data-quality summary as a JSON-serialisable dict.

        Returns
        -------
        dict
            ``source``, ``as_of`` (``YYYY-MM-DD`` or None), ``tz``, ``tables`` (name → the
            per-table quality dict, or None when the table was not found; the orders' adds
            ``orders`` — distinct order ids —, ``purchases``, ``gross_amount`` and
            ``net_amount``), ``totals`` (``rows_read``, ``rows_kept``, ``rows_rejected``,
            ``rows_set_aside``, ``customers`` — distinct customer ids over all kept tables —
            and ``customers_with_orders``) and ``warnings``.
        """
        tables = {name: (dict(self.quality[name]) if name in self.quality else None)
                  for name in TABLE_NAMES}
        if tables["orders"] is not None and "net_amount" not in tables["orders"]:
            tables["orders"].update(order_totals(self.orders))
        known_ids: list[pd.Series | Path] = []
        for name in TABLE_NAMES:  # tables held in Parquet files are counted there
            path = None if self.in_memory(name) else self.parquet_path(name)
            if path is not None:
                if "customer_id" in pq.read_schema(path).names:
                    known_ids.append(path)
                continue
            frame = getattr(self, name)
            if frame is not None and "customer_id" in frame.columns:
                known_ids.append(frame["customer_id"])
        all_customers = distinct_customer_ids(known_ids)
        totals = {
            key: int(sum(quality.get(key, 0) for quality in self.quality.values()))
            for key in ("rows_read", "rows_kept", "rows_rejected", "rows_set_aside")
        }
        totals["customers"] = all_customers
        counted = self.quality.get("orders", {}).get("customers")
        totals["customers_with_orders"] = (int(counted) if counted is not None
                                           else count_distinct(self.orders["customer_id"]))
        return {
            "source": self.source,
            "as_of": None if self.as_of is None else self.as_of.strftime("%Y-%m-%d"),
            "tz": self.tz,
            "tables": tables,
            "totals": totals,
            "warnings": list(self.warnings),
        }

    def write_rejects(self, path: str | Path) -> Path:
        """Write :attr:`rejects` (and the rows set aside by rules, :attr:`set_aside`) to a CSV
        file that Excel opens with Chinese intact (UTF-8 BOM).

        Parameters
        ----------
        path : str or Path
            Output file; parent folders are created. The header is written even when no row
            was rejected.

        Returns
        -------
        Path
            The file written.
        """
        return write_rejects_file(rows_kept_out(self.rejects, self.set_aside), path)


def distinct_customer_ids(sources: list[pd.Series | Path]) -> int:
    """Distinct non-missing customer ids over columns in memory and the ``customer_id``
    column of Parquet files (read by DuckDB, never into pandas)."""
    paths = [source for source in sources if isinstance(source, Path)]
    columns = [source for source in sources if not isinstance(source, Path)]
    if not paths:
        return count_distinct(*columns) if columns else 0
    with duckdb.connect() as con:
        parts = []
        for index, column in enumerate(columns):
            con.register(f"ids{index}", pa.table({"id": pa.array(column.astype(STRING_DTYPE).array)}))
            parts.append(f"select id from ids{index}")
        for path in paths:
            literal = "'" + str(path).replace("'", "''") + "'"
            parts.append(f"select customer_id as id from read_parquet({literal})")
        union = " union all ".join(parts)
        return int(con.execute(f"select count(distinct id) from ({union})").fetchone()[0])


def rows_kept_out(*frames: pd.DataFrame) -> pd.DataFrame:
    """Rejected and set-aside rows together, ordered by table, file and row."""
    parts = [frame for frame in frames if len(frame)]
    if not parts:
        return empty_rejects()
    if len(parts) == 1:
        return parts[0].reset_index(drop=True)
    merged = pd.concat(parts, ignore_index=True)
    table_order = merged["table"].map({name: i for i, name in enumerate(TABLE_NAMES)})
    file_order, _ = pd.factorize(merged["file"])
    order = np.lexsort((merged["row"].to_numpy(), file_order, table_order.to_numpy()))
    return merged.iloc[order].reset_index(drop=True)


def write_rejects_file(rejects: pd.DataFrame, path: str | Path) -> Path:
    """The rejected (and set-aside) rows as CSV, through the exports' writer: raw values from
    the data are neutralized like every export (:func:`custops.exports.write_csv`), and phone
    numbers and e-mail addresses inside them masked (:func:`custops.io.personal.scrub_text`)."""
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    if "value" in rejects and len(rejects):  # personal data: numbers in a value are masked
        rejects = rejects.assign(value=scrub_text(rejects["value"]).to_numpy())
    return write_csv(rejects, out)


def load_dataset(
    source: Any,
    *,
    as_of: Any = None,
    mapping: Mapping[str, Any] | str | Path | None = None,
    tz: str = DEFAULT_TZ,
    preset: str | None = None,
    rejects_path: str | Path | None = None,
    duckdb_min_rows: int | None = DUCKDB_MIN_ROWS,
    clean_dir: str | Path | None = None,
    clean_tables: tuple[str, ...] = CLEAN_ON_DISK_TABLES,
) -> Dataset:
    """Load and check orders (required), customers, events and touches.

    Parameters
    ----------
    source : str, Path or ibis backend
        A directory holding ``orders.*`` (and optionally ``customers.*``, ``events.*``,
        ``touches.*``) as ``.csv``/``.tsv``/``.txt``, ``.xlsx`` or ``.parquet``; a single data file
        (read as orders) or an ``.xlsx`` workbook whose sheets are named after the tables; a
        DuckDB database file (``.duckdb``/``.db``, opened read-only) holding tables with those
        names; an ibis connection (anything with ``list_tables()`` and ``table(name)``), a DuckDB
        connection, ``"duckdb://shop.duckdb"``, or any ibis URL (``"postgres://..."``).
    as_of : str, date or Timestamp, optional
        Snapshot date ``YYYY-MM-DD``. Rows timed after the end of that day are rejected.
    mapping : dict, str or Path, optional
        Column mapping, or the path of a YAML file holding one::

            orders:
              file: 订单导出.csv        # optional: which file (or `table:` / `sheet:`)
              columns: {customer_id: 客户ID, order_time: 下单时间, amount: 实付金额}

        Headers not mapped are matched against :data:`TABLE_SCHEMAS` synonyms. The mapping
        language (rules, computed columns, line items, refunds, presets …) is described in
        ``docs/data.md``.
    tz : str
        IANA time zone. Times without an offset are taken as this zone; times with an offset are
        converted to it. All times are returned naive.
    preset : str, optional
        A shipped mapping for a platform's export (``taobao``, ``online-retail``, ``shopify``,
        ``transaction-log``); ``mapping`` refines it.
    rejects_path : str or Path, optional
        Write the rejected and set-aside rows to this CSV file, also when loading stops
        because most order rows were rejected.
    duckdb_min_rows : int or None
        Parquet tables (a file of a data folder, or the single data file) with at least this
        many rows are checked in DuckDB without reading them whole into pandas
        (:mod:`custops.io.duckdb_checks`): same rejects, counts and tables. ``0`` sends every
        Parquet table there, ``None`` none. Tables whose mapping has row steps (rules,
        computed columns, line items, …) are always checked in pandas.
    clean_dir : str or Path, optional
        A folder for the clean tables. Each table of ``clean_tables`` checked in DuckDB is
        written there as ``<table>.parquet`` (the file ``DataFrame.to_parquet`` writes of the
        table pandas would hold: same rows, order, columns and dtypes), and the Dataset holds
        it as a :class:`StoredTable`: its rows never come into pandas unless the attribute is
        read. Other tables are returned as frames and not written.
    clean_tables : tuple of str
        Which tables go to ``clean_dir``: any of ``orders``, ``customers``, ``events``,
        ``touches`` (default :data:`CLEAN_ON_DISK_TABLES`).

    Returns
    -------
    Dataset

    Raises
    ------
    DataError
        No orders table; a required column missing; no order rows; more than
        :data:`MAX_REJECTED_SHARE` of order rows rejected (:class:`MostlyRejectedError`, which
        carries the rejects); an unreadable file or mapping.
    ParameterError
        ``as_of`` or ``tz`` is not valid.
    """
    if not set(clean_tables) <= set(TABLE_NAMES):
        raise ValueError(f"clean_tables={clean_tables!r}: choose among "
                         f"{', '.join(TABLE_NAMES)}")
    tz = check_time_zone(tz)
    as_of_day = parse_as_of(as_of)
    cutoff = None if as_of_day is None else as_of_day + pd.Timedelta(days=1)
    table_mappings = read_mapping(mapping, preset=preset)
    reader = open_source(source, table_mappings)
    reader.duckdb_min_rows = duckdb_min_rows
    checked_in: dict[str, str] = {}
    # Tables are read one after another here and checked two at a time in worker threads
    # (pyarrow and DuckDB release the GIL, so a table is checked while the next is read).
    # Results are taken in table order, so errors and warnings read as if run in sequence.
    pool = ThreadPoolExecutor(max_workers=2)
    loaded: dict[str, TableResult] = {}
    dataset_warnings: list[str] = list(reader.warnings)
    # (table, the reader's warnings while finding it, (file label, read warnings), check):
    # the raw frames are not kept, so each is freed as soon as its check is done.
    pending: list[tuple[str, list[str], tuple[str, list[str]] | None, Future | None]] = []
    seen = len(reader.warnings)

    def finish(table: str, found: list[str], raw: tuple[str, list[str]] | None,
               future: Future | None) -> None:
        dataset_warnings.extend(found)  # e.g. "several orders files found"
        if raw is None:
            dataset_warnings.append(
                f"no {table} table found in {reader.label} — the steps that need it "
                f"will be skipped")
            return
        file_label, read_warnings = raw
        dataset_warnings.extend(read_warnings)
        result = future.result()
        dataset_warnings.extend(result.warnings)
        if result.quality["rows_read"] == 0:
            if table == "orders":
                raise DataError(
                    f"{file_label}: the orders table has no rows (only a header or an "
                    f"empty file). Export the orders again, with at least one order.")
            dataset_warnings.append(f"{file_label}: the {table} table has no rows")
        if table == "orders":
            try:
                raise_if_mostly_rejected(result)
            except DataError as exc:
                kept_out = rows_kept_out(result.rejects, result.set_aside)
                message = str(exc)
                if rejects_path is not None:
                    written = write_rejects_file(kept_out, rejects_path)
                    message += f"\nThe {len(kept_out):,} rows kept out were written to {written}"
                raise MostlyRejectedError(message, kept_out) from None
        loaded[table] = result

    try:
        for table in TABLE_NAMES:
            settings = table_mappings.get(table, {})
            if "from_orders" in settings:
                future = pool.submit(_customers_from_orders, pending[0][3], settings, tz, cutoff)
                pending.append((table, [], (f"{pending[0][2][0]} (customers from orders)", []),
                                future))
                continue
            try:
                raw = reader.read(table)
            except BaseException:
                for item in pending:  # a problem in an earlier table is reported first
                    finish(*item)
                raise
            found, seen = list(reader.warnings[seen:]), len(reader.warnings)
            if raw is None and table == "orders":
                raise DataError(reader.missing_orders_message())
            if raw is None:
                pending.append((table, found, None, None))
                continue
            checked_in[table] = "duckdb" if raw.parquet_path is not None else "pandas"
            on_disk = table in clean_tables and not (
                table == "orders" and "from_orders" in table_mappings.get("customers", {}))
            clean_path = (Path(clean_dir) / f"{table}.parquet"
                          if clean_dir is not None and on_disk else None)
            future = pool.submit(_checked_table, raw, table, settings.get("columns", {}), tz,
                                 cutoff, settings, clean_path=clean_path)
            pending.append((table, found, (raw.file_label, raw.warnings), future))
            del raw
        for item in pending:
            finish(*item)
    finally:
        pool.shutdown(wait=False, cancel_futures=True)
        reader.close()

    dataset_warnings.extend(cross_table_warnings(loaded, as_of_day))
    reject_parts = [result.rejects for result in loaded.values() if len(result.rejects)]
    rejects = pd.concat(reject_parts, ignore_index=True) if reject_parts else empty_rejects()
    set_aside_parts = [result.set_aside for result in loaded.values() if len(result.set_aside)]
    set_aside = (pd.concat(set_aside_parts, ignore_index=True) if set_aside_parts
                 else empty_rejects())
    dataset = Dataset(
        orders=_held(loaded["orders"]),
        customers=_held(loaded.get("customers")),
        events=_held(loaded.get("events")),
        touches=_held(loaded.get("touches")),
        quality={table: result.quality for table, result in loaded.items()},
        rejects=rejects,
        set_aside=set_aside,
        as_of=as_of_day,
        tz=tz,
        source=reader.label,
        warnings=dataset_warnings,
        checked_in={table: checked_in.get(table, "pandas") for table in loaded},
    )
    if rejects_path is not None:
        dataset.write_rejects(rejects_path)
    return dataset


def _held(result: TableResult | None) -> pd.DataFrame | StoredTable | None:
    """What the Dataset holds of a checked table: its frame, or the file DuckDB wrote."""
    if result is None:
        return None
    return result.frame if result.frame is not None else StoredTable(result.path)


def _checked_table(raw, *args, clean_path: Path | None = None) -> TableResult:
    """Check a table (in a worker thread) while no CSV file is being read: see ``READ_GATE``.
    A large Parquet table left on disk by the reader is checked in DuckDB (and its clean
    rows written to ``clean_path`` when given)."""
    with READ_GATE.check():
        if raw.parquet_path is not None:
            return check_parquet_table(raw, *args, clean_path=clean_path)
        return normalize_table(raw, *args)


def _customers_from_orders(orders_future: Future, settings: Mapping[str, Any], tz: str,
                           cutoff: pd.Timestamp | None) -> TableResult:
    """The customers table made from the checked orders (``customers: {from_orders: …}``)."""
    orders = orders_future.result()
    raw, explicit = customers_from_orders(orders.frame, orders.quality["columns"],
                                          settings["from_orders"], orders.quality["file"],
                                          settings)
    with READ_GATE.check():
        return normalize_table(raw, "customers", explicit, tz, cutoff)
