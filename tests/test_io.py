"""Tests for custops.io: loading hostile CSV/Excel/Parquet/DuckDB/ibis inputs into the contract."""

from __future__ import annotations

import datetime as dt
import json
import threading
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from custops.errors import DataError, ParameterError
from custops.io import (
    MAX_REJECTED_SHARE,
    REJECTS_COLUMNS,
    TABLE_SCHEMAS,
    Dataset,
    csv_text,
    format_summary,
    load_dataset,
    parse,
    read_mapping,
)
from custops.io.checks import count_distinct
from custops.io.mapping import normalize_header
from custops.io.reader import count_title_rows
from custops.run import cli

ORDERS_HEADER = "customer_id,order_id,order_time,amount\n"


def write_text(path: Path, text: str, encoding: str = "utf-8") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(text.encode(encoding))
    return path


def assert_invariants(dataset: Dataset) -> None:
    """rows_read == kept + rejected, and every rejected row is listed exactly once."""
    assert list(dataset.rejects.columns) == list(REJECTS_COLUMNS)
    for table, quality in dataset.quality.items():
        assert quality["rows_read"] == quality["rows_kept"] + quality["rows_rejected"]
        assert len(getattr(dataset, table)) == quality["rows_kept"]
        table_rejects = dataset.rejects[dataset.rejects["table"] == table]
        assert len(table_rejects) == quality["rows_rejected"]
        assert not table_rejects.duplicated(["file", "row"]).any()
        assert sum(quality["rejected_by_reason"].values()) == quality["rows_rejected"]
    json.dumps(dataset.summary(), ensure_ascii=False)  # JSON-serialisable


def rejected_rows(dataset: Dataset, table: str = "orders") -> dict[int, str]:
    rejects = dataset.rejects[dataset.rejects["table"] == table]
    return dict(zip(rejects["row"].tolist(), rejects["reason"].tolist(), strict=True))


# --- encodings, headers, formats ------------------------------------------------------------


def test_gbk_csv_with_chinese_headers_is_detected_and_mapped(tmp_path):
    write_text(tmp_path / "orders.csv",
               "客户ID,订单号,下单时间,实付金额,渠道,品类,数量,是否退款\n"
               "C001,A1,2025/6/18 12:03,128.5,小程序,生鲜,2,否\n"
               "C002,A2,2025-06-19 08:00:00,66,门店,母婴,1,是\n", encoding="gbk")
    dataset = load_dataset(tmp_path)
    orders = dataset.orders
    assert dataset.quality["orders"]["encoding"].startswith("gb18030")
    assert list(orders.columns[:4]) == ["customer_id", "order_id", "order_time", "amount"]
    assert orders["customer_id"].tolist() == ["C001", "C002"]
    assert orders["order_time"].tolist() == [pd.Timestamp("2025-06-18 12:03"),
                                             pd.Timestamp("2025-06-19 08:00")]
    assert orders["channel"].tolist() == ["mini_program", "store"]
    assert orders["category"].tolist() == ["fresh", "baby"]
    assert orders["quantity"].tolist() == [2, 1]
    assert orders["is_refund"].tolist() == [False, True]
    assert orders["amount"].tolist() == [128.5, -66.0]  # a refund is netted: negative
    assert str(orders["order_time"].dtype) == "datetime64[ns]"
    assert pd.api.types.is_string_dtype(orders["customer_id"])
    assert str(orders["quantity"].dtype) == "Int64"
    assert_invariants(dataset)


def test_utf8_bom_header_is_not_part_of_the_first_column_name(tmp_path):
    write_text(tmp_path / "orders.csv", ORDERS_HEADER + "C1,O1,2025-06-01,10\n",
               encoding="utf-8-sig")
    dataset = load_dataset(tmp_path)
    assert dataset.orders["customer_id"].tolist() == ["C1"]
    assert dataset.quality["orders"]["columns"]["customer_id"] == "customer_id"
    assert_invariants(dataset)


def test_gbk_text_after_an_ascii_start_is_still_decoded(tmp_path, monkeypatch):
    monkeypatch.setattr(csv_text, "_HEAD_BYTES", 64)  # the sniffed start is pure ASCII
    write_text(tmp_path / "orders.csv", ORDERS_HEADER
               + "".join(f"C1,O{i},2025-06-01,10\n" for i in range(5))
               + "张三,O9,2025-06-01,10\n", encoding="gbk")
    dataset = load_dataset(tmp_path)
    assert dataset.orders["customer_id"].iloc[-1] == "张三"
    assert any("read as gb18030" in warning for warning in dataset.warnings)


def test_utf16_tab_separated_excel_unicode_text_export(tmp_path):
    write_text(tmp_path / "orders.txt", "客户ID\t订单号\t下单时间\t金额\nC1\tO1\t2025-06-01\t9\n"
               "C2\tO2\tbad\t9\nC3\tO3\t2025-06-02\t9\n", encoding="utf-16")
    dataset = load_dataset(tmp_path)
    assert dataset.orders["customer_id"].tolist() == ["C1", "C3"]
    assert rejected_rows(dataset) == {3: "unparseable order_time"}


