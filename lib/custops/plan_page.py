"""The one-page reach plan a manager approves: ``plan.xlsx`` (the page, then the channel lists
with contact keys masked, then the holdout) and the same page as ``plan.html``, one A4 page.

The page holds the contacts per channel with cost, expected incremental revenue and ROI (ROI =
incremental revenue × margin ÷ cost, the margin a run parameter), a summary block (totals, the
revenue's likely range, the holdout, who was excluded and why) and the rules the plan obeyed
(caps, quiet hours, consent, contact keys), all in the run's language.
"""

from __future__ import annotations

import datetime as dt
import html
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from custops.exports import (
    EXCEL_ROWS_PER_SHEET,
    channel_list,
    control_list,
    excel_writer,
    neutralize,
    send_schedule,
)
from custops.labels import t, value_label
from custops.numbers import money
from custops.reach import ReachPlan, rule_label
from custops.rules import ReachParams, format_hour

__all__ = ["PlanPage", "masked_lists", "plan_html", "plan_page", "revenue_interval",
           "write_plan_html", "write_plan_xlsx"]

Z90 = 1.6449  # two-sided 90 % normal quantile


def revenue_interval(plan: pd.DataFrame, margin: float = 1.0) -> tuple[float, float, float]:
    """Expected incremental revenue of the contacted rows and its 90 % range from the chance
    of who converts (each contact converts because of it with probability q = uplift ×
    channel effect, worth its conversion value): mean ± 1.645 sd, floored at 0. The model's
    own error is not in it. ``margin``: the plan's values are revenue × margin."""
    if plan.empty:
        return 0.0, 0.0, 0.0
    revenue = plan["expected_incremental_revenue"].to_numpy(float) / margin
    value = plan["value"].to_numpy(float) / margin if "value" in plan else revenue
    with np.errstate(divide="ignore", invalid="ignore"):
        q = np.clip(np.where(value > 0, revenue / value, 0.0), 0.0, 1.0)
    mean = float(revenue.sum())
    sd = float(np.sqrt(np.sum(value ** 2 * q * (1 - q))))
    return mean, max(mean - Z90 * sd, 0.0), mean + Z90 * sd


@dataclass
class PlanPage:
    """The page's content in the run's language: title lines, the channel table (numbers,
    formatted when shown), the summary block, the rules and the exclusions."""

    lang: str
    title: str
    subtitle: str
    channels: pd.DataFrame  # channel (words), contacts, cost_per_contact, cost, revenue, roi
    summary: list[tuple[str, str]]
    rules: list[str]
    excluded: list[tuple[str, int]]
    roi_definition: str
    files: list[str]


def _channel_table(reach_plan: ReachPlan, margin: float, lang: str) -> pd.DataFrame:
    summary = reach_plan.summary
    rows = []
    for record in summary.to_dict("records"):
        name = str(record["channel"])
        contacts = int(record["contacts"])
        cost = float(record["cost"])
        revenue = float(record["expected_incremental_revenue"]) / margin
        rows.append({
            "channel": t("plan.total", lang) if name == "total" else value_label(name, lang),
            "contacts": contacts,
            "cost_per_contact": cost / contacts if contacts and name != "total" else np.nan,
            "cost": cost,
            "revenue": revenue,
            "roi": revenue * margin / cost if cost > 0 else np.nan,
        })
    return pd.DataFrame(rows, columns=["channel", "contacts", "cost_per_contact", "cost",
                                       "revenue", "roi"])


def _roi_text(value: float, lang: str) -> str:
    return t("not_available", lang) if not math.isfinite(value) else f"{value:,.1f}×"


