"""Exports: what leaves a run for operators' tools (phones masked, text neutralized)."""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path

import numpy as np
import openpyxl
import pandas as pd

from custops import exports
from custops.exports import mask_phones


def test_phones_are_masked_or_dropped():
    phones = pd.Series(["138****5678", "13812345678", "+86 139-1234-5678", "12345", None,
                        np.nan])
    masked = mask_phones(phones)
    assert masked.tolist() == ["138****5678", "138****5678", "139****5678", "", "", ""]


HOSTILE = ['=HYPERLINK("http://evil.example/1","click")', "=cmd|' /C calc'!A1", "+1+2",
           "-2+3", "@SUM(A1)", "\tx", "\rx"]


def test_text_that_a_spreadsheet_would_run_is_neutralized_numbers_are_not():
    frame = pd.DataFrame({"customer_id": HOSTILE, "amount": [-1.5] * len(HOSTILE),
                          "note": ["fine"] * len(HOSTILE)})
    out = exports.neutralize(frame)
    assert out["customer_id"].tolist() == ["'" + v for v in HOSTILE]
    assert out["amount"].tolist() == [-1.5] * len(HOSTILE) and out["note"].eq("fine").all()
    text = exports.csv_text(frame)
    assert text.startswith("\ufeff")
    for line in text.lstrip("\ufeff").splitlines()[1:]:
        assert not line.lstrip('"').startswith(exports.FORMULA_STARTS), line


def test_contact_exports_hold_no_formula_and_no_risky_leading_character(tmp_path):
    ids = pd.Series(HOSTILE * 3)
    plan = pd.DataFrame({"customer_id": ids, "channel": ["sms", "push", "email"] * len(HOSTILE),
                         "send_time": "10:30", "strategy": "recall_low_cost",
                         "reason": "healthy", "rfm_class": "general_value",
                         "lifecycle_stage": "decline", "value_tier": "small",
                         "phone": "13812345678", "group": "treatment"})
    summary = pd.DataFrame({"channel": ["=evil()", "total"], "contacts": [1, 1]})
    paths = exports.export_lists(plan, plan.assign(group="control"), summary, tmp_path, "zh")
    paths += exports.churn_lists(pd.DataFrame({
        "customer_id": HOSTILE, "priority_rank": range(1, 8), "risk_band": "high_risk",
        "churn_probability": 0.9, "expected_value": 10.0, "strategy": "monitor",
        "reason": "healthy"}), None, tmp_path, "en")
    for path in paths:
        if path.suffix == ".csv":
            for row in csv.reader(io.StringIO(path.read_text("utf-8-sig"))):
                assert not any(cell.startswith(exports.FORMULA_STARTS) for cell in row), path
        else:
            book = openpyxl.load_workbook(path)
            for sheet in book.worksheets:
                for row in sheet.iter_rows():
                    for cell in row:
                        assert cell.data_type != "f", (path.name, cell.coordinate)
                        assert not (isinstance(cell.value, str)
                                    and cell.value.startswith(exports.FORMULA_STARTS))


def test_a_run_folder_keeps_no_full_phone_number(tmp_path):
    """Full phone numbers stay in memory: the validated customers table, the feature tables
    and the reach artifacts of a run hold the masked form."""
    from custops.run import context

    sample = Path(__file__).resolve().parents[1] / "data" / "sample"
    data = tmp_path / "data"
    data.mkdir()
    for name in ("orders", "events", "touches"):
        (data / f"{name}.csv").write_bytes((sample / f"{name}.csv").read_bytes())
    customers = pd.read_csv(sample / "customers.csv", dtype=str)
    customers["phone"] = [f"139{i:08d}" for i in range(len(customers))]
    customers.to_csv(data / "customers.csv", index=False)
    ctx = context.open_run(data_dir=str(data), run_dir=str(tmp_path / "run"))
    ctx.get("reach_inputs")
    full = re.compile(r"(?<!\d)139\d{8}(?!\d)")
    for path in (tmp_path / "run").rglob("*.parquet"):
        frame = pd.read_parquet(path)
        text = frame.select_dtypes(exclude="number").astype(str).to_csv()
        assert not full.search(text), path.name