def test_english_headers_in_other_spellings_map_automatically(tmp_path):
    write_text(tmp_path / "Orders.CSV",
               "Customer ID,orderId,Order Date,Paid Amount (CNY),Notes\nC1,O1,2025-06-01,10,hi\n")
    dataset = load_dataset(tmp_path)
    assert dataset.quality["orders"]["columns"] == {
        "customer_id": "Customer ID", "order_id": "orderId", "order_time": "Order Date",
        "amount": "Paid Amount (CNY)"}
    assert dataset.orders["Notes"].tolist() == ["hi"]  # extra column kept as is


def test_currency_amounts_parse_and_negative_amounts_become_refunds(tmp_path):
    write_text(tmp_path / "orders.csv", ORDERS_HEADER +
               'C1,O1,2025-06-01,"¥1,234.50"\n'
               "C1,O2,2025-06-01,￥88\n"
               'C1,O3,2025-06-01,"1,234"\n'
               "C1,O4,2025-06-01,(12.00)\n"
               "C1,O5,2025-06-01,-5\n"
               "C1,O6,2025-06-01,30元\n"
               "C1,O7,2025-06-01, RMB 7.5 \n")
    dataset = load_dataset(tmp_path)
    assert dataset.orders["amount"].tolist() == [1234.5, 88.0, 1234.0, -12.0, -5.0, 30.0, 7.5]
    assert dataset.orders["is_refund"].tolist() == [False, False, False, True, True, False, False]
    assert dataset.quality["orders"]["refunds"] == 2
    assert dataset.rejects.empty
    assert_invariants(dataset)


def test_refund_flag_spellings_make_amount_negative(tmp_path):
    write_text(tmp_path / "orders.csv",
               "customer_id,order_id,order_time,amount,is_refund\n"
               "C1,O1,2025-06-01,10,1\nC1,O1,2025-06-02,10,是\nC1,O3,2025-06-01,10,Y\n"
               "C1,O4,2025-06-01,10,no\nC1,O5,2025-06-01,10,\nC1,O6,2025-06-01,10,maybe\n")
    dataset = load_dataset(tmp_path)
    orders = dataset.orders
    # O1 purchase-refund pair: is_refund differs, so not a duplicate: the first is the refund row
    assert orders["order_id"].tolist() == ["O1", "O3", "O4", "O5"]
    assert orders["amount"].tolist() == [-10.0, -10.0, 10.0, 10.0]
    assert rejected_rows(dataset) == {3: "duplicate order_id", 7: "unparseable is_refund"}
    assert_invariants(dataset)


def test_excel_serial_dates_in_a_csv_time_column(tmp_path):
    write_text(tmp_path / "orders.csv", ORDERS_HEADER +
               "C1,O1,45826,10\nC1,O2,45826.5,10\nC1,O3,20250618,10\nC1,O4,1750219380,10\n")
    dataset = load_dataset(tmp_path)
    assert dataset.orders["order_time"].tolist() == [
        pd.Timestamp("2025-06-18"), pd.Timestamp("2025-06-18 12:00"),
        pd.Timestamp("2025-06-18"),
        pd.Timestamp("2025-06-18 12:03"),  # Unix seconds are UTC, shown in Asia/Shanghai
    ]


def test_mixed_time_zones_are_converted_to_the_dataset_zone(tmp_path):
    write_text(tmp_path / "orders.csv", ORDERS_HEADER +
               "C1,O1,2025-06-18T04:03:00Z,1\n"
               "C1,O2,2025-06-18T12:03:00+08:00,1\n"
               "C1,O3,2025-06-18 00:03:00-04:00,1\n"
               "C1,O4,2025-06-18 12:03,1\n"
               "C1,O5,2025年6月18日 下午12:03,1\n"
               "C1,O6,2025.6.18 12:03:00,1\n")
    shanghai = load_dataset(tmp_path)
    assert shanghai.orders["order_time"].tolist() == [pd.Timestamp("2025-06-18 12:03")] * 6
    utc = load_dataset(tmp_path, tz="UTC")
    assert utc.orders["order_time"].tolist()[:4] == [
        pd.Timestamp("2025-06-18 04:03"), pd.Timestamp("2025-06-18 04:03"),
        pd.Timestamp("2025-06-18 04:03"), pd.Timestamp("2025-06-18 12:03")]  # naive stays


def test_future_rows_are_rejected_after_the_end_of_the_as_of_day(tmp_path):
    write_text(tmp_path / "orders.csv", ORDERS_HEADER +
               "C1,O1,2025-06-30 23:59:59,1\nC1,O2,2025-07-01 00:00:00,1\nC2,O3,2030-01-01,1\n")
    dataset = load_dataset(tmp_path, as_of="2025-06-30")
    assert dataset.orders["order_id"].tolist() == ["O1"]
    assert rejected_rows(dataset) == {3: "order_time after as_of", 4: "order_time after as_of"}
    assert dataset.summary()["as_of"] == "2025-06-30"
    everything = load_dataset(tmp_path)  # without as_of nothing is future
    assert len(everything.orders) == 3
    assert_invariants(dataset)


