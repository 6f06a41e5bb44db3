"""Contact lists for the operators' tools: export columns, WeCom tags, CSV and Excel files,
phone masking."""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path
from typing import Any

import pandas as pd

from custops.labels import reason_words, t, value_label

__all__ = [
    "FORMULA_STARTS",
    "csv_text",
    "excel_writer",
    "neutralize",
    "write_csv",
    "EXCEL_ROWS_PER_SHEET",
    "EXPORT_COLUMNS",
    "churn_lists",
    "export_frame",
    "export_lists",
    "mask_phones",
    "priority_list",
]

# People read the workbook (and dial the phone and WeCom 1:1 lists, a few thousand a day);
# tools load the full CSV lists. Writing Excel is slow per cell, so a sheet holds the first
# rows only.
EXCEL_ROWS_PER_SHEET = 5_000

EXPORT_COLUMNS = ("customer_id", "channel", "send_time", "strategy", "reason", "rfm_class",
                  "lifecycle_stage", "value_tier", "wecom_tags", "phone", "group")


def _wecom_tags(frame: pd.DataFrame, lang: str = "zh") -> pd.Series:
    """WeCom tag names an operator can import: 'custops|<RFM class>|<stage>|<tier>'."""
    parts = []
    for col in ("rfm_class", "lifecycle_stage", "value_tier"):
        if col in frame:  # labelled once per distinct value, not once per customer
            values = frame[col].astype("object")
            names = {v: value_label(v, lang) for v in values.dropna().unique()}
            parts.append(values.map(names).fillna(""))
    if not parts:
        return pd.Series("custops", index=frame.index)
    tags = parts[0].astype(str)
    for p in parts[1:]:
        tags = tags + "|" + p.astype(str)
    return "custops|" + tags


def export_frame(frame: pd.DataFrame, lang: str = "en") -> pd.DataFrame:
    """Rows of a plan (or its holdout) in the exports' columns (:data:`EXPORT_COLUMNS`), with
    WeCom tags in ``lang`` and phones masked (:func:`mask_phones`), reasons in words — the same
    for the files of a run and the dashboard's download."""
    out = frame.assign(wecom_tags=_wecom_tags(frame, lang))
    if "reason" in out:
        out["reason"] = reason_words(out["reason"], lang).to_numpy()
    if "phone" in out:
        out["phone"] = mask_phones(out["phone"]).to_numpy()
    return out[[c for c in EXPORT_COLUMNS if c in out]]


def _sheet_names(wanted: list[str]) -> list[str]:
    """Excel sheet names: at most 31 characters, without []:*?/\\, unique ignoring case
    (a channel called "Plan" beside the "plan" sheet becomes "Plan 2")."""
    names: list[str] = []
    for name in wanted:
        base = re.sub(r"[\[\]:*?/\\]", "_", name)[:31] or "sheet"
        candidate, number = base, 1
        while candidate.lower() in {n.lower() for n in names}:
            number += 1
            candidate = f"{base[:31 - len(str(number)) - 1]} {number}"
        names.append(candidate)
    return names