def plan_page(reach_plan: ReachPlan, params: ReachParams, *, as_of: dt.date, tz: str,
              lang: str = "en", files: list[str] | None = None) -> PlanPage:
    """The content of the one-page plan for ``reach_plan`` made with ``params``."""
    margin = float(params.margin)
    send_day = params.send_day(as_of)
    day, zone = send_schedule(send_day, tz)
    channels = _channel_table(reach_plan, margin, lang)
    total = channels.iloc[-1] if len(channels) else pd.Series(
        {"contacts": 0, "cost": 0.0, "revenue": 0.0, "roi": np.nan})
    mean, low, high = revenue_interval(reach_plan.plan, margin)
    h = reach_plan.holdout
    mde = h.get("minimum_detectable_effect", float("nan"))
    contact_excluded = sum(v for k, v in reach_plan.excluded.items()
                           if k.startswith("no contact: "))
    summary = [
        (t("plan.contacts", lang), f"{int(total['contacts']):,}"),
        (t("plan.cost", lang, budget=money(params.budget, lang)), money(total["cost"], lang)),
        (t("plan.revenue", lang), money(mean, lang)),
        (t("plan.interval", lang), f"{money(low, lang)} – {money(high, lang)}"),
        (t("plan.roi", lang), _roi_text(float(total["roi"]), lang)),
        (t("plan.holdout", lang), t("plan.holdout_value", lang, n=int(h.get("n_control", 0)),
                                    share=float(h.get("share", 0.0)),
                                    mde=float(mde) if mde == mde else 0.0)),
        (t("reach.rule_no_contact", lang, channel="").rstrip("：: "),
         f"{contact_excluded:,}"),
    ]
    gap = max(float(reach_plan.result.gap), 0.0)
    rules = [
        t("plan.rule_caps", lang, touches=params.max_touches_7d,
          per_day=params.wecom_mass_per_day),
        t("plan.rule_quiet", lang, start=str(format_hour(np.array([params.quiet_start]))[0]),
          end=str(format_hour(np.array([params.quiet_end]))[0]), zone=zone,
          lead=params.lead_minutes),
        t("plan.rule_consent", lang),
        t("plan.rule_contact", lang),
        t("plan.rule_optimizer", lang, method=_method(reach_plan.result.method, lang),
          gap="0.01%" if gap < 1e-4 else f"{gap:.2%}"),
        t("plan.uplift_model" if reach_plan.uplift_source == "model" else "plan.uplift_assumed",
          lang),
    ]
    unmatched = [value_label(rule.split(": ", 1)[1], lang) for rule in reach_plan.excluded
                 if rule.startswith("no contact column: ")]
    if unmatched:  # no such column in the data: those lists carry customer ids to match
        rules.append(t("reach.rule_no_contact_column", lang,
                       channel=("、" if lang == "zh" else ", ").join(unmatched)))
    excluded = [(rule_label(rule, lang), int(n)) for rule, n in reach_plan.excluded.items()
                if n]
    campaign = str(reach_plan.params.get("campaign_id", params.campaign_id))
    # The campaign id is the user's code: named when they set one, not the default's.
    subtitle = (t("plan.subtitle_plain", lang, as_of=str(as_of))
                if campaign == ReachParams.campaign_id else
                t("plan.subtitle", lang, as_of=str(as_of), campaign=campaign))
    return PlanPage(
        lang=lang, title=t("plan.title", lang, date=day), subtitle=subtitle,
        channels=channels, summary=summary, rules=rules, excluded=excluded,
        roi_definition=t("reach.roi_defined", lang, margin=margin), files=list(files or []))


def _method(method: str, lang: str) -> str:
    key = f"reach.method.{method}"
    try:
        return t(key, lang)
    except KeyError:
        return method


def _headers(lang: str) -> list[str]:
    return [t("reach.channel", lang), t("plan.contacts", lang), t("plan.per_contact", lang),
            t("reach.cost", lang), t("plan.revenue", lang), t("plan.roi", lang)]


# -- plan.html: one A4 page --------------------------------------------------------------------