def test_text_in_numeric_and_time_columns_is_rejected_with_the_column_named(tmp_path):
    write_text(tmp_path / "orders.csv",
               "customer_id,order_id,order_time,amount,quantity\n"
               "C1,O1,2025-06-01,10,1\n"
               "C1,O2,2025-06-01,ten,1\n"
               "C1,O3,yesterday,10,1\n"
               "C1,O4,2025-06-01,10,two\n"
               " ,O5,2025-06-01,10,1\n"
               "NULL,O6,2025-06-01,10,1\n"
               "C1,O7,2025-06-01,10,1.5\n"
               "C1,O8,2025-06-01,10,\n"
               + "".join(f"C2,P{i},2025-06-01,10,1\n" for i in range(6)))
    dataset = load_dataset(tmp_path)
    assert rejected_rows(dataset) == {3: "unparseable amount", 4: "unparseable order_time",
                                      5: "unparseable quantity", 6: "missing customer_id",
                                      7: "missing customer_id", 8: "unparseable quantity"}
    rejects = dataset.rejects.set_index("row")
    assert rejects.loc[3, "value"] == "ten" and rejects.loc[3, "column"] == "amount"
    assert rejects.loc[7, "value"] == "NULL"
    assert dataset.orders["order_id"].tolist()[:2] == ["O1", "O8"]
    assert dataset.orders["quantity"].isna().tolist()[:2] == [False, True]  # blank optional → NA
    assert_invariants(dataset)


def test_first_problem_wins_one_reason_per_row(tmp_path):
    write_text(tmp_path / "orders.csv", ORDERS_HEADER + ",O1,bad time,bad amount\n"
               "C1,O2,2025-06-01,1\nC1,O3,2025-06-01,1\n")
    dataset = load_dataset(tmp_path)
    assert rejected_rows(dataset) == {2: "missing customer_id"}
    assert_invariants(dataset)


def test_duplicate_order_ids_keep_the_first_row(tmp_path):
    write_text(tmp_path / "orders.csv", ORDERS_HEADER +
               "C1,O1,2025-06-01,10\nC1,O1,2025-06-01,10\nC1,O1,2025-06-02,-10\n"
               "C2,O2,2025-06-01,5\nC2,O2.0,2025-06-01,5\nC3,O3,2025-06-01,5\n")
    dataset = load_dataset(tmp_path)
    assert dataset.orders["order_id"].tolist() == ["O1", "O1", "O2", "O2.0", "O3"]
    assert rejected_rows(dataset) == {3: "duplicate order_id"}
    assert_invariants(dataset)


def test_numeric_ids_written_as_floats_are_the_same_id(tmp_path):
    write_text(tmp_path / "orders.csv", ORDERS_HEADER +
               "10001,5001,2025-06-01,10\n10001.0,5001.0,2025-06-01,10\n10002,5002,2025-06-01,1\n")
    dataset = load_dataset(tmp_path)
    assert dataset.orders["customer_id"].tolist() == ["10001", "10002"]
    assert rejected_rows(dataset) == {3: "duplicate order_id"}


def test_single_row_file(tmp_path):
    write_text(tmp_path / "orders.csv", ORDERS_HEADER + "C1,O1,2025-06-01,10")  # no final newline
    dataset = load_dataset(tmp_path)
    assert len(dataset.orders) == 1
    assert dataset.quality["orders"]["date_min"] == "2025-06-01 00:00:00"
    assert dataset.quality["orders"]["customers"] == 1
    assert_invariants(dataset)


def test_wrong_field_counts_multiline_fields_and_blank_lines_keep_true_line_numbers(tmp_path):
    write_text(tmp_path / "orders.csv", ORDERS_HEADER +
               'C1,O1,2025-06-01,10\n'           # line 2
               '"C\n2",O2,2025-06-01,10\n'       # lines 3-4: a quoted line break
               'C3,O3,2025-06-01,1,234\n'        # line 5: unquoted thousands separator
               '\n'                              # line 6: blank, skipped
               'C4,O4,2025-06-01,oops\n'         # line 7
               'C5,O5,2025-06-01,1\n')           # line 8
    dataset = load_dataset(tmp_path)
    assert rejected_rows(dataset) == {5: "wrong number of fields", 7: "unparseable amount"}
    rejects = dataset.rejects.set_index("row")
    assert rejects.loc[5, "value"] == "C3,O3,2025-06-01,1,234"
    assert dataset.orders["order_id"].tolist() == ["O1", "O2", "O5"]
    assert_invariants(dataset)


def test_line_numbers_with_quoted_line_breaks_and_trailing_blank_lines(tmp_path):
    write_text(tmp_path / "orders.csv", ORDERS_HEADER + '"C\n1",O1,2025-06-01,1\n'
               'C2,O2,2025-06-01,x\r\nC3,O3,2025-06-01,1\r\n\r\n\r\n')
    dataset = load_dataset(tmp_path)
    assert rejected_rows(dataset) == {4: "unparseable amount"}
    assert dataset.orders["customer_id"].tolist() == ["C\n1", "C3"]
    assert_invariants(dataset)


