"""Degenerate data is a result, not a crash: every step on odd but plausible data either
finishes (saying what could not be computed) or stops with one plain message about the data."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from custops import aggregates, churn, profile, reach, segment
from custops.errors import CustopsError
from custops.run import context


def _orders(rows) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["customer_id", "order_id", "order_time", "amount"])


def _write(folder, orders: pd.DataFrame, customers: pd.DataFrame | None = None):
    folder.mkdir(parents=True, exist_ok=True)
    orders.to_csv(folder / "orders.csv", index=False)
    if customers is not None:
        customers.to_csv(folder / "customers.csv", index=False)
    return folder


def _many(n_customers: int, *, days: int, seed: int = 0, refunds: bool = False,
          channels: int = 1) -> tuple[pd.DataFrame, pd.DataFrame]:
    rng = np.random.default_rng(seed)
    rows, start = [], pd.Timestamp("2025-01-01")
    for c in range(n_customers):
        for k in range(int(rng.integers(1, 5))):
            when = start + pd.Timedelta(days=int(rng.integers(0, days)), hours=10 + k)
            rows.append([f"c{c}", f"o{c}_{k}", when, round(float(rng.uniform(10, 200)), 2)])
    orders = _orders(rows)
    if refunds:
        orders["is_refund"] = True
        orders["amount"] = -orders["amount"]
    customers = pd.DataFrame({"customer_id": [f"c{c}" for c in range(n_customers)],
                              "acquisition_channel": [f"ch{c % channels}"
                                                      for c in range(n_customers)]})
    return orders, customers


CASES = {
    "one_row": lambda: (_orders([["a", "1", "2025-03-01 10:00", 50.0]]), None),
    "one_day": lambda: _many(40, days=1),
    "two_customers": lambda: (_orders([["a", "1", "2025-01-05 10:00", 50.0],
                                       ["a", "2", "2025-03-05 10:00", 70.0],
                                       ["b", "3", "2025-02-01 12:00", 30.0]]), None),
    "all_refunds": lambda: _many(30, days=200, refunds=True),
    "no_repeat_buyers": lambda: (_orders([[f"c{i}", str(i), pd.Timestamp("2025-01-01")
                                           + pd.Timedelta(days=3 * i), 10.0 + i]
                                          for i in range(60)]), None),
    "one_channel": lambda: _many(300, days=400, channels=1),
    "hundreds_of_channels": lambda: _many(900, days=400, channels=300),
}


def _run_every_step(ctx) -> list[str]:
    """Every artifact and section of the four notebooks; returns the names that stopped with
    a plain CustopsError (a crash with any other exception fails the test)."""
    stopped = []
    feats = ctx.get("features")
    months = aggregates.customer_months(ctx.dataset().orders, ctx.as_of)
    steps = [
        lambda: profile.customer_base_section(feats, months),
        lambda: profile.concentration_section(feats),
        lambda: profile.attributes_section(feats),
        lambda: profile.cohort_section(months, ctx.as_of),
        lambda: profile.channel_section(feats),
        lambda: ctx.get("profile_summary"),
        lambda: segment.rfm_section(feats, ctx.get("segments"), ctx.segment_params),
        lambda: segment.tiers_section(feats, ctx.get("segments")),
        lambda: segment.stages_section(feats, ctx.get("segments"), ctx.segment_params),
        lambda: segment.pyramid_section(feats, ctx.get("segments")),
        lambda: segment.clusters_section(feats, ctx.get("segments")["cluster"]),
        lambda: churn.backtest_section(ctx.get("churn_backtest")),
        lambda: churn.risk_section(ctx.get("churn_scores")),
        lambda: churn.priority_section(ctx.get("churn_scores")),
        lambda: churn.recall_section(ctx.get("churn_scores")),
        lambda: churn.btyd_section(ctx.get("btyd_params"), ctx.get("churn_scores")),
        lambda: reach.plan_section(ctx.get("reach_plan"), ctx.reach_params),
    ]
    for step in steps:
        try:
            step()
        except CustopsError as exc:
            message = str(exc)
            assert "\n" not in message.strip() and len(message) < 600, message
            stopped.append(message)
    return stopped


@pytest.mark.parametrize("case", sorted(CASES))
def test_degenerate_data_finishes_or_stops_plainly(case, tmp_path):
    orders, customers = CASES[case]()
    folder = _write(tmp_path / case, orders, customers)
    try:
        ctx = context.open_run(data_dir=str(folder))
    except CustopsError as exc:  # nothing meaningful can run: one line about the data
        assert "\n" not in str(exc).strip()
        return
    _run_every_step(ctx)


def test_as_of_after_the_data_is_a_plain_stop_or_a_result(tmp_path):
    orders, customers = _many(200, days=300)
    folder = _write(tmp_path / "late", orders, customers)
    ctx = context.open_run(data_dir=str(folder), as_of="2027-06-30")
    _run_every_step(ctx)


@pytest.mark.slow
def test_a_report_on_all_refunds_finishes_and_opens_with_its_health(tmp_path):
    """The whole report runs; what could not be computed is said in its place and listed
    in the health box every page opens with, and in the manifest."""
    from custops.run import runner

    orders, customers = CASES["all_refunds"]()
    folder = _write(tmp_path / "data", orders, customers)
    manifest = runner.run_report(folder, tmp_path / "report", lang="zh", log=lambda line: None)
    assert manifest["status"] == "ok"
    reasons = [entry["reason"] for entry in manifest["health"]]
    assert any(r.startswith("churn:") for r in reasons) and any("RFM" in r for r in reasons)
    for item in manifest["notebooks"]:
        page = (tmp_path / "report" / f"{item['name']}.html").read_text("utf-8")
        assert page.count('class="custops-health"') == 1 and "本次运行的健康检查" in page
