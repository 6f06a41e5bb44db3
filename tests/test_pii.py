"""Personal data at rest: a whole report on a sample whose customers table has real-looking
phones, e-mails and WeCom ids keeps them only in the channel lists that need them (mode 0600 in
an exports/ folder of mode 0700, listed in manifest.json as personal data)."""

from __future__ import annotations

import json
import re
import stat
from pathlib import Path

import pandas as pd

from custops.io import TABLE_SCHEMAS, load_dataset
from custops.io.personal import mask_extras
from custops.run import runner
from export_shapes import FULL_CONTACT, file_text, sample_with_contacts

SAMPLE = Path(__file__).resolve().parents[1] / "data" / "sample"


def test_full_contact_keys_are_only_in_the_channel_lists(tmp_path):
    sample_with_contacts(tmp_path / "data")
    out = tmp_path / "report"
    manifest = runner.run_report(str(tmp_path / "data"), str(out), lang="zh", log=lambda _: None)
    found = {path.relative_to(out).as_posix() for path in out.rglob("*")
             if path.is_file() and FULL_CONTACT.search(file_text(path))}
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
        "139****" in file_text(out / "exports" / "plan.xlsx")


def _frame_text(frame: pd.DataFrame) -> str:
    return frame.astype(str).to_csv()


def test_contact_keys_outside_the_contract_are_masked_by_both_engines(tmp_path):
    """Extra columns of the long tables (a phone in the event log, e-mails and WeCom ids in
    the touches, a phone inside an order note) reach the clean files masked, whether pandas or
    DuckDB checked the table; both give the same file, and the summary names the columns."""
    data = tmp_path / "data"
    sample_with_contacts(data)
    folder = tmp_path / "parquet"
    folder.mkdir()
    for path in data.glob("*.csv"):
        frame = pd.read_csv(path, dtype=str, keep_default_na=False)
        if path.stem == "events":  # as a real export may type it: a number
            frame["mobile"] = pd.to_numeric(frame["mobile"]).astype("float64")
        frame.to_parquet(folder / f"{path.stem}.parquet", index=False)
    as_of = "2026-09-30"
    clean = tmp_path / "clean"
    by_duckdb = load_dataset(folder, as_of=as_of, duckdb_min_rows=1, clean_dir=clean)
    by_pandas = load_dataset(folder, as_of=as_of, duckdb_min_rows=None)
    assert FULL_CONTACT.search(_frame_text(pd.read_parquet(folder / "events.parquet")))
    for table, columns in {"events": {"mobile": "phone"},
                           "touches": {"receiver": "contact", "openid": "id"}}.items():
        path = by_duckdb.parquet_path(table)
        assert path is not None and path.parent == clean, table
        written = pd.read_parquet(path)
        assert not FULL_CONTACT.search(_frame_text(written)), table
        assert by_duckdb.quality[table]["personal_columns"] == columns
        masked, found = mask_extras(getattr(by_pandas, table),
                                    [spec.name for spec in TABLE_SCHEMAS[table]])
        assert found == columns
        for column in columns:
            assert written[column].tolist() == list(masked[column]), (table, column)
    assert "139****0001" in set(pd.read_parquet(by_duckdb.parquet_path("events"))["mobile"])


def test_rejected_rows_keep_no_contact_key_in_full(tmp_path):
    """A rejected row's raw line (wrong number of fields) keeps its words for the user, with
    the phone number and e-mail inside masked."""
    data = tmp_path / "data"
    data.mkdir()
    (data / "orders.csv").write_text(
        "order_id,customer_id,order_time,amount\n"
        "O1,C1,2026-09-01 10:00:00,10.5\n"
        "O2,C2,2026-09-02 10:00:00,12.0,13912345678,kehu00001@example.com\n", encoding="utf-8")
    rejects = tmp_path / "rejects.csv"
    load_dataset(data, as_of="2026-09-30", rejects_path=rejects)
    text = rejects.read_text(encoding="utf-8-sig")
    assert "139****5678" in text and "k***@example.com" in text
    assert not FULL_CONTACT.search(text)