def test_first_row_wider_than_the_header_does_not_shift_columns(tmp_path):
    # pandas would take the first column as an index here; every field must stay in place
    write_text(tmp_path / "a" / "orders.csv", ORDERS_HEADER + "C1,O1,2025-06-01,1,234\n"
               + "".join(f"C{i},O{i},2025-06-01,{i}\n" for i in range(2, 6)))
    dataset = load_dataset(tmp_path / "a")
    assert rejected_rows(dataset) == {2: "wrong number of fields"}
    assert dataset.orders["customer_id"].tolist() == ["C2", "C3", "C4", "C5"]
    assert dataset.orders["amount"].tolist() == [2.0, 3.0, 4.0, 5.0]
    # an export that ends every line with the delimiter is fine
    write_text(tmp_path / "b" / "orders.csv", ORDERS_HEADER + "C1,O1,2025-06-01,7,\n")
    trailing = load_dataset(tmp_path / "b")
    assert trailing.orders["customer_id"].tolist() == ["C1"]
    assert trailing.orders["amount"].tolist() == [7.0] and trailing.rejects.empty


def test_title_line_above_the_header_is_skipped_and_rows_still_count_from_the_file(tmp_path):
    write_text(tmp_path / "orders.csv", "订单导出（2025-06-30）,,,\n" + ORDERS_HEADER +
               "C1,O1,2025-06-01,10\nC1,O2,2025-06-01,x\n")
    dataset = load_dataset(tmp_path)
    assert rejected_rows(dataset) == {4: "unparseable amount"}
    assert any("title line" in warning for warning in dataset.warnings)


def test_one_title_row_rule_for_csv_lines_and_sheet_rows():
    """The header is the first row with two or more cells and at least half the widest row."""
    assert count_title_rows([["订单导出", "", ""], ["a", "b", "c"], ["1", "2", "3"]]) == 1
    assert count_title_rows([["订单明细", None], ["a", "b", None, "d"], ["1", "2"]]) == 1
    assert count_title_rows([["报表", "2025-06-30"], ["a", "b", "c", "d"]]) == 0  # 2 of 4 is half
    assert count_title_rows([["only"], ["one"], ["cell"]]) == 0
    assert count_title_rows([["a", "b"]]) == 0
    assert count_title_rows([]) == 0
    assert count_title_rows([["title"]] * 20 + [["a", "b"]]) == 0  # only the first 20 rows


def test_tab_and_semicolon_separated_files(tmp_path):
    write_text(tmp_path / "a" / "orders.tsv", "客户ID\t订单号\t下单时间\t金额\nC1\tO1\t2025-06-01\t1\n")
    write_text(tmp_path / "b" / "orders.csv", "客户ID;订单号;下单时间;金额\nC1;O1;2025-06-01;1,5\n")
    assert load_dataset(tmp_path / "a").orders["amount"].tolist() == [1.0]
    assert load_dataset(tmp_path / "b").orders["amount"].tolist() == [15.0]


# --- empty and missing things -----------------------------------------------------------------


def test_empty_orders_file_is_a_data_error(tmp_path):
    write_text(tmp_path / "orders.csv", "")
    with pytest.raises(DataError, match="no rows"):
        load_dataset(tmp_path)


def test_header_only_orders_file_is_a_data_error(tmp_path):
    write_text(tmp_path / "orders.csv", ORDERS_HEADER)
    with pytest.raises(DataError, match=r"orders\.csv.*no rows"):
        load_dataset(tmp_path)


def test_empty_optional_tables_give_a_warning_and_an_empty_typed_table(tmp_path):
    write_text(tmp_path / "orders.csv", ORDERS_HEADER + "C1,O1,2025-06-01,10\n")
    write_text(tmp_path / "events.csv", "customer_id,event_time,event_type\n")
    write_text(tmp_path / "touches.csv", "")
    dataset = load_dataset(tmp_path)
    assert dataset.events.empty and str(dataset.events["event_time"].dtype) == "datetime64[ns]"
    assert dataset.touches.empty and dataset.customers is None
    assert any("events.csv" in w and "no rows" in w for w in dataset.warnings)
    assert any("no customers table" in w for w in dataset.warnings)
    assert dataset.summary()["tables"]["customers"] is None
    assert_invariants(dataset)


def test_missing_required_column_names_file_column_found_columns_and_fix(tmp_path):
    write_text(tmp_path / "orders.csv", "客户ID,订单号,成交日期X,实付金额,备注\nC1,O1,2025-06-01,1,x\n")
    with pytest.raises(DataError) as caught:
        load_dataset(tmp_path)
    message = str(caught.value)
    assert "orders.csv" in message
    assert "missing required orders column(s): order_time" in message
    assert "Columns found: 客户ID, 订单号, 成交日期X, 实付金额, 备注" in message
    assert "orders:\n    columns:\n      order_time: 成交日期X" in message  # guessed for the user
    assert "--mapping" in message


