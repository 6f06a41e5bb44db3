"""The one-page plan (plan.xlsx, plan.html on one A4 page) and 04's numbers: money as managers
read it, the budget curve through the plan's own point, send times in clock order, "measured"
for readouts."""

from __future__ import annotations

import datetime as dt
import re
import shutil
from pathlib import Path

import numpy as np
import openpyxl
import pandas as pd
import pytest

from custops import plan_page, reach, rules
from custops.numbers import money
from custops.run import context

SAMPLE = Path(__file__).resolve().parents[1] / "data" / "sample"
CHROMIUM = "/usr/bin/chromium"


def test_money_keeps_cents_where_they_matter():
    assert [money(v) for v in (0.15, 0.005, 0.145, 58.66, 1274.3, 40346.2, -3.0)] == [
        "¥0.15", "¥0.005", "¥0.145", "¥58.66", "¥1,274", "¥40,346", "−¥3.00"]
    assert money(float("nan"), "zh") == "不可用"


@pytest.fixture(scope="module")
def sample_run(tmp_path_factory):
    run = tmp_path_factory.mktemp("plan") / "run"
    ctx = context.open_run(data_dir=str(SAMPLE), run_dir=str(run), lang="zh", budget=1500.0)
    written = ctx.get("reach_exports")
    return {"ctx": ctx, "run": run, "written": written,
            "inputs": ctx.get("reach_inputs"), "plan": ctx.get("reach_plan")}


def test_the_budget_curve_passes_through_the_plan_at_the_runs_budget(sample_run):
    ctx, inputs, plan = sample_run["ctx"], sample_run["inputs"], sample_run["plan"]
    params = ctx.reach_params
    # build_plan at the run's budget; the curve drawn for that plan passes through its point
    again = reach.build_plan(inputs.candidates, inputs.channels, inputs.eligible, params,
                             seed=ctx.seed)
    curve = reach.budget_curve(inputs.candidates, inputs.channels, inputs.eligible, params,
                               plan=again)
    at = curve[np.isclose(curve["budget"], params.budget)].iloc[0]
    spend = again.plan["cost"].sum()
    net = again.plan["expected_incremental_revenue"].sum() - spend
    assert at["spend"] == pytest.approx(spend, rel=1e-9)
    assert at["objective"] == pytest.approx(net, rel=1e-9)
    assert at["contacts"] == len(again.plan)
    assert at["spend"] <= params.budget + 1e-6
    assert (np.diff(curve["objective"]) >= -1e-6).all()  # more budget never loses value
    # the run's own plan: the same point, up to the optimizer's proven gap
    own = reach.budget_curve(inputs.candidates, inputs.channels, inputs.eligible, params,
                             plan=plan)
    own_at = own[np.isclose(own["budget"], params.budget)].iloc[0]
    assert own_at["objective"] == pytest.approx(net, rel=0.01)
    text = reach.budget_section(curve, params, "zh").text
    assert money(spend, "zh") in text and money(net, "zh") in text
    # "beyond X" names a spend the curve reaches, never the budget of a point not spent
    match = re.search(r"花费超过 (¥[\d,.]+)", text)
    if match:
        below = curve[curve["marginal_return"] < 1].iloc[0]
        assert match.group(1) == money(float(below["spend"]), "zh")


def test_send_times_run_in_clock_order_and_readouts_are_measured(sample_run):
    ctx, plan = sample_run["ctx"], sample_run["plan"]
    fig = reach.send_time_section(plan, ctx.reach_params, "zh").figures[0]
    order = list(fig.layout.xaxis.categoryarray)
    assert order == sorted(order) and set(order) == set(plan.plan["send_time"])
    results = reach.readout(ctx.dataset().touches, channels=sample_run["inputs"].channels)
    table = reach.readout_section(results, "zh").tables[0]
    assert "实测增量收入" in table.columns and "预期增量收入" not in table.columns
    assert table["实测增量收入"].str.startswith("¥").all()
    assert "实测增量收入 ¥" in reach.readout_section(results, "zh").text
    section = reach.plan_section(plan, ctx.reach_params, "zh")
    assert "毛利率" in section.text and "¥" in section.text
    costs = section.tables[0]["成本"]
    assert costs.str.startswith("¥").all()


