"""Order-level aggregates the pages draw (profile, churn flow, send times), in DuckDB.

Each reads the validated orders (a DataFrame or the run's Parquet file) with the feature
layer's no-look-ahead cut-off: nothing after the end of ``as_of``. The feature table itself
(one row per customer) is :mod:`custops.features`.
"""

from __future__ import annotations

import datetime as dt
import os

import numpy as np
import pandas as pd
import pyarrow.parquet as pq

from custops.features import to_date
from custops.io.duckdb_checks import FEATURE_MEMORY_SHARE, bounded_connection

__all__ = ["activity_hour_matrix", "churn_events", "customer_months", "order_time_counts",
           "repeat_order_curve"]


def _register(con, name: str, table: pd.DataFrame | str | os.PathLike) -> list[str]:
    """Make ``table`` (a DataFrame or a Parquet file) queryable as ``name`` on a DuckDB
    connection; returns its column names."""
    if isinstance(table, pd.DataFrame):
        con.register(name, table)
        return list(table.columns)

    path = str(table).replace("'", "''")
    con.execute(f"create temp view {name} as select * from read_parquet('{path}')")
    return pq.read_schema(str(table)).names


def _duck(orders: pd.DataFrame | str | os.PathLike, as_of: str | dt.date):
    """A DuckDB connection with view ``orders`` (orders before the day after ``as_of``, with
    ``_refund``) over a DataFrame or a Parquet file (a run's validated orders)."""

    con = bounded_connection(FEATURE_MEMORY_SHARE)  # spill, not 80 % of RAM (10M customers)
    con.execute("SET enable_progress_bar = false")  # a long query draws none in a report
    columns = _register(con, "orders_raw", orders)
    cutoff = pd.Timestamp(to_date(as_of)) + pd.Timedelta(days=1)
    refund = ("coalesce(cast(is_refund as boolean), false)" if "is_refund" in columns
              else "false")
    con.execute(
        f"create temp view orders as select *, {refund} as _refund from orders_raw "
        f"where order_time < timestamp '{cutoff:%Y-%m-%d %H:%M:%S}'"
    )
    return con


def customer_months(orders: pd.DataFrame, as_of: str | dt.date) -> pd.DataFrame:
    """Purchases and net spend per customer and calendar month (``month`` = first day).

    ``customer`` numbers the customers (0, 1, … in ``customer_id`` order, int32) instead of
    repeating their text ids: the months' consumers (:func:`custops.profile.monthly_buyers`,
    :func:`~custops.profile.cohort_retention`) only tell customers apart, and at 10M
    customers the table has tens of millions of rows, of which the ids would be most.
    Rows are sorted by customer and month.

    ``orders`` holds one row per order (and per refund), as :func:`custops.io.dataset.load_dataset`
    guarantees, so purchases are counted by rows: a distinct count of text order ids would
    cost more than the rest of the query.
    """
    con = _duck(orders, as_of)
    return con.execute(
        "select (dense_rank() over (order by customer_id) - 1)::INTEGER as customer, month, "
        "orders, net_spend from (select customer_id, "
        "date_trunc('month', order_time)::date as month, "
        "count(*) filter (where not _refund) as orders, "
        "sum(amount) as net_spend from orders group by all) order by customer, month"
    ).df()


def order_time_counts(orders: pd.DataFrame, as_of: str | dt.date) -> pd.DataFrame:
    """Purchases by weekday (0 = Monday) and hour of day."""
    con = _duck(orders, as_of)
    return con.execute(
        "select isodow(order_time) - 1 as weekday, hour(order_time) as hour, count(*) as orders "
        "from orders where not _refund group by all order by weekday, hour"
    ).df()


def repeat_order_curve(orders: pd.DataFrame, as_of: str | dt.date, *, window_days: int = 90,
                       max_order_days: int = 10) -> pd.DataFrame:
    """Chance of another order day within ``window_days`` after the k-th order day.

    Only customers whose k-th order day is at least ``window_days`` before ``as_of`` count
    (everyone counted had the full window to come back: no right-censoring bias).
    Returns columns ``order_days`` (k), ``eligible``, ``repeated``, ``p_repeat``.
    """
    con = _duck(orders, as_of)
    last_eligible = pd.Timestamp(to_date(as_of)) - pd.Timedelta(days=window_days)
    frame = con.execute(
        """
        with days as (select distinct customer_id, order_time::date as d from orders
                      where not _refund),
        seq as (select customer_id, d,
                       row_number() over (partition by customer_id order by d) as k,
                       lead(d) over (partition by customer_id order by d) as next_d
                from days)
        select least(k, ?) as order_days, count(*) as eligible,
               count(*) filter (where next_d is not null and next_d - d <= ?) as repeated
        from seq where d <= ? group by all order by order_days
        """,
        [max_order_days, window_days, last_eligible.date()],
    ).df()
    frame["p_repeat"] = frame["repeated"] / frame["eligible"].where(frame["eligible"] > 0)
    return frame