def test_missing_order_id_column_is_an_error_not_invented(tmp_path):
    write_text(tmp_path / "orders.csv", "customer_id,order_time,amount\nC1,2025-06-01,1\n")
    with pytest.raises(DataError, match="order_id.*does not invent"):
        load_dataset(tmp_path)


def test_missing_orders_table_lists_the_files_found(tmp_path):
    write_text(tmp_path / "客户.csv", "customer_id\nC1\n")
    write_text(tmp_path / "sales_export.csv", ORDERS_HEADER)
    with pytest.raises(DataError) as caught:
        load_dataset(tmp_path)
    assert "no orders table" in str(caught.value)
    assert "sales_export.csv" in str(caught.value) and "客户.csv" in str(caught.value)


def test_missing_directory_and_bad_parameters(tmp_path):
    with pytest.raises(DataError, match="does not exist"):
        load_dataset(tmp_path / "nowhere")
    write_text(tmp_path / "orders.csv", ORDERS_HEADER + "C1,O1,2025-06-01,10\n")
    with pytest.raises(ParameterError, match="time zone"):
        load_dataset(tmp_path, tz="Mars/Olympus")
    with pytest.raises(ParameterError, match="as_of"):
        load_dataset(tmp_path, as_of="end of June")


def test_mostly_rejected_orders_are_fatal_and_name_the_top_reasons(tmp_path):
    write_text(tmp_path / "orders.csv", "客户ID,订单号,下单时间,金额\n"
               + "".join(f"C{i},O{i},2025-06-01,备注{i}\n" for i in range(6))
               + "C9,O9,2025-06-01,5\n")
    assert MAX_REJECTED_SHARE == 0.5
    with pytest.raises(DataError) as caught:
        load_dataset(tmp_path)
    message = str(caught.value)
    assert "6 of 7 order rows (86%)" in message
    assert "unparseable amount: 6 rows" in message and "'金额'" in message


# --- other tables -------------------------------------------------------------------------------


def test_customers_events_and_touches_are_normalized(tmp_path):
    write_text(tmp_path / "orders.csv", ORDERS_HEADER + "C1,O1,2025-06-01,10\nC9,O2,2025-06-01,1\n")
    write_text(tmp_path / "customers.csv",
               "会员编号,注册时间,性别,出生年份,省份,城市,城市等级,获客渠道,短信授权,手机号\n"
               "C1,2024-01-05,男,1990,广东省,广州市,一线,抖音,是,138****1234\n"
               "C2,,女,未知,广西壮族自治区,南宁,3,自然,否,\n"
               "C2,2024-01-05,女,1991,广西,南宁,3,自然,0,\n"
               "C3,2024-01-05,其他,19x0,北京,北京市,1,kol,1,\n", encoding="gb18030")
    write_text(tmp_path / "events.csv", "用户ID,事件时间,事件类型\n"
               "C1,2025-06-01 10:00,签到\nC1,2025-06-01 11:00,直播互动\n")
    write_text(tmp_path / "touches.csv", "客户ID,活动ID,渠道,发送时间,分组,是否转化,收入\n"
               "C1,K1,短信,2025-05-01 10:30,实验组,是,99\nC2,K1,企业微信,2025-05-01 10:30,对照组,否,\n")
    dataset = load_dataset(tmp_path)
    customers = dataset.customers
    assert customers["customer_id"].tolist() == ["C1", "C2"]
    assert customers["gender"].tolist() == ["M", "F"]
    assert customers["birth_year"].isna().tolist() == [False, True]
    assert customers["province"].tolist() == ["广东", "广西"]
    assert customers["city"].tolist() == ["广州", "南宁"]
    assert customers["city_tier"].tolist() == [1, 3]
    assert customers["acquisition_channel"].tolist() == ["douyin", "organic"]
    assert customers["consent_sms"].tolist() == [True, False]
    assert customers["phone"].tolist() == ["138****1234", None] or customers["phone"].isna()[1]
    assert rejected_rows(dataset, "customers") == {4: "duplicate customer_id",
                                                   5: "unparseable birth_year"}
    assert dataset.events["event_type"].tolist() == ["check_in", "直播互动"]  # unknown type kept
    touches = dataset.touches
    assert touches["channel"].tolist() == ["sms", "wecom"]
    assert touches["group"].tolist() == ["treatment", "control"]
    assert touches["converted"].tolist() == [True, False]
    assert touches["revenue"].tolist() == [99.0, 0.0]
    assert any("not in the customers table" in w for w in dataset.warnings)  # C9
    assert dataset.summary()["totals"]["customers"] == 3
    assert_invariants(dataset)


def test_header_synonyms_are_unambiguous_within_each_table():
    for table, specs in TABLE_SCHEMAS.items():
        owner: dict[str, str] = {}
        for spec in specs:
            for synonym in (spec.name, *spec.synonyms):
                key = normalize_header(synonym)
                assert owner.setdefault(key, spec.name) == spec.name, (table, synonym)


# --- other sources --------------------------------------------------------------------------------