def test_plan_workbook_is_a_formatted_page_then_the_lists(sample_run):
    path = sample_run["run"] / "exports" / "plan.xlsx"
    book = openpyxl.load_workbook(path)
    page = book.worksheets[0]
    assert page.title == "计划" and page.freeze_panes == "A5"
    assert page["A1"].value.endswith("触达计划") and page["A4"].value == "渠道"
    assert page.column_dimensions["A"].width >= 20
    formats = {}
    for row in page.iter_rows(min_row=5, max_row=12):
        for cell in row:
            if isinstance(cell.value, (int, float)):
                formats.setdefault(cell.column_letter, set()).add(cell.number_format)
    assert formats["B"] == {"#,##0"}
    assert all("¥" in f for f in formats["C"] | formats["D"] | formats["E"])
    assert all("×" in f for f in formats["F"])
    text = "\n".join(str(c.value) for r in page.iter_rows() for c in r if c.value is not None)
    for words in ("对照组", "勿扰时段", "授权", "频次上限", "投资回报率 = 增量收入 × 毛利率",
                  "可能区间"):
        assert words in text, words
    lists = book.worksheets[1:]
    assert lists[-1].title == "对照组" and all(s.freeze_panes == "A2" for s in lists)
    plan = sample_run["plan"]
    assert sum(s.max_row - 1 for s in lists[:-1]) == min(len(plan.plan), sum(
        min(n, 5000) for n in plan.plan["channel"].value_counts()))


def test_the_interval_holds_the_expected_revenue(sample_run):
    plan = sample_run["plan"]
    mean, low, high = plan_page.revenue_interval(plan.plan)
    assert low < mean < high
    assert mean == pytest.approx(plan.plan["expected_incremental_revenue"].sum())
    assert plan_page.revenue_interval(plan.plan.head(0)) == (0.0, 0.0, 0.0)


@pytest.mark.skipif(shutil.which(CHROMIUM) is None and not Path(CHROMIUM).exists(),
                    reason="Debian chromium is not installed (make test installs it)")
@pytest.mark.parametrize("lang", ["zh", "en"])
def test_plan_html_prints_on_one_a4_page(sample_run, tmp_path, lang):
    playwright = pytest.importorskip("playwright.sync_api")
    from custops.tools.browser import CHROMIUM_ARGS

    ctx, plan = sample_run["ctx"], sample_run["plan"]
    page = plan_page.plan_page(plan, ctx.reach_params, as_of=ctx.as_of, tz=ctx.tz, lang=lang,
                               files=[Path(p).name for p in sample_run["written"]])
    html_path = plan_page.write_plan_html(page, tmp_path / "plan.html")
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            tab = browser.new_page()
            tab.goto(html_path.as_uri(), wait_until="domcontentloaded")
            pdf = tab.pdf(format="A4", prefer_css_page_size=True)
        finally:
            browser.close()
    pages = re.findall(rb"/Type\s*/Page(?!s)", pdf)
    assert len(pages) == 1
    html = html_path.read_text("utf-8")
    assert "<script" not in html and "http" not in html
    assert money(float(plan.summary["cost"].iloc[-1]), lang) in html


def test_plan_page_rules_follow_the_parameters():
    plan = reach.ReachPlan(
        plan=pd.DataFrame({"customer_id": ["C1"], "cost": [0.05], "value": [100.0],
                           "expected_incremental_revenue": [3.0], "channel": ["sms"]}),
        control=pd.DataFrame(columns=["customer_id"]), result=type(
            "R", (), {"gap": 0.0, "method": "milp"})(),
        summary=pd.DataFrame({"channel": ["sms", "total"], "contacts": [1, 1],
                              "cost": [0.05, 0.05], "expected_incremental_revenue": [3.0, 3.0],
                              "roi": [59.0, 59.0]}),
        holdout={"share": 0.1, "n_control": 0, "minimum_detectable_effect": float("nan"),
                 "baseline_rate": 0.1},
        excluded={"no consent: sms": 4, "no contact: sms": 2, "no contact column: email": 0},
        uplift_source="assumption", params={"campaign_id": "618"})
    params = rules.ReachParams(quiet_start=22.0, quiet_end=8.5, max_touches_7d=3, margin=0.3)
    page = plan_page.plan_page(plan, params, as_of=dt.date(2026, 9, 30), tz="Asia/Shanghai",
                               lang="en")
    rules_text = " ".join(page.rules)
    assert "22:00" in rules_text and "08:30" in rules_text and "3 touches" in rules_text
    assert "E-mail" in rules_text  # no e-mail column: the list carries customer ids
    assert "ASSUMED" in rules_text
    assert page.roi_definition == "ROI = incremental revenue × margin (30%) ÷ cost"
    # the plan's values hold the margin: revenue = value / margin; ROI = value / cost
    total = page.channels.iloc[-1]
    assert total["revenue"] == pytest.approx(10.0) and total["roi"] == pytest.approx(60.0)
    assert ("No contact key in the data: SMS", 2) in page.excluded
    assert page.title == "Reach plan for 2026-10-01"
    # 04's plan section says the same: revenue ¥10.00 for a value of 3.00 at margin 0.3
    section = reach.plan_section(plan, params, "en")
    row = section.tables[0].iloc[-1]
    assert row["Expected incremental revenue"] == "¥10.00" and row["ROI"] == "60.0×"
    assert "¥10.00" in section.text and "margin (30%)" in section.text
