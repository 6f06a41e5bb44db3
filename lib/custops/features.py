"""Per-customer features as of a date: order-level data aggregated to one row per customer.

The feature table is a single ibis expression (:func:`feature_expression`), so the same
definition runs on DuckDB (the default, in-process) and on a Spark session unchanged. Every
step after this one works on one row per customer.

Definitions (all "as of" the end of ``as_of``; nothing later is read):

- *order days*: distinct calendar days with at least one purchase (refund rows excluded);
  ``frequency`` = order days − 1 (repeat order days, as BTYD models count them);
  ``recency_days`` = last − first order day; ``T_days`` = as_of − first order day.
- ``monetary_value``: mean purchase amount per *repeat* order day (first day excluded) — the
  Gamma-Gamma input; 0 for customers without repeats.
- ``gross_spend`` purchases, ``refund_amount`` (positive number), ``net_spend`` = gross − refunds.
- ``orders_<n>d`` / ``spend_<n>d``: purchases and net spend in the last n days (n in WINDOWS).
- ``mean_gap_days``: the customer's usual gap between order days = recency / frequency.
- ``favourite_channel`` / ``favourite_category`` / ``favourite_hour``: most frequent value among
  purchases; ties go to the smallest value, so every engine returns the same answer.
- ``events_<type>`` counts per event type, ``last_event_date``; ``referral_count`` and
  ``complaint_count`` are the referral and complaint event counts.
- Customer attributes (``customers`` table) are joined when present; customers who signed up
  after ``as_of`` are left out.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import ibis
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from custops.errors import ParameterError
from custops.features_sql import FIELD_LIMIT, order_features_sql
from custops.frames import (
    frame_from_arrow,
    integer_columns,
    narrow_integers,
    read_parquet_frame,
    spill_file,
)
from custops.io.duckdb_checks import (
    FEATURE_MEMORY_SHARE,
    arrow_reader,
    memory_settings,
)

__all__ = [
    "CUSTOMER_ATTRIBUTES",
    "DATE_COLUMNS",
    "MAX_VOCABULARY",
    "WINDOWS",
    "build_feature_snapshots",
    "build_features",
    "customer_ids_at",
    "feature_expression",
    "finish_features",
    "join_by_customer",
    "numeric",
    "to_date",
    "vocabulary",
]

WINDOWS = (30, 90, 180, 365)
CUSTOMER_ATTRIBUTES = (
    "signup_time", "gender", "birth_year", "province", "city", "city_tier", "occupation",
    "acquisition_channel", "consent_push", "consent_sms", "consent_wecom", "consent_email",
    "consent_phone", "phone", "email", "wecom_external_id", "wecom_owner", "push_token",
)
DATE_COLUMNS = ("first_order_date", "last_order_date", "last_event_date")


def numeric(series: pd.Series, fill: float = np.nan) -> pd.Series:
    """A nullable column as plain float64, missing values replaced by ``fill``."""
    return series.astype("Float64").fillna(fill).astype("float64")


def to_date(as_of: str | dt.date | pd.Timestamp) -> dt.date:
    """Parse an ``as_of`` parameter into a date, with a clear error."""
    try:
        return pd.Timestamp(as_of).date()
    except (ValueError, TypeError) as exc:
        raise ParameterError(f"as_of={as_of!r} is not a date; write it as YYYY-MM-DD") from exc


def _event_types() -> tuple[str, ...]:
    """The event types of the data contract. Imported on use: ``custops.io`` loads the whole
    loader (~1 s), which a feature table without events does not need."""
    from custops.io.contract import EVENT_TYPES

    return tuple(EVENT_TYPES)


def _outer_join(left: ibis.Table, right: ibis.Table) -> ibis.Table:
    joined = left.outer_join(right, left.customer_id == right.customer_id)
    return joined.mutate(
        customer_id=joined.customer_id.fill_null(joined.customer_id_right)
    ).drop("customer_id_right")


def _left_join(left: ibis.Table, right: ibis.Table) -> ibis.Table:
    joined = left.left_join(right, left.customer_id == right.customer_id)
    return joined.drop("customer_id_right")


def _favourite_from_counts(counts: ibis.Table, column: str, name: str,
                           values: list | None = None) -> ibis.Table:
    """Most frequent value of ``column`` per customer from (customer_id, column, n) counts;
    ties go to the smallest value.

    With the sorted distinct ``values`` known (up to MAX_VOCABULARY), one ``argmax`` on the
    unique key count × K − rank(value) does it: deterministic on every engine, no window.
    Otherwise a ranked window does the same.
    """
    if values is not None and len(values) <= MAX_VOCABULARY:
        rank = counts[column].cases(*[(v, i) for i, v in enumerate(values)], else_=len(values))
        key = counts.n * (MAX_VOCABULARY + 1) + (MAX_VOCABULARY - rank)
        return counts.group_by("customer_id").aggregate(**{name: counts[column].argmax(key)})
    ranked = counts.mutate(_rank=ibis.row_number().over(
        group_by=counts.customer_id, order_by=[ibis.desc(counts.n), counts[column]]))
    return ranked.filter(ranked._rank == 0).select("customer_id", **{name: ranked[column]})


MAX_VOCABULARY = 1000  # favourites by a ranked key up to this many distinct values
MAX_HISTOGRAM = 16  # up to this many values, favourites from one count column per value
# (the 24 hours cost more as columns than as their own group-by: measured)


def _cutoff(day: dt.date):
    """The first instant after ``day`` (rows at or after it are not known on ``day``)."""
    return ibis.timestamp(pd.Timestamp(day) + pd.Timedelta(days=1))


@dataclass
class _SnapshotParts:
    """What the feature tables of several snapshot dates share, each computed in one pass over
    the rows up to the latest date: order days (customer × day), per-value purchase counts for
    the favourites and per-customer event counts, the last two with one count per date."""

    dates: list[dt.date]  # ascending
    days: ibis.Table
    favourites: dict[str, tuple[ibis.Table, str, list | None]]  # name → counts, column, values
    events: ibis.Table | None
    customers: ibis.Table | None
    # Favourites of up to MAX_HISTOGRAM values: one count column per value and date in a
    # single per-customer group-by; name → the values, in order.
    histogram: ibis.Table | None = None
    histogram_values: dict[str, list] = field(default_factory=dict)


def _snapshot_parts(orders: ibis.Table, dates, *, customers: ibis.Table | None = None,
                    events: ibis.Table | None = None,
                    vocabularies: Mapping[str, list] | None = None) -> _SnapshotParts:
    """The shared parts of :func:`feature_expression` for ``dates`` (see
    :class:`_SnapshotParts`); a count for an earlier date filters its rows inside the one
    aggregation instead of reading and hashing them again."""
    days_sorted = sorted({to_date(d) for d in dates})
    last = days_sorted[-1]
    cols = set(orders.columns)
    vocabularies = vocabularies or {}

    o = orders.filter(orders.order_time < _cutoff(last))
    # Parquet exports often store the flag as 0/1 integers: cast before filling.
    refund = (o.is_refund.cast("boolean").fill_null(False) if "is_refund" in cols
              else ibis.literal(False))
    o = o.mutate(order_date=o.order_time.date(), _refund=refund, _hour=o.order_time.hour())
    purchase = ~o._refund

    # Customer-day level. BTYD counts repeat *days*; monetary value is spend per repeat day.
    days = o.group_by(["customer_id", "order_date"]).aggregate(
        day_spend=o.amount.sum(where=purchase),
        day_orders=o.order_id.count(where=purchase),
        day_net=o.amount.sum(),
        day_refund=(-o.amount).sum(where=o._refund),
        day_refund_count=o.order_id.count(where=o._refund),
    )

    def per_date(make):
        return {f"_{j}": make(None if j == len(days_sorted) - 1 else day)
                for j, day in enumerate(days_sorted)}

    purchases = o.filter(purchase)
    favourites = {}
    histogram_values: dict[str, list] = {}
    counts_by_value: dict[str, Any] = {}
    for column, name, values in (("_hour", "favourite_hour", list(range(24))),
                                 ("channel", "favourite_channel", vocabularies.get("channel")),
                                 ("category", "favourite_category",
                                  vocabularies.get("category"))):
        if column != "_hour" and column not in cols:
            continue
        if values is not None and len(values) <= MAX_HISTOGRAM:
            # A few values (channels, categories): one count column per value in the
            # histogram group-by below, one pass over the rows for all such favourites instead
            # of a (customer, value) group-by, a ranking group-by and a join each (measured
            # at 10M orders: ~10 % less CPU for the whole feature table).
            histogram_values[name] = list(values)
            for k, value in enumerate(values):
                is_value = purchase & (o[column] == value)
                for j, day in enumerate(days_sorted):
                    counts_by_value[f"{name}_{k}_{j}"] = o.count(
                        where=is_value if j == len(days_sorted) - 1
                        else is_value & (o.order_date <= ibis.date(day)))
            continue
        rows = purchases.filter(purchases[column].notnull())
        counts = rows.group_by(["customer_id", column]).aggregate(**per_date(
            lambda day, rows=rows: rows.customer_id.count(
                where=None if day is None else rows.order_date <= ibis.date(day))))
        favourites[name] = (counts, column, values)

    event_counts = None
    if events is not None:
        ev = events.filter(events.event_time < _cutoff(last))
        etype = ev.event_type
        aggs: dict[str, Any] = {}
        for j, day in enumerate(days_sorted):
            known = None if j == len(days_sorted) - 1 else ev.event_time < _cutoff(day)

            def both(condition, known=known):
                return condition if known is None else (
                    known if condition is None else known & condition)

            aggs[f"events_total_{j}"] = ev.customer_id.count(where=both(None))
            aggs[f"last_event_time_{j}"] = ev.event_time.max(where=both(None))
            for t in _event_types():
                aggs[f"events_{t}_{j}"] = ev.customer_id.count(where=both(etype == t))
        event_counts = ev.group_by("customer_id").aggregate(**aggs)
    histogram = (o.group_by("customer_id").aggregate(**counts_by_value) if counts_by_value
                 else None)
    return _SnapshotParts(days_sorted, days, favourites, event_counts, customers, histogram,
                          histogram_values)


def _favourite_from_histogram(hist: ibis.Table, name: str, values: list, j: int):
    """The most frequent of ``values`` from their count columns (date ``j``); ties go to the
    first (smallest) value, no purchase gives null."""
    counts = [hist[f"{name}_{k}_{j}"] for k in range(len(values))]
    best = ibis.greatest(*counts) if len(counts) > 1 else counts[0]
    return ibis.cases(*[((count == best) & (best > 0), ibis.literal(value))
                        for count, value in zip(counts, values, strict=True)])


def _order_features(parts: _SnapshotParts, j: int) -> ibis.Table:
    """The order-derived columns as of ``parts.dates[j]``, one row per customer with any
    order row by then (the columns :func:`custops.features_sql.order_features_sql` gives)."""
    latest = j == len(parts.dates) - 1
    as_of_lit = ibis.date(parts.dates[j])
    days = parts.days if latest else parts.days.filter(parts.days.order_date <= as_of_lit)
    bought = days.day_orders > 0
    age = as_of_lit.delta(days.order_date, unit="day")
    aggs: dict[str, Any] = {
        "first_order_date": days.order_date.min(where=bought),
        "last_order_date": days.order_date.max(where=bought),
        "order_days": days.order_date.count(where=bought),
        "order_count": days.day_orders.sum(),
        "gross_spend": days.day_spend.sum(),
        "first_day_spend": days.day_spend.argmin(days.order_date, where=bought),
        "net_spend": days.day_net.sum(),
        "refund_amount": days.day_refund.sum(),
        "refund_count": days.day_refund_count.sum(),
    }
    for n in WINDOWS:
        aggs[f"orders_{n}d"] = days.day_orders.sum(where=age < n)
        aggs[f"spend_{n}d"] = days.day_net.sum(where=age < n)
    feats = days.group_by("customer_id").aggregate(**aggs)

    if parts.histogram is not None:
        hist = parts.histogram
        feats = _left_join(feats, hist.select("customer_id", **{
            name: _favourite_from_histogram(hist, name, values, j)
            for name, values in parts.histogram_values.items()}))
    for name, (counts, column, values) in parts.favourites.items():
        mine = counts.select("customer_id", column, n=counts[f"_{j}"])
        if not latest:
            mine = mine.filter(mine.n > 0)
        feats = _left_join(feats, _favourite_from_counts(mine, column, name, values))
    favourite_names = ("favourite_hour", "favourite_channel", "favourite_category")
    return feats.select(*[c for c in feats.columns if c not in favourite_names],
                        *[c for c in favourite_names if c in feats.columns])  # fixed order


def _snapshot_expression(parts: _SnapshotParts, as_of: str | dt.date,
                         order_features: ibis.Table | None = None) -> ibis.Table:
    """The feature table as of one of ``parts.dates`` (the same table
    :func:`feature_expression` gives for that date alone); ``order_features``, when given,
    replaces the order-derived columns of :func:`_order_features` (the DuckDB fast path)."""
    as_of_date = to_date(as_of)
    j = parts.dates.index(as_of_date)
    latest = j == len(parts.dates) - 1
    as_of_lit = ibis.date(as_of_date)
    feats = order_features if order_features is not None else _order_features(parts, j)
    feats = feats.mutate(
        frequency=feats.order_days - 1,
        recency_days=feats.last_order_date.delta(feats.first_order_date, unit="day"),
        T_days=as_of_lit.delta(feats.first_order_date, unit="day"),
        days_since_last_order=as_of_lit.delta(feats.last_order_date, unit="day"),
        repeat_spend=(feats.gross_spend - feats.first_day_spend.fill_null(0.0)),
        refund_amount=feats.refund_amount.fill_null(0.0),
    ).drop("first_day_spend")

    # All customers known at as_of: buyers, registered customers, customers with events.
    # Outer joins keep every id while reading ``feats`` once (a union of ids joined back to
    # it would make the engine compute the order aggregation twice).
    table = feats
    if parts.events is not None:
        ev = parts.events
        if not latest:
            ev = ev.filter(ev[f"events_total_{j}"] > 0)
        event_feats = ev.select(
            "customer_id",
            events_total=ev[f"events_total_{j}"],
            last_event_date=ev[f"last_event_time_{j}"].date(),
            **{f"events_{t}": ev[f"events_{t}_{j}"] for t in _event_types()},
        )
        table = _outer_join(table, event_feats)
    if parts.customers is not None:
        customers = parts.customers
        known = customers
        if "signup_time" in customers.columns:
            known = customers.filter(
                customers.signup_time.isnull() | (customers.signup_time < _cutoff(as_of_date))
            )
        attrs = [c for c in CUSTOMER_ATTRIBUTES if c in customers.columns]
        table = _outer_join(table, known.select("customer_id", *attrs))
    return table


def feature_expression(
    orders: ibis.Table,
    as_of: str | dt.date,
    *,
    customers: ibis.Table | None = None,
    events: ibis.Table | None = None,
    vocabularies: Mapping[str, list] | None = None,
) -> ibis.Table:
    """Build the per-customer feature table as an ibis expression (any ibis backend).

    Two group-bys do the order-level work (orders → customer-days → customers); a favourite
    of up to MAX_HISTOGRAM values (channel, category) comes from one count column per value
    in a shared per-customer group-by, the others (hour) from (customer, value) counts, and
    the event counts from one group-by per customer.

    Parameters
    ----------
    orders : ibis.Table
        Columns ``customer_id``, ``order_id``, ``order_time`` (naive local timestamp),
        ``amount``; optional ``is_refund``, ``channel``, ``category``. One row per order (and
        per refund), as :func:`custops.io.dataset.load_dataset` guarantees.
    as_of : str or date
        Snapshot date; rows after the end of this day are ignored.
    customers, events : ibis.Table, optional
        The optional tables of the data contract.
    vocabularies : mapping, optional
        The distinct values of ``channel`` / ``category`` (see :func:`vocabulary`); a column
        with more than MAX_VOCABULARY values, or none given, falls back to a ranked group-by.
    """
    parts = _snapshot_parts(orders, [as_of], customers=customers, events=events,
                            vocabularies=vocabularies)
    return _snapshot_expression(parts, as_of)


def vocabulary(con: Any, table: ibis.Table, column: str) -> list | None:
    """The sorted distinct non-null values of a column, or None when there are too many to
    count in columns (the favourite then comes from a ranked group-by)."""
    if column not in table.columns:
        return None
    values = con.execute(table.select(table[column]).distinct().limit(MAX_VOCABULARY + 1))
    values = sorted(v for v in values[column].tolist() if v is not None and v == v)
    return values if len(values) <= MAX_VOCABULARY else None


def finish_features(frame: pd.DataFrame, as_of: dt.date) -> pd.DataFrame:
    """Engine-independent post-processing: dtypes, derived ratios, fixed column order.
    Counts, days and hours are nullable integers (``Int32`` where they fit, see
    :func:`narrow_integers`); money is float64."""
    if not frame["customer_id"].is_monotonic_increasing:  # engines may return them sorted
        frame = frame.sort_values("customer_id", kind="stable")
    frame = frame.reset_index(drop=True)
    frame["customer_id"] = frame["customer_id"].astype("string")
    for col in DATE_COLUMNS:
        if col in frame:
            frame[col] = pd.to_datetime(frame[col]).astype("datetime64[s]")
    for col in integer_columns(frame.columns):
        fill = 0 if col not in ("recency_days", "T_days", "days_since_last_order",
                                "favourite_hour", "frequency") else None
        values = frame[col]
        if values.dtype != "Int64":  # float with NaN (pandas' own conversion), object, ...
            values = values.astype("Float64")
        frame[col] = narrow_integers(values.fillna(fill) if fill is not None else values)
    money = ["gross_spend", "net_spend", "refund_amount", "repeat_spend"]
    money += [f"spend_{n}d" for n in WINDOWS]
    for col in money:
        frame[col] = frame[col].astype("float64").fillna(0.0).round(6)
    if frame.columns.isin(CUSTOMER_ATTRIBUTES).any():  # contact keys come only with these
        # Imported here: custops.exports brings the rules and labels (~1 s of a bench child's
        # wall time), which a table without customer attributes does not need.
        from custops.exports import mask_contacts

        frame = mask_contacts(frame)  # personal data: the feature table keeps contact keys masked
    frame["is_buyer"] = frame["order_days"] > 0
    frequency = frame["frequency"].fillna(0).astype("int64").to_numpy()
    with np.errstate(divide="ignore", invalid="ignore"):
        frame["monetary_value"] = np.where(
            frequency > 0, frame["repeat_spend"].to_numpy() / np.maximum(frequency, 1), 0.0
        ).round(6)
        frame["avg_order_value"] = np.where(
            frame["order_count"] > 0, frame["gross_spend"] / frame["order_count"].clip(lower=1),
            np.nan,
        )
        frame["mean_gap_days"] = np.where(
            frequency > 0, frame["recency_days"].astype("float64") / np.maximum(frequency, 1),
            np.nan,
        )
    if "last_event_date" in frame:
        frame["days_since_last_event"] = (
            narrow_integers((pd.Timestamp(as_of) - frame["last_event_date"]).dt.days)
        )
        frame["referral_count"] = frame["events_referral"]
        frame["complaint_count"] = frame["events_complaint"]
    if "birth_year" in frame:
        frame["age"] = narrow_integers(as_of.year - frame["birth_year"].astype("Float64"))
    if "signup_time" in frame:
        frame["signup_time"] = pd.to_datetime(frame["signup_time"]).astype("datetime64[s]")
    return frame.drop(columns=["repeat_spend"])


def _as_table(con: Any, name: str, obj: Any) -> ibis.Table | None:
    if obj is None:
        return None
    if isinstance(obj, ibis.Table):
        return obj
    if isinstance(obj, pd.DataFrame):
        if getattr(con, "name", "") == "pyspark":
            # Spark turns NaN in text columns into the string "NaN": hand it real nulls.
            obj = obj.copy()
            for col in obj.columns:
                if pd.api.types.is_string_dtype(obj[col]) or obj[col].dtype == object:
                    obj[col] = obj[col].astype(object).where(obj[col].notna(), None)
        return ibis.memtable(obj)
    raise TypeError(f"{name}: expected a pandas DataFrame or an ibis Table, got {type(obj)!r}")


def build_feature_snapshots(
    data: Any,
    dates,
    *,
    con: Any = None,
    customers: pd.Index | None = None,
    close: bool = False,
) -> Iterator[tuple[dt.date, pd.DataFrame]]:
    """The per-customer feature tables as of several dates, earliest first.

    On DuckDB the parts the dates share (order days, favourite counts, event counts; see
    :class:`_SnapshotParts`) are computed once, in one pass over the rows up to the latest
    date, and kept as temporary tables; each date then aggregates those, instead of reading
    and hashing the rows again. Every table equals :func:`build_features` for its date alone
    (tested). DuckDB writes every date's table to a file first; the connection is closed
    (when it is this function's own, or ``close``) before pandas reads them, so the engine's
    memory (up to ~7 GiB at 10M customers) and the frames (~4 GiB each) are never both held.
    A single date's table known to be small (:data:`ARROW_ROWS`) comes as Arrow in memory
    instead of a file (at most :data:`ARROW_BYTES`; a larger one goes on to a file).
    On other engines each table is yielded as soon as it is ready.

    ``customers``: the feature rows of these customer ids only (rows equal the whole
    table's, since a customer's features depend only on their own rows: tested); the engine
    reads only their orders, events and profile.
    """
    tables = data if isinstance(data, Mapping) else {
        name: getattr(data, name, None) for name in ("orders", "customers", "events")
    }
    own = con is None
    if own:
        con = ibis.duckdb.connect()
        for statement in memory_settings(FEATURE_MEMORY_SHARE):  # spill, not 80 % of RAM
            con.raw_sql(statement)
    closed = False

    def release() -> None:
        nonlocal closed
        if (own or close) and not closed and getattr(con, "name", "") == "duckdb":
            con.disconnect()  # its memory back at once, not when the connection is collected
            closed = True

    written: list[tuple[dt.date, Path | pa.Table]] = []
    try:
        if getattr(con, "name", "") != "duckdb":
            yield from _build_snapshots(con, tables, dates, customers)
            return
        for day, table in _build_snapshots(con, tables, dates, customers, to_files=True):
            written.append((day, table))
        release()
        while written:
            day, table = written.pop(0)
            if isinstance(table, pa.Table):
                frame = frame_from_arrow([table])
                del table
            else:
                try:
                    frame = read_parquet_frame(table, engine_written=True)
                finally:
                    table.unlink(missing_ok=True)
            yield day, finish_features(frame, day)
    finally:
        for _day, table in written:
            if isinstance(table, Path):
                table.unlink(missing_ok=True)
        if own:
            release()


def _only_customers(con: Any, table: ibis.Table | None, ids: ibis.Table | None
                    ) -> ibis.Table | None:
    """``table``'s rows of the customers in ``ids`` (a semi-join), or ``table`` itself."""
    if table is None or ids is None:
        return table
    column = table.customer_id
    if not column.type().is_string():
        column = column.cast("string")
    return table.filter(column.isin(ids.customer_id))


def _build_snapshots(con: Any, tables: Mapping[str, Any], dates,
                     customers: pd.Index | None = None, *, to_files: bool = False
                     ) -> Iterator[tuple[dt.date, Any]]:
    """:func:`build_feature_snapshots` on the connection ``con``: each date's pandas table,
    or (``to_files``, DuckDB) the Parquet file DuckDB wrote it to (raw engine columns, for
    :func:`read_parquet_frame` with ``engine_written`` and :func:`finish_features`)."""
    orders = _as_table(con, "orders", tables["orders"])
    # The vocabularies of the whole table: the filtered rows then take the same path.
    vocabularies = {c: vocabulary(con, orders, c) for c in ("channel", "category")}
    ids = None if customers is None else ibis.memtable(pd.DataFrame(
        {"customer_id": pd.Series(pd.Index(customers).astype("string"), dtype="string")
         .to_numpy(dtype=object)}))
    orders = _only_customers(con, orders, ids)
    parts = _snapshot_parts(
        orders, dates,
        customers=_only_customers(con, _as_table(con, "customers", tables.get("customers")),
                                  ids),
        events=_only_customers(con, _as_table(con, "events", tables.get("events")), ids),
        vocabularies=vocabularies,
    )
    on_duckdb = getattr(con, "name", "") == "duckdb"
    kept: list[str] = []
    if len(parts.dates) > 1 and on_duckdb:
        tag = uuid.uuid4().hex[:8]

        def keep(name: str, expr: ibis.Table) -> ibis.Table:
            kept.append(f"_snapshot_{name}_{tag}")
            return con.create_table(kept[-1], expr, temp=True)

        parts = replace(
            parts, days=keep("days", parts.days),
            favourites={name: (keep(name, counts), column, values)
                        for name, (counts, column, values) in parts.favourites.items()},
            events=None if parts.events is None else keep("events", parts.events),
            histogram=None if parts.histogram is None else keep("histogram", parts.histogram))
    try:
        for day in parts.dates:
            fast = (_duckdb_order_features(con, orders, day, vocabularies)
                    if len(parts.dates) == 1 and on_duckdb else None)
            written = None
            try:
                # Sorted by the engine (in parallel) rather than by pandas afterwards.
                expr = _snapshot_expression(parts, day, fast).order_by("customer_id")
                if to_files and fast is not None and _at_most_rows(
                        con, fast, parts.customers, ARROW_ROWS):
                    # Small: Arrow in memory, no file written and read back (~0.5-1 s of a
                    # million customers' table); beyond ARROW_BYTES, a file after all.
                    yield day, _arrow_or_file(con, expr, ARROW_BYTES)
                    continue
                if on_duckdb:
                    # DuckDB writes the table to a file within its memory limit and pandas
                    # reads it column by column afterwards: the engine's memory and the frame
                    # are not both at their peak at once (at 10M customers ~7 GiB and ~4 GiB).
                    written = spill_file("features")
                    con.to_parquet(expr, written)
                else:  # Arrow → pandas directly, skipping ibis's slower pandas conversion
                    result = [con.to_pyarrow(expr)]
            except BaseException:
                if written is not None:
                    written.unlink(missing_ok=True)
                raise
            finally:
                if fast is not None:  # the engine's copy goes before pandas makes its own
                    con.raw_sql(f"drop table if exists {fast.get_name()}")
            if to_files and written is not None:
                yield day, written
                continue
            try:
                frame = (read_parquet_frame(written, engine_written=True)
                         if written is not None else frame_from_arrow(result))
            finally:
                if written is not None:
                    written.unlink(missing_ok=True)
            pa.default_memory_pool().release_unused()  # Arrow's freed buffers back
            yield day, finish_features(frame, day)
    finally:
        for name in kept:  # a connection kept open (campaigns) lets them go
            with contextlib.suppress(Exception):  # already closed: nothing to let go
                con.raw_sql(f"drop table if exists {name}")


def customer_ids_at(data: Any, as_of: str | dt.date, *, con: Any = None) -> pd.Series:
    """The ids of the customers the feature table as of ``as_of`` has a row for (anyone with
    an order or event row by then, or registered by then), sorted as that table sorts them
    (a ``string`` Series): one distinct query instead of the whole table."""
    tables = data if isinstance(data, Mapping) else {
        name: getattr(data, name, None) for name in ("orders", "customers", "events")
    }
    own = con is None
    if own:
        con = ibis.duckdb.connect()
        for statement in memory_settings(FEATURE_MEMORY_SHARE):
            con.raw_sql(statement)
    try:
        cutoff = _cutoff(to_date(as_of))
        parts = []
        orders = _as_table(con, "orders", tables["orders"])
        parts.append(orders.filter(orders.order_time < cutoff).select("customer_id"))
        events = _as_table(con, "events", tables.get("events"))
        if events is not None:
            parts.append(events.filter(events.event_time < cutoff).select("customer_id"))
        customers = _as_table(con, "customers", tables.get("customers"))
        if customers is not None:
            known = customers
            if "signup_time" in customers.columns:
                known = customers.filter(customers.signup_time.isnull()
                                         | (customers.signup_time < cutoff))
            parts.append(known.select("customer_id"))
        parts = [p.mutate(customer_id=p.customer_id.cast("string")) for p in parts]
        expr = parts[0] if len(parts) == 1 else ibis.union(*parts, distinct=True)
        expr = expr.distinct().filter(expr.customer_id.notnull())
        ids = con.to_pyarrow(expr).column("customer_id")
    finally:
        if own:
            con.disconnect()
    out = pd.Series(ids.to_pandas(), name="customer_id").astype("string")
    return out.sort_values(kind="stable").reset_index(drop=True)


ARROW_ROWS = 2_000_000
"""A feature table whose customers with orders plus customers in the customers table are at
most this many comes from DuckDB as Arrow in memory (~0.4 GiB a million customers), not
through a Parquet file (:func:`build_feature_snapshots`)."""

ARROW_BYTES = 1 << 30
"""The most Arrow a feature table may hold in memory beside the engine; a larger one (many
customers known only from their events) goes on to a Parquet file."""


def _at_most_rows(con: Any, fast: ibis.Table, customers: ibis.Table | None, limit: int
                  ) -> bool:
    """Whether the feature table built on ``fast`` (the order customers of
    :func:`_duckdb_order_features`) and ``customers`` has about ``limit`` rows or fewer
    (customers known only from their events are not counted: :func:`_arrow_or_file` bounds
    those)."""
    rows = int(con.execute(fast.count()))
    if customers is not None and rows <= limit:
        rows += int(con.execute(customers.count()))  # Parquet: from the file's metadata
    return rows <= limit


def _arrow_or_file(con: Any, expr: ibis.Table, most_bytes: int) -> pa.Table | Path:
    """The rows of ``expr`` as an Arrow table, or, once they pass ``most_bytes``, the Parquet
    file they were written to (the batches read so far, then the rest)."""
    # DuckDB's own Arrow reader on the compiled query (the engine's types, as its Parquet
    # file holds them); ibis registers the query's in-memory tables first.
    con._run_pre_execute_hooks(expr)
    batches: list[pa.RecordBatch] = []
    held = 0
    # Closed whatever happens: an open result keeps the connection from running anything
    # else (dropping the order table afterwards would fail and hide the first error).
    with arrow_reader(con.con.sql(con.compile(expr)), _ARROW_BATCH_ROWS) as reader:
        for batch in reader:
            batches.append(batch)
            held += batch.nbytes
            if held > most_bytes:
                path = spill_file("features")
                try:
                    with pq.ParquetWriter(path, reader.schema) as writer:
                        while batches:
                            writer.write_batch(batches.pop(0))
                        for rest in reader:
                            writer.write_batch(rest)
                except BaseException:
                    path.unlink(missing_ok=True)
                    raise
                return path
        return pa.Table.from_batches(batches, schema=reader.schema)


_ARROW_BATCH_ROWS = 1 << 17


def _duckdb_order_features(con: Any, orders: ibis.Table, as_of: dt.date,
                           vocabularies: Mapping[str, list | None]) -> ibis.Table | None:
    """The order-derived columns from the hand-written DuckDB query of
    :mod:`custops.features_sql` (two group-bys instead of the ibis expression's four), kept as
    a temporary table; None where that query does not apply and the ibis expression is used:
    a text favourite of more than MAX_HISTOGRAM values, a missing order id (the ibis
    expression does not count such rows as purchases), a missing customer id, or a customer
    with 2**16 purchases or more (the packed counts would overflow)."""
    cols = set(orders.columns)
    schema = orders.schema()
    if not {"customer_id", "order_id", "order_time", "amount"} <= cols or not (
            schema["order_time"].is_timestamp() and schema["amount"].is_numeric()):
        return None
    for column in ("channel", "category"):
        values = vocabularies.get(column)
        if column in cols and (not values or len(values) > MAX_HISTOGRAM
                               or not all(isinstance(v, str) for v in values)):
            return None
    tag = uuid.uuid4().hex[:8]
    source, target = f"_custops_orders_{tag}", f"_custops_order_features_{tag}"
    keep = [c for c in ("customer_id", "order_id", "order_time", "amount", "is_refund",
                        "channel", "category") if c in cols]
    con.create_view(source, orders.select(*keep))
    try:
        # Parquet statistics answer this without reading the ids.
        if con.raw_sql(f"select count(*) from {source} where order_id is null").fetchall()[0][0]:
            return None
        con.raw_sql(f"create temp table {target} as " + order_features_sql(
            source, keep, as_of, WINDOWS, vocabularies))
    finally:
        con.raw_sql(f"drop view if exists {source}")
    null_ids, most = con.raw_sql(f"select count(*) filter (where customer_id is null), "
                                 f"coalesce(max(order_count), 0) from {target}").fetchall()[0]
    if null_ids or most >= FIELD_LIMIT:
        con.raw_sql(f"drop table if exists {target}")
        return None
    return con.table(target)


def build_features(
    data: Any,
    as_of: str | dt.date,
    *,
    con: Any = None,
    customers: pd.Index | None = None,
    close: bool = False,
) -> pd.DataFrame:
    """Compute the per-customer feature table (pandas, one row per customer).

    Parameters
    ----------
    data : Dataset or mapping
        A :class:`custops.io.dataset.Dataset` or a mapping with ``orders`` and optionally
        ``customers`` / ``events``, each a pandas DataFrame or an ibis Table.
    as_of : str or date
        Snapshot date (YYYY-MM-DD).
    con : ibis backend, optional
        Where to compute: default an in-process DuckDB; pass ``ibis.pyspark.connect(spark)``
        to compute on a Spark session. On DuckDB the order-derived columns come from the
        hand-written query of :mod:`custops.features_sql` (same table, ~20 % less CPU).
    customers : sequence of ids, optional
        Only these customers' rows (the same rows as the whole table's).
    close : bool
        Close ``con`` (DuckDB) once the engine is done, before pandas reads the table.
    """
    (_day, frame), = build_feature_snapshots(data, [as_of], con=con, customers=customers,
                                             close=close)
    return frame


def join_by_customer(left: pd.DataFrame, right: pd.DataFrame, columns: list[str]
                      ) -> pd.DataFrame:
    """``left`` with ``columns`` of ``right`` by customer_id (a left join). Tables made from
    the same feature table list the customers in the same order: their columns are taken as
    they are, without hashing the text ids."""
    if len(left) == len(right) and left["customer_id"].reset_index(drop=True).equals(
            right["customer_id"].reset_index(drop=True)):
        out = left.copy()
        for col in columns:
            out[col] = right[col].set_axis(out.index)
        return out
    return left.merge(right[["customer_id", *columns]], on="customer_id", how="left")
