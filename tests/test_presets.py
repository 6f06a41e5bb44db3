"""The shipped presets against platform-shaped exports whose totals are known in advance.

Each export is written by a generator in ``tests/export_shapes.py`` that computes its expected
totals from its own records (integer cents), never through the loader. Loading the export with
the preset must give exactly those totals: net revenue to the cent with refunds netted, orders,
purchases, refunds, customers, and the rows set aside per rule and rejected per reason.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pandas as pd
import pytest
import yaml

from custops.errors import DataError
from custops.io import Dataset, load_dataset, read_mapping
from export_shapes import (
    Expected,
    online_retail,
    shopify,
    taobao,
    taobao_excel_saved,
    transaction_log,
)

PRESETS_DIR = Path(__file__).resolve().parents[1] / "lib" / "custops" / "io" / "presets"
PRESET_NAMES = ("taobao", "online-retail", "shopify", "transaction-log")


def assert_totals(dataset: Dataset, expected: Expected) -> None:
    """Everything the generator knows must come out of the loader, exactly."""
    orders = dataset.orders
    quality = dataset.quality["orders"]
    # Rows: every row read is kept, rejected or set aside, and each is counted once.
    assert quality["rows_read"] == expected.rows_read
    assert quality["rows_read"] == (quality["rows_kept"] + quality["rows_rejected"]
                                    + quality["rows_set_aside"])
    assert quality["rows_kept"] == expected.rows_kept
    assert quality["set_aside_by_rule"] == _nonzero(expected.set_aside)
    assert quality["rows_set_aside"] == sum(expected.set_aside.values())
    assert quality["rejected_by_reason"] == _nonzero(expected.rejected)
    assert quality["rows_rejected"] == sum(expected.rejected.values())
    # Money, to the cent, refunds netted.
    assert round(float(orders["amount"].sum()), 2) == pytest.approx(expected.net_revenue,
                                                                      abs=0.005)
    assert round(float(quality["net_amount"]), 2) == pytest.approx(expected.net_revenue,
                                                                     abs=0.005)
    refund_rows = orders["is_refund"].to_numpy(dtype=bool)
    assert (orders.loc[refund_rows, "amount"] <= 0).all()
    assert (orders.loc[~refund_rows, "amount"] >= 0).all()
    # Orders, purchases, refunds, customers.
    assert orders["order_id"].nunique() == expected.orders
    assert quality["orders"] == expected.orders
    assert int((~refund_rows).sum()) == expected.purchases == quality["purchases"]
    assert int(refund_rows.sum()) == expected.refunds == quality["refunds"]
    assert orders["customer_id"].nunique() == expected.customers
    assert dataset.summary()["totals"]["customers_with_orders"] == expected.customers
    # The rows set aside are listed, one line each, with the rule as the reason.
    set_aside = dataset.set_aside
    assert len(set_aside) == sum(expected.set_aside.values())
    assert not set_aside.duplicated(["file", "row"]).any()
    reasons = set_aside["reason"].value_counts().to_dict()
    assert reasons == {f"set aside: {rule}": count
                       for rule, count in _nonzero(expected.set_aside).items()}
    json.dumps(dataset.summary(), ensure_ascii=False)


def _nonzero(counts: dict[str, int]) -> dict[str, int]:
    return {key: value for key, value in counts.items() if value}


# --- the presets as files --------------------------------------------------------------------


@pytest.mark.parametrize("name", PRESET_NAMES)
def test_preset_file_ships_and_says_what_it_is_for(name):
    text = (PRESETS_DIR / f"{name}.yaml").read_text(encoding="utf-8")
    first_lines = text.splitlines()[:12]
    assert first_lines[0].startswith("# Preset:")
    comment = " ".join(line for line in first_lines if line.startswith("#"))
    assert "Built from" in comment  # says whether from documented columns or typical exports


def test_unknown_preset_names_the_shipped_ones(tmp_path):
    transaction_log(tmp_path)
    with pytest.raises(DataError) as error:
        load_dataset(tmp_path, preset="tmall-global")
    for name in PRESET_NAMES:
        assert name in str(error.value)


# --- Online Retail II --------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_online_retail_preset(tmp_path, fmt):
    expected = online_retail(tmp_path, fmt=fmt)
    dataset = load_dataset(tmp_path, preset="online-retail")
    assert_totals(dataset, expected)
    orders = dataset.orders
    # Cancellations are refunds of the same customer, under their own C… invoice.
    refunds = orders[orders["is_refund"]]
    assert refunds["order_id"].str.startswith("C").all()
    assert not orders.loc[~orders["is_refund"], "order_id"].str.startswith(("C", "A")).any()
    assert set(refunds["customer_id"]) <= set(orders.loc[~orders["is_refund"], "customer_id"])
    # 12346.0 is customer 12346; US dates are read month first.
    assert orders["customer_id"].str.fullmatch(r"\d{5}").all()
    assert orders["order_time"].min() >= pd.Timestamp("2009-12-01")
    assert orders["order_time"].max() <= pd.Timestamp("2011-12-10")
    assert sorted(orders["order_id"]) == sorted(expected.details["kept_invoices"])


def test_online_retail_guests_are_rejected_with_their_lines(tmp_path):
    expected = online_retail(tmp_path, seed=3)
    dataset = load_dataset(tmp_path, preset="online-retail")
    rejects = dataset.rejects[dataset.rejects["table"] == "orders"]
    assert set(rejects["reason"]) == {"missing customer_id"}
    assert len(rejects) == expected.rejected["missing customer_id"]
    lines = pd.read_csv(expected.path, dtype=str, keep_default_na=False)
    guest_rows = lines.index[lines["Customer ID"] == ""]
    # Every guest line is rejected unless a rule set it aside first (A…, DOT, AMAZONFEE).
    set_aside_rows = set(dataset.set_aside["row"])
    assert set(rejects["row"]) == {int(i) + 2 for i in guest_rows} - set_aside_rows


# --- Taobao ----------------------------------------------------------------------------------


def test_taobao_preset(tmp_path):
    expected = taobao(tmp_path)
    dataset = load_dataset(tmp_path, preset="taobao")
    assert_totals(dataset, expected)
    assert expected.details["full_refunds"] and expected.details["partial_refunds"]
    orders = dataset.orders
    # ="3345…" is the 19-digit order number, unchanged.
    assert orders["order_id"].str.fullmatch(r"3345\d{15}").all()
    assert set(orders["order_id"]) == set(expected.details["order_ids"])
    # A fully refunded order is one refund row of amount 0; a partial one has both rows.
    per_order = orders.groupby("order_id")["is_refund"].agg(["count", "sum"])
    assert int(((per_order["count"] == 1) & (per_order["sum"] == 1)).sum()) == (
        expected.details["full_refunds"])
    assert int((per_order["count"] == 2).sum()) == expected.details["partial_refunds"]
    assert round(float(dataset.quality["orders"]["gross_amount"]), 2) == pytest.approx(
        expected.details["gross_cents"] / 100, abs=0.005)


def test_taobao_customers_come_from_the_orders(tmp_path):
    expected = taobao(tmp_path)
    dataset = load_dataset(tmp_path, preset="taobao")
    customers = dataset.customers
    assert customers is not None
    assert len(customers) == expected.customers
    assert customers["customer_id"].is_unique
    regions = {row.customer_id: (row.province, row.city)
               for row in customers[["customer_id", "province", "city"]].itertuples()}
    assert regions == expected.customer_regions
    # The autonomous regions and the municipalities get the contract's short names.
    provinces = set(customers["province"])
    assert {"广西", "新疆", "上海"} <= provinces
    assert not any(name.endswith(("省", "自治区")) for name in provinces)
    assert customers["phone"].notna().all()


def test_taobao_id_saved_by_excel_stops_with_a_clear_message(tmp_path):
    taobao_excel_saved(tmp_path, damaged="one")
    with pytest.raises(DataError, match="Excel") as error:
        load_dataset(tmp_path, preset="taobao")
    assert "E+18" in str(error.value) or "scientific" in str(error.value)


def test_a_mapping_can_refine_the_taobao_preset(tmp_path):
    """``preset:`` in a mapping, with one rule replaced: closed orders are kept this time."""
    expected = taobao(tmp_path)
    mapping = {"preset": "taobao",
               "orders": {"rules": [{"name": "unpaid", "keep": "订单付款时间", "blank": False}]}}
    dataset = load_dataset(tmp_path, mapping=mapping)
    quality = dataset.quality["orders"]
    closed_unpaid = expected.details["closed_unpaid"]
    assert quality["set_aside_by_rule"] == {"unpaid": expected.set_aside["unpaid"]
                                            + closed_unpaid}
    # Closed orders that were paid are kept now, each refunded in full: they add no revenue.
    assert quality["orders"] == expected.orders + expected.set_aside["closed"] - closed_unpaid
    assert quality["refunds"] == expected.refunds + expected.set_aside["closed"] - closed_unpaid
    assert round(float(quality["net_amount"]), 2) == pytest.approx(expected.net_revenue,
                                                                    abs=0.005)


# --- Shopify ---------------------------------------------------------------------------------


def test_shopify_preset(tmp_path):
    expected = shopify(tmp_path)
    dataset = load_dataset(tmp_path, preset="shopify")
    assert_totals(dataset, expected)
    orders = dataset.orders
    assert orders["order_id"].str.fullmatch(r"#\d{4}").all()
    assert set(orders["order_id"]) == set(expected.details["order_names"])
    # Created at "2024-03-05 14:22:11 +0800" is already Shanghai time.
    assert orders["order_time"].min() >= pd.Timestamp("2024-01-01")
    assert orders["order_time"].max() <= pd.Timestamp("2024-06-30")
    assert dataset.customers is not None
    assert len(dataset.customers) == expected.customers


# --- CDNOW-style transaction log --------------------------------------------------------------


@pytest.mark.parametrize("iso_dates", [False, True])
def test_transaction_log_preset(tmp_path, iso_dates):
    expected = transaction_log(tmp_path, iso_dates=iso_dates)
    dataset = load_dataset(tmp_path, preset="transaction-log")
    assert_totals(dataset, expected)
    orders = dataset.orders
    assert expected.details["same_day_repeats"] > 0  # each line is its own order all the same
    assert orders["order_time"].min() == pd.Timestamp(expected.details["first_date"])
    assert orders["order_time"].max() == pd.Timestamp(expected.details["last_date"])
    assert int(orders["quantity"].sum()) > len(orders)


def test_transaction_log_with_a_header_line(tmp_path):
    expected = transaction_log(tmp_path, header=True, iso_dates=True)
    mapping = {"preset": "transaction-log", "orders": {"skip_lines": 1}}
    dataset = load_dataset(tmp_path, mapping=mapping)
    assert_totals(dataset, expected)
    # Without the override the header line is one rejected row, on line 1, not lost silently.
    plain = load_dataset(tmp_path, preset="transaction-log")
    assert plain.quality["orders"]["rows_read"] == expected.rows_read + 1
    assert plain.rejects["row"].tolist() == [1]
    assert plain.quality["orders"]["rows_kept"] == expected.rows_read


def test_transaction_log_file_given_directly(tmp_path):
    expected = transaction_log(tmp_path, filename="purchases.log")
    dataset = load_dataset(expected.path, preset="transaction-log")
    assert_totals(dataset, expected)


# --- the whole report on one preset ------------------------------------------------------------


@pytest.mark.slow
def test_report_runs_on_the_online_retail_preset(tmp_path):
    from custops.run.runner import run_report

    data = tmp_path / "data"
    expected = online_retail(data, invoices=3000, customers=600)
    out = tmp_path / "report"
    names = ["01_profile", "02_segment", "03_churn", "04_reach"]
    manifest = run_report(data, out, extra_parameters={"preset": "online-retail"},
                          notebooks=names, log=lambda *args: None)
    assert manifest["status"] == "ok"
    assert manifest["parameters"]["preset"] == "online-retail"
    assert [entry["name"] for entry in manifest["notebooks"]] == names
    assert all((out / f"{name}.html").exists() for name in names)
    # The report's data-quality summary is the preset's reading of the export.
    quality = json.loads((out / "artifacts" / "data_quality.json").read_text("utf-8"))
    orders = quality["tables"]["orders"]
    assert orders["rows_read"] == expected.rows_read
    assert orders["set_aside_by_rule"] == expected.set_aside
    assert orders["orders"] == expected.orders
    assert round(orders["net_amount"], 2) == pytest.approx(expected.net_revenue, abs=0.005)


def test_every_mapping_in_the_presets_guide_is_valid():
    """The snippets and the platform templates of docs/presets.md are valid mappings."""
    text = (PRESETS_DIR.parents[3] / "docs" / "presets.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```yaml\n(.*?)```", text, flags=re.S)
    assert len(blocks) >= 8
    for block in blocks:
        read_mapping(yaml.safe_load(block))