def test_xlsx_with_real_datetimes_title_row_and_blank_rows_uses_sheet_rows(tmp_path):
    openpyxl = pytest.importorskip("openpyxl")
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.title = "订单"
    sheet.append(["订单明细"])                                           # row 1: a title
    sheet.append(["客户ID", "订单号", "下单时间", "实付金额"])            # row 2
    sheet.append([10001, 5001, dt.datetime(2025, 6, 18, 12, 3), 99.5])  # row 3
    sheet.append([None, None, None, None])                              # row 4: blank
    sheet.append(["C2", "5002", 45826.5, "¥12"])                        # row 5: serial date
    sheet.append(["C3", "5003", "not a date", 1])                       # row 6
    workbook.save(tmp_path / "orders.xlsx")
    dataset = load_dataset(tmp_path)
    orders = dataset.orders
    assert orders["customer_id"].tolist() == ["10001", "C2"]
    assert orders["order_id"].tolist() == ["5001", "5002"]
    assert orders["order_time"].tolist() == [pd.Timestamp("2025-06-18 12:03"),
                                             pd.Timestamp("2025-06-18 12:00")]
    assert orders["amount"].tolist() == [99.5, 12.0]
    assert rejected_rows(dataset) == {6: "unparseable order_time"}
    assert_invariants(dataset)


def test_parquet_files_keep_their_types(tmp_path):
    frame = pd.DataFrame({
        "customer_id": [1, 2, 3], "order_id": ["a", "b", "c"],
        "order_time": pd.to_datetime(["2025-06-18 04:03", "2025-06-18 05:00", None], utc=True),
        "amount": [10.0, -3.0, 1.0]})
    frame.to_parquet(tmp_path / "orders.parquet")
    dataset = load_dataset(tmp_path)
    assert dataset.orders["customer_id"].tolist() == ["1", "2"]
    assert dataset.orders["order_time"].tolist()[0] == pd.Timestamp("2025-06-18 12:03")
    assert dataset.orders["is_refund"].tolist() == [False, True]
    assert rejected_rows(dataset) == {3: "missing order_time"}  # 1-based row index


def test_duckdb_file_source_opens_read_only_and_numbers_rows_from_one(tmp_path):
    duckdb = pytest.importorskip("duckdb")
    database = tmp_path / "shop.duckdb"
    with duckdb.connect(str(database)) as connection:
        connection.execute("""
            create table ORDERS as select * from (values
                (1, 'O1', timestamp '2025-06-18 12:03:00', 10.5, 0),
                (2, 'O2', timestamp '2025-06-19 00:00:00', 20.0, 1),
                (null, 'O3', timestamp '2025-06-19 00:00:00', 1.0, 0)
            ) t(customer_id, order_id, order_time, amount, is_refund)""")
        connection.execute("create table customers as select 1 as customer_id, '男' as gender")
    dataset = load_dataset(database)
    assert dataset.orders["customer_id"].tolist() == ["1", "2"]
    assert dataset.orders["amount"].tolist() == [10.5, -20.0]
    assert dataset.customers["gender"].tolist() == ["M"]
    assert rejected_rows(dataset) == {3: "missing customer_id"}
    assert dataset.rejects["file"].iloc[0] == "shop.duckdb:ORDERS"
    assert dataset.events is None
    assert_invariants(dataset)
    database.with_suffix(".duckdb.wal").unlink(missing_ok=True)
    assert len(load_dataset(f"duckdb://{database}").orders) == 2  # read-only: reopening works


def test_ibis_connection_source(tmp_path):
    ibis = pytest.importorskip("ibis")
    # The SQLite backend needs no server; tables are made with plain SQL so the test does not
    # depend on ibis's DDL generation.
    connection = ibis.sqlite.connect(str(tmp_path / "crm.sqlite"))
    connection.raw_sql("create table orders (客户ID text, 订单号 text, 下单时间 text, 实付金额 text)")
    connection.raw_sql("insert into orders values ('C1', 'O1', '2025-06-18T04:03:00Z', '¥5'), "
                       "('C2', 'O2', '2025-06-18 09:00', '6'), ('C3', 'O3', 'soon', '7')")
    connection.raw_sql("create table Events (customer_id text, event_time text, event_type text)")
    connection.raw_sql("insert into Events values ('C1', '2025-06-18 10:00:00', 'visit')")
    dataset = load_dataset(connection)
    assert dataset.orders["order_time"].tolist() == [pd.Timestamp("2025-06-18 12:03"),
                                                     pd.Timestamp("2025-06-18 09:00")]
    assert dataset.orders["amount"].tolist() == [5.0, 6.0]
    assert rejected_rows(dataset) == {3: "unparseable order_time"}
    assert dataset.rejects["file"].iloc[0] == "ibis:orders"
    assert len(dataset.events) == 1 and dataset.touches is None
    assert_invariants(dataset)


