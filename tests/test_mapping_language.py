"""The mapping language (docs/data.md, *The mapping language*): one small inline file per feature,
answers worked out by hand, and one hostile setting per key that must stop with a one-line
DataError naming the key."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from custops.errors import DataError
from custops.io import (
    Dataset,
    MostlyRejectedError,
    load_dataset,
    preset_names,
    read_mapping,
    suggest_mapping,
)
from custops.run import cli

HEADER = "customer_id,order_id,order_time,amount\n"


def write(path: Path, text: str, encoding: str = "utf-8") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(text.encode(encoding))
    return path


def check_counts(dataset: Dataset) -> None:
    """rows_read = kept + rejected + set aside; each kept-out row listed once with its reason."""
    for table, quality in dataset.quality.items():
        assert quality["rows_read"] == (quality["rows_kept"] + quality["rows_rejected"]
                                        + quality["rows_set_aside"])
        rejects = dataset.rejects[dataset.rejects["table"] == table]
        set_aside = dataset.set_aside[dataset.set_aside["table"] == table]
        assert len(rejects) == quality["rows_rejected"] == sum(
            quality["rejected_by_reason"].values())
        assert len(set_aside) == quality["rows_set_aside"] == sum(
            quality["set_aside_by_rule"].values())
        both = pd.concat([rejects, set_aside])
        assert not both.duplicated(["file", "row"]).any()
    json.dumps(dataset.summary(), ensure_ascii=False)


def reasons(dataset: Dataset, frame: str = "rejects") -> dict[int, str]:
    listed = getattr(dataset, frame)
    return dict(zip(listed["row"].tolist(), listed["reason"].tolist(), strict=True))


def one_line_error(key: str, run) -> str:
    with pytest.raises(DataError) as caught:
        run()
    message = str(caught.value)
    assert "\n" not in message, message
    assert key in message, message
    return message


# --- reading: separator, header, names, skip lines, date_format, decimal, file ---------------


def test_whitespace_log_without_header_or_order_ids(tmp_path):
    write(tmp_path / "CDNOW_master.txt",
          "   00001 19970101  1   11.77\n"      # line 1
          "   00001 19970118  2   20.76\n"      # line 2
          "\n"                                  # line 3: blank
          "   00002 19970102  2   29.33 extra\n"  # line 4: too many fields
          "   00002 1997-13-02  1    9.00\n"     # line 5: not a yyyymmdd date
          "\t00003 19970105  3   30.00\n")       # line 6: a tab counts as a space
    mapping = {"orders": {"file": "CDNOW_master.txt", "separator": "whitespace",
                          "header": False, "names": ["customer_id", "order_time", "quantity",
                                                     "amount"],
                          "date_format": "%Y%m%d", "order_id": "row_number"}}
    dataset = load_dataset(tmp_path, mapping=mapping)
    orders = dataset.orders
    assert orders["order_id"].tolist() == ["1", "2", "6"]  # the line numbers
    assert orders["customer_id"].tolist() == ["00001", "00001", "00003"]  # zeros kept
    assert orders["order_time"].tolist() == [pd.Timestamp("1997-01-01"),
                                             pd.Timestamp("1997-01-18"),
                                             pd.Timestamp("1997-01-05")]
    assert orders["amount"].tolist() == [11.77, 20.76, 30.0]
    assert orders["quantity"].tolist() == [1, 2, 3]
    assert reasons(dataset) == {4: "wrong number of fields", 5: "unparseable order_time"}
    assert dataset.rejects.set_index("row").loc[4, "value"] == "00002 19970102  2   29.33 extra"
    assert dataset.quality["orders"]["delimiter"] == "whitespace"
    check_counts(dataset)


def test_whitespace_file_with_a_header_line(tmp_path):
    write(tmp_path / "log.txt", "customer_id date quantity amount\r\n"
          "   00001 1997-01-01  1   11.77\r\n   00002 1997-01-02  2   29.33\r\n")
    mapping = {"orders": {"file": "log.txt", "separator": "whitespace",
                          "columns": {"order_time": "date"},
                          "order_id": ["customer_id", "order_time"]}}
    dataset = load_dataset(tmp_path, mapping=mapping)
    assert dataset.orders["order_id"].tolist() == ["00001|1997-01-01", "00002|1997-01-02"]
    assert dataset.orders["amount"].sum() == pytest.approx(41.10)


def test_explicit_separator_and_decimal_comma(tmp_path):
    write(tmp_path / "orders.csv", HEADER.replace(",", ";")
          + 'C1;O1;2025-06-01;"1.234,56"\nC1;O2;2025-06-01;12,5\nC2;O3;2025-06-01;¥7\n')
    dataset = load_dataset(tmp_path, mapping={"orders": {"separator": ";", "decimal": ","}})
    assert dataset.orders["amount"].tolist() == [1234.56, 12.5, 7.0]
    # without decimal the comma is a thousands separator, as before: 1.234,56 reads wrong
    assert load_dataset(tmp_path).orders["amount"].tolist() == [1.23456, 125.0, 7.0]


def test_tab_separator_spellings(tmp_path):
    write(tmp_path / "orders.txt", "customer_id\torder_id\torder_time\tamount\nC1\tO1\t"
          "2025-06-01\t3\n")
    for spelling in ("\t", "\\t", "tab"):
        dataset = load_dataset(tmp_path, mapping={"orders": {"separator": spelling}})
        assert dataset.orders["amount"].tolist() == [3.0]


def test_skip_lines_and_footer_are_not_rows(tmp_path):
    write(tmp_path / "orders.csv",
          "店铺: 小王的杂货铺,,,\n"          # line 1: title
          "导出: 2025-06-30,,,\n"             # line 2: title (two cells: not detected)
          + HEADER                            # line 3
          + "C1,O1,2025-06-01,10\n"           # line 4
          "C1,O2,2025-06-01,x\n"              # line 5
          "C2,O3,2025-06-02,5\n"              # line 6
          "合计,,,15\n"                        # line 7: footer
          "\n")
    dataset = load_dataset(tmp_path, mapping={"orders": {"skip_lines": 2, "skip_footer": 1}})
    assert dataset.orders["order_id"].tolist() == ["O1", "O3"]
    assert reasons(dataset) == {5: "unparseable amount"}
    assert dataset.quality["orders"]["rows_read"] == 3
    assert any("footer" in warning for warning in dataset.warnings)
    check_counts(dataset)


def test_excel_sheet_without_header_and_with_a_footer(tmp_path):
    openpyxl = pytest.importorskip("openpyxl")
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.append(["C1", "O1", "2025-06-01", 5])     # row 1
    sheet.append(["C2", "O2", "2025-06-02", "x"])   # row 2
    sheet.append(["C3", "O3", "2025-06-03", 7])     # row 3
    sheet.append(["合计", None, None, 12])           # row 4: footer
    workbook.save(tmp_path / "orders.xlsx")
    mapping = {"orders": {"header": False, "skip_footer": 1,
                          "names": ["customer_id", "order_id", "order_time", "amount"]}}
    dataset = load_dataset(tmp_path, mapping=mapping)
    assert dataset.orders["order_id"].tolist() == ["O1", "O3"]
    assert reasons(dataset) == {2: "unparseable amount"}


def test_date_formats_are_tried_in_turn(tmp_path):
    write(tmp_path / "orders.csv", HEADER + "C1,O1,03/04/2025,1\nC1,O2,03/04/2025 17:05,1\n"
          "C1,O3,2025-04-05 08:00:00,1\nC1,O4,04/03/25,1\n")
    mapping = {"orders": {"date_format": ["%d/%m/%Y", "%d/%m/%Y %H:%M"]}}
    dataset = load_dataset(tmp_path, mapping=mapping)
    assert dataset.orders["order_time"].tolist() == [
        pd.Timestamp("2025-04-03"), pd.Timestamp("2025-04-03 17:05"),
        pd.Timestamp("2025-04-05 08:00")]  # year-first ISO times are always read
    assert reasons(dataset) == {5: "unparseable order_time"}  # matches no format


def test_day_month_order_is_read_only_when_the_column_shows_it(tmp_path):
    write(tmp_path / "us" / "orders.csv", HEADER + "C1,O1,12/20/2010 5:01,1\n"
          "C1,O2,1/2/2011 13:05,1\n")
    dataset = load_dataset(tmp_path / "us")
    assert dataset.orders["order_time"].tolist() == [pd.Timestamp("2010-12-20 05:01"),
                                                     pd.Timestamp("2011-01-02 13:05")]
    assert any("month/day/year" in warning and "12/20/2010" in warning
               for warning in dataset.warnings)
    write(tmp_path / "eu" / "orders.csv", HEADER + "C1,O1,20.12.2010,1\nC1,O2,1.2.2011,1\n")
    assert load_dataset(tmp_path / "eu").orders["order_time"].tolist() == [
        pd.Timestamp("2010-12-20"), pd.Timestamp("2011-02-01")]
    write(tmp_path / "both" / "orders.csv", HEADER + "C1,O1,03/04/2011,1\nC1,O2,05/06/2011,1\n")
    with pytest.raises(DataError, match="date_format") as caught:
        load_dataset(tmp_path / "both")
    assert "03/04/2011" in str(caught.value) and "order_time" in str(caught.value)
    # a few such values among ISO times are rejected, as before, with a warning
    write(tmp_path / "few" / "orders.csv", HEADER + "C1,O1,03/04/2011,1\n"
          + "".join(f"C1,P{i},2011-04-0{i},1\n" for i in range(1, 4)))
    few = load_dataset(tmp_path / "few")
    assert reasons(few) == {2: "unparseable order_time"}
    assert any("date_format" in warning for warning in few.warnings)


def test_file_glob_reads_several_files_as_one_table(tmp_path):
    write(tmp_path / "exports" / "订单报表-202405.csv", HEADER + "C1,O1,2025-05-01,1\n"
          "C1,O2,2025-05-02,x\n")
    write(tmp_path / "exports" / "订单报表-202406.csv", HEADER + "C2,O3,2025-06-01,2\n"
          "C2,O4,2025-06-02,y\n")
    write(tmp_path / "customers.csv", "customer_id\nC1\n")
    mapping = {"orders": {"file": "exports/订单报表-2024*.csv"}}
    dataset = load_dataset(tmp_path, mapping=mapping)
    assert dataset.orders["order_id"].tolist() == ["O1", "O3"]
    rejects = dataset.rejects[dataset.rejects["table"] == "orders"]
    assert list(zip(rejects["file"], rejects["row"], strict=True)) == [
        ("订单报表-202405.csv", 3), ("订单报表-202406.csv", 3)]
    assert dataset.quality["orders"]["files"] == ["订单报表-202405.csv", "订单报表-202406.csv"]
    check_counts(dataset)
    # the same row numbers in two files make different generated ids
    mapping["orders"]["order_id"] = "row_number"
    write(tmp_path / "exports" / "订单报表-202405.csv", "customer_id,order_time,amount\n"
          "C1,2025-05-01,1\n")
    write(tmp_path / "exports" / "订单报表-202406.csv", "customer_id,order_time,amount\n"
          "C2,2025-06-01,2\n")
    generated = load_dataset(tmp_path, mapping=mapping)
    assert generated.orders["order_id"].tolist() == ["订单报表-202405.csv:2",
                                                     "订单报表-202406.csv:2"]


def test_file_glob_with_different_columns_or_no_match_stops(tmp_path):
    write(tmp_path / "a1.csv", HEADER + "C1,O1,2025-05-01,1\n")
    write(tmp_path / "a2.csv", "客户ID,订单号,下单时间,金额,备注\nC1,O2,2025-05-01,1,x\n")
    with pytest.raises(DataError, match="different columns"):
        load_dataset(tmp_path, mapping={"orders": {"file": "a*.csv"}})
    with pytest.raises(DataError, match="no file matches") as caught:
        load_dataset(tmp_path, mapping={"orders": {"file": "b*.csv"}})
    assert "a1.csv" in str(caught.value)  # the files found are listed


def test_relative_file_is_in_the_data_folder_never_next_to_the_mapping(tmp_path):
    data = tmp_path / "data"
    write(data / "订单导出.csv", HEADER + "C1,O1,2025-06-01,8\n")
    mapping_file = write(tmp_path / "config" / "mapping.yaml", "orders:\n  file: 订单导出.csv\n")
    assert load_dataset(data, mapping=mapping_file).orders["amount"].tolist() == [8.0]
    # a file of the same name next to the mapping is not a fallback
    write(tmp_path / "config" / "customers.csv", "customer_id\nC1\n")
    write(tmp_path / "config" / "mapping2.yaml", "orders:\n  file: 订单导出.csv\n"
          "customers:\n  file: customers.csv\n")
    with pytest.raises(DataError, match="no such file") as caught:
        load_dataset(data, mapping=tmp_path / "config" / "mapping2.yaml")
    assert "data folder" in str(caught.value)


# --- rules --------------------------------------------------------------------------------


TAOBAO_HEADER = "订单编号,买家会员名,买家实际支付金额,订单状态,订单创建时间,订单付款时间,退款金额\n"


def taobao_file(folder: Path) -> Path:
    return write(folder / "ExportOrderList.csv", TAOBAO_HEADER
                 + '="3345001",小鱼儿001,100.00,交易成功,2024-01-02 10:00:00,2024-01-02 10:01:00,0.00\n'  # 2
                 '="3345002",小鱼儿001,50.00,交易关闭,2024-01-03 10:00:00,2024-01-03 10:01:00,50.00\n'   # 3
                 '="3345003",糖糖002,0.00,等待买家付款,2024-01-04 10:00:00,,0.00\n'                     # 4
                 '="3345004",糖糖002,80.00,交易成功,2024-01-05 10:00:00,2024-01-05 10:01:00,30.00\n'     # 5
                 '="3345005",阿狸003,60.00,交易成功,2024-01-06 10:00:00,2024-01-06 10:01:00,60.00\n'     # 6
                 '="3345006",阿狸003,40.00,卖家已发货，等待买家确认,2024-01-07 10:00:00,,0\n'           # 7
                 '="3345007",,20.00,交易成功,2024-01-08 10:00:00,2024-01-08 10:01:00,\n',                # 8
                 encoding="gbk")


TAOBAO_MAPPING = {"orders": {
    "file": "ExportOrderList*.csv",
    "columns": {"order_id": "订单编号", "customer_id": "买家会员名", "order_time": "订单创建时间",
                "amount": "买家实际支付金额"},
    "rules": [{"name": "closed", "drop": "订单状态", "in": ["交易关闭"]},
              {"name": "unpaid", "keep": "订单付款时间", "blank": False}],
    "refund_amount": "退款金额"}}


def test_rules_set_rows_aside_with_a_reason_and_a_count(tmp_path):
    taobao_file(tmp_path)
    dataset = load_dataset(tmp_path, mapping=TAOBAO_MAPPING)
    quality = dataset.quality["orders"]
    # line 3 is closed (and refunded in full, but the first rule names it); 4 and 7 unpaid
    assert quality["set_aside_by_rule"] == {"closed": 1, "unpaid": 2}
    assert reasons(dataset, "set_aside") == {3: "set aside: closed", 4: "set aside: unpaid",
                                             7: "set aside: unpaid"}
    assert dataset.set_aside.set_index("row").loc[3, ["column", "value"]].tolist() == [
        "订单状态", "交易关闭"]
    assert reasons(dataset) == {8: "missing customer_id"}
    assert (quality["rows_read"], quality["rows_kept"], quality["rows_rejected"],
            quality["rows_set_aside"]) == (7, 3, 1, 3)
    assert dataset.summary()["totals"]["rows_set_aside"] == 3
    check_counts(dataset)


def test_rules_conditions(tmp_path):
    write(tmp_path / "orders.csv", "customer_id,order_id,order_time,amount,code,qty,note\n"
          "C1,O1,2025-06-01,1,POST,1,\n"          # 2: drop code in [POST, M]
          "C1,A2,2025-06-01,1,X,1,\n"             # 3: drop order_id starting with A
          "C1,O3,2025-06-01,1,X,0,\n"             # 4: keep qty above 0
          "C1,O4,2025-06-01,1,X,150,\n"           # 5: keep qty max 100
          "C1,O5,2025-06-01,1,X,5,测试订单\n"     # 6: drop note containing 测试
          "C1,O6,2025-06-01,1,X,abc,\n"           # 7: not a number: fails the range
          "C1,O7,2025-06-01,1, M ,3,\n"           # 8: trimmed: M
          "C1,O8,2025-06-01,1,Y,3,ok\n")          # 9: kept
    mapping = {"orders": {"rules": [
        {"drop": "code", "in": ["POST", "M"]},
        {"drop": "order_id", "starts_with": "A"},  # a contract column name
        {"name": "quantity", "keep": "qty", "above": 0, "max": 100},
        {"drop": "note", "contains": ["测试", "test"]},
    ]}}
    dataset = load_dataset(tmp_path, mapping=mapping)
    assert dataset.orders["order_id"].tolist() == ["O8"]
    assert dataset.quality["orders"]["set_aside_by_rule"] == {
        "drop code in [POST, M]": 2, "drop order_id starting with A": 1, "quantity": 3,
        "drop note containing 测试 or test": 1}
    assert reasons(dataset, "set_aside")[4] == "set aside: quantity"
    check_counts(dataset)


def test_blank_rule_and_not_in(tmp_path):
    write(tmp_path / "orders.csv", "customer_id,order_id,order_time,amount,status,paid\n"
          "C1,O1,2025-06-01,1,ok,2025-06-01\nC1,O2,2025-06-01,1,ok,NULL\n"
          "C1,O3,2025-06-01,1,bad,2025-06-01\nC1,O4,2025-06-01,1,ok, \n")
    mapping = {"orders": {"rules": [{"keep": "status", "not_in": ["bad"]},
                                    {"drop": "paid", "blank": True}]}}
    dataset = load_dataset(tmp_path, mapping=mapping)
    assert dataset.orders["order_id"].tolist() == ["O1"]
    assert reasons(dataset, "set_aside") == {3: "set aside: drop paid blank",
                                             4: "set aside: keep status not in [bad]",
                                             5: "set aside: drop paid blank"}


def test_rows_set_aside_are_in_the_rejects_file_and_do_not_count_as_rejected(tmp_path):
    write(tmp_path / "orders.csv", "customer_id,order_id,order_time,amount,status\n"
          + "".join(f"C{i},O{i},2025-06-01,1,test\n" for i in range(8))
          + "C8,O8,2025-06-01,x,ok\nC9,O9,2025-06-01,2,ok\n")
    mapping = {"orders": {"rules": [{"name": "tests", "drop": "status", "in": ["test"]}]}}
    out = tmp_path / "rejects.csv"
    dataset = load_dataset(tmp_path, mapping=mapping, rejects_path=out)  # 1 of 2 rejected
    assert len(dataset.orders) == 1
    written = pd.read_csv(out, encoding="utf-8-sig")
    assert written["row"].tolist() == list(range(2, 12))[:9]
    assert written["reason"].tolist() == ["set aside: tests"] * 8 + ["unparseable amount"]
    with pytest.raises(MostlyRejectedError, match="set aside all 10 order rows"):
        load_dataset(tmp_path, mapping={"orders": {"rules": [{"keep": "status", "in": ["x"]}]}})


# --- computed columns, generated ids, id cleaning -----------------------------------------------


def test_computed_amount_from_quantity_price_and_discount(tmp_path):
    write(tmp_path / "orders.csv", "customer_id,order_id,order_time,Qty,Unit Price,Discount\n"
          "C1,O1,2025-06-01,2,10.50,1\n"      # 2 * 10.5 - 1 = 20
          "C1,O2,2025-06-01,3,\"¥1,000\",\n"  # blank discount is 0: 3000
          "C1,O3,2025-06-01,,5,0\n"           # blank quantity: the product is blank
          "C1,O4,2025-06-01,2,abc,0\n")       # not a number
    mapping = {"orders": {"computed": {"amount": "Qty * Unit Price - Discount"}}}
    dataset = load_dataset(tmp_path, mapping=mapping)
    assert dataset.orders["amount"].tolist() == [20.0, 3000.0]
    assert reasons(dataset) == {4: "missing amount", 5: "unparseable amount"}
    assert dataset.rejects.set_index("row").loc[5, "value"] == "abc"
    assert dataset.quality["orders"]["columns"]["amount"] == "amount"
    check_counts(dataset)


def test_computed_expressions_with_brackets_backticks_and_helper_columns(tmp_path):
    write(tmp_path / "orders.csv", "customer_id,order_id,order_time,a-b,c,运费\n"
          "C1,O1,2025-06-01,2,3,4\n")
    mapping = {"orders": {"computed": {"goods": "(`a-b` + c) * 2", "amount": "goods + 运费 - 1"}}}
    dataset = load_dataset(tmp_path, mapping=mapping)
    assert dataset.orders["amount"].tolist() == [13.0]
    assert dataset.orders["goods"].tolist() == [10.0]  # a helper column is an extra column


def test_composite_order_id_collisions_are_rejected_not_merged(tmp_path):
    write(tmp_path / "orders.csv", "customer_id,order_time,amount\n"
          "C1,2025-06-01,1\nC1,2025-06-01,2\nC2,2025-06-01,3\n")
    mapping = {"orders": {"order_id": ["customer_id", "order_time"]}}
    dataset = load_dataset(tmp_path, mapping=mapping)
    assert dataset.orders["order_id"].tolist() == ["C1|2025-06-01", "C2|2025-06-01"]
    assert reasons(dataset) == {3: "duplicate order_id"}
    assert any("generated order id" in warning and "row_number" in warning
               for warning in dataset.warnings)
    by_row = load_dataset(tmp_path, mapping={"orders": {"order_id": "row_number"}})
    assert by_row.orders["order_id"].tolist() == ["2", "3", "4"]
    assert by_row.quality["orders"]["columns"]["order_id"] == "order_id (generated)"


def test_ids_lose_the_excel_wrapper_and_float_tail(tmp_path):
    write(tmp_path / "orders.csv", HEADER + '="3345001", ="C1" ,2025-06-01,1\n'
          '12346.0,="3345002",2025-06-01,1\n')
    dataset = load_dataset(tmp_path, mapping={"orders": {"columns": {
        "order_id": "customer_id", "customer_id": "order_id"}}})
    assert dataset.orders["order_id"].tolist() == ["3345001", "12346"]
    assert dataset.orders["customer_id"].tolist() == ["C1", "3345002"]


def test_scientific_notation_ids_stop_with_how_to_export_again(tmp_path):
    write(tmp_path / "orders.csv", HEADER + "C1,3.34568E+18,2025-06-01,1\n"
          + "".join(f"C1,O{i},2025-06-01,1\n" for i in range(20)))
    with pytest.raises(DataError) as caught:
        load_dataset(tmp_path)
    message = str(caught.value)
    assert "3.34568E+18" in message and "Excel" in message and "row 2" in message
    assert "Export the file again" in message


# --- line items, refund amounts ------------------------------------------------------------------


RETAIL_HEADER = "Invoice,StockCode,Quantity,InvoiceDate,Price,Customer ID,Country\n"


def test_line_items_are_gathered_into_orders_with_cancellations_as_refunds(tmp_path):
    write(tmp_path / "online_retail.csv", RETAIL_HEADER
          + "489434,85123A,6,12/1/2009 7:45,2.55,13085.0,United Kingdom\n"   # 2
          "489434,71053,2,12/1/2009 7:40,3.39,,United Kingdom\n"              # 3: blank customer
          "489434,POST,1,12/1/2009 7:45,18.00,13085.0,United Kingdom\n"      # 4: set aside
          "489435,22423,1,12/20/2009 10:00,12.75,12346.0,France\n"           # 5
          "C489436,85123A,-2,12/21/2009 9:00,2.55,13085.0,United Kingdom\n"  # 6: cancellation
          "489437,22423,1,12/22/2009 9:00,bad,12346.0,France\n"              # 7: rejected line
          "489437,47566,4,12/22/2009 9:00,4.95,12346.0,France\n"             # 8
          "A563185,B,1,12/23/2009 9:00,11062.06,,United Kingdom\n"           # 9: set aside
          "489438,47566,1,12/24/2009 9:00,4.95,,United Kingdom\n")           # 10: guest
    mapping = {"orders": {
        "file": "online_retail.csv", "date_format": "%m/%d/%Y %H:%M",
        "columns": {"order_id": "Invoice", "customer_id": "Customer ID",
                    "order_time": "InvoiceDate", "quantity": "Quantity"},
        "computed": {"amount": "Quantity * Price"},
        "rules": [{"name": "adjustments", "drop": "Invoice", "starts_with": "A"},
                  {"name": "non-product", "drop": "StockCode", "in": ["POST", "M", "D"]}],
        "line_items": {"refund_prefix": "C"}}}
    dataset = load_dataset(tmp_path, mapping=mapping)
    orders = dataset.orders
    assert orders["order_id"].tolist() == ["489434", "489435", "C489436", "489437"]
    assert orders["customer_id"].tolist() == ["13085", "12346", "13085", "12346"]
    assert orders["amount"].tolist() == pytest.approx([6 * 2.55 + 2 * 3.39, 12.75, -5.10,
                                                       19.80])
    assert orders["is_refund"].tolist() == [False, False, True, False]
    assert orders["order_time"].iloc[0] == pd.Timestamp("2009-12-01 07:40")  # the earliest
    assert orders["quantity"].tolist() == [8, 1, -2, 4]
    assert orders["Country"].tolist() == ["United Kingdom", "France", "United Kingdom", "France"]
    quality = dataset.quality["orders"]
    assert quality["line_items"] is True
    assert (quality["rows_read"], quality["rows_kept"]) == (9, 5)  # lines
    assert quality["set_aside_by_rule"] == {"adjustments": 1, "non-product": 1}
    assert reasons(dataset) == {7: "unparseable amount", 10: "missing customer_id"}
    assert (quality["orders"], quality["purchases"], quality["refunds"]) == (4, 3, 1)
    assert quality["net_amount"] == pytest.approx(22.08 + 12.75 - 5.10 + 19.80)
    assert quality["gross_amount"] == pytest.approx(22.08 + 12.75 + 19.80)
    check_counts(dataset)


def test_negative_quantity_lines_are_a_refund_row_of_their_order(tmp_path):
    write(tmp_path / "orders.csv", "order,customer,time,qty,price\n"
          "O1,C1,2025-06-01 10:00,2,10\nO1,C1,2025-06-01 10:00,-1,10\n"
          "O1,C1,2025-06-01 10:00,1,5\nO2,C2,2025-06-02 10:00,-3,1\n")
    mapping = {"orders": {"columns": {"order_id": "order", "customer_id": "customer",
                                      "order_time": "time", "quantity": "qty"},
                          "computed": {"amount": "qty * price"},
                          "line_items": {"refund_if_negative": "qty"}}}
    dataset = load_dataset(tmp_path, mapping=mapping)
    orders = dataset.orders
    assert list(zip(orders["order_id"], orders["is_refund"], orders["amount"], strict=True)) == [
        ("O1", False, 25.0), ("O1", True, -10.0), ("O2", True, -3.0)]
    assert dataset.quality["orders"]["orders"] == 2


def test_order_level_columns_on_the_first_line_only(tmp_path):
    write(tmp_path / "orders_export_1.csv",
          "Name,Email,Financial Status,Created at,Total,Refunded Amount,Lineitem name\n"
          "#1001,a@x.cn,paid,2024-03-05 14:22:11 +0800,100.00,0.00,Shirt\n"
          "#1001,a@x.cn,,2024-03-05 14:22:11 +0800,,,Mug\n"
          "#1002,b@x.cn,pending,2024-03-06 09:00:00 +0800,50.00,0.00,Mug\n"
          "#1002,b@x.cn,,2024-03-06 09:00:00 +0800,,,Tote\n"
          "#1003,a@x.cn,refunded,2024-03-07 09:00:00 +0800,30.00,30.00,Tote\n"
          "#1004,b@x.cn,partially_refunded,2024-03-08 09:00:00 +0800,80.00,20.00,Tea\n"
          "#1004,b@x.cn,,2024-03-08 09:00:00 +0800,,,Mug\n")
    mapping = {"orders": {
        "file": "orders_export*.csv",
        "columns": {"order_id": "Name", "customer_id": "Email", "order_time": "Created at",
                    "amount": "Total"},
        "line_items": {"amount": "order", "fill": ["Financial Status", "Refunded Amount"]},
        "rules": [{"name": "not paid", "drop": "Financial Status", "in": ["pending", "voided"]}],
        "refund_amount": "Refunded Amount"}}
    dataset = load_dataset(tmp_path, mapping=mapping)
    orders = dataset.orders
    assert list(zip(orders["order_id"], orders["is_refund"], orders["amount"], strict=True)) == [
        ("#1001", False, 100.0), ("#1003", True, 0.0), ("#1004", False, 80.0),
        ("#1004", True, -20.0)]
    assert orders["order_time"].iloc[0] == pd.Timestamp("2024-03-05 14:22:11")
    quality = dataset.quality["orders"]
    assert quality["set_aside_by_rule"] == {"not paid": 2}  # both lines of #1002
    assert (quality["orders"], quality["purchases"], quality["refunds"]) == (3, 2, 2)
    assert quality["net_amount"] == 160.0 and quality["gross_amount"] == 180.0
    assert quality["refunded_orders"] == {"partly": 1, "fully": 1}
    check_counts(dataset)


def test_refund_amount_column_becomes_refund_rows(tmp_path):
    taobao_file(tmp_path)
    dataset = load_dataset(tmp_path, mapping=TAOBAO_MAPPING)
    orders = dataset.orders
    # 3345004 paid 80, 30 refunded: sale + refund row; 3345005 paid 60, all refunded: one
    # refund row of 0 (refunded, not a sale)
    assert list(zip(orders["order_id"], orders["is_refund"], orders["amount"], strict=True)) == [
        ("3345001", False, 100.0), ("3345004", False, 80.0), ("3345004", True, -30.0),
        ("3345005", True, 0.0)]
    refund = orders.iloc[2]
    assert (refund["customer_id"], refund["order_time"]) == ("糖糖002",
                                                             pd.Timestamp("2024-01-05 10:00"))
    quality = dataset.quality["orders"]
    assert (quality["orders"], quality["purchases"], quality["refunds"]) == (3, 2, 2)
    assert quality["gross_amount"] == 180.0 and quality["net_amount"] == 150.0
    summary = dataset.summary()["tables"]["orders"]
    assert summary["net_amount"] == 150.0 and summary["orders"] == 3


def test_unparseable_refund_amount_rejects_the_row(tmp_path):
    write(tmp_path / "orders.csv", HEADER.rstrip() + ",退款金额\n"
          "C1,O1,2025-06-01,10,abc\nC1,O2,2025-06-01,10,\nC1,O3,2025-06-01,10,3\n")
    dataset = load_dataset(tmp_path, mapping={"orders": {"refund_amount": "退款金额"}})
    assert reasons(dataset) == {2: "unparseable refund_amount"}
    assert dataset.orders["amount"].tolist() == [10.0, 10.0, -3.0]


# --- customers from orders --------------------------------------------------------------------


def test_customers_are_made_from_the_orders(tmp_path):
    taobao_file(tmp_path)
    orders = pd.read_csv(tmp_path / "ExportOrderList.csv", encoding="gbk", dtype=str,
                         keep_default_na=False)
    orders["收货地址"] = ["浙江省 杭州市 西湖区 文三路478号", "", "", "广西壮族自治区 南宁市 青秀区",
                      "上海 上海市 浦东新区 张杨路500号", "", "北京 北京市 朝阳区"]
    orders["联系手机"] = ["13800000001", "", "", "13900000002", "", "", ""]
    orders["收货人姓名"] = ["王伟", "", "", "李娜", "张敏", "", ""]
    orders.to_csv(tmp_path / "ExportOrderList.csv", index=False, encoding="gbk")
    write(tmp_path / "customers.csv", "customer_id\nNOT-READ\n")  # from_orders replaces it
    mapping = {**TAOBAO_MAPPING, "customers": {"from_orders": {
        "name": "收货人姓名", "phone": "联系手机", "address": "收货地址"}}}
    dataset = load_dataset(tmp_path, mapping=mapping)
    customers = dataset.customers.set_index("customer_id")
    assert sorted(customers.index) == ["小鱼儿001", "糖糖002", "阿狸003"]
    assert customers.loc["小鱼儿001", ["province", "city", "phone", "name"]].tolist() == [
        "浙江", "杭州", "13800000001", "王伟"]
    assert customers.loc["糖糖002", ["province", "city"]].tolist() == ["广西", "南宁"]
    # 阿狸003's latest order (3345006, unpaid) was set aside: the kept one gives the values
    assert customers.loc["阿狸003", ["province", "city", "name"]].tolist() == [
        "上海", "上海", "张敏"]
    assert pd.isna(customers.loc["阿狸003", "phone"])
    quality = dataset.quality["customers"]
    assert quality["rows_read"] == 3 and "customers from orders" in quality["file"]
    assert not any("not in the customers table" in w for w in dataset.warnings)
    check_counts(dataset)


def test_customers_from_orders_latest_non_blank_value_wins(tmp_path):
    write(tmp_path / "orders.csv", HEADER.rstrip() + ",phone,地址\n"
          "C1,O1,2025-06-03,1,111,浙江省 宁波市 鄞州区\n"
          "C1,O2,2025-06-01,1,222,广东省 深圳市 南山区\n"
          "C1,O3,2025-06-05,1,,\n")
    dataset = load_dataset(tmp_path, mapping={"customers": {"from_orders": {
        "phone": "phone", "address": "地址"}}})
    row = dataset.customers.iloc[0]
    assert (row["phone"], row["province"], row["city"]) == ("111", "浙江", "宁波")
    ids_only = load_dataset(tmp_path, mapping={"customers": {"from_orders": True}})
    assert ids_only.customers["customer_id"].tolist() == ["C1"]


# --- presets -------------------------------------------------------------------------------


def test_presets_ship_and_an_unknown_name_lists_them(tmp_path):
    names = preset_names()
    assert {"taobao", "online-retail", "shopify", "transaction-log"} <= set(names)
    write(tmp_path / "orders.csv", HEADER + "C1,O1,2025-06-01,1\n")
    message = one_line_error("unknown preset 'tmall'",
                             lambda: load_dataset(tmp_path, preset="tmall"))
    assert all(name in message for name in names)
    one_line_error("unknown preset", lambda: read_mapping({"preset": "tmall"}))


def test_preset_in_a_mapping_is_merged_table_by_table(tmp_path):
    base = read_mapping(None, preset="taobao")
    assert base["orders"]["columns"]["order_id"] == "订单编号"
    assert [rule.name for rule in base["orders"]["rules"]][:2] == ["closed", "unpaid"]
    merged = read_mapping({"preset": "taobao", "orders": {
        "columns": {"amount": "买家应付货款"},
        "rules": [{"name": "closed", "drop": "订单状态", "in": ["交易关闭"]}],
        "refund_amount": None}})
    orders = merged["orders"]
    assert orders["columns"]["amount"] == "买家应付货款"        # user wins
    assert orders["columns"]["order_id"] == "订单编号"          # the preset's other columns stay
    assert [rule.name for rule in orders["rules"]] == ["closed"]  # lists are replaced
    assert "refund_amount" not in orders                          # null removes
    assert "from_orders" in merged["customers"]                   # other tables stay
    # the other way round in columns replaces the preset's entry for that column too
    turned = read_mapping({"preset": "taobao", "orders": {"columns": {"实付": "amount"}}})
    assert turned["orders"]["columns"]["amount"] == "实付"
    one_line_error("differs", lambda: read_mapping({"preset": "taobao"}, preset="shopify"))


def test_transaction_log_preset_on_an_inline_file(tmp_path):
    write(tmp_path / "purchases.txt", "   00001 19970101  1   11.77\n   00001 19970101  1"
          "    9.99\n   00002 1997-01-03  2   20.00\n")
    dataset = load_dataset(tmp_path, preset="transaction-log")
    assert dataset.orders["order_id"].tolist() == ["1", "2", "3"]  # same day: two orders
    assert dataset.quality["orders"]["net_amount"] == pytest.approx(41.76)


def test_cli_validate_honours_preset(tmp_path, capsys):
    write(tmp_path / "purchases.txt", "   00001 19970101  1   11.77\n")
    assert cli.main(["validate", "--data", str(tmp_path), "--preset", "transaction-log",
                     "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["tables"]["orders"]["orders"] == 1
    assert summary["tables"]["orders"]["net_amount"] == 11.77


# --- suggest-mapping ----------------------------------------------------------------------------


def test_suggested_mapping_for_a_line_item_export_loads(tmp_path):
    rows = []
    for number in range(30):
        invoice = f"{489434 + number}"
        day = 10 + number % 15
        for code, quantity in (("85123A", 6), ("71053", 2)):
            rows.append(f"{invoice},{code},{quantity},12/{day}/2009 7:45,2.55,{13085 + number % 7}"
                        f".0,United Kingdom")
    rows.append("C489500,85123A,-2,12/28/2009 9:00,2.55,13085.0,United Kingdom")
    rows.append("C489500,71053,-1,12/28/2009 9:00,2.55,13085.0,United Kingdom")
    write(tmp_path / "online_retail_II.csv", RETAIL_HEADER + "\n".join(rows) + "\n")
    text = suggest_mapping(tmp_path)
    mapping = yaml.safe_load(text)
    orders = mapping["orders"]
    assert orders["file"] == "online_retail_II.csv"
    assert orders["date_format"] == "%m/%d/%Y %H:%M"
    assert orders["columns"]["order_id"] == "Invoice"
    assert orders["computed"] == {"amount": "Quantity * Price"}
    assert orders["line_items"]["refund_prefix"] == "C"
    assert "check" in text
    dataset = load_dataset(tmp_path, mapping=mapping)
    assert dataset.quality["orders"]["orders"] == 31
    assert dataset.quality["orders"]["refunds"] == 1


def test_suggested_mapping_for_a_taobao_export(tmp_path):
    taobao_file(tmp_path)
    text = suggest_mapping(tmp_path / "ExportOrderList.csv")
    mapping = yaml.safe_load(text)
    orders = mapping["orders"]
    assert orders["encoding"] == "gb18030"
    assert orders["columns"]["amount"] == "买家实际支付金额"
    assert orders["refund_amount"] == "退款金额"
    assert {"name": "not a sale", "drop": "订单状态", "in": ["交易关闭", "等待买家付款"]} in (
        orders["rules"])
    assert "交易成功 (4)" in text  # the status values are listed for the user to choose
    read_mapping(mapping)


def test_suggested_mapping_for_a_headerless_whitespace_log(tmp_path):
    write(tmp_path / "CDNOW_master.txt", "   00001 19970101  1   11.77\n"
          "   00002 19970102  2   29.33\n")
    mapping = yaml.safe_load(suggest_mapping(tmp_path))
    orders = mapping["orders"]
    assert (orders["separator"], orders["header"], orders["date_format"],
            orders["order_id"]) == ("whitespace", False, "%Y%m%d", "row_number")
    assert orders["names"] == ["customer_id", "order_time", "quantity", "amount"]
    assert load_dataset(tmp_path, mapping=mapping).orders["amount"].tolist() == [11.77, 29.33]


def test_cli_suggest_mapping_writes_the_file_and_never_overwrites(tmp_path, capsys):
    write(tmp_path / "data" / "orders.csv", HEADER + "C1,O1,2025-06-01,1\n")
    out = tmp_path / "mapping.yaml"
    assert cli.main(["validate", "--data", str(tmp_path / "data"), "--suggest-mapping",
                     str(out)]) == 0
    assert "--mapping" in capsys.readouterr().out
    read_mapping(out)
    assert cli.main(["validate", "--data", str(tmp_path / "data"), "--suggest-mapping",
                     str(out)]) == 2
    assert "already exists" in capsys.readouterr().err


def test_missing_column_stop_points_to_suggest_mapping(tmp_path):
    write(tmp_path / "orders.csv", "customer_id date quantity amount\n00001 19970101 1 11.77\n")
    with pytest.raises(DataError) as caught:
        load_dataset(tmp_path)
    message = str(caught.value)
    assert "--suggest-mapping" in message
    assert "separator: whitespace" in message  # read as one column: the likely cause


# --- the stop on too many rejects keeps the rejects ------------------------------------------------


def line_item_export(folder: Path) -> None:
    write(folder / "orders.csv", "customer_id,order_id,order_time,amount,StockCode\n"
          + "".join(f"C1,O{i // 3},2025-06-01,1,SKU{i % 3}\n" for i in range(9)))


def test_mostly_rejected_stop_suggests_line_items_and_keeps_the_rejects(tmp_path):
    line_item_export(tmp_path)
    with pytest.raises(MostlyRejectedError) as caught:
        load_dataset(tmp_path)
    message = str(caught.value)
    assert "duplicate order_id: 6 rows" in message
    assert "line_items" in message and "StockCode" in message
    assert caught.value.rejects["reason"].tolist() == ["duplicate order_id"] * 6
    out = tmp_path / "out" / "rejects.csv"
    with pytest.raises(MostlyRejectedError, match="written to"):
        load_dataset(tmp_path, rejects_path=out)
    assert len(pd.read_csv(out, encoding="utf-8-sig")) == 6
    # with line_items the same file loads: three orders of three lines
    dataset = load_dataset(tmp_path, mapping={"orders": {"line_items": True}})
    assert dataset.orders["amount"].tolist() == [3.0, 3.0, 3.0]


def test_cli_validate_writes_rejects_when_loading_stops(tmp_path, capsys):
    line_item_export(tmp_path / "data")
    out = tmp_path / "rejects.csv"
    assert cli.main(["validate", "--data", str(tmp_path / "data"), "--rejects", str(out)]) == 2
    assert "written to" in capsys.readouterr().err
    assert pd.read_csv(out, encoding="utf-8-sig")["row"].tolist() == [3, 4, 6, 7, 9, 10]


# --- hostile settings: one line naming the key ----------------------------------------------------


@pytest.mark.parametrize(("orders", "key"), [
    ({"colums": {}}, "orders.colums"),
    ({"separator": "tabs"}, "orders.separator"),
    ({"separator": [","]}, "orders.separator"),
    ({"header": "no"}, "orders.header"),
    ({"header": False}, "orders.header"),
    ({"names": ["a", "b"]}, "orders.names"),
    ({"header": False, "names": ["a", "a"]}, "orders.names"),
    ({"skip_lines": -1}, "orders.skip_lines"),
    ({"skip_footer": "2"}, "orders.skip_footer"),
    ({"date_format": "%Q/%m/%Y"}, "orders.date_format"),
    ({"date_format": "%m/%d"}, "orders.date_format"),
    ({"date_format": ["%Y%m%d", "%d.%m.%Y %K"]}, "orders.date_format[1]"),
    ({"decimal": ";"}, "orders.decimal"),
    ({"encoding": "klingon"}, "orders.encoding"),
    ({"rules": {"drop": "x"}}, "orders.rules"),
    ({"rules": [{"drop": "x", "keep": "x", "in": ["a"]}]}, "orders.rules[0]"),
    ({"rules": [{"drop": "x"}]}, "orders.rules[0]"),
    ({"rules": [{"drop": "x", "startswith": "A"}]}, "orders.rules[0].startswith"),
    ({"rules": [{"drop": "x", "in": "a"}, {"keep": "y", "min": "zero"}]}, "orders.rules[1].min"),
    ({"rules": [{"drop": "x", "blank": "yes"}]}, "orders.rules[0].blank"),
    ({"rules": [{"drop": "x", "starts_with": ""}]}, "orders.rules[0].starts_with"),
    ({"computed": {"amount": "Quantity / Price"}}, "orders.computed.amount"),
    ({"computed": {"amount": "(Quantity * Price"}}, "orders.computed.amount"),
    ({"computed": ["amount"]}, "orders.computed"),
    ({"computed": {"amount": "q * p"}, "columns": {"amount": "金额"}}, "orders.computed.amount"),
    ({"order_id": "rownum"}, "orders.order_id"),
    ({"order_id": "row_number", "columns": {"order_id": "单号"}}, "orders.order_id"),
    ({"line_items": {"amount": "sum"}}, "orders.line_items.amount"),
    ({"line_items": {"group_by": "x"}}, "orders.line_items.group_by"),
    ({"line_items": "yes"}, "orders.line_items"),
    ({"line_items": True, "order_id": "row_number"}, "orders.line_items"),
    ({"line_items": {"key": "Invoice"}, "columns": {"order_id": "单号"}},
     "orders.line_items.key"),
    ({"from_orders": {"phone": "手机"}}, "orders.from_orders"),
    ({"file": ["a.csv", "b.csv"]}, "orders.file"),
    ({"refund_amount": {"column": "退款金额"}}, "orders.refund_amount"),
    ({"line_items": {"refund_prefix": []}}, "orders.line_items.refund_prefix"),
])
def test_hostile_orders_settings(orders, key):
    one_line_error(key, lambda: read_mapping({"orders": orders}))


@pytest.mark.parametrize(("customers", "key"), [
    ({"from_orders": {"nickname": "x"}}, "customers.from_orders.nickname"),
    ({"from_orders": "yes"}, "customers.from_orders"),
    ({"from_orders": {"phone": "手机"}, "file": "c.csv"}, "customers.from_orders"),
    ({"from_orders": {"address": "地址", "city": "市"}}, "customers.from_orders.address"),
    ({"refund_amount": "退款"}, "customers.refund_amount"),
])
def test_hostile_customers_settings(customers, key):
    one_line_error(key, lambda: read_mapping({"customers": customers}))


def test_hostile_top_level_settings(tmp_path):
    one_line_error("preset:", lambda: read_mapping({"preset": 3}))
    one_line_error("unknown table 'sales'", lambda: read_mapping({"sales": {}}))
    path = write(tmp_path / "bad.yaml", "orders: [unclosed\n")
    one_line_error("not valid YAML", lambda: read_mapping(path))


def test_hostile_settings_in_a_yaml_file_name_the_file(tmp_path):
    path = write(tmp_path / "mapping.yaml", "orders:\n  rules:\n    - {drop: x, below: [1]}\n")
    message = one_line_error("orders.rules[0].below", lambda: read_mapping(path))
    assert message.startswith(str(path))


def test_settings_naming_missing_columns_stop_with_the_key(tmp_path):
    write(tmp_path / "orders.csv", HEADER + "C1,O1,2025-06-01,1\n")
    cases = [
        ({"rules": [{"drop": "StockCod", "in": ["POST"]}]}, "orders.rules[0].drop: no column"),
        ({"computed": {"net": "amount - Rabatt"}}, "orders.computed.net: no column 'Rabatt'"),
        ({"order_id": ["customer_id", "day"]}, "orders.order_id[1]: no column"),
        ({"refund_amount": "退款金额"}, "orders.refund_amount: no column"),
        ({"line_items": {"fill": ["Total"]}}, "orders.line_items.fill: no column"),
        ({"line_items": {"refund_if_negative": "qty"}},
         "orders.line_items.refund_if_negative: no column"),
    ]
    for orders, key in cases:
        message = one_line_error(key, lambda orders=orders: load_dataset(
            tmp_path, mapping={"orders": orders}))
        assert "orders.csv" in message  # and names the file
    one_line_error("customers.from_orders.address: no column", lambda: load_dataset(
        tmp_path, mapping={"customers": {"from_orders": {"address": "收货地址"}}}))


def test_existing_data_loads_as_before_with_an_empty_mapping(tmp_path):
    write(tmp_path / "orders.csv", HEADER + "C1,O1,2025-06-01,10\nC1,O1,2025-06-01,10\n")
    plain = load_dataset(tmp_path)
    mapped = load_dataset(tmp_path, mapping={"orders": {}})
    pd.testing.assert_frame_equal(plain.orders, mapped.orders)
    pd.testing.assert_frame_equal(plain.rejects, mapped.rejects)
    assert plain.set_aside.empty and plain.quality["orders"]["set_aside_by_rule"] == {}
    assert np.array_equal(plain.orders["amount"], [10.0])


def test_every_mapping_in_the_data_guide_is_valid():
    """The language reference's examples (docs/data.md) are mappings read_mapping accepts."""
    import re

    text = (Path(__file__).resolve().parents[1] / "docs" / "data.md").read_text("utf-8")
    blocks = re.findall(r"```yaml\n(.*?)```", text, flags=re.S)
    assert len(blocks) >= 12
    for block in blocks:
        read_mapping(yaml.safe_load(block))


def test_a_user_definition_replaces_the_presets_other_definition():
    computed = read_mapping({"preset": "taobao", "orders": {"computed": {
        "amount": "买家应付货款 - 退款金额"}}})["orders"]
    assert "amount" not in computed["columns"] and "amount" in computed["computed"]
    mapped = read_mapping({"preset": "online-retail", "orders": {"columns": {"amount": "Total"}}})
    assert mapped["orders"]["columns"]["amount"] == "Total" and not mapped["orders"]["computed"]
    own_ids = read_mapping({"preset": "transaction-log", "orders": {"columns": {"order_id": "id"}}})
    assert "order_id" not in own_ids["orders"] and own_ids["orders"]["columns"]["order_id"] == "id"