_CSS = """
@page { size: A4; margin: 14mm 14mm 14mm 14mm; }
* { box-sizing: border-box; }
body { font-family: "Noto Sans CJK SC", "WenQuanYi Micro Hei", "Microsoft YaHei",
       "PingFang SC", Arial, sans-serif; font-size: 10.5pt; color: #1f2933; margin: 0; }
main { max-width: 182mm; margin: 0 auto; }
h1 { font-size: 16pt; margin: 0 0 2mm 0; }
h2 { font-size: 11.5pt; margin: 5mm 0 2mm 0; border-bottom: 1px solid #cbd2d9; }
p.sub { color: #52606d; margin: 0 0 3mm 0; }
table { border-collapse: collapse; width: 100%; }
th, td { padding: 1.2mm 2mm; border-bottom: 1px solid #e4e7eb; text-align: right; }
th:first-child, td:first-child { text-align: left; }
thead th { background: #f0f4f8; font-weight: 600; }
tr.total td { font-weight: 700; border-top: 1.5px solid #52606d; }
dl { display: grid; grid-template-columns: 62% 38%; margin: 0; }
dt, dd { margin: 0; padding: 1mm 0; border-bottom: 1px dotted #e4e7eb; }
dd { text-align: right; font-weight: 600; }
ul { margin: 0; padding-left: 5mm; }
li { margin: 0.6mm 0; }
.cols { display: grid; grid-template-columns: 1fr 1fr; gap: 6mm; }
.note { color: #52606d; font-size: 9pt; margin-top: 2mm; }
.sign { margin-top: 8mm; border-top: 1px solid #9aa5b1; width: 70mm; padding-top: 1mm;
        color: #52606d; font-size: 9pt; }
"""


def _e(text: Any) -> str:
    return html.escape(str(text))


def plan_html(page: PlanPage) -> str:
    """The page as one printable A4 HTML page (no script, no external resource)."""
    lang = page.lang
    rows = []
    for i, row in enumerate(page.channels.itertuples(index=False)):
        total = i == len(page.channels) - 1
        per = "" if pd.isna(row.cost_per_contact) else money(row.cost_per_contact, lang)
        rows.append(
            f'<tr{" class=total" if total else ""}><td>{_e(row.channel)}</td>'
            f"<td>{row.contacts:,}</td><td>{_e(per)}</td><td>{_e(money(row.cost, lang))}</td>"
            f"<td>{_e(money(row.revenue, lang))}</td><td>{_e(_roi_text(row.roi, lang))}</td>"
            "</tr>")
    head = "".join(f"<th>{_e(h)}</th>" for h in _headers(lang))
    summary = "".join(f"<dt>{_e(k)}</dt><dd>{_e(v)}</dd>" for k, v in page.summary)
    rules = "".join(f"<li>{_e(r)}</li>" for r in page.rules)
    excluded = "".join(f"<dt>{_e(k)}</dt><dd>{n:,}</dd>" for k, n in page.excluded)
    files = ", ".join(page.files)
    html_lang = "zh-CN" if lang == "zh" else "en"
    return (
        f'<!DOCTYPE html><html lang="{html_lang}"><head><meta charset="utf-8">'
        f"<title>{_e(page.title)}</title><style>{_CSS}</style></head><body><main>"
        f"<h1>{_e(page.title)}</h1><p class=sub>{_e(page.subtitle)}</p>"
        f"<h2>{_e(t('plan.by_channel', lang))}</h2>"
        f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"
        f"<p class=note>{_e(page.roi_definition)}</p>"
        f'<div class=cols><section><h2>{_e(t("plan.summary", lang))}</h2><dl>{summary}</dl>'
        f'</section><section><h2>{_e(t("plan.excluded", lang))}</h2><dl>{excluded}</dl>'
        "</section></div>"
        f'<h2>{_e(t("plan.rules", lang))}</h2><ul>{rules}</ul>'
        + (f'<p class=note>{_e(t("plan.files", lang, files=files))}</p>' if files else "")
        + f'<div class=sign>{_e(t("plan.approved", lang))}</div>'
        "</main></body></html>")


def write_plan_html(page: PlanPage, path: str | Path) -> Path:
    path = Path(path)
    path.write_text(plan_html(page), encoding="utf-8")
    return path


# -- plan.xlsx: the page, then the lists -------------------------------------------------------

