"""Feature layer: hand-computed values on tiny frames, no look-ahead, DuckDB == Spark."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import duckdb
import ibis
import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from custops import aggregates, features, frames, rules
from custops.features import build_features
from custops.io.dataset import load_dataset
from custops.run import context

AS_OF = "2025-03-31"
SAMPLE = Path(__file__).resolve().parents[1] / "data" / "sample"


@pytest.fixture
def tiny():
    orders = pd.DataFrame(
        {
            "customer_id": ["a", "a", "a", "a", "b", "c", "a"],
            "order_id": ["1", "2", "3", "3", "4", "5", "6"],
            "order_time": pd.to_datetime(
                ["2025-01-01 10:00", "2025-01-01 12:00", "2025-01-11 20:00", "2025-01-13 09:00",
                 "2025-03-01 08:00", "2025-04-01 00:00", "2025-03-31 23:59"]
            ),
            "amount": [10.0, 20.0, 30.0, -30.0, 5.0, 99.0, 40.0],
            "is_refund": [False, False, False, True, False, False, False],
            "channel": ["app", "web", "web", "web", "app", "app", "app"],
            "category": ["x", "x", "y", "y", "z", "z", "y"],
        }
    )
    events = pd.DataFrame(
        {
            "customer_id": ["a", "d", "d", "d"],
            "event_time": pd.to_datetime(["2025-02-01", "2025-03-01", "2025-03-02", "2025-05-01"]),
            "event_type": ["complaint", "cart_add", "referral", "visit"],
        }
    )
    customers = pd.DataFrame(
        {
            "customer_id": ["a", "b", "d", "e"],
            "signup_time": pd.to_datetime(["2024-01-01", "2024-06-01", "2024-01-01", "2026-01-01"]),
            "birth_year": pd.array([1990, 1980, None, 2000], dtype="Int64"),
            "gender": ["F", "M", None, "F"],
        }
    )
    return {"orders": orders, "events": events, "customers": customers}


def test_hand_computed_values(tiny):
    f = build_features(tiny, AS_OF).set_index("customer_id")
    # c ordered only after as_of, e signed up after as_of: neither exists yet.
    assert list(f.index) == ["a", "b", "d"]
    a = f.loc["a"]
    # Order days: 01-01 (10+20), 01-11 (30), 03-31 (40); the refund on 01-13 is not a day.
    assert a.order_days == 3 and a.frequency == 2 and a.order_count == 4
    assert a.recency_days == 89 and a.T_days == 89 and a.days_since_last_order == 0
    assert a.gross_spend == 100.0 and a.refund_amount == 30.0 and a.net_spend == 70.0
    assert a.monetary_value == pytest.approx((30 + 40) / 2)
    assert a.mean_gap_days == pytest.approx(89 / 2)
    assert a.orders_30d == 1 and a.spend_30d == 40.0
    assert a.orders_90d == 4 and a.spend_90d == 70.0
    assert a.favourite_channel == "app"  # app 2, web 2 (refund rows excluded): tie → smallest
    assert a.favourite_category == "x"  # x 2, y 2 → smallest
    assert a.favourite_hour == 10  # hours 10, 12, 20, 23 once each → smallest
    assert a.complaint_count == 1 and a.events_total == 1
    assert a.age == 35 and a.is_buyer
    b = f.loc["b"]
    assert b.frequency == 0 and b.monetary_value == 0.0 and pd.isna(b.mean_gap_days)
    assert b.T_days == 30 and b.events_total == 0
    d = f.loc["d"]  # a prospect: events but no orders; the May visit is after as_of
    assert not d.is_buyer and d.order_days == 0 and pd.isna(d.T_days)
    assert d.events_total == 2 and d.referral_count == 1 and d.events_visit == 0
    assert d.days_since_last_event == 29


def test_no_look_ahead(tiny):
    """Adding any data after as_of changes nothing."""
    before = build_features(tiny, AS_OF)
    later = dict(tiny)
    extra = tiny["orders"].iloc[[0]].assign(order_id="99", order_time=pd.Timestamp("2025-04-01"))
    later["orders"] = pd.concat([tiny["orders"], extra], ignore_index=True)
    pd.testing.assert_frame_equal(before, build_features(later, AS_OF))


def test_orders_alone(tiny):
    f = build_features({"orders": tiny["orders"][["customer_id", "order_id", "order_time",
                                                   "amount"]]}, AS_OF)
    a = f.set_index("customer_id").loc["a"]
    # Without an is_refund column (the loader always adds one) a negative row is just a row.
    assert a.order_days == 4 and a.net_spend == 70.0
    assert "favourite_channel" not in f and "events_total" not in f


def activity_hours(orders, events, as_of, *, days: int = 365) -> pd.DataFrame:
    """(customer_id, hour, n): the orders and events of the last ``days`` per customer and hour
    of day, from the rows activity_hour_matrix reads, as a frame to check its cells against."""
    con = duckdb.connect()
    sql = aggregates._activity_rows(con, orders, events, as_of, days)
    if sql is None:
        return pd.DataFrame({"customer_id": pd.Series(dtype="string"),
                             "hour": pd.Series(dtype="int64"), "n": pd.Series(dtype="int64")})
    return con.execute(f"select customer_id, hour, count(*) as n from ({sql}) group by all").df()


def test_order_aggregates_read_a_parquet_file_as_a_dataframe(tmp_path):
    """A run's validated orders can be read by DuckDB straight from Parquet: same results."""
    ctx = context.open_run(data_dir=str(SAMPLE))
    orders = ctx.dataset().orders
    path = tmp_path / "orders.parquet"
    orders.to_parquet(path, index=False)
    pd.testing.assert_frame_equal(aggregates.churn_events(path, ctx.as_of),
                                  aggregates.churn_events(orders, ctx.as_of))
    events = ctx.dataset().events
    events_path = tmp_path / "events.parquet"
    events.to_parquet(events_path, index=False)
    by_path = activity_hours(path, events_path, ctx.as_of)
    in_memory = activity_hours(orders, events, ctx.as_of)
    key = ["customer_id", "hour"]
    pd.testing.assert_frame_equal(
        by_path.sort_values(key).reset_index(drop=True),
        in_memory.sort_values(key).reset_index(drop=True), check_dtype=False)