def test_mapping_yaml_names_the_file_and_the_columns(tmp_path):
    data = tmp_path / "data"
    write_text(data / "订单导出.csv", "买家,单据,时间戳,实收\nC1,O1,2025-06-18 12:00,8\n",
               encoding="gb18030")
    write_text(data / "members.csv", "会员,生日年\nC1,1990\n")
    mapping_file = write_text(tmp_path / "mapping.yaml",
                              "orders:\n"
                              "  file: 订单导出.csv\n"
                              "  columns: {customer_id: 买家, order_id: 单据, order_time: 时间戳,"
                              " amount: 实收}\n"
                              "customers:\n"
                              "  file: members.csv\n"
                              "  columns:\n    会员: customer_id   # written the other way round\n"
                              "    birth_year: 生日年\n")
    dataset = load_dataset(data, mapping=mapping_file)
    assert dataset.orders["amount"].tolist() == [8.0]
    assert dataset.customers["birth_year"].tolist() == [1990]
    assert read_mapping(mapping_file)["customers"]["columns"] == {
        "customer_id": "会员", "birth_year": "生日年"}
    with pytest.raises(DataError, match="no such column"):
        load_dataset(data, mapping={"orders": {"file": "订单导出.csv",
                                               "columns": {"amount": "不存在"}}})
    with pytest.raises(DataError, match="neither is a orders column"):
        read_mapping({"orders": {"columns": {"price": "单价"}}})
    with pytest.raises(DataError, match="unknown table"):
        read_mapping({"sales": {}})


# --- outputs: summary, rejects file, CLI ----------------------------------------------------------


def test_write_rejects_is_excel_friendly_and_has_a_header_when_empty(tmp_path):
    write_text(tmp_path / "orders.csv", ORDERS_HEADER + "C1,O1,2025-06-01,10\nC1,O2,2025-06-01,十\n")
    dataset = load_dataset(tmp_path)
    out = dataset.write_rejects(tmp_path / "out" / "rejects.csv")
    assert out.read_bytes().startswith(b"\xef\xbb\xbf")
    written = pd.read_csv(out, encoding="utf-8-sig")
    assert written.to_dict("records") == [{"table": "orders", "file": "orders.csv", "row": 3,
                                           "column": "amount", "reason": "unparseable amount",
                                           "value": "十"}]
    clean = Dataset(orders=dataset.orders)
    empty = clean.write_rejects(tmp_path / "empty.csv")
    assert empty.read_text(encoding="utf-8-sig").strip() == ",".join(REJECTS_COLUMNS)


def test_format_summary_in_english_and_chinese(tmp_path):
    write_text(tmp_path / "orders.csv", ORDERS_HEADER + "C1,O1,2025-06-01,10\nC1,O2,2025-06-01,x\n"
               "C2,O3,2025-06-02,3\n")
    summary = load_dataset(tmp_path, as_of="2025-06-30").summary()
    english = format_summary(summary)
    assert "orders.csv" in english and "unparseable amount 1" in english
    chinese = format_summary(summary, lang="zh")
    assert "订单" in chinese and "金额无法解析 1" in chinese and "截至: 2025-06-30" in chinese
    with pytest.raises(ParameterError):
        format_summary(summary, lang="fr")


def test_cli_validate_prints_json_and_writes_rejects(tmp_path, capsys):
    data = tmp_path / "data"
    write_text(data / "orders.csv", ORDERS_HEADER + "C1,O1,2025-06-01,10\n,O2,2025-06-01,1\n"
               "C2,O3,2025-06-01,3\n")
    rejects = tmp_path / "rejects.csv"
    code = cli.main(["validate", "--data", str(data), "--json", "--rejects", str(rejects)])
    captured = capsys.readouterr()
    assert code == 0
    summary = json.loads(captured.out)
    assert summary["tables"]["orders"]["rows_rejected"] == 1
    assert summary["totals"] == {"rows_read": 3, "rows_kept": 2, "rows_rejected": 1,
                                 "rows_set_aside": 0, "customers": 2, "customers_with_orders": 2}
    assert pd.read_csv(rejects, encoding="utf-8-sig")["row"].tolist() == [3]

    assert cli.main(["validate", "--data", str(data)]) == 0
    assert "Data check" in capsys.readouterr().out


