"""Personal data at rest: a whole report on a sample whose customers table has real-looking
phones, e-mails and WeCom ids keeps them only in the channel lists that need them (mode 0600 in
an exports/ folder of mode 0700, listed in manifest.json as personal data)."""

from __future__ import annotations

import json
import re
import stat
from pathlib import Path

import openpyxl
import pandas as pd

from custops.run import runner

SAMPLE = Path(__file__).resolve().parents[1] / "data" / "sample"
FULL = re.compile(r"(?<!\d)139\d{8}(?!\d)|kehu\d{5}@example\.com|wmQx7Z\d{10}")


def _with_contacts(data: Path) -> pd.DataFrame:
    data.mkdir()
    for name in ("orders", "events", "touches"):
        (data / f"{name}.csv").write_bytes((SAMPLE / f"{name}.csv").read_bytes())
    customers = pd.read_csv(SAMPLE / "customers.csv", dtype=str)
    n = len(customers)
    customers["phone"] = [f"139{i:08d}" if i % 10 else "" for i in range(n)]
    customers["email"] = [f"kehu{i:05d}@example.com" if i % 3 == 0 else "" for i in range(n)]
    customers["wecom_external_id"] = [f"wmQx7Z{i:010d}" if i % 2 else "" for i in range(n)]
    customers["wecom_owner"] = [f"staff{i % 7}" for i in range(n)]
    customers.to_csv(data / "customers.csv", index=False)
    return customers


def _text(path: Path) -> str:
    """A file as text: Parquet's text columns, every cell of a workbook, else the bytes."""
    if path.suffix == ".parquet":
        frame = pd.read_parquet(path)
        return frame.select_dtypes(exclude="number").astype(str).to_csv()
    if path.suffix == ".xlsx":
        book = openpyxl.load_workbook(path, read_only=True)
        return "\n".join(str(c) for s in book.worksheets
                         for r in s.iter_rows(values_only=True) for c in r)
    return path.read_bytes().decode("utf-8", errors="replace")


def test_full_contact_keys_are_only_in_the_channel_lists(tmp_path):
    _with_contacts(tmp_path / "data")
    out = tmp_path / "report"
    manifest = runner.run_report(str(tmp_path / "data"), str(out), lang="zh", log=lambda _: None)
    found = {path.relative_to(out).as_posix() for path in out.rglob("*")
             if path.is_file() and FULL.search(_text(path))}
    assert "exports/contacts_sms.csv" in found
    assert all(re.fullmatch(r"exports/contacts_\w+\.csv", name) for name in found), found
    assert set(manifest["personal_data"]) >= found
    assert json.loads((out / "manifest.json").read_text("utf-8"))["personal_data"] == \
        manifest["personal_data"]
    assert stat.S_IMODE((out / "exports").stat().st_mode) == 0o700
    for name in manifest["personal_data"]:
        assert stat.S_IMODE((out / name).stat().st_mode) == 0o600, name
    # the pages and the workbook a manager opens show the masked form
    assert "139****" in (out / "exports" / "plan.xlsx").read_bytes().decode("latin-1") or \
        "139****" in _text(out / "exports" / "plan.xlsx")
