"""The benchmark machinery, and the pandas reference that the feature layer is compared with."""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import pandas as pd
import psutil
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


def test_report_10m_is_a_default_case_that_quick_and_skip_10m_leave_out(tmp_path, monkeypatch):
    sizes = []
    monkeypatch.setattr(bench, "bench_report",
                        lambda n, log, **guards: sizes.append((n, guards)) or {"customers": n})
    out = tmp_path / "results.json"
    assert "report_10m" in bench.DEFAULT_CASES
    bench.run_benchmarks(out, cases=("report", "report_10m"), log=lambda line: None)
    assert [n for n, _ in sizes] == [1_000_000, 10_000_000]
    assert sizes[1][1] == {"min_available_gib": bench.MIN_AVAILABLE_GIB,
                           "timeout_s": bench.REPORT_10M_TIMEOUT_S}
    assert json.loads(out.read_text())["full"]["report_10m"] == {"customers": 10_000_000}
    sizes.clear()
    bench.run_benchmarks(out, cases=("report", "report_10m"), skip_10m=True,
                         log=lambda line: None)
    bench.run_benchmarks(out, quick=True, cases=("report_10m",), log=lambda line: None)
    args = argparse.Namespace(out=str(out), quick=False, sizes=None, cases=["report_10m"],
                              skip_10m=True)
    assert bench.cli_bench(args) == 0
    assert [n for n, _ in sizes] == [1_000_000]


# A stand-in for `custops report`: a child process holding ~60 MB (the tree is measured, not
# only the runner), then a manifest with seconds per notebook.
FAKE_REPORT = """
import json, subprocess, sys, time
from pathlib import Path
out = Path(sys.argv[1])
holder = subprocess.Popen([sys.executable, "-c",
                           "import time; b = bytearray(60 * 2**20); b[::4096] = b'x' * len(b[::4096]); time.sleep(float(__import__('sys').argv[1]))",
                           sys.argv[2]])
holder.wait()
out.mkdir(parents=True, exist_ok=True)
(out / "manifest.json").write_text(json.dumps({"notebooks": [
    {"name": "01_profile", "seconds": 1.5}, {"name": "02_segment", "seconds": 2.0}]}))
"""


def _fake_report(monkeypatch, hold_seconds: float) -> None:
    monkeypatch.setattr(bench, "_report_command", lambda folder, out: [
        sys.executable, "-c", FAKE_REPORT, str(out), str(hold_seconds)])


def test_bench_report_reuses_the_cached_data_and_records_notebooks_status_and_tree_memory(
        tmp_path, monkeypatch):
    monkeypatch.setattr(bench, "BENCH_DATA", str(tmp_path))
    cached = tmp_path / "report_10000000"
    cached.mkdir()
    (cached / "generated.json").write_text(json.dumps({
        "orders": 75_000_000, "seconds": 900.0, "peak_rss_gib": 1.9}))
    monkeypatch.setattr(bench, "_run_child", lambda args: pytest.fail("data regenerated"))
    _fake_report(monkeypatch, hold_seconds=1.5)
    row = bench.bench_report(10_000_000, log=lambda line: None, min_available_gib=0.1,
                             timeout_s=600)
    assert row["status"] == "ok" and row["orders"] == 75_000_000
    assert row["notebooks"] == {"01_profile": 1.5, "02_segment": 2.0}
    assert row["generated"]["peak_rss_gib"] == 1.9
    assert row["peak_rss_gib_process_tree"] >= 60 / 1024
    assert row["seconds"] >= 1.5


def test_a_report_past_its_time_limit_is_stopped_with_its_children(tmp_path, monkeypatch):
    monkeypatch.setattr(bench, "BENCH_DATA", str(tmp_path))
    (tmp_path / "report_50").mkdir()
    (tmp_path / "report_50" / "generated.json").write_text(json.dumps({"orders": 5}))
    _fake_report(monkeypatch, hold_seconds=120)
    before = {p.pid for p in psutil.Process().children(recursive=True)}
    started = time.monotonic()
    row = bench.bench_report(50, log=lambda line: None, timeout_s=2)
    assert time.monotonic() - started < 60
    assert row["status"] == "stopped: still running after 2 s"
    assert "notebooks" not in row and "error" not in row
    left = {p.pid for p in psutil.Process().children(recursive=True)} - before
    assert not left


def test_report_data_above_one_piece_is_generated_in_chunks_by_a_child(tmp_path, monkeypatch):
    monkeypatch.setattr(bench, "BENCH_DATA", str(tmp_path))
    monkeypatch.setattr(bench, "REPORT_ONE_PIECE_MAX", 100)
    monkeypatch.setattr(bench, "DEFAULT_CHUNK_CUSTOMERS", 250)
    folder, generated = bench.report_dataset(600, log=lambda line: None)
    assert generated["chunks"] == 3 and generated["customers"] == 600
    assert generated["orders"] == len(pd.read_parquet(folder / "orders.parquet")) > 0
    assert generated["seconds"] > 0 and generated["peak_rss_gib"] > 0
    assert len(pd.read_parquet(folder / "customers.parquet")) == 600
    monkeypatch.setattr(bench, "_run_child", lambda args: pytest.fail("data regenerated"))
    assert bench.report_dataset(600, log=lambda line: None) == (folder, generated)


def test_the_dashboard_bench_waits_for_a_busy_browser_to_settle(tmp_path):
    """The dashboard bench starts its clocks once the browser's processes are idle (tabs
    just opened keep a core busy for about a second): a busy process named like Chromium
    under this one holds the wait until its timeout; none returns at once."""
    from custops.tools import browser

    assert browser._wait_browser_idle(timeout=5.0)  # nothing busy here: settled
    fake = tmp_path / "chromium-busy"
    fake.symlink_to(sys.executable)
    busy = psutil.Popen([str(fake), "-c", "while True: pass"])
    try:
        start = time.monotonic()
        assert not browser._wait_browser_idle(timeout=1.5)  # counted as not settled
        assert time.monotonic() - start >= 1.5
    finally:
        busy.kill()
        busy.wait()