# A spreadsheet reads a cell starting with one of these as a formula (OWASP "CSV injection").
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def neutralize(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with every text cell that a spreadsheet would read as a formula prefixed by an
    apostrophe (``'=HYPERLINK(…)`` shows as text): OWASP's rule for CSV and Excel exports.
    Numbers we wrote (numeric columns) are left as they are."""
    out = frame.copy()
    for col in out.columns:
        values = out[col]
        if pd.api.types.is_numeric_dtype(values) or pd.api.types.is_bool_dtype(values):
            continue
        text = values.astype("object")
        risky = text.map(lambda v: isinstance(v, str) and v.startswith(FORMULA_STARTS))
        if risky.any():
            out[col] = text.where(~risky, "'" + text[risky].astype(str))
    return out


def write_csv(frame: pd.DataFrame, path: str | Path) -> Path:
    """Write ``frame`` as CSV for spreadsheets and tools: UTF-8 with BOM (Excel shows Chinese),
    text neutralized (:func:`neutralize`). Every CSV custops writes goes through here."""
    path = Path(path)
    neutralize(frame).to_csv(path, index=False, encoding="utf-8-sig")
    return path


def csv_text(frame: pd.DataFrame) -> str:
    """The CSV text of :func:`write_csv` (with its byte-order mark), for a download."""
    buffer = io.StringIO()
    neutralize(frame).to_csv(buffer, index=False, quoting=csv.QUOTE_MINIMAL)
    return "\ufeff" + buffer.getvalue()


def excel_writer(path: str | Path) -> pd.ExcelWriter:
    """An Excel writer that stores every string as text, never as a formula or a link."""
    return pd.ExcelWriter(path, engine="xlsxwriter", engine_kwargs={
        "options": {"strings_to_formulas": False, "strings_to_urls": False}})


def export_lists(plan: pd.DataFrame, control: pd.DataFrame, summary: pd.DataFrame,
                 folder: str | Path, lang: str = "en") -> list[Path]:
    """Contact lists per channel (CSV for tools, Excel for people), the control list and the
    one-page plan summary (``plan``, ``control`` and ``summary`` of a
    :class:`custops.reach.ReachPlan`). CSVs are UTF-8 with BOM so Excel shows Chinese
    correctly."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    treatment = export_frame(plan, lang)
    control = export_frame(control, lang)
    by_channel = list(treatment.groupby("channel")) if "channel" in treatment else []
    written = []
    for channel, part in by_channel:
        written.append(write_csv(part, folder / f"contacts_{channel}.csv"))
    xlsx = folder / "reach_plan.xlsx"
    names = _sheet_names(["plan", *[str(channel) for channel, _ in by_channel], "control"])
    with excel_writer(xlsx) as writer:
        neutralize(summary).to_excel(writer, sheet_name=names[0], index=False)
        for (_, part), name in zip(by_channel, names[1:-1], strict=True):
            neutralize(part.head(EXCEL_ROWS_PER_SHEET)).to_excel(writer, sheet_name=name,
                                                                 index=False)
        neutralize(control.head(EXCEL_ROWS_PER_SHEET)).to_excel(writer, sheet_name=names[-1],
                                                                index=False)
    written.append(xlsx)
    written.append(write_csv(control, folder / "control_list.csv"))
    return written


_PHONE_MASKED = re.compile(r"^\d{3}\*{4}\d{4}$")


def mask_phones(phones: pd.Series) -> pd.Series:
    """Phones as ``138****5678``: already masked values stay, 11-digit numbers are masked,
    anything else becomes empty — an unmasked number never reaches a page or a file."""
    def one(value: Any) -> str:
        if value is None or (not isinstance(value, str) and pd.isna(value)):
            return ""
        text = str(value).strip()
        if _PHONE_MASKED.match(text):
            return text
        digits = re.sub(r"\D", "", text)
        if len(digits) >= 11:
            digits = digits[-11:]
            return f"{digits[:3]}****{digits[-4:]}"
        return ""

    return phones.astype("object").map(one).astype("object")


def priority_list(scores: pd.DataFrame, customers: pd.DataFrame, lang: str = "en"
                  ) -> pd.DataFrame:
    """The priority list as users read it: at-risk buyers by priority, labels in ``lang``,
    reasons in words of ``lang`` (the scores hold reason codes), phones masked.

    Required columns: ``scores`` — customer_id, priority_rank, risk_band, churn_probability,
    expected_value, strategy, reason (value_tier, lifecycle_stage, rfm_class optional);
    ``customers`` — customer_id and phone (or None: no phones).
    """
    at_risk = scores[scores["risk_band"] != "low_risk"]
    if customers is None or "phone" not in customers:
        customers = pd.DataFrame({"customer_id": at_risk["customer_id"], "phone": pd.NA})
    reason = reason_words(at_risk["reason"], lang).to_numpy()
    phone = customers.set_index("customer_id")["phone"].reindex(at_risk["customer_id"])

    def labelled(column: str) -> list[str]:
        values = at_risk[column] if column in at_risk else pd.Series(pd.NA, index=at_risk.index)
        return [value_label(v, lang) for v in values]

    return pd.DataFrame({
        t("dash.rank", lang): at_risk["priority_rank"].to_numpy(),
        t("churn.customer", lang): at_risk["customer_id"].to_numpy(),
        t("dash.phone", lang): mask_phones(phone).to_numpy(),
        t("churn.tier", lang): labelled("value_tier"),
        t("churn.stage", lang): labelled("lifecycle_stage"),
        t("dash.rfm_class", lang): labelled("rfm_class"),
        t("dash.risk_band", lang): labelled("risk_band"),
        t("churn.probability", lang): at_risk["churn_probability"].round(3).to_numpy(),
        t("churn.expected_value", lang): at_risk["expected_value"].round(2).to_numpy(),
        t("churn.reason", lang): reason,
        t("churn.strategy", lang): labelled("strategy"),
    })


def churn_lists(scores: pd.DataFrame, customers: pd.DataFrame | None, folder: str | Path,
                lang: str = "en") -> list[Path]:
    """The two churn lists as CSV (UTF-8 with BOM): ``churn_at_risk.csv`` (active buyers at
    high or medium risk, to retain) and ``churn_recall.csv`` (buyers already churned, to
    recall), each in its own priority order, phones masked."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    lists = {"churn_at_risk.csv": scores[scores["risk_band"] != "already_churned"],
             "churn_recall.csv": scores[scores["risk_band"] == "already_churned"]}
    written = []
    for name, rows in lists.items():
        written.append(write_csv(priority_list(rows, customers, lang), folder / name))
    return written