def churn_events(orders: pd.DataFrame | str | os.PathLike, as_of: str | dt.date, *,
                 churn_days: int = 180) -> pd.DataFrame:
    """Monthly churn flow: newly churned, reactivated, churned stock and churn rate.

    A customer *churns* on the day ``churn_days`` after an order day not followed by another
    order within ``churn_days``; a later order *reactivates* them. Stock at month end =
    churn events − reactivations so far; rate = stock / buyers whose first order was before.
    ``orders``: a DataFrame or a Parquet file (a run's validated orders).
    """
    con = _duck(orders, as_of)
    as_of_date = to_date(as_of)
    frame = con.execute(
        """
        with days as (select distinct customer_id, order_time::date as d from orders
                      where not _refund),
        seq as (select customer_id, d, lead(d) over (partition by customer_id order by d) as nd,
                       row_number() over (partition by customer_id order by d) as k from days),
        churn as (select date_trunc('month', d + ?::integer)::date as month, count(*) as churned
                  from seq where (nd is null or nd - d > ?) and d + ?::integer <= ?
                  group by all),
        react as (select date_trunc('month', nd)::date as month, count(*) as reactivated
                  from seq where nd is not null and nd - d > ? group by all),
        firsts as (select date_trunc('month', d)::date as month, count(*) as new_buyers
                   from seq where k = 1 group by all)
        select coalesce(coalesce(c.month, r.month), f.month) as month,
               coalesce(churned, 0) as newly_churned, coalesce(reactivated, 0) as reactivated,
               coalesce(new_buyers, 0) as new_buyers
        from churn c full join react r on c.month = r.month full join firsts f
             on coalesce(c.month, r.month) = f.month
        order by month
        """,
        [churn_days, churn_days, churn_days, as_of_date, churn_days],
    ).df()
    frame["buyers"] = frame["new_buyers"].cumsum()
    frame["churned_stock"] = (frame["newly_churned"] - frame["reactivated"]).cumsum()
    frame["churn_rate"] = frame["churned_stock"] / frame["buyers"].where(frame["buyers"] > 0)
    return frame


def _activity_rows(con, orders, events, as_of, days: int) -> str | None:
    """SQL for one row (customer_id, hour) per order or event in the ``days`` up to
    ``as_of``, with the tables registered on ``con``; None when there are none."""
    cutoff = pd.Timestamp(to_date(as_of)) + pd.Timedelta(days=1)
    start = pd.Timestamp(to_date(as_of)) - pd.Timedelta(days=days)
    window = (f">= timestamp '{start:%Y-%m-%d %H:%M:%S}' and {{col}} < "
              f"timestamp '{cutoff:%Y-%m-%d %H:%M:%S}'")
    parts = []
    for name, table, col in (("orders_raw", orders, "order_time"),
                             ("events_raw", events, "event_time")):
        if table is None or (isinstance(table, pd.DataFrame) and table.empty):
            continue
        _register(con, name, table)
        parts.append(f"select customer_id, hour({col}) as hour from {name} "
                     f"where {col} {window.format(col=col)}")
    return " union all ".join(parts) if parts else None


def activity_hour_matrix(orders: pd.DataFrame | str | os.PathLike,
                         events: pd.DataFrame | str | os.PathLike | None, as_of: str | dt.date,
                         customer_ids: pd.Series, *, days: int = 365) -> np.ndarray:
    """How often each customer ordered or was active per hour of day in the last ``days``: one
    float32 row of 24 hourly counts per customer in ``customer_ids`` (in that order), the
    input for per-customer send times. ``orders`` and ``events`` are DataFrames or Parquet
    files (a run's validated tables: DuckDB then reads two columns instead of pandas holding
    every event row). One DuckDB query from the tables to the cells, without a
    (customer, hour) frame in between."""

    n = len(customer_ids)
    counts = np.zeros(n * 24, dtype=np.float32)
    con = bounded_connection(FEATURE_MEMORY_SHARE)
    try:
        sql = _activity_rows(con, orders, events, as_of, days)
        if sql is None or n == 0:
            return counts.reshape(n, 24)
        con.register("ids", pd.DataFrame({"customer_id": pd.Series(customer_ids, dtype="string")
                                          .to_numpy(), "row": np.arange(n, dtype=np.int64)}))
        found = con.execute(
            f"select ids.row * 24 + h.hour as cell, count(*) as n from ({sql}) h "
            "join ids on cast(h.customer_id as varchar) = ids.customer_id group by all"
        ).fetchnumpy()
    finally:
        con.close()
    counts[np.asarray(found["cell"], dtype=np.int64)] = np.asarray(found["n"], dtype=np.float32)
    return counts.reshape(n, 24)
