"""The benchmark machinery, and the pandas reference that the feature layer is compared with."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from custops.features import build_features
from custops.io.dataset import load_dataset
from custops.tools import bench

ROOT = Path(__file__).resolve().parents[1]

CORE = ["first_order_date", "last_order_date", "order_days", "order_count", "gross_spend",
        "net_spend", "refund_amount", "frequency", "recency_days", "T_days",
        "days_since_last_order", "monetary_value", "orders_30d", "orders_365d", "spend_90d",
        "favourite_hour", "favourite_channel", "favourite_category"]


def test_pandas_reference_agrees_with_the_feature_layer():
    dataset = load_dataset(ROOT / "data" / "sample")
    ours = build_features({"orders": dataset.orders}, "2026-09-30").set_index("customer_id")
    reference = bench.features_pandas(dataset.orders, "2026-09-30").set_index("customer_id")
    ours = ours.loc[reference.index]
    for column in CORE:
        left = ours[column]
        right = reference[column]
        if pd.api.types.is_numeric_dtype(left) and not pd.api.types.is_bool_dtype(left):
            assert ((left.astype(float) - right.astype(float)).abs() < 1e-6).all(), column
        else:
            assert (left.astype(str).to_numpy() == right.astype(str).to_numpy()).all(), column


def test_quick_benchmark_writes_results(tmp_path, monkeypatch):
    monkeypatch.setattr(bench, "BENCH_DATA", str(tmp_path / "data"))
    out = tmp_path / "results.json"
    bench.run_benchmarks(out, quick=True, cases=("features",), log=lambda line: None)
    results = json.loads(out.read_text())
    row = results["quick"]["features"]["20000"]
    assert row["orders"] > 10_000
    for case in ("ibis_duckdb", "pandas", "duckdb_groupby"):
        assert row[case]["seconds"] > 0 and row[case]["peak_rss_gib"] > 0
        assert row[case]["cpu_seconds"] > 0
    assert row["ibis_duckdb"]["rows"] == row["pandas"]["rows"]
    assert row["load_average_1m"] >= 0
    assert row["cpu_ratio_to_lone_groupby"] == round(
        row["ibis_duckdb"]["cpu_seconds"] / row["duckdb_groupby"]["cpu_seconds"], 2)
    # another size measured later is added next to this one
    monkeypatch.setattr(bench, "bench_features", lambda sizes, log: {"5": {"orders": 5}})
    bench.run_benchmarks(out, quick=True, sizes=[5], cases=("features",), log=lambda line: None)
    assert set(json.loads(out.read_text())["quick"]["features"]) == {"20000", "5"}


def test_dashboard_case_runs_the_browser_bench(tmp_path, monkeypatch):
    from custops.tools import browser

    seen = []
    monkeypatch.setattr(browser, "bench_dashboard",
                        lambda run_dir: seen.append(run_dir) or {"dashboards": {}})
    out = tmp_path / "results.json"
    bench.run_benchmarks(out, cases=("dashboard",), log=lambda line: None)
    assert json.loads(out.read_text())["full"]["dashboard"] == {"dashboards": {}}
    assert seen and Path(seen[0]).name == "reports"


def test_dashboard_load_case_runs_alone_and_keeps_the_other_results(tmp_path, monkeypatch):
    from custops.run.cli import build_parser
    from custops.tools import browser

    out = tmp_path / "results.json"
    out.write_text(json.dumps({"full": {"features": {"kept": True}}}))
    seen = []
    monkeypatch.setattr(browser, "bench_dashboard_load",
                        lambda run_dir: seen.append(run_dir) or {"served": 20})
    monkeypatch.setattr(browser, "bench_dashboard", lambda run_dir: pytest.fail("not asked"))
    args = build_parser().parse_args(["bench", "--out", str(out), "--cases", "dashboard_load"])
    assert bench.cli_bench(args) == 0
    results = json.loads(out.read_text())["full"]
    assert results == {"features": {"kept": True}, "dashboard_load": {"served": 20}}
    assert Path(seen[0]).name == "reports"


def test_a_result_written_meanwhile_by_another_bench_is_kept(tmp_path, monkeypatch):
    out = tmp_path / "results.json"
    out.write_text(json.dumps({"full": {"btyd": {"old": True}}}))

    def features_while_another_bench_writes(sizes, log):
        out.write_text(json.dumps({"full": {"btyd": {"old": True}, "dashboard": {"new": 1}}}))
        return {"10": {"orders": 10}}

    monkeypatch.setattr(bench, "bench_features", features_while_another_bench_writes)
    bench.run_benchmarks(out, sizes=[10], cases=("features",), log=lambda line: None)
    assert json.loads(out.read_text())["full"] == {
        "btyd": {"old": True}, "dashboard": {"new": 1}, "features": {"10": {"orders": 10}}}
