"""The order-level part of the feature table as one hand-written DuckDB query (the fast path).

:func:`custops.features.build_features` on DuckDB computes the order-derived columns here
instead of through the engine-independent ibis expression (which Spark still runs); both give
the same table (tested). The ibis expression hashes the customer id in four group-bys
(customer-day, customer over the days, value counts, hour counts and their ranking); this query
needs two, with fewer aggregates:

- one row-level group-by per customer for the sums and counts, with counts that always move
  together packed as 16-bit fields into one integer sum (purchases and refunds; the four window
  counts; per-value counts of hour, channel and category, four values per sum);
- one customer-day group-by over purchases only (one sum), then per customer the order days,
  first and last order day and first-day spend (``arg_min_null``, like the ibis ``argmin``).

A packed field overflows at 2**16 purchases of one customer; the caller checks the largest
``order_count`` and uses the ibis expression instead when it is reached (:data:`FIELD_LIMIT`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence

import pandas as pd

__all__ = ["FIELD_LIMIT", "order_features_sql", "sql_literal"]

FIELD_BITS = 16
FIELD_LIMIT = 2 ** FIELD_BITS  # purchases of one customer a packed count can hold
_MASK = FIELD_LIMIT - 1
_PER_SUM = 4  # 16-bit fields per packed sum (HUGEINT sums of BIGINT terms: no overflow)


def sql_literal(value: str) -> str:
    """A DuckDB string literal."""
    return "'" + str(value).replace("'", "''") + "'"


def _packed_counts(code: str, n_values: int, name: str, purchase: str) -> dict[str, str]:
    """Per-value purchase counts of ``code`` (0 .. n_values-1, NULL not counted) as sums of
    16-bit fields, four values per sum."""
    return {
        f"{name}_{k}": (f"sum(1::BIGINT << ({FIELD_BITS} * ({code} % {_PER_SUM}))) "
                        f"filter (where {purchase} and {code} // {_PER_SUM} = {k})")
        for k in range((n_values + _PER_SUM - 1) // _PER_SUM)
    }


def _fields(name: str, n_values: int) -> str:
    """A DuckDB list of the ``n_values`` counts packed by :func:`_packed_counts`."""
    parts = [f"((coalesce({name}_{i // _PER_SUM}, 0) >> {FIELD_BITS * (i % _PER_SUM)}) "
             f"& {_MASK})::BIGINT" for i in range(n_values)]
    return "[" + ", ".join(parts) + "]"


def _favourite(name: str, values: Sequence | None, n_values: int) -> str:
    """The most frequent value (the first, i.e. smallest, on ties; NULL without purchases)
    from the packed counts; ``values`` None means the codes themselves (hours)."""
    counts = _fields(name, n_values)
    top = f"list_max({counts})"
    if values is None:
        pick = f"list_position({counts}, {top}) - 1"
    else:
        pick = ("[" + ", ".join(sql_literal(v) for v in values) + "]"
                f"[list_position({counts}, {top})]")
    return f"case when {top} > 0 then {pick} end"


def order_features_sql(source: str, columns: Sequence[str], as_of: dt.date,
                       windows: Sequence[int], vocabularies: Mapping[str, list]) -> str:
    """SQL for the order-derived feature columns of ``as_of`` from the table or view
    ``source`` (columns ``customer_id``, ``order_time``, ``amount``, optional ``is_refund``,
    ``channel``, ``category``), one row per customer with any order row up to ``as_of``.

    Columns, in this order: customer_id, first_order_date, last_order_date, order_days,
    order_count, gross_spend, first_day_spend, net_spend, refund_amount, refund_count,
    orders_<n>d and spend_<n>d per window, favourite_hour, then favourite_channel and
    favourite_category when ``vocabularies`` has them (each at most 16 sorted values).
    """
    cutoff = pd.Timestamp(as_of) + pd.Timedelta(days=1)
    refund = ("coalesce(cast(is_refund as BOOLEAN), false)" if "is_refund" in columns
              else "false")
    favourites = [(c, list(vocabularies[c])) for c in ("channel", "category")
                  if c in columns and vocabularies.get(c) is not None]
    extra = "".join(f", {c}" for c, _ in favourites)
    rows = (f"select customer_id, amount, cast(order_time as DATE) as d, "
            f"hour(order_time) as h, {refund} as r{extra} from {source} "
            f"where order_time < TIMESTAMP '{cutoff:%Y-%m-%d %H:%M:%S}'")

    age = f"date_diff('day', d, DATE '{as_of:%Y-%m-%d}')"
    window_counts = " + ".join(f"(({age} < {n})::BIGINT << {FIELD_BITS * i})"
                               for i, n in enumerate(windows))
    aggs = {
        "_counts": "sum(case when r then 4294967296 else 1 end)",  # purchases | refunds << 32
        "_windows": f"sum({window_counts}) filter (where not r)",
        "gross_spend": "sum(amount) filter (where not r)",
        "net_spend": "sum(amount)",
        "refund_amount": "sum(-amount) filter (where r)",
        **{f"spend_{n}d": f"sum(amount) filter (where {age} < {n})" for n in windows},
        **_packed_counts("h", 24, "_hour", "not r"),
    }
    for column, values in favourites:
        code = (f"(case {column} "
                + " ".join(f"when {sql_literal(v)} then {i}" for i, v in enumerate(values))
                + " end)")
        aggs.update(_packed_counts(code, len(values), f"_{column}", "not r"))
    per_customer = ",\n  ".join(f"{expr} as {name}" for name, expr in aggs.items())

    select = [
        "c.customer_id",
        "d.first_order_date",
        "d.last_order_date",
        "coalesce(d.order_days, 0) as order_days",
        "(c._counts & 4294967295)::BIGINT as order_count",
        "c.gross_spend",
        "d.first_day_spend",
        "c.net_spend",
        "c.refund_amount",
        "(c._counts >> 32)::BIGINT as refund_count",
    ]
    for i, n in enumerate(windows):
        select.append(f"((c._windows >> {FIELD_BITS * i}) & {_MASK})::BIGINT as orders_{n}d")
        select.append(f"c.spend_{n}d")
    select.append(f"{_favourite('c._hour', None, 24)} as favourite_hour")
    for column, values in favourites:
        select.append(f"{_favourite(f'c._{column}', values, len(values))} "
                      f"as favourite_{column}")
    return f"""
with o as ({rows}),
per_customer as (
  select customer_id,
  {per_customer}
  from o group by customer_id
),
purchase_days as (
  select customer_id, d, sum(amount) as spend from o where not r group by customer_id, d
),
per_day as (
  select customer_id, count(*) as order_days, min(d) as first_order_date,
         max(d) as last_order_date, arg_min_null(spend, d) as first_day_spend
  from purchase_days group by customer_id
)
select {", ".join(select)}
from per_customer c left join per_day d on c.customer_id = d.customer_id
"""