def test_activity_hour_matrix_equals_the_counts_placed_per_customer(tmp_path):
    """The one-query hour matrix (report runs) holds the same counts as the (customer, hour)
    frame placed row by row, in the order of the ids given, zeros for customers without any."""
    ctx = context.open_run(data_dir=str(SAMPLE))
    data = ctx.dataset()
    orders_path, events_path = tmp_path / "orders.parquet", tmp_path / "events.parquet"
    data.orders.to_parquet(orders_path, index=False)
    data.events.to_parquet(events_path, index=False)
    ids = ctx.get("features")["customer_id"].sample(frac=1.0, random_state=3)
    ids = pd.concat([ids, pd.Series(["NOBODY"], dtype=ids.dtype)], ignore_index=True)
    matrix = aggregates.activity_hour_matrix(orders_path, events_path, ctx.as_of, ids)
    frame = activity_hours(data.orders, data.events, ctx.as_of)
    expected = rules._hour_matrix(frame, ids)
    assert matrix.shape == (len(ids), 24) and matrix.dtype == np.float32
    np.testing.assert_array_equal(matrix, expected)
    assert matrix.sum() == frame["n"].sum() and matrix[-1].sum() == 0
    np.testing.assert_array_equal(rules._hour_matrix(matrix, ids), matrix)