def write_plan_xlsx(page: PlanPage, path: str | Path, *, lists: dict[str, pd.DataFrame],
                    control: pd.DataFrame) -> Path:
    """The page as the workbook's first sheet (formatted numbers, column widths, the table's
    header frozen), then one sheet per channel list and the holdout (each the first
    :data:`~custops.exports.EXCEL_ROWS_PER_SHEET` rows, contact keys masked). Every string is
    text, never a formula or a link."""
    path = Path(path)
    lang = page.lang
    with excel_writer(path) as writer:
        book = writer.book
        sheet = book.add_worksheet(t("plan.sheet", lang))
        writer.sheets[sheet.name] = sheet
        bold = book.add_format({"bold": True})
        title = book.add_format({"bold": True, "font_size": 15})
        grey = book.add_format({"font_color": "#52606d"})
        header = book.add_format({"bold": True, "bg_color": "#f0f4f8", "bottom": 1,
                                  "text_wrap": True, "valign": "top"})
        count = book.add_format({"num_format": "#,##0"})
        cents = book.add_format({"num_format": '"¥"#,##0.00#'})
        yuan = book.add_format({"num_format": '"¥"#,##0'})
        ratio = book.add_format({"num_format": '0.0"×"'})
        total = {k: book.add_format({"bold": True, "top": 1, **({"num_format": f} if f else {})})
                 for k, f in (("text", None), ("count", "#,##0"), ("yuan", '"¥"#,##0'),
                              ("cents", '"¥"#,##0.00#'), ("ratio", '0.0"×"'))}
        text = _text_cell
        sheet.write_string(0, 0, text(page.title), title)
        sheet.write_string(1, 0, text(page.subtitle), grey)
        headers = _headers(lang)
        for c, name in enumerate(headers):
            sheet.write_string(3, c, text(name), header)
        last = len(page.channels) - 1
        for r, row in enumerate(page.channels.itertuples(index=False), start=4):
            is_total = r - 4 == last
            sheet.write_string(r, 0, text(row.channel), total["text"] if is_total else None)
            sheet.write_number(r, 1, int(row.contacts), total["count"] if is_total else count)
            if not pd.isna(row.cost_per_contact):
                sheet.write_number(r, 2, float(row.cost_per_contact), cents)
            sheet.write_number(r, 3, float(row.cost),
                               (total["cents"] if is_total else cents) if row.cost < 100
                               else (total["yuan"] if is_total else yuan))
            sheet.write_number(r, 4, float(row.revenue), total["yuan"] if is_total else yuan)
            if not pd.isna(row.roi):
                sheet.write_number(r, 5, float(row.roi), total["ratio"] if is_total else ratio)
        r = 4 + len(page.channels)
        sheet.write_string(r, 0, text(page.roi_definition), grey)
        r += 2
        sheet.write_string(r, 0, text(t("plan.summary", lang)), bold)
        for key, value in page.summary:
            r += 1
            sheet.write_string(r, 0, text(key))
            sheet.write_string(r, 3, text(value), bold)
        r += 2
        sheet.write_string(r, 0, text(t("plan.excluded", lang)), bold)
        for key, n in page.excluded:
            r += 1
            sheet.write_string(r, 0, text(key))
            sheet.write_number(r, 3, n, count)
        r += 2
        sheet.write_string(r, 0, text(t("plan.rules", lang)), bold)
        for rule in page.rules:
            r += 1
            sheet.write_string(r, 0, text(rule))
        if page.files:
            r += 2
            sheet.write_string(r, 0, text(t("plan.files", lang, files=", ".join(page.files))),
                               grey)
        r += 2
        sheet.write_string(r, 0, text(t("plan.approved", lang)), bold)
        sheet.set_column(0, 0, 30 if lang == "zh" else 34)
        sheet.set_column(1, 5, 16)
        sheet.freeze_panes(4, 0)  # title and the table's header stay in view
        sheet.set_paper(9)  # A4
        sheet.fit_to_pages(1, 1)
        names = _sheet_names([t("plan.sheet", lang), *lists, t("plan.sheet_control", lang)])
        for frame, name in zip(lists.values(), names[1:-1], strict=True):
            _list_sheet(writer, frame, name)
        _list_sheet(writer, control, names[-1])
    return path