# Values the two engines must mask alike (review of the first version: Unicode spaces and
# full-width digits, a trailing carriage return, two numbers one character apart, inf).
_PARITY = {
    "phone": ["13812345678", "+86 139-1234-5678", " 13912345678\r", "138****5678", "12345",
              "１３８１２３４５６７８", "", None],
    "email": ["zoe@example.com", " a.b@c.cn\t", "x\xa0zhang@example.com", "no-at-sign", "",
              None],
    "id": ["wm12345678901234\r", "oABCDEFGHIJKLMN", "short", " \t", "wm****1234", None],
    "contact": ["13812345678", "zoe@example.com", "other-value-123", None],
}
_TEXTS = ["tel 13812345678 13912345678", "13812345678,13912345678", "电话\u3000z@example.com",
          "mail a.b@c.com, 139 1234 5678 thanks", "订单 1234567890123456", None]


def test_both_engines_mask_and_scrub_every_value_alike():
    import duckdb

    from custops.io.personal import _MASKS, mask_sql, scrub_sql, scrub_text

    con = duckdb.connect()
    for kind, values in _PARITY.items():
        frame = pd.DataFrame({"v": pd.Series(values, dtype=object)})
        con.register("t", frame)
        in_sql = [row[0] for row in con.sql(f"select {mask_sql('v', kind)} from t").fetchall()]
        assert in_sql == _MASKS[kind](frame["v"]).tolist(), kind
    frame = pd.DataFrame({"v": pd.Series(_TEXTS, dtype=object)})
    con.register("t", frame)
    in_sql = [row[0] for row in con.sql(f"select {scrub_sql('v')} from t").fetchall()]
    assert in_sql == [None if pd.isna(v) else v for v in scrub_text(frame["v"])]
    assert in_sql[0] == "tel 138****5678 139****5678"
    assert in_sql[1] == "138****5678,139****5678"


def test_awkward_extra_columns_load_and_are_judged_alike(tmp_path):
    """Extra columns that must neither stop the load nor be wiped: floats with inf, a flag
    with gaps named like a phone column, a phone model; a categorical note is scrubbed."""
    import numpy as np
    import pyarrow as pa

    n = 300
    frame = pd.DataFrame({
        "customer_id": [f"C{i}" for i in range(n)],
        "score": np.where(np.arange(n) % 7 == 0, np.inf, np.arange(n) / 3),
        "mobile_phone": [13800000000.0 + i if i % 2 else np.nan for i in range(n)],
        "is_mobile": pd.array([True, None, False] * (n // 3), dtype="boolean"),
        "phone_model": ["iPhone 15", "Mate 60"] * (n // 2),
        "note": pd.Categorical([f"call 1390000{i:04d}" if i % 5 == 0 else "ok"
                                for i in range(n)]),
    })
    pandas_side = pa.Table.from_pandas(frame, preserve_index=False).to_pandas()
    masked, found = mask_extras(pandas_side, ["customer_id"])
    assert found == {"mobile_phone": "phone"}
    assert masked["is_mobile"].tolist() == pandas_side["is_mobile"].tolist()
    assert masked["phone_model"].tolist() == pandas_side["phone_model"].tolist()
    assert masked["score"].tolist() == pandas_side["score"].tolist()
    assert not any("13900000000" in str(v) for v in masked["note"])
    assert masked["mobile_phone"].iloc[1] == "138****0001"


def test_a_failed_load_leaves_no_clean_folder_that_counts_as_done(tmp_path):
    """DuckDB writes clean/orders.parquet during the load: until data_quality.json is there
    (written last), a run does not read that folder back as a finished load."""
    from custops.run import context

    run = tmp_path / "run"
    (run / "artifacts" / "clean").mkdir(parents=True)
    pd.DataFrame({"customer_id": ["C1"]}).to_parquet(run / "artifacts" / "clean" /
                                                      "orders.parquet")
    ctx = context.open_run(data_dir=str(SAMPLE), run_dir=str(run))
    assert len(ctx.dataset().orders) > 1000  # loaded from the data again, not the leftover
    assert len(pd.read_parquet(run / "artifacts" / "clean" / "orders.parquet")) > 1000