def test_prefetched_snapshots_equal_the_ones_built_on_demand(tmp_path, monkeypatch):
    """prefetch_features builds earlier snapshots in a background thread: features_at then
    returns exactly the table it would have built, stores it in the run folder, and a failure
    in the thread surfaces at features_at rather than being lost."""
    run = tmp_path / "run"
    ctx = context.open_run(data_dir=str(SAMPLE), run_dir=str(run))
    ctx.get("features")
    days = [ctx.days_before(90), ctx.days_before(180)]
    ctx.prefetch_features(*days, ctx.as_of)
    assert sorted(ctx._pending) == [f"features_{d:%Y-%m-%d}" for d in sorted(days)]
    prefetched = [ctx.features_at(d) for d in days]
    assert not ctx._pending
    for day, frame in zip(days, prefetched, strict=True):
        assert (run / "artifacts" / f"features_{day:%Y-%m-%d}.parquet").exists()
        pd.testing.assert_frame_equal(frame, build_features(ctx.dataset(), day))
    ctx.prefetch_features(*days)  # already stored: nothing to do
    assert not ctx._pending

    broken = context.open_run(data_dir=str(SAMPLE))
    broken.get("features")

    def fail(data, days, **kwargs):
        raise RuntimeError(f"snapshot {days} failed")
        yield  # a generator, as build_feature_snapshots is

    monkeypatch.setattr(context, "build_feature_snapshots", fail)
    broken.prefetch_features(broken.days_before(30))
    with pytest.raises(RuntimeError, match="failed"):
        broken.features_at(broken.days_before(30))

    def no_tables(data, days, **kwargs):
        raise RuntimeError("tables unreadable")
        yield  # a generator, as build_feature_snapshots is

    def no_table(data, day, **kwargs):
        raise RuntimeError("tables unreadable")

    monkeypatch.setattr(context, "build_feature_snapshots", no_tables)
    monkeypatch.setattr(context, "build_features", no_table)  # whole tables, date by date
    broken.prefetch_features(broken.days_before(40), broken.days_before(50))  # by date
    for days in (40, 50):
        with pytest.raises(RuntimeError, match="unreadable"):
            broken.features_at(broken.days_before(days))
    sample = pd.Index(broken.get("features")["customer_id"][:50])
    broken.prefetch_features(broken.days_before(60), broken.days_before(70),
                             customers=sample)  # a sample's tables: one pass
    for days in (60, 70):
        with pytest.raises(RuntimeError, match="unreadable"):
            broken.features_at(broken.days_before(days), customers=sample)


def test_whole_snapshots_of_several_dates_come_latest_first_one_at_a_time(tmp_path,
                                                                           monkeypatch):
    """Whole tables of several dates are built one date at a time, the latest first (the
    one 02's migration and 03's backtest both need), and each is handed over as soon as it
    is stored: the latest is at hand while the earlier is still being built."""
    run = tmp_path / "run"
    ctx = context.open_run(data_dir=str(SAMPLE), run_dir=str(run))
    ctx.get("features")
    early, late = ctx.days_before(180), ctx.days_before(90)
    built: list = []
    release = threading.Event()
    real = context.build_features

    def recording(data, day, **kwargs):
        built.append(day)
        if day == early:
            assert release.wait(60), "the earlier date waited for the test"
        return real(data, day, **kwargs)

    monkeypatch.setattr(context, "build_features", recording)
    ctx.prefetch_features(early, late)
    try:
        latest = ctx.features_at(late)  # handed over while the earlier date is being built
        assert built[0] == late
        assert (run / "artifacts" / f"features_{late:%Y-%m-%d}.parquet").exists()
        assert not (run / "artifacts" / f"features_{early:%Y-%m-%d}.parquet").exists()
    finally:
        release.set()
    pd.testing.assert_frame_equal(ctx.features_at(early), build_features(ctx.dataset(), early))
    assert built == [late, early]
    pd.testing.assert_frame_equal(latest, build_features(ctx.dataset(), late))


def test_a_date_that_fails_fails_alone(monkeypatch):
    """Built date by date, a date whose table fails hands its own error to whoever waits
    for it; the other date is built and handed over."""
    ctx = context.open_run(data_dir=str(SAMPLE))
    ctx.get("features")
    early, late = ctx.days_before(180), ctx.days_before(90)
    real = context.build_features

    def failing(data, day, **kwargs):
        if day == early:
            raise RuntimeError(f"table of {day} failed")
        return real(data, day, **kwargs)

    monkeypatch.setattr(context, "build_features", failing)
    ctx.prefetch_features(early, late)
    with pytest.raises(RuntimeError, match=f"table of {early} failed"):
        ctx.features_at(early)
    pd.testing.assert_frame_equal(ctx.features_at(late), build_features(ctx.dataset(), late))


def test_unreadable_data_fails_at_prefetch_and_leaves_nothing_pending(monkeypatch):
    """Data the feature layer cannot open fails when the build is asked for, not in the
    background thread: no date is left pending for a features_at to wait on forever."""
    ctx = context.open_run(data_dir=str(SAMPLE))
    ctx.get("features")

    def unreadable(chosen):
        raise RuntimeError("tables unreadable")

    monkeypatch.setattr(ctx, "_open_feature_sources", unreadable)
    with pytest.raises(RuntimeError, match="unreadable"):
        ctx.prefetch_features(ctx.days_before(30), customers=pd.Index(["x"]))
    assert not ctx._pending