def _text_cell(value: Any) -> str:
    """A string cell as text, never read as a formula (OWASP: a leading apostrophe)."""
    return str(neutralize(pd.DataFrame({"v": [str(value)]}))["v"].iloc[0])


def _sheet_names(wanted: list[str]) -> list[str]:
    names: list[str] = []
    for name in wanted:
        base = "".join("_" if ch in "[]:*?/\\" else ch for ch in name)[:31] or "sheet"
        candidate, number = base, 1
        while candidate.lower() in {n.lower() for n in names}:
            number += 1
            candidate = f"{base[:31 - len(str(number)) - 1]} {number}"
        names.append(candidate)
    return names


def _list_sheet(writer: pd.ExcelWriter, frame: pd.DataFrame, name: str) -> None:
    """One list as a sheet: a bold header row, then the rows cell by cell (text as text,
    numbers as numbers, blanks left empty) — xlsxwriter's own calls, several times quicker
    than ``DataFrame.to_excel`` on the 5,000-row sheets."""
    part = neutralize(frame.head(EXCEL_ROWS_PER_SHEET))
    book = writer.book
    sheet = book.add_worksheet(name)
    writer.sheets[name] = sheet
    header = book.add_format({"bold": True, "border": 1, "align": "center",
                              "valign": "top"})
    for c, column in enumerate(part.columns):
        sheet.write_string(0, c, str(column), header)
    for c, column in enumerate(part.columns):
        values = part[column]
        cells = values.astype(object).where(values.notna(), None).tolist()
        if pd.api.types.is_bool_dtype(values):
            write = sheet.write_boolean
        elif pd.api.types.is_numeric_dtype(values):
            write = sheet.write_number
        else:
            write = sheet.write_string
        for r, value in enumerate(cells, start=1):
            if value is None or (isinstance(value, float) and value != value):
                continue  # blank, as pandas leaves it
            if write is sheet.write_number and not math.isfinite(float(value)):
                sheet.write_string(r, c, str(value))  # inf: Excel has no such number
                continue
            write(r, c, value if write is not sheet.write_string else str(value))
    for c, column in enumerate(part.columns):
        longest = max([len(str(column))] + [len(str(v)) for v in part[column].head(200)])
        wide = sum(1 for ch in str(column) if ord(ch) > 0x2E80)  # CJK: two columns each
        sheet.set_column(c, c, min(max(longest, len(str(column)) + wide) + 2, 60))
    sheet.freeze_panes(1, 0)


def masked_lists(reach_plan: ReachPlan, *, lang: str, send_date: dt.date, tz: str,
                 extra: pd.DataFrame | None = None) -> tuple[dict[str, pd.DataFrame],
                                                             pd.DataFrame]:
    """The channel lists with contact keys masked (for the workbook people read) and the
    holdout list, each its first :data:`~custops.exports.EXCEL_ROWS_PER_SHEET` rows (what a
    sheet holds); ``extra`` adds columns by customer_id (e.g. prospect grades)."""
    plan = reach_plan.plan
    if extra is not None and len(plan):
        plan = plan.merge(extra, on="customer_id", how="left")
    lists = {}
    if "channel" in plan:
        for channel, rows in plan.groupby("channel", sort=True):
            if "expected_incremental_revenue" in rows:  # the order channel_list keeps
                rows = rows.sort_values("expected_incremental_revenue", ascending=False,
                                        kind="stable")
            # a sheet shows the first rows only: only those are described
            lists[value_label(str(channel), lang)] = channel_list(
                rows.head(EXCEL_ROWS_PER_SHEET), str(channel), lang=lang,
                send_date=send_date, tz=tz, masked=True)
    return lists, control_list(reach_plan.control.head(EXCEL_ROWS_PER_SHEET), lang)
