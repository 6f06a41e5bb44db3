"""custops.io.duckdb_checks: DuckDB checks give the pandas checks' rejects, counts and tables."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from custops.errors import DataError
from custops.io import load_dataset
from custops.io.duckdb_checks import DUCKDB_MIN_ROWS

SAMPLE = Path(__file__).resolve().parents[1] / "data" / "sample"
AS_OF = "2025-06-30"


def _both(source, **kwargs):
    """The same source loaded with every Parquet table checked by pandas, then by DuckDB."""
    by_pandas = load_dataset(source, duckdb_min_rows=None, **kwargs)
    by_duckdb = load_dataset(source, duckdb_min_rows=0, **kwargs)
    return by_pandas, by_duckdb


def _assert_same(by_pandas, by_duckdb, duckdb_tables=("orders", "customers", "events",
                                                      "touches")):
    for table in duckdb_tables:
        if getattr(by_pandas, table) is not None:
            assert by_duckdb.checked_in[table] == "duckdb", table
            assert by_pandas.checked_in[table] == "pandas", table
    pd.testing.assert_frame_equal(by_pandas.rejects, by_duckdb.rejects, check_exact=True)
    pd.testing.assert_frame_equal(by_pandas.set_aside, by_duckdb.set_aside)
    for table in ("orders", "customers", "events", "touches"):
        left, right = getattr(by_pandas, table), getattr(by_duckdb, table)
        assert (left is None) == (right is None), table
        if left is not None:
            pd.testing.assert_frame_equal(left, right, check_exact=True, obj=table)
    assert by_pandas.quality == by_duckdb.quality
    assert by_pandas.warnings == by_duckdb.warnings
    assert by_pandas.summary() == by_duckdb.summary()


def _write(folder: Path, tables: dict[str, pd.DataFrame | pa.Table]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, table in tables.items():
        arrow = table if isinstance(table, pa.Table) else pa.Table.from_pandas(
            table, preserve_index=False)
        pq.write_table(arrow, folder / f"{name}.parquet")
    return folder


def _hostile_text_tables(n: int = 4000, seed: int = 7) -> dict[str, pd.DataFrame]:
    """Every column as text, with the shapes exports really have mixed into clean rows."""
    rng = np.random.default_rng(seed)
    customer_ids = np.array([f"C{i:05d}" for i in range(n // 4)], dtype=object)
    order_ids = np.array([f"O-{i:06d}" for i in range(n)], dtype=object)
    customer = rng.choice(customer_ids, n).astype(object)
    times = (pd.Timestamp("2024-01-01") + pd.to_timedelta(rng.integers(0, 540 * 86400, n),
                                                           unit="s"))
    order_time = times.strftime("%Y-%m-%d %H:%M:%S").to_numpy(dtype=object)
    amount = np.round(rng.gamma(2.0, 60.0, n), 2).astype(str).astype(object)
    channel = rng.choice(["app", "小程序", "web", "门店", "mini program", " App "], n)
    refund = rng.choice(["0", "1", "否", "是", ""], n, p=[0.6, 0.05, 0.2, 0.05, 0.1])
    quantity = rng.integers(1, 5, n).astype(str).astype(object)
    product = rng.choice(["soap", "tea", "rice"], n)

    def spots(count: int) -> np.ndarray:
        return rng.choice(n, count, replace=False)

    for spot, value in zip(spots(40), ["2025-02-30", "not a date", "2025-13-01 10:00:00",
                                        "  ", "NULL", "未知", "45000", "20250101",
                                        "2025年6月1日 下午3:03", "2025-06-01T10:00:00+08:00",
                                        "2025-06-01 10:00:00 UTC", "2025/6/18 12:03",
                                        "1500-01-01", "2025-06-01T24:00:00"] * 3, strict=False):
        order_time[spot] = value
    for spot, value in zip(spots(30), ["-12.50", "¥1,234.50", "(15.00)", "12元", "abc", "",
                                        "inf", "1e3", " 7.5 ", "--"] * 3, strict=False):
        amount[spot] = value
    for spot, value in zip(spots(30), ["", " ", "NULL", "C\u200b00001", "\u202eC00002",
                                        "C00003\u2066", '="C00004"', "12346.0", " C00005 ",
                                        "nan"] * 3, strict=False):
        customer[spot] = value
    for spot, value in zip(spots(12), ["", "n/a", "O-000001\u200d", "O\u200b-000002"] * 3,
                           strict=False):
        order_ids[spot] = value
    for spot in spots(25):  # duplicate order ids (a repeated purchase row, same refund flag)
        order_ids[spot] = order_ids[(spot + 1) % n]
    for spot, value in zip(spots(20), ["2.5", "x", "3.0", ""] * 5, strict=False):
        quantity[spot] = value
    for spot, value in zip(spots(10), ["maybe", "2"] * 5, strict=False):
        refund[spot] = value
    orders = pd.DataFrame({"order_id": order_ids, "customer_id": customer,
                           "order_time": order_time, "amount": amount, "channel": channel,
                           "is_refund": refund, "quantity": quantity, "product": product})

    # some ordering customers are not in the customers table (unknown customer ids)
    known = customer_ids[: len(customer_ids) - 20].copy()
    m = len(known)
    customers = pd.DataFrame({
        "customer_id": known,
        "signup_time": (pd.Timestamp("2023-01-01") + pd.to_timedelta(
            rng.integers(0, 700, m), unit="D")).strftime("%Y-%m-%d").to_numpy(dtype=object),
        "gender": rng.choice(["男", "女", "F", "m", "", "其他"], m),
        "birth_year": rng.choice(["1980", "1995", "", "19x0", "2001.0"], m),
        "city_tier": rng.choice(["1", "二线", "3", "", "七线"], m),
        "consent_sms": rng.choice(["是", "否", "1", "0", "", "?"], m),
        "province": rng.choice(["广东省", "浙江", "广西壮族自治区", ""], m),
    })
    customers.loc[rng.choice(m, 6, replace=False), "customer_id"] = customers["customer_id"][:6]
    customers.loc[rng.choice(m, 4, replace=False), "customer_id"] = "C0\u200b0007"
    k = n * 2
    events = pd.DataFrame({
        "customer_id": rng.choice(customer_ids, k).astype(object),
        "event_time": (pd.Timestamp("2024-01-01") + pd.to_timedelta(
            rng.integers(0, 540 * 86400, k), unit="s")).strftime("%Y-%m-%dT%H:%M:%S")
        .to_numpy(dtype=object),
        "event_type": rng.choice(["visit", "浏览", "签到", "加购", "分享", "", "teleport"], k),
    })
    events.loc[rng.choice(k, 10, replace=False), "event_time"] = "yesterday"
    events.loc[rng.choice(k, 10, replace=False), "customer_id"] = "\u200f"
    touches = pd.DataFrame({
        "customer_id": rng.choice(customer_ids, n // 2).astype(object),
        "campaign_id": rng.choice(["K1", "K2", ""], n // 2),
        "channel": rng.choice(["短信", "push", "企微", "fax"], n // 2),
        "sent_time": "2025-03-01 09:00:00",
        "group": rng.choice(["实验组", "对照组", "control", "?"], n // 2),
        "converted": rng.choice(["1", "0", ""], n // 2),
        "revenue": rng.choice(["", "12.5", "0", "x"], n // 2),
    })
    return {"orders": orders, "customers": customers, "events": events, "touches": touches}


def test_sample_as_parquet_gives_the_same_tables_rejects_and_counts(tmp_path):
    tables = {path.stem: pd.read_csv(path, dtype=str, keep_default_na=False)
              for path in SAMPLE.glob("*.csv")}
    folder = _write(tmp_path / "sample", tables)
    _assert_same(*_both(folder, as_of=AS_OF))


def test_hostile_text_columns_give_the_same_rejects_and_counts(tmp_path):
    folder = _write(tmp_path / "hostile", _hostile_text_tables())
    by_pandas, by_duckdb = _both(folder, as_of="2025-05-31")
    _assert_same(by_pandas, by_duckdb)
    reasons = set(by_duckdb.rejects["reason"])
    # the shapes were there to be found: each kind of problem was rejected
    for reason in ("missing customer_id", "missing order_id", "unparseable order_time",
                   "unparseable amount", "duplicate order_id", "order_time after as_of",
                   "unparseable quantity", "unparseable is_refund", "duplicate customer_id",
                   "unparseable event_time", "missing event_type", "unparseable birth_year"):
        assert reason in reasons, reason
    assert any("invisible" in warning for warning in by_duckdb.warnings)
    assert any("not in the customers table" in warning for warning in by_duckdb.warnings)
    assert (by_duckdb.orders["amount"] < 0).any()


def test_typed_parquet_columns_give_the_same_results(tmp_path):
    rng = np.random.default_rng(3)
    n = 3000
    times = pd.Series(pd.Timestamp("2024-06-01") + pd.to_timedelta(
        rng.integers(0, 400 * 86400, n), unit="s")).astype("datetime64[ms]")
    times[rng.choice(n, 8, replace=False)] = pd.NaT
    amount = np.round(rng.normal(80, 60, n), 2)
    amount[rng.choice(n, 6, replace=False)] = np.nan
    amount[rng.choice(n, 3, replace=False)] = np.inf
    ids = rng.integers(10_000, 10_500, n)
    orders = pa.table({
        "order_id": pa.array(np.arange(n) % (n - 30), type=pa.int64()),
        "customer_id": pa.array(ids.astype(float)),  # ids saved as floats (12346.0)
        "order_time": pa.array(times),
        "amount": pa.array(amount),
        "is_refund": pa.array(rng.choice([0, 1, 2], n, p=[0.9, 0.08, 0.02]).astype(np.int8)),
        "quantity": pa.array(rng.choice([1.0, 2.0, 2.5, np.nan], n)),
        "category": pa.array(rng.choice(["生鲜", "fresh", "美妆", None], n)),
        "channel": pa.array(rng.integers(0, 3, n)),
        "note": pa.array(rng.choice(["a", None], n)),
    })
    customers = pa.table({
        "customer_id": pa.array(np.arange(10_000, 10_480)),
        "signup_time": pa.array(pd.Series(pd.date_range("2023-01-01", periods=480, freq="D"))
                                .astype("datetime64[us]")),
        "consent_email": pa.array(rng.choice([True, False, None], 480)),
        "birth_year": pa.array(rng.choice([1980, 1990], 480).astype(np.int32)),
    })
    folder = _write(tmp_path / "typed", {"orders": orders, "customers": customers})
    by_pandas, by_duckdb = _both(folder, as_of="2025-03-31")
    _assert_same(by_pandas, by_duckdb)
    assert {"unparseable amount", "missing order_time", "unparseable is_refund",
            "unparseable quantity", "duplicate order_id"} <= set(by_duckdb.rejects["reason"])


def test_mostly_rejected_orders_stop_with_the_same_message_and_rejects(tmp_path):
    n = 400
    orders = pd.DataFrame({"order_id": [f"A{i % 50}" for i in range(n)],
                           "customer_id": [f"C{i % 7}" for i in range(n)],
                           "order_time": "2025-01-02 10:00:00", "amount": "9.90",
                           "StockCode": [f"S{i % 13}" for i in range(n)]})
    folder = _write(tmp_path / "lines", {"orders": orders})
    errors = []
    for rows in (None, 0):
        with pytest.raises(DataError) as caught:
            load_dataset(folder, duckdb_min_rows=rows, rejects_path=tmp_path / f"r{rows}.csv")
        errors.append(caught.value)
    assert str(errors[0]).replace("rNone.csv", "r0.csv") == str(errors[1])
    assert "line-item export" in str(errors[1])
    pd.testing.assert_frame_equal(errors[0].rejects, errors[1].rejects)
    assert (tmp_path / "rNone.csv").read_bytes() == (tmp_path / "r0.csv").read_bytes()


@pytest.mark.parametrize("column,values,words", [
    ("order_id", ["3.34568E+18", "A1", "3.34568E+18"], "scientific notation"),
    ("order_time", ["01/02/2025 10:00", "03/04/2025 11:00", "2025-01-01"], "does not guess"),
])
def test_errors_that_stop_the_load_are_the_same(tmp_path, column, values, words):
    orders = pd.DataFrame({"order_id": ["A1", "A2", "A3"], "customer_id": ["C1", "C2", "C3"],
                           "order_time": ["2025-01-01"] * 3, "amount": ["1", "2", "3"]})
    orders[column] = values
    folder = _write(tmp_path / column, {"orders": orders})
    messages = []
    for rows in (None, 0):
        with pytest.raises(DataError) as caught:
            load_dataset(folder, duckdb_min_rows=rows)
        messages.append(str(caught.value))
    assert messages[0] == messages[1]
    assert words in messages[0]


def test_line_item_export_is_checked_by_pandas_with_the_same_results(tmp_path):
    orders = pd.DataFrame({"InvoiceNo": ["1", "1", "2", "3", "3", "C4"],
                           "CustomerID": ["7", "7", "8", "", "9", "7"],
                           "InvoiceDate": ["2025-01-02 10:00"] * 6,
                           "Quantity": ["2", "1", "3", "1", "x", "-1"],
                           "UnitPrice": ["1.5", "2", "4", "1", "1", "1.5"],
                           "StockCode": ["A", "B", "A", "C", "D", "A"]})
    folder = _write(tmp_path / "lines", {"orders": orders})
    mapping = {"orders": {"columns": {"order_id": "InvoiceNo", "customer_id": "CustomerID",
                                      "order_time": "InvoiceDate"},
                          "computed": {"amount": "Quantity * UnitPrice"},
                          "line_items": True}}
    by_pandas, by_duckdb = _both(folder, mapping=mapping)
    assert by_duckdb.checked_in["orders"] == "pandas"  # row steps: pandas only
    _assert_same(by_pandas, by_duckdb, duckdb_tables=())
    assert len(by_duckdb.orders) == 4  # six lines gathered into four orders


def test_threshold_chooses_the_engine(tmp_path):
    folder = _write(tmp_path / "small", {"orders": pd.DataFrame({
        "order_id": ["A1", "A2"], "customer_id": ["C1", "C2"],
        "order_time": ["2025-01-01", "2025-01-02"], "amount": ["1", "2"]})})
    assert load_dataset(folder).checked_in == {"orders": "pandas"}  # 2 < DUCKDB_MIN_ROWS
    assert DUCKDB_MIN_ROWS > 2
    assert load_dataset(folder, duckdb_min_rows=2).checked_in == {"orders": "duckdb"}
    assert load_dataset(folder, duckdb_min_rows=3).checked_in == {"orders": "pandas"}
    assert load_dataset(SAMPLE, duckdb_min_rows=0).checked_in["orders"] == "pandas"  # CSV


def test_day_month_dates_are_weighed_against_the_whole_column(tmp_path):
    # 3 of 10 times put the day and month first (ambiguous): pandas rejects them with a note
    # rather than stopping, because they are not most of the column; DuckDB reads the other 7,
    # so the pandas parser it calls for the 3 must count them too.
    times = [f"2025-01-0{day} 10:00:00" for day in range(1, 8)] + [
        "01/02/2025 10:00", "03/04/2025 11:00", "05/06/2025 12:00"]
    orders = pd.DataFrame({"order_id": [f"A{i}" for i in range(10)],
                           "customer_id": [f"C{i}" for i in range(10)],
                           "order_time": times, "amount": ["5"] * 10})
    folder = _write(tmp_path / "day_month", {"orders": orders})
    by_pandas, by_duckdb = _both(folder)
    _assert_same(by_pandas, by_duckdb)
    assert (by_duckdb.rejects["reason"] == "unparseable order_time").sum() == 3
    assert any("put the day and month before the year" in w for w in by_duckdb.warnings)