def test_snapshots_built_together_equal_each_built_alone():
    """Several dates in one pass (shared order days, favourite and event counts) give, for
    every date, exactly the table build_features gives for that date alone: customers who
    appear later are absent, windows and favourites count only what was known."""
    ctx = context.open_run(data_dir=str(SAMPLE))
    data = ctx.dataset()
    dates = [ctx.as_of, ctx.days_before(90), ctx.days_before(180), ctx.days_before(400)]
    together = dict(features.build_feature_snapshots(data, dates))
    assert list(together) == sorted(dates)
    for day in dates:
        pd.testing.assert_frame_equal(together[day], build_features(data, day))
    assert len(together[ctx.days_before(400)]) < len(together[ctx.as_of])


@pytest.mark.parametrize("as_of", ["2026-09-30", ["2026-03-31", "2026-09-30"]])
def test_favourites_from_value_columns_equal_the_ranked_counts(monkeypatch, as_of):
    """Favourites of few values come from one count column per value; with that path off
    (more values than MAX_HISTOGRAM) the ranked (customer, value) counts give the same table,
    for one date and for snapshots built together."""
    orders = pd.read_csv(SAMPLE / "orders.csv", parse_dates=["order_time"])
    orders["customer_id"] = orders["customer_id"].astype(str)
    orders["order_id"] = orders["order_id"].astype(str)
    orders.loc[orders.index[::7], "channel"] = None  # missing values are not counted
    dates = as_of if isinstance(as_of, list) else [as_of]
    histogram = dict(features.build_feature_snapshots({"orders": orders}, dates))
    monkeypatch.setattr(features, "MAX_HISTOGRAM", 0)
    ranked = dict(features.build_feature_snapshots({"orders": orders}, dates))
    for day in histogram:
        pd.testing.assert_frame_equal(histogram[day], ranked[day])
        assert histogram[day]["favourite_channel"].notna().sum() > 1000


def _ibis_only(monkeypatch):
    """Switch the DuckDB fast path (features_sql) off: the ibis expression computes all."""
    monkeypatch.setattr(features, "_duckdb_order_features", lambda *args, **kwargs: None)


def test_fast_duckdb_query_equals_the_ibis_expression(monkeypatch):
    """The hand-written DuckDB query for the order columns gives exactly the table of the
    ibis expression (the one Spark runs) on the sample, with events and customers."""
    ctx = context.open_run(data_dir=str(SAMPLE))
    data = ctx.dataset()
    con = ibis.duckdb.connect()
    orders = features._as_table(con, "orders", data.orders)
    vocabularies = {c: features.vocabulary(con, orders, c) for c in ("channel", "category")}
    assert features._duckdb_order_features(con, orders, features.to_date(ctx.as_of),
                                           vocabularies) is not None  # the path is taken
    fast = build_features(data, ctx.as_of)
    _ibis_only(monkeypatch)
    pd.testing.assert_frame_equal(fast, build_features(data, ctx.as_of))


def test_fast_duckdb_query_on_edge_cases(monkeypatch, tiny):
    """Refund-only customers, missing amounts and channels, ties, a customer whose only
    purchase day has no amount: the same values as the ibis expression."""
    orders = pd.DataFrame({
        "customer_id": ["r", "r", "n", "n", "n", "t", "t", "t", "t", "m", "m"],
        "order_id": [str(i) for i in range(11)],
        "order_time": pd.to_datetime([
            "2025-01-05 10:00", "2025-02-05 11:00", "2025-03-01 09:00", "2025-03-01 10:00",
            "2025-03-20 10:00", "2025-01-01 08:00", "2025-01-02 09:00", "2025-01-03 08:00",
            "2025-01-04 09:00", "2025-03-30 22:00", "2025-03-31 23:00"]),
        "amount": [-5.0, -7.0, None, None, 4.0, 1.0, 2.0, 3.0, 4.0, 10.0, -10.0],
        "is_refund": [1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 1],
        "channel": [None, "web", None, None, "app", "web", "app", "web", "app", "store", "app"],
        "category": ["x", "x", "y", None, "y", "y", "x", "x", "y", "z", "z"],
    })
    data = {**tiny, "orders": pd.concat([tiny["orders"], orders], ignore_index=True)}
    fast = build_features(data, AS_OF)
    r = fast.set_index("customer_id").loc["r"]  # refunds only
    assert r.order_days == 0 and r.frequency == -1 and r.refund_count == 2
    t = fast.set_index("customer_id").loc["t"]  # 2 web, 2 app, hours 8 and 9 twice each
    assert t.favourite_channel == "app" and t.favourite_hour == 8
    _ibis_only(monkeypatch)
    pd.testing.assert_frame_equal(fast, build_features(data, AS_OF))


