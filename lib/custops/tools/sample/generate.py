"""Simulate a dataset: in memory (:func:`generate_sample`) or chunk by chunk (:func:`iter_sample_chunks`)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import pandas as pd

from custops.errors import ParameterError
from custops.tools.sample.arrays import format_ids
from custops.tools.sample.campaigns import Touches, run_campaign, schedule_campaigns
from custops.tools.sample.customers import customers_table, draw_customers, on_habit_clock
from custops.tools.sample.events import events_table
from custops.tools.sample.lives import History, simulate_lives
from custops.tools.sample.orders import orders_table, price_purchases
from custops.tools.sample.parameters import SampleParameters
from custops.tools.sample.timeline import make_calendar
from custops.tools.sample.touches import touches_tables
from custops.tools.sample.truth import truth_customers_table

__all__ = ["DEFAULT_CHUNK_CUSTOMERS", "SampleData", "generate_sample", "iter_sample_chunks"]

#: Customers per chunk above which :func:`iter_sample_chunks` (and ``custops sample``) splits
#: the population. Measured here (2026-12-02): ``custops sample --format parquet`` peaked at
#: 1.43 GiB RSS for 1M customers in chunks of this size; 10M (76M orders, 179M events) took
#: 306 CPU-s at ~2 GiB; 1M in one piece (``generate_sample``) peaks at 4.2 GiB.
DEFAULT_CHUNK_CUSTOMERS = 250_000


@dataclass
class SampleData:
    """A generated dataset: the four contract tables plus the ground truth.

    The tables use the normalized dtypes of ``custops.io.dataset.load_dataset`` (``str`` text,
    ``datetime64[ns]`` times, bool flags, nullable ``Int64`` integers); the files written by
    :func:`write_sample` use the file conventions (0/1 flags).

    Attributes
    ----------
    orders, customers, events, touches : pandas.DataFrame
        The data a company would have at ``as_of`` (nothing after ``as_of`` end of day).
    truth_customers : pandas.DataFrame
        One row per customer: latent parameters and what happens after ``as_of``.
    truth_campaign_effects : pandas.DataFrame
        One row per touch: true conversion probabilities with and without the contact.
    seed, as_of, years : int, str, float
        How the sample was made.
    parameters : SampleParameters
        The generator's parameters.
    """

    orders: pd.DataFrame
    customers: pd.DataFrame
    events: pd.DataFrame
    touches: pd.DataFrame
    truth_customers: pd.DataFrame
    truth_campaign_effects: pd.DataFrame
    seed: int
    as_of: str
    years: float
    parameters: SampleParameters

    def tables(self) -> dict[str, pd.DataFrame]:
        """The data tables by file stem (what notebooks may read)."""
        return {"orders": self.orders, "customers": self.customers, "events": self.events,
                "touches": self.touches}

    def truth_tables(self) -> dict[str, pd.DataFrame]:
        """The truth tables by file stem (written to ``truth/``)."""
        return {"customers": self.truth_customers,
                "campaign_effects": self.truth_campaign_effects}


def generate_sample(n_customers: int = 5000, *, seed: int = 42, as_of: str = "2026-09-30",
                    years: float = 2.0, params: SampleParameters | None = None) -> SampleData:
    """Simulate customers, orders, events and past campaigns with known ground truth.

    Parameters
    ----------
    n_customers : int, default 5000
        Number of customers (prospects included; ~25 % never order in the window).
    seed : int, default 42
        Seed of the single NumPy generator; the same seed gives identical frames.
    as_of : str, default "2026-09-30"
        Snapshot date: the data holds everything up to the end of this day, nothing after.
    years : float, default 2.0
        Length of the data window before ``as_of``.
    params : SampleParameters, optional
        Generator parameters; the defaults make ``data/sample``.

    Returns
    -------
    SampleData
        Tables ``orders``, ``customers``, ``events``, ``touches`` (normalized dtypes) and the
        truth tables ``truth_customers`` and ``truth_campaign_effects``.

    Raises
    ------
    ParameterError
        For a non-positive size, a window outside 0.1–20 years or a malformed date.

    See Also
    --------
    iter_sample_chunks : the same process in chunks of customers, for data beyond memory.
    """
    params = _checked(n_customers, years, params)
    n = int(n_customers)
    return _simulate(np.random.default_rng(seed), n, seed=seed, as_of=as_of, years=float(years),
                     params=params, first_customer=1, customer_id_width=max(7, len(str(n))))


def iter_sample_chunks(n_customers: int, *, seed: int = 42, as_of: str = "2026-09-30",
                       years: float = 2.0, params: SampleParameters | None = None,
                       chunk_customers: int = DEFAULT_CHUNK_CUSTOMERS) -> Iterator[SampleData]:
    """Simulate ``n_customers`` in chunks of ``chunk_customers``, one chunk in memory at a time.

    Up to ``chunk_customers`` customers this yields one chunk, exactly
    :func:`generate_sample` (same seed, same frames), so small samples do not change. Above it,
    chunk ``k`` holds customers ``k × chunk_customers + 1 …`` and draws from its own generator,
    ``numpy.random.SeedSequence(seed, spawn_key=(k,))``: chunks are independent, each is
    reproducible by itself, and the output depends only on (``n_customers``, ``seed``,
    ``as_of``, ``years``, ``params``, ``chunk_customers``). Each chunk is the whole process for
    its customers — campaigns randomise within the chunk and referrers are drawn from it — so
    the statistics match :func:`generate_sample` (``tests/test_sample.py``). Customer ids run on
    across chunks (width from ``n_customers``); order ids are numbered by time within a chunk
    and continue from the previous chunk's last number.

    Parameters
    ----------
    n_customers : int
        Number of customers in all chunks together.
    seed, as_of, years, params
        As for :func:`generate_sample`.
    chunk_customers : int, default ``DEFAULT_CHUNK_CUSTOMERS``
        Customers per chunk (the last chunk may be smaller). Memory grows with it: ~1.4 GiB
        of peak RSS for chunks of 250,000 customers here, 4.2 GiB for 1M in one piece.

    Yields
    ------
    SampleData
        One chunk: the rows of its customers in every table.

    Raises
    ------
    ParameterError
        As :func:`generate_sample`, or for a chunk size below 1.
    """
    if int(chunk_customers) < 1:
        raise ParameterError(f"chunk_customers must be at least 1, got {chunk_customers}")
    params = _checked(n_customers, years, params)
    n, chunk = int(n_customers), int(chunk_customers)
    if n <= chunk:
        yield generate_sample(n, seed=seed, as_of=as_of, years=years, params=params)
        return
    next_order_number = 1
    # Wide enough for ~100 orders per customer; wider numbers still make distinct ids.
    order_id_width = max(8, len(str(n * 100)))
    for index, first in enumerate(range(0, n, chunk)):
        rng = np.random.default_rng(np.random.SeedSequence(int(seed), spawn_key=(index,)))
        sample = _simulate(rng, min(chunk, n - first), seed=seed, as_of=as_of,
                           years=float(years), params=params, first_customer=first + 1,
                           customer_id_width=max(7, len(str(n))),
                           first_order_number=next_order_number, order_id_width=order_id_width)
        next_order_number += int((~sample.orders["is_refund"]).sum())
        yield sample
        del sample  # not kept alive while the next chunk is simulated


def _checked(n_customers: int, years: float,
             params: SampleParameters | None) -> SampleParameters:
    if int(n_customers) < 1:
        raise ParameterError(f"n_customers must be at least 1, got {n_customers}")
    if not 0.1 <= float(years) <= 20:
        raise ParameterError(f"years must be between 0.1 and 20, got {years}")
    params = params or SampleParameters()
    if params.forward_days < 180:
        raise ParameterError("forward_days must be at least 180 (the truth's longest horizon)")
    if "wechat_referral" not in params.acquisition_channels:
        raise ParameterError("acquisition_channels must include 'wechat_referral'")
    return params


def _simulate(rng: np.random.Generator, n: int, *, seed: int, as_of: str, years: float,
              params: SampleParameters, first_customer: int, customer_id_width: int,
              first_order_number: int = 1, order_id_width: int = 8) -> SampleData:
    """The whole process for ``n`` customers drawn from ``rng``; ids start at the given
    numbers."""
    cal = make_calendar(as_of, years, params)
    as_of_year = int(str(np.datetime64(as_of, "D"))[:4])
    cust = draw_customers(rng, n, cal, params, as_of_year=as_of_year)

    signup_time = cal.shopping_time(cust.signup)
    first_in_shopping_time = signup_time + rng.exponential(size=n) / cust.first_purchase_rate
    first_purchase = cal.calendar_time(first_in_shopping_time)
    first_purchase = np.where(first_in_shopping_time < cal.cumulative[-1], first_purchase, np.inf)
    buyers = np.flatnonzero(np.isfinite(first_purchase))
    first_purchase[buyers] = on_habit_clock(rng, cust, buyers, first_purchase[buyers],
                                            cust.signup[buyers], params)
    history = History(n, first_purchase)
    lives = simulate_lives(rng, cal, cust, params, buyers, first_purchase[buyers])
    history.add(buyers, lives)

    touches = Touches()
    for index, (campaign_id, sent_day, spec) in enumerate(
            schedule_campaigns(cal, params, as_of_year)):
        touches.campaign_ids.append(campaign_id)
        run_campaign(rng, cal, cust, params, history, spec, sent_day, index, touches)

    customer_ids = format_ids("C", np.arange(first_customer, first_customer + n),
                              customer_id_width)
    purchases = price_purchases(rng, cust, params, history, cal)
    orders = orders_table(rng, purchases, cal, params, customer_ids,
                          first_number=first_order_number, min_width=order_id_width)
    touch_table, effects = touches_tables(touches, purchases, params, cal, customer_ids)
    events = events_table(rng, cust, history, purchases, cal, params, customer_ids)
    return SampleData(
        orders=orders,
        customers=customers_table(cust, cal, params, customer_ids),
        events=events,
        touches=touch_table,
        truth_customers=truth_customers_table(cust, history, purchases, cal, params,
                                              customer_ids),
        truth_campaign_effects=effects,
        seed=int(seed), as_of=str(np.datetime64(as_of, "D")), years=float(years),
        parameters=params,
    )
