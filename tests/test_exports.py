"""Exports: the channel lists carry what each tool needs (full contact keys from the data, send
date and time, words in the run's language), nothing else keeps a full contact key, and no text
a spreadsheet would run."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import re
import shutil
import stat
from pathlib import Path

import numpy as np
import openpyxl
import pandas as pd
import pytest

from custops import exports, reach, rules
from custops.exports import mask_contacts, mask_emails, mask_ids, mask_phones
from custops.labels import t
from custops.run import catalog, context
from export_shapes import FULL_CONTACT, file_text, sample_with_contacts

SAMPLE = Path(__file__).resolve().parents[1] / "data" / "sample"
SEND = dt.date(2026, 10, 1)


def test_phones_are_masked_or_dropped():
    phones = pd.Series(["138****5678", "13812345678", "+86 139-1234-5678", "12345", None,
                        np.nan])
    masked = mask_phones(phones)
    assert masked.tolist() == ["138****5678", "138****5678", "139****5678", "", "", ""]


def test_phones_masked_already_are_kept_as_they_are_without_masking_them_again(monkeypatch):
    """A run's stored tables hold masked phones: they come back as they are (gaps empty),
    the same cells as masking them cell by cell, without the per-cell pass."""
    stored = pd.Series(["138****5678", None, "139****0000", pd.NA] * 3, dtype="string")
    slow = mask_phones(stored.astype("object").where(stored.notna(), None).map(
        lambda v: v if v is None else v + " "))  # a space: not the stored form, masked anew
    assert slow.tolist() == ["138****5678", "", "139****0000", ""] * 3
    monkeypatch.setattr(pd.Series, "str", property(lambda self: pytest.fail("masked again")))
    fast = mask_phones(stored)
    assert fast.tolist() == slow.tolist() and fast.dtype == object
    # one cell in full among masked ones: every cell goes through the masking
    monkeypatch.undo()
    mixed = mask_phones(pd.Series(["138****5678", "13812345678", " 139****0000"]))
    assert mixed.tolist() == ["138****5678", "138****5678", "139****0000"]


def test_emails_and_contact_ids_are_masked():
    assert mask_emails(pd.Series(["zhang.san@example.com", "z***@example.com", "not-mail",
                                  None])).tolist() == ["z***@example.com", "z***@example.com",
                                                       "", ""]
    assert mask_ids(pd.Series(["wmAbCdEfGh123456", "short", "", None])).tolist() == [
        "wm****3456", "****", "", ""]
    frame = pd.DataFrame({"customer_id": ["C1"], "phone": ["13912345678"],
                          "email": ["a@b.cn"], "wecom_external_id": ["wmXYZ0123456789"],
                          "wecom_owner": ["zhangsan"], "push_token": ["1a2b3c4d5e6f7g"]})
    masked = mask_contacts(frame)
    assert masked.iloc[0].tolist() == ["C1", "139****5678", "a***@b.cn", "wm****6789",
                                       "zhangsan", "1a****6f7g"]


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


def _plan_rows(ids, channels, **extra) -> pd.DataFrame:
    n = len(ids)
    return pd.DataFrame({"customer_id": ids, "channel": channels, "send_time": "10:30",
                         "strategy": "recall_low_cost", "reason": "healthy",
                         "rfm_class": "general_value", "lifecycle_stage": "decline",
                         "value_tier": "small", "customer_class": "ordinary",
                         "phone": "138****5678", "expected_incremental_revenue": 1.0,
                         "group": "treatment", **extra}).head(n)


def test_contact_exports_hold_no_formula_and_no_risky_leading_character(tmp_path):
    from custops import plan_page

    ids = pd.Series(HOSTILE * 3)
    plan = _plan_rows(ids, ["sms", "push", "email"] * len(HOSTILE))
    contacts = pd.DataFrame({"customer_id": ids.unique(), "phone": "=1+1",
                             "email": "@evil.example"})
    paths = exports.export_lists(plan, plan.assign(group="control"), tmp_path, "zh",
                                 send_date=SEND, tz="Asia/Shanghai", contacts=contacts)
    page = plan_page.PlanPage("zh", "=title", "+sub", pd.DataFrame(
        {"channel": ["=evil()"], "contacts": [1], "cost_per_contact": [0.05], "cost": [0.05],
         "revenue": [1.0], "roi": [20.0]}), [("-k", "@v")], ["=rule"], [("+x", 1)], "=roi",
        ["=f"])
    lists, control = plan_page.masked_lists(
        type("P", (), {"plan": plan, "control": plan})(), lang="zh", send_date=SEND,
        tz="Asia/Shanghai")
    paths.append(plan_page.write_plan_xlsx(page, tmp_path / "plan.xlsx", lists=lists,
                                           control=control))
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


def test_each_channel_list_carries_the_key_its_tool_needs_in_full(tmp_path):
    ids = [f"C{i}" for i in range(6)]
    plan = _plan_rows(ids, ["sms", "phone", "wecom_1v1", "wecom_mass", "email", "push"])
    contacts = pd.DataFrame({
        "customer_id": ids, "phone": [f"1390000000{i}" for i in range(6)],
        "email": [f"user{i}@example.com" for i in range(6)],
        "wecom_external_id": [f"wmEXTERNAL00000{i}" for i in range(6)],
        "wecom_owner": ["zhangsan"] * 6, "push_token": [f"token-abcdef-{i}" for i in range(6)]})
    paths = exports.export_lists(plan, plan.head(0), tmp_path, "en", send_date=SEND,
                                 tz="Asia/Shanghai", contacts=contacts)
    lists = {p.stem: pd.read_csv(p, dtype=str, encoding="utf-8-sig") for p in paths}
    assert lists["contacts_sms"]["phone"].tolist() == ["13900000000"]
    assert lists["contacts_phone"]["phone"].tolist() == ["13900000001"]
    wecom = lists["contacts_wecom_1v1"]
    assert wecom[["wecom_external_userid", "wecom_owner_userid"]].iloc[0].tolist() == [
        "wmEXTERNAL000002", "zhangsan"]
    assert wecom["wecom_tags"].iloc[0] == "General value,Decline,Small"
    assert lists["contacts_email"]["email"].tolist() == ["user4@example.com"]
    assert lists["contacts_push"]["push_token"].tolist() == ["token-abcdef-5"]
    for name, frame in lists.items():
        if name == "control_list":
            assert list(frame.columns) == ["customer_id", "channel", "group", "segment"]
            continue
        assert frame["send_date"].eq("2026-10-01").all() and frame["time_zone"].eq(
            "UTC+08:00").all(), name
        assert "phone" not in frame or name in ("contacts_sms", "contacts_phone")
    # Only the lists with a contact key are personal data: mode 0600 in a 0700 folder.
    assert stat.S_IMODE(tmp_path.stat().st_mode) == 0o700
    for path in paths:
        mode = stat.S_IMODE(path.stat().st_mode)
        assert exports.holds_personal_data(path) == path.name.startswith("contacts_"), path
        if path.name.startswith("contacts_"):
            assert mode == 0o600, path


def test_lists_speak_the_runs_language_and_prospects_are_never_blank(tmp_path):
    plan = _plan_rows(["C1", "C2"], ["wecom_1v1", "wecom_1v1"])
    plan.loc[1, ["rfm_class", "lifecycle_stage", "value_tier", "strategy", "reason"]] = None
    plan.loc[1, "customer_class"] = "prospect"
    plan["prospect_grade"] = [None, "A"]
    out = exports.channel_list(plan, "wecom_1v1", lang="zh", send_date=SEND,
                               tz="Asia/Shanghai")
    assert list(out.columns[:3]) == ["客户ID", "企业微信标签", "发送日期"]
    assert not out.isna().any().any() and not out.eq("").any().any()
    prospect = out[out["客户ID"] == "C2"].iloc[0]
    assert prospect["企业微信标签"] == "潜在客户,A级"
    assert prospect["策略"] == "首单转化：新人礼包" and "尚未下单" in prospect["原因"]
    buyer = out[out["客户ID"] == "C1"].iloc[0]
    assert buyer["策略"] == "低成本召回：推送或群发" and buyer["生命周期阶段"] == "衰退期"
    for text in out.drop(columns=["客户ID", "时区"]).to_numpy().ravel():
        assert not re.search(r"[A-Za-z]{3,}", str(text)), text


def test_no_contact_key_no_contact_on_that_channel():
    customers = pd.DataFrame({"customer_id": ["C1", "C2", "C3"],
                              "phone": ["139****0001", "", None],
                              "consent_sms": [True, True, False]})
    channels = rules.load_channels()
    eligible, excluded = rules.eligibility(customers, channels, None, dt.date(2026, 9, 30))
    names = list(channels["channel"])
    sms, phone, email = (names.index(c) for c in ("sms", "phone", "email"))
    assert eligible[:, sms].tolist() == [True, False, False]
    assert eligible[:, phone].tolist() == [True, False, False]
    assert excluded["no contact: sms"] == 1  # C3 had no consent already
    assert excluded["no contact: phone"] == 2
    assert excluded["no contact column: email"] == 0  # no e-mail column: the list matches ids
    assert eligible[:, email].all()
    # strict: a channel whose contact column is missing plans no one, and says how many
    strict, counted = rules.eligibility(customers, channels, None, dt.date(2026, 9, 30),
                                        rules.ReachParams(contact_column_required=True))
    assert not strict[:, email].any() and counted["no contact column, required: email"] == 3
    assert "no contact column: email" not in counted
    assert reach.rule_label("no contact column, required: email", "zh") == \
        "数据中无该联系方式列：邮件（按设置不安排该渠道）"
    assert strict[:, sms].tolist() == eligible[:, sms].tolist()


def test_send_date_is_the_day_after_as_of_unless_set():
    assert rules.ReachParams().send_day(dt.date(2026, 9, 30)) == SEND
    assert rules.ReachParams(send_date="2026-10-08").send_day(dt.date(2026, 9, 30)) == \
        dt.date(2026, 10, 8)
    with pytest.raises(Exception, match="send_date"):
        rules.ReachParams(send_date="tomorrow")
    with pytest.raises(Exception, match="margin"):
        catalog.check_parameters({"margin": "1.5"})


@pytest.fixture(scope="module")
def real_contacts_run(tmp_path_factory):
    """The sample with real-looking contact keys in its customers table, run through the
    catalogue into a run folder (as the runner's notebooks do) up to the exports."""
    root = tmp_path_factory.mktemp("contacts")
    data = root / "data"
    customers = sample_with_contacts(data)
    run = root / "run"
    ctx = context.open_run(data_dir=str(data), run_dir=str(run), lang="zh")
    written = ctx.get("reach_exports")
    return {"ctx": ctx, "run": run, "customers": customers, "written": written}


def test_a_run_folder_keeps_full_contact_keys_only_in_the_channel_lists(real_contacts_run):
    run = real_contacts_run["run"]
    found = set()
    for path in run.rglob("*"):
        if path.is_file() and FULL_CONTACT.search(file_text(path)):
            found.add(path.relative_to(run).as_posix())
    assert "exports/contacts_sms.csv" in found and all(name.startswith("exports/contacts_") for name in found), found
    for name in found:
        assert stat.S_IMODE((run / name).stat().st_mode) == 0o600


def test_the_sms_list_dials_real_numbers_and_no_customer_without_one(real_contacts_run):
    run, customers = real_contacts_run["run"], real_contacts_run["customers"]
    sms = pd.read_csv(run / "exports" / "contacts_sms.csv", dtype=str, encoding="utf-8-sig")
    phones = customers.set_index("customer_id")["phone"]
    assert len(sms) > 100
    assert (sms["手机号"] == phones.reindex(sms["客户ID"]).to_numpy()).all()
    assert sms["手机号"].str.fullmatch(r"139\d{8}").all()
    assert sms["发送日期"].eq("2026-10-01").all() and sms["时区"].eq("UTC+08:00").all()
    assert not sms.isna().any().any()
    plan = real_contacts_run["ctx"].get("reach_plan")
    assert plan.excluded["no contact: sms"] > 0  # the customers without a phone
    planned = pd.concat([plan.plan, plan.control])
    no_phone = set(customers.loc[customers["phone"] == "", "customer_id"])
    on_phone = planned[planned["channel"].isin(["sms", "phone"])]["customer_id"]
    assert not set(on_phone) & no_phone
    wecom = pd.read_csv(run / "exports" / "contacts_wecom_1v1.csv", dtype=str,
                        encoding="utf-8-sig")
    assert wecom["外部联系人ID"].str.fullmatch(r"wmQx7Z\d{10}").all()
    assert wecom["跟进员工ID"].str.fullmatch(r"staff\d").all()
    # A later notebook of the run (another process) reads the keys again from the data: the
    # run folder's tables are masked.
    later = context.open_run(data_dir=real_contacts_run["ctx"].params["data_dir"],
                             run_dir=str(run), lang="zh")
    assert isinstance(later.dataset(), context.StoredDataset)
    keys = catalog.contact_keys(later).set_index("customer_id")
    assert keys["phone"].reindex(sms["客户ID"]).tolist() == sms["手机号"].tolist()
    assert keys["wecom_owner"].notna().all()


def test_contact_columns_are_read_under_their_chinese_headers(tmp_path):
    from custops import io as custops_io

    (tmp_path / "orders.csv").write_text(
        "客户ID,订单号,下单时间,实付金额\nC1,O1,2026-09-01 10:00,10\n", encoding="utf-8")
    (tmp_path / "customers.csv").write_text(
        "客户ID,手机号,邮箱,外部联系人ID,跟进员工,推送令牌\n"
        "C1,13912345678,kehu@example.com,wmABCDEF0123456789,zhangsan,tok-0123456789\n",
        encoding="utf-8")
    customers = custops_io.load_dataset(tmp_path).customers
    assert customers.iloc[0][["phone", "email", "wecom_external_id", "wecom_owner",
                              "push_token"]].tolist() == [
        "13912345678", "kehu@example.com", "wmABCDEF0123456789", "zhangsan", "tok-0123456789"]


def test_phones_of_customers_made_from_orders_reach_the_sms_list_only(tmp_path):
    """A platform export (customers made from the order rows, as the taobao preset does):
    a later notebook of the run reads the full phones again from the orders."""
    data = tmp_path / "data"
    data.mkdir()
    rows = ["客户ID,订单号,下单时间,实付金额,联系手机"]
    rows += [f"C{i},O{i},2026-09-{1 + i % 28:02d} 10:00,{10 + i},1390000{i:04d}"
             for i in range(40)]
    (data / "orders.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    mapping = tmp_path / "mapping.yaml"
    mapping.write_text("customers:\n  from_orders: {phone: 联系手机}\n", encoding="utf-8")
    run = tmp_path / "run"
    first = context.open_run(data_dir=str(data), run_dir=str(run), mapping=str(mapping))
    first.dataset()
    stored = pd.read_parquet(run / "artifacts" / "clean" / "customers.parquet")
    assert stored["phone"].str.fullmatch(r"139\*{4}\d{4}").all()  # masked at rest
    later = context.open_run(data_dir=str(data), run_dir=str(run), mapping=str(mapping))
    keys = catalog.contact_keys(later).set_index("customer_id")
    assert keys.loc["C7", "phone"] == "13900000007"


def test_masked_data_are_not_read_again(tmp_path, monkeypatch):
    """The sample's phones are masked already: the run records that no contact column is held
    in full, and the lists take the run's own table instead of reading the data again."""
    assert exports.full_contact_columns(pd.DataFrame({
        "phone": ["138****5678", "", None], "email": ["a***@b.cn", None, ""]})) == []
    assert exports.full_contact_columns(pd.DataFrame({
        "phone": ["138****5678", "13812345678"], "email": ["a***@b.cn", None]})) == ["phone"]
    run = tmp_path / "run"
    context.open_run(data_dir=str(SAMPLE), run_dir=str(run)).dataset()
    assert (run / "artifacts" / catalog.CONTACT_RECORD).read_text("utf-8") == '{"full": []}'

    def never(*args, **kwargs):
        raise AssertionError("masked contact keys were read again from the data")

    monkeypatch.setattr(catalog, "_source_contacts", never)
    keys = catalog.contact_keys(context.open_run(data_dir=str(SAMPLE), run_dir=str(run)))
    assert keys["phone"].str.fullmatch(r"\d{3}\*{4}\d{4}").all()


def test_a_run_folders_export_lists_name_files_relative_to_it(tmp_path):
    """The runner builds a run in a folder it renames at the end: the export lists the steps
    stored name their files relative to the run folder, and the readers still find them."""
    import json

    from custops import churn, reach
    from custops.run.runner import relative_paths

    build = tmp_path / ".run.build-x1y2"
    (build / "artifacts").mkdir(parents=True)
    folder = build / "exports"
    stored = {"reach_exports": [str(folder / "contacts_sms.csv"), str(folder / "plan.html")],
              "churn_exports": [str(folder / "churn_recall.csv")],
              "segment_params": {"rfm_cut": "quintile", "note": "kept as it is"}}
    for name, value in stored.items():
        (build / "artifacts" / f"{name}.json").write_text(json.dumps(value), encoding="utf-8")
    changed = relative_paths(build)
    assert sorted(p.name for p in changed) == ["churn_exports.json", "reach_exports.json"]

    def read(name):
        return json.loads((build / "artifacts" / f"{name}.json").read_text("utf-8"))

    assert read("reach_exports") == ["exports/contacts_sms.csv", "exports/plan.html"]
    assert read("churn_exports") == ["exports/churn_recall.csv"]
    assert read("segment_params") == stored["segment_params"]
    assert relative_paths(build) == []  # nothing left to change
    # readers take either form (runs made before keep their absolute paths)
    for paths in (read("reach_exports"), stored["reach_exports"]):
        assert reach.exports_section(paths, "zh").data == {
            "files": ["contacts_sms.csv", "plan.html"], "folder": "exports/"}
    for paths in (read("churn_exports"), stored["churn_exports"]):
        assert churn.exports_section(paths, "zh").data == {"files": ["churn_recall.csv"]}


def test_neutralize_leaves_columns_without_text_alone():
    """Dates, numbers held as objects and categoricals of numbers pass through unchanged (the
    vectorised check must not stop an export), while text is still neutralized."""
    frame = pd.DataFrame({"when": pd.to_datetime(["2024-01-01", "2024-01-02"]),
                          "n": pd.Series([1, 2], dtype=object),
                          "c": pd.Categorical([1, 2]),
                          "t": ["=1+1", "ok"]})
    out = exports.neutralize(frame)
    pd.testing.assert_frame_equal(out.drop(columns="t"), frame.drop(columns="t"))
    assert out["t"].tolist() == ["'=1+1", "ok"]


def test_neutralize_matches_the_per_cell_rule_on_every_column_shape():
    """The compiled (Arrow) check of all-text columns and the fallbacks for mixed or
    text-free columns prefix exactly the cells the per-cell OWASP rule prefixes."""
    texts = ["=HYPERLINK(1)", "+1", "-x", "@a", "\tq", "\rr", "ok", None, np.nan, pd.NA, "",
             "a=b", "中文", "'=x", " =x"]
    n = len(texts)
    frame = pd.DataFrame({
        "object": texts, "string": pd.Series(texts, dtype="string"),
        "str": pd.Series(texts, dtype="str"),
        "string_python": pd.Series(texts, dtype=pd.StringDtype("python")),
        # labels: each category checked once; two alike once prefixed go cell by cell
        "labels": pd.Categorical((["=a", "b", None] * n)[:n]),
        "alike": pd.Categorical((["=a", "'=a", "c"] * n)[:n]),
        "mixed": ([1, "=x", 2.5, None, True] * 3)[:n], "bytes": [b"=x"] * n,
        "gaps": [None] * n, "dates": [pd.Timestamp("2024-01-01")] * n,
        "categories": pd.Categorical((["=a", "b"] * n)[:n])})
    out = exports.neutralize(frame)
    for col in frame:
        pairs = zip(frame[col].astype("object"), out[col].astype("object"), strict=True)
        for before, after in pairs:
            risky = isinstance(before, str) and before.startswith(exports.FORMULA_STARTS)
            if risky:
                assert after == "'" + before, (col, before, after)
            else:
                same = after is before or after == before
                assert same or (pd.isna(after) and pd.isna(before)), (col, before, after)


def test_long_churn_lists_are_written_a_slice_at_a_time_with_the_same_bytes(tmp_path,
                                                                            monkeypatch):
    """The churn lists are made and written LIST_ROWS buyers at a time (bounded memory at
    10M customers): slices of 3 rows give the bytes of one slice, hostile ids neutralised in
    every slice, one header, an empty list still has its header, phones masked or absent."""
    n = 20
    ids = [HOSTILE[i % len(HOSTILE)] + f"{i}" for i in range(n)]
    scores = pd.DataFrame({
        "customer_id": ids, "priority_rank": range(1, n + 1),
        "risk_band": ["high_risk", "medium_risk", "low_risk", "already_churned"] * 5,
        "churn_probability": np.linspace(0.1, 0.9, n), "expected_value": np.arange(n) * 1.5,
        "strategy": "monitor", "reason": ["healthy", None] * 10,
        "value_tier": ["vip", "small"] * 10})
    customers = pd.DataFrame({"customer_id": ids, "phone": ["13812345678", None] * 10})
    written = {}
    for rows in (exports.LIST_ROWS, 3):
        monkeypatch.setattr(exports, "LIST_ROWS", rows)
        for who in ("phones", "none"):
            folder = tmp_path / f"{rows}_{who}"
            paths = exports.churn_lists(scores, customers if who == "phones" else None,
                                        folder, "zh")
            written[rows, who] = [p.read_bytes() for p in paths]
    for who in ("phones", "none"):
        assert written[exports.LIST_ROWS, who] == written[3, who]
    at_risk, recall = written[3, "phones"]
    text = at_risk.decode("utf-8-sig")
    assert at_risk.startswith(b"\xef\xbb\xbf") and text.count("\n") == 1 + 10  # header + rows
    assert "13812345678" not in text and "138****5678" in text
    for row in csv.reader(io.StringIO(text, newline="")):
        assert not any(cell.startswith(exports.FORMULA_STARTS) for cell in row)
    empty = exports.churn_lists(scores[scores["risk_band"] == "low_risk"], None,
                                tmp_path / "empty", "en")
    assert [p.read_text("utf-8-sig").count("\n") for p in empty] == [1, 1]


def test_a_list_that_fails_while_written_leaves_the_previous_file(tmp_path):
    """write_csv writes under a temporary name and renames at the end: a slice that fails
    (here a customers table with a duplicated id) leaves the previous list as it was, and no
    partial file behind; a private list is 0600 from the start."""
    path = tmp_path / "churn_at_risk.csv"
    exports.write_csv(pd.DataFrame({"a": [1, 2]}), path)
    before = path.read_bytes()

    def slices():
        yield pd.DataFrame({"a": [3]})
        raise ValueError("cannot reindex on an axis with duplicate labels")

    with pytest.raises(ValueError, match="duplicate"):
        exports.write_csv(slices(), path)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == [path.name]
    private = exports.write_csv(pd.DataFrame({"phone": ["13812345678"]}), tmp_path / "p.csv",
                                private=True)
    assert private.stat().st_mode & 0o777 == 0o600


def test_phones_read_as_numbers_are_masked_by_their_digits():
    """A phone column typed as numbers (an int or a float column, with gaps) is masked from
    its own digits: 13812345678.0 is 138****5678, not the digits of its text form."""
    floats = pd.Series([13812345678.0, np.nan, 13912345678.0])
    assert exports.mask_phones(floats).tolist() == ["138****5678", "", "139****5678"]
    ints = pd.Series([13812345678, 13912345678])
    assert exports.mask_phones(ints).tolist() == ["138****5678", "139****5678"]
    scores = pd.DataFrame({"customer_id": ["c0", "c1", "c2"], "priority_rank": [1, 2, 3],
                           "risk_band": "high_risk", "churn_probability": 0.9,
                           "expected_value": 1.0, "strategy": "monitor", "reason": "healthy"})
    customers = pd.DataFrame({"customer_id": ["c1", "c2"], "phone": [13812345678] * 2})
    listed = exports.priority_list(scores, customers, "en")
    assert listed[t("dash.phone", "en")].tolist() == ["", "138****5678", "138****5678"]


def test_neutralize_takes_text_arrow_cannot_hold():
    """Lone surrogates (text decoded with errors="surrogateescape") go through the per-cell
    rule instead of failing in Arrow."""
    out = exports.neutralize(pd.DataFrame({"a": pd.Series(["=a", "\udcff=x", None],
                                                          dtype="object")}))
    assert out["a"].tolist()[:2] == ["'=a", "\udcff=x"]


def test_full_phones_are_read_again_from_a_parquet_source_key_columns_only(tmp_path,
                                                                           monkeypatch):
    """A later notebook of the run reads the full contact keys again from a Parquet customers
    file: only the id and key columns come off the disk (not every column of a table that
    holds ~3 GiB of text at 10M customers), with the same keys as the whole table gives."""
    data = tmp_path / "data"
    data.mkdir()
    for name in ("orders.csv", "events.csv", "touches.csv"):
        shutil.copy(SAMPLE / name, data / name)
    customers = pd.read_csv(SAMPLE / "customers.csv", dtype=str, keep_default_na=False)
    customers["phone"] = [f"139{i:08d}" for i in range(len(customers))]
    customers.to_parquet(data / "customers.parquet", index=False)
    run = tmp_path / "run"
    context.open_run(data_dir=str(data), run_dir=str(run)).dataset()
    assert json.loads((run / "artifacts" / catalog.CONTACT_RECORD).read_text("utf-8")) == {
        "full": ["phone"]}
    reads = []
    whole_read = pd.read_parquet

    def recorded(path, *args, **kwargs):
        reads.append((Path(path).name, kwargs.get("columns")))
        return whole_read(path, *args, **kwargs)

    monkeypatch.setattr(catalog.pd, "read_parquet", recorded)
    keys = catalog.contact_keys(context.open_run(data_dir=str(data), run_dir=str(run)))
    source_reads = [columns for name, columns in reads if name == "customers.parquet"
                    and columns is not None and "phone" in columns and "gender" not in columns]
    assert ("customers.parquet", None) not in reads
    assert source_reads, reads
    phones = customers.set_index("customer_id")["phone"]
    got = keys.set_index("customer_id")["phone"]
    assert got.reindex(phones.index).tolist() == phones.tolist()