def test_cli_validate_reports_data_errors_without_a_traceback(tmp_path, capsys):
    write_text(tmp_path / "orders.csv", "customer_id,amount\nC1,1\n")
    assert cli.main(["validate", "--data", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "orders.csv" in err and "order_id" in err and "Traceback" not in err


def test_vectorised_parsing_handles_many_rows_quickly(tmp_path):
    rows = 200_000
    rng = np.random.default_rng(7)
    frame = pd.DataFrame({
        "customer_id": rng.integers(1, 5000, rows).astype(str),
        "order_id": np.arange(rows).astype(str),
        "order_time": (pd.Timestamp("2024-01-01")
                       + pd.to_timedelta(rng.integers(0, 86400 * 500, rows), unit="s")
                       ).strftime("%Y-%m-%d %H:%M:%S"),
        "amount": np.round(rng.gamma(2.0, 50.0, rows), 2).astype(str)})
    frame.loc[::1000, "amount"] = "n/a?"
    frame.to_csv(tmp_path / "orders.csv", index=False)
    dataset = load_dataset(tmp_path)
    assert dataset.quality["orders"]["rows_rejected"] == rows // 1000
    assert rejected_rows(dataset)[2] == "unparseable amount"  # row 0 → line 2
    assert_invariants(dataset)


@pytest.mark.parametrize("column", ["channel", "gender", "province"])
def test_few_valued_columns_parsed_per_value_equal_the_row_by_row_parse(monkeypatch, column):
    """Large columns with few distinct values are cleaned and mapped once per value and
    spread by code: the same values, missing and invalid flags as parsing every row."""
    messy = [" app ", "APP", "小程序", "NULL", None, "未知", "  ", "男", "female", "F", "广东省",
             "广西壮族自治区", "unknown", "-", "x"]
    values = pd.Series((messy * 9_000)[:130_000], dtype="object")
    spec = next(s for table in TABLE_SCHEMAS.values() for s in table if s.name == column)
    spread = parse._parse_categories(values, spec)
    monkeypatch.setattr(parse, "_SPREAD_MIN_ROWS", 10**9)
    by_row = parse._parse_categories(values, spec)
    pd.testing.assert_series_equal(spread.values, by_row.values)
    np.testing.assert_array_equal(spread.missing, by_row.missing)
    np.testing.assert_array_equal(spread.invalid, by_row.invalid)
    assert spread.missing.sum() == by_row.missing.sum() > 0


def test_csv_bad_lines_are_recorded_while_other_tables_are_checked(tmp_path):
    """CSV reads record pandas' bad-line warnings through the process-wide warnings module;
    table checks run in worker threads. The read gate keeps every bad line recorded (without
    it a concurrent check lost the recorder in most reads)."""
    path = tmp_path / "orders.csv"
    rows = ["customer_id,order_id,amount"] + [f"C{i},O{i},{i}.5" for i in range(2_000)]
    rows[1001] = "C999,O999,1.5,extra"  # one line too wide
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    stop = threading.Event()

    def checks():
        values = np.arange(50_000, dtype=float)
        while not stop.is_set():
            with csv_text.READ_GATE.check():  # as load_dataset's workers run normalize_table
                pd.Series(values, dtype="int64")
                pd.to_numeric(pd.Series(["1", "x"]), errors="coerce")

    worker = threading.Thread(target=checks)
    worker.start()
    try:
        for _ in range(40):
            frame, bad, _truncated = csv_text._read_csv_frame(path, "utf-8", ",", 0, "strict")
            assert bad == [1002] and len(frame) == 1_999
    finally:
        stop.set()
        worker.join()


def test_object_columns_with_numbers_keep_each_spelling():
    """1, 1.0 and True are one value to pandas' factorize: object columns that are not all
    text are parsed row by row, so each keeps its own spelling."""
    spec = next(s for s in TABLE_SCHEMAS["orders"] if s.name == "channel")
    values = pd.Series([1, 1.5, 1.0, "app"] * 30_000, dtype="object")
    parsed = parse._parse_categories(values, spec)
    assert parsed.values.iloc[:4].tolist() == ["1", "1.5", "1.0", "app"]


def test_several_files_for_a_table_are_named_in_the_warnings(tmp_path):
    """Two orders files: the first is used and the warnings say which, so the user can choose
    in the mapping."""
    rows = "customer_id,order_id,order_time,amount\nC1,O1,2026-01-02 10:00:00,10\n"
    (tmp_path / "orders.csv").write_text(rows, encoding="utf-8")
    (tmp_path / "orders.txt").write_text(rows, encoding="utf-8")
    dataset = load_dataset(tmp_path)
    assert any("several orders files found" in w for w in dataset.warnings)
    assert len(dataset.orders) == 1


def test_invisible_and_bidi_characters_in_ids_are_removed_and_reported(tmp_path):
    """Zero-width and right-to-left override characters make ids that look equal differ (or
    read backwards): the loader removes them and says how many and where (documented rule)."""
    (tmp_path / "orders.csv").write_text(
        "customer_id,order_id,order_time,amount\n"
        "c\u200b1,o1,2025-01-02 10:00,10\n"
        "c1,o2,2025-01-03 10:00,20\n"
        "c\u202e2,o3,2025-01-04 10:00,30\n", encoding="utf-8")
    dataset = load_dataset(tmp_path)
    assert dataset.orders["customer_id"].tolist() == ["c1", "c1", "c2"]
    notes = [w for w in dataset.warnings if "invisible or right-to-left" in w]
    assert len(notes) == 1 and "customer_id" in notes[0] and "2 value(s)" in notes[0]


def test_count_distinct_over_text_columns_of_either_arrow_type():
    """Ids held as string or large_string, missing values, numbers: one distinct count,
    as pandas counts it."""
    small = pd.Series(["C1", "C2", None, "C1", "客户3"], dtype="string[pyarrow]")
    large = pd.Series(pd.arrays.ArrowExtensionArray(
        pa.chunked_array([pa.array(["C2", "C4"], pa.large_string()),
                          pa.array(["客户3", None], pa.large_string())])))
    assert count_distinct(small) == 3
    assert count_distinct(large) == 3
    assert count_distinct(small, large) == 4
    assert count_distinct(pd.Series([7, 8, 8])) == 2