def test_fast_duckdb_query_steps_aside_when_it_would_be_wrong(monkeypatch, tiny):
    """Where packed counts could overflow (here: a limit of 2 purchases), an order id is
    missing or a text favourite has too many values, the ibis expression answers: same table."""
    con = ibis.duckdb.connect()
    as_of = features.to_date(AS_OF)

    def taken(orders, vocabularies=None):
        table = features._as_table(con, "orders", orders)
        vocabularies = vocabularies or {c: features.vocabulary(con, table, c)
                                        for c in ("channel", "category")}
        return features._duckdb_order_features(con, table, as_of, vocabularies) is not None

    orders = tiny["orders"]
    assert taken(orders)
    assert not taken(orders.assign(order_id=orders["order_id"].where(orders.index != 2)))
    assert not taken(orders, {"channel": [f"c{i}" for i in range(17)], "category": ["x"]})
    expected = build_features(tiny, AS_OF)
    monkeypatch.setattr(features, "FIELD_LIMIT", 2)
    assert not taken(orders)  # customer a has 4 purchases
    pd.testing.assert_frame_equal(build_features(tiny, AS_OF), expected)


def test_counts_are_narrowed_only_when_every_value_fits():
    got = frames.narrow_integers(pd.Series([0, 5, None, 2**31 - 1], dtype="Float64"))
    assert got.dtype == "Int32" and got.isna().tolist() == [False, False, True, False]
    assert list(got.dropna()) == [0, 5, 2**31 - 1]
    assert frames.narrow_integers(pd.Series([1, 2**31])).dtype == "Int64"
    assert frames.narrow_integers(pd.Series([-(2**31) - 1, 0])).dtype == "Int64"
    assert frames.narrow_integers(pd.Series([None, None], dtype="Float64")).dtype == "Int32"
    assert frames.narrow_integers(pd.Series([], dtype="int64")).dtype == "Int32"


@pytest.mark.parametrize("rows", [0, 1, 4])
def test_arrow_is_converted_column_by_column_as_pandas_would(rows):
    """frame_from_arrow gives what Arrow's own to_pandas gives once finish_features has
    typed it (counts Int64 straight away, dates as datetime64), and empties its holder."""
    import pyarrow as pa

    table = pa.table({
        "customer_id": pa.array(["a", "b", "c", "d"][:rows], pa.string()),
        "order_days": pa.array([1, None, 3, 0][:rows], pa.int64()),
        "events_total": pa.array([2, 0, None, 7][:rows], pa.int32()),
        "first_order_date": pa.array([pd.Timestamp("2025-01-02").date(), None,
                                      pd.Timestamp("2024-12-31").date(),
                                      pd.Timestamp("2025-03-01").date()][:rows], pa.date32()),
        "birth_year": pa.array([1990, 1985, 2000, 1970][:rows], pa.int64()),
        "net_spend": pa.array([1.5, None, 0.0, -2.0][:rows], pa.float64()),
        "consent_sms": pa.array([True, None, False, True][:rows], pa.bool_()),
    })
    holder = [table]
    got = frames.frame_from_arrow(holder)
    assert holder == []
    expected = table.to_pandas()
    assert list(got.columns) == list(expected.columns)
    assert str(got["order_days"].dtype) == str(got["events_total"].dtype) == "Int64"
    for col in ("customer_id", "birth_year", "net_spend", "consent_sms"):
        pd.testing.assert_series_equal(got[col], expected[col], check_names=False)
    pd.testing.assert_series_equal(got["order_days"], expected["order_days"].astype("Float64")
                                   .astype("Int64"), check_names=False)
    pd.testing.assert_series_equal(pd.to_datetime(got["first_order_date"]).astype("datetime64[s]"),
                                   pd.to_datetime(expected["first_order_date"])
                                   .astype("datetime64[s]"), check_names=False)


def test_a_run_that_validates_its_data_builds_features_from_its_clean_files(tmp_path):
    """A notebook that loads the data itself (01) and has the long tables checked in DuckDB
    builds the feature table from the run's clean Parquet files: the orders and events never
    come into pandas, and the table is the one built from frames."""
    plain = context.open_run(data_dir=str(SAMPLE))
    source = tmp_path / "data"
    source.mkdir()
    for name in ("orders", "customers", "events"):
        getattr(plain.dataset(), name).to_parquet(source / f"{name}.parquet", index=False)
    ctx = context.open_run(data_dir=str(source), run_dir=str(tmp_path / "run"),
                           as_of=str(plain.as_of), duckdb_min_rows=0)
    got = ctx.get("features")
    assert not ctx._dataset.in_memory("orders") and not ctx._dataset.in_memory("events")
    pd.testing.assert_frame_equal(got, plain.get("features"))


def test_a_small_table_comes_as_arrow_and_equals_the_one_through_a_file(monkeypatch):
    """A single date's table known to be small comes from DuckDB as Arrow in memory; it
    equals the table written to a Parquet file and read back (the path of large tables), and
    the one that passes the memory bound partway and goes on to a file."""
    data = load_dataset(SAMPLE)
    calls = []
    real = features._arrow_or_file

    def counting(con, expr, most_bytes):
        result = real(con, expr, most_bytes)
        calls.append(type(result))
        return result

    monkeypatch.setattr(features, "_arrow_or_file", counting)
    monkeypatch.setattr(features, "_ARROW_BATCH_ROWS", 256)  # spilled partway: rows follow
    for as_of in ("2026-09-30", "2025-12-31"):
        in_memory = build_features(data, as_of)
        assert calls == [pa.Table]
        monkeypatch.setattr(features, "ARROW_ROWS", 0)  # too many rows: a file, as before
        through_file = build_features(data, as_of)
        assert calls == [pa.Table]
        monkeypatch.setattr(features, "ARROW_ROWS", 2_000_000)
        monkeypatch.setattr(features, "ARROW_BYTES", 20_000)  # passes the bound: on to a file
        spilled = build_features(data, as_of)
        assert calls[1:] and all(kind is not pa.Table for kind in calls[1:])
        assert len(spilled) > 256  # more than the batches held before the bound
        monkeypatch.setattr(features, "ARROW_BYTES", 1 << 30)
        pd.testing.assert_frame_equal(in_memory, through_file)
        pd.testing.assert_frame_equal(spilled, through_file)
        calls.clear()
    assert not list(features.spill_file("x").parent.glob(f"features-{os.getpid()}-*"))


@pytest.mark.parametrize("shape", ["one row", "all refunds", "one day"])
def test_arrow_and_file_tables_agree_on_shapes_we_did_not_generate(monkeypatch, shape):
    """The in-memory Arrow path and the file path give the same table on one order row, an
    order log of refunds only and one day of orders (nulls in every favourite and date)."""
    rows = {"one row": 1, "all refunds": 6, "one day": 6}[shape]
    orders = pd.DataFrame({
        "order_id": [f"O{i}" for i in range(rows)],
        "customer_id": [f"C{i % 3}" for i in range(rows)],
        "order_time": pd.to_datetime(["2026-03-01 10:00"] * rows)
        + pd.to_timedelta(range(rows), unit="h" if shape == "one day" else "D"),
        "amount": [-20.0 if shape == "all refunds" else 20.0] * rows,
        "is_refund": [shape == "all refunds"] * rows,
        "channel": ["app"] * rows,
    })
    in_memory = build_features({"orders": orders}, "2026-03-31")
    monkeypatch.setattr(features, "ARROW_ROWS", 0)
    pd.testing.assert_frame_equal(in_memory, build_features({"orders": orders}, "2026-03-31"))
    assert len(in_memory) == min(rows, 3)
