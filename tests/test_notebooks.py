"""The report runner and the notebooks, run for real on the shipped sample with papermill."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from custops.errors import RunError
from custops.run import runner as report

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "data" / "sample"
MAX_HTML_BYTES = 1_500_000

pytestmark = pytest.mark.slow


@pytest.fixture(scope="session")
def report_dir(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("runs") / "report"
    report.run_report(SAMPLE, out, lang="en", seed=7, log=lambda line: None)
    return out


def test_every_notebook_ran_and_is_listed(report_dir):
    manifest = json.loads((report_dir / "manifest.json").read_text("utf-8"))
    names = report.available_notebooks()
    assert names[:3] == ["01_profile", "02_segment", "03_churn"]
    assert manifest["status"] == "ok"
    assert [n["name"] for n in manifest["notebooks"]] == names
    assert all(n["status"] == "ok" and n["seconds"] > 0 for n in manifest["notebooks"])
    assert manifest["parameters"]["as_of"] == "2026-09-30"
    # every stored artifact was made by a timed step, folded into the manifest
    made = {name for step in manifest["steps"] for name in step["outputs"]}
    records = json.loads((report_dir / "artifacts" / "catalog.json").read_text("utf-8"))
    assert set(records) <= made
    assert all(0 <= step["own_seconds"] <= step["seconds"] and step["start_s"] >= 0
               for step in manifest["steps"])
    assert [s["start_s"] for s in manifest["steps"]] == sorted(s["start_s"] for s in manifest["steps"])
    assert not (report_dir / "steps.jsonl").exists()
    assert manifest["data"]["sha256"] and manifest["packages"]["pandas"]
    index = (report_dir / "index.html").read_text("utf-8")
    for name in names:
        assert f'href="{name}.html"' in index
        assert (report_dir / f"{name}.ipynb").exists()


def test_html_reports_are_small_offline_and_show_every_figure(report_dir):
    assert (report_dir / "plotly.min.js").stat().st_size > 1_000_000
    for html_path in sorted(report_dir.glob("0*.html")):
        html = html_path.read_text("utf-8")
        assert html_path.stat().st_size <= MAX_HTML_BYTES, html_path.name
        # plotly.js is linked once, never inlined or fetched from a CDN
        assert len(re.findall(r'<script[^>]*src="plotly.min.js"', html)) == 1, html_path.name
        assert "cdn.plot.ly" not in html and not re.search(r'src="https?://', html)
        nb = json.loads((report_dir / f"{html_path.stem}.ipynb").read_text("utf-8"))
        figures = sum(1 for c in nb["cells"] for o in c.get("outputs", [])
                      if "application/vnd.plotly.v1+json" in o.get("data", {}))
        assert figures > 0
        assert html.count("Plotly.newPlot(") == figures, html_path.name
        # no code cells and no Python tracebacks in a report
        assert "Traceback" not in html and "import custops" not in html


def test_artifacts_feed_the_next_steps(report_dir):
    import pandas as pd

    artifacts = report_dir / "artifacts"
    features = pd.read_parquet(artifacts / "features.parquet")
    segments = pd.read_parquet(artifacts / "segments.parquet")
    scores = pd.read_parquet(artifacts / "churn_scores.parquet")
    assert len(segments) == len(features) and segments["customer_id"].is_unique
    assert set(scores["customer_id"]) <= set(features["customer_id"])
    assert (artifacts / "rejects.csv").exists()
    summary = json.loads((artifacts / "profile_summary.json").read_text("utf-8"))
    assert 0 < summary["concentration"]["top_shares"]["0.2"] <= 1
    params = json.loads((artifacts / "btyd_params.json").read_text("utf-8"))
    assert params["time_unit"] == "days"


def test_segments_are_all_populated_on_the_sample(report_dir):
    import pandas as pd

    from custops import segment

    segments = pd.read_parquet(report_dir / "artifacts" / "segments.parquet")
    assert set(segments["rfm_class"].dropna()) == set(segment.RFM_CLASS_ORDER)
    assert set(segments["lifecycle_stage"].dropna()) == set(segment.STAGES)
    assert set(segments["value_tier"].dropna()) == set(segment.TIERS)
    assert set(segments["customer_class"]) == set(segment.CUSTOMER_CLASSES)
    assert segments["true_fan"].sum() > 0


def test_a_failing_run_keeps_the_previous_report(report_dir, tmp_path):
    out = tmp_path / "report"
    shutil.copytree(report_dir, out)
    before = {p.name: p.stat().st_mtime_ns for p in out.iterdir()}
    with pytest.raises(RunError, match="01_profile failed"):
        report.run_report(SAMPLE, out, notebooks=["01_profile"],
                          extra_parameters={"mapping": str(tmp_path / "missing.yaml")},
                          log=lambda line: None)
    assert {p.name: p.stat().st_mtime_ns for p in out.iterdir()} == before
    failed = tmp_path / "report.failed" / "01_profile.ipynb"
    assert failed.exists()
    assert not list(tmp_path.glob(".report.build-*"))


def test_cli_fails_loudly_with_one_line(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "custops.run.cli", "report", "--data", str(SAMPLE), "--out",
         str(tmp_path / "r"), "--notebooks", "01_profile", "-p", "mapping",
         str(tmp_path / "missing.yaml")],
        capture_output=True, text=True, check=False,
    )
    assert result.returncode == 2
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("custops report: 01_profile failed:") and "does not exist" in last
    assert not (tmp_path / "r").exists()


@pytest.mark.parametrize(("args", "message"), [
    (["-p", "budgett", "5000"], "unknown parameter 'budgett'; did you mean 'budget'?"),
    (["-p", "budget", "abc"], "parameter budget='abc': expected a number"),
    (["-p", "high_risk", "0.2"], "need 0 < medium_risk < high_risk < 1"),
    (["--as-of", "2026-13-45"], "as_of must be a date like 2025-06-30"),
    (["--lang", "en", "-p", "lang", "xx"], "lang"),
])
def test_bad_parameters_stop_before_anything_runs(tmp_path, args, message):
    result = subprocess.run(
        [sys.executable, "-m", "custops.run.cli", "report", "--data", str(SAMPLE), "--out",
         str(tmp_path / "r"), *args], capture_output=True, text=True, check=False)
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("custops report: ") and message in lines[0]
    assert not list(tmp_path.iterdir())  # nothing built, nothing run

def test_chinese_report(tmp_path):
    out = tmp_path / "zh"
    report.run_report(SAMPLE, out, lang="zh", notebooks=["01_profile", "02_segment"],
                      log=lambda line: None)
    html = (out / "02_segment.html").read_text("utf-8")
    for label in ("重要价值客户", "一般挽留客户", "新手期", "流失期", "铁杆粉丝"):
        assert label in html
    assert "Important value" not in html
    assert "价值集中度" in (out / "01_profile.html").read_text("utf-8")


def test_kernels_sleep_idle_openmp_workers_without_touching_the_callers_environment(monkeypatch):
    """The runner's kernels start with OMP_WAIT_POLICY=PASSIVE unless the user chose a policy;
    the process that runs the report keeps its own environment."""
    import os

    monkeypatch.delenv("OMP_WAIT_POLICY", raising=False)
    assert report.kernel_env()["OMP_WAIT_POLICY"] == "PASSIVE"
    assert "OMP_WAIT_POLICY" not in os.environ
    monkeypatch.setenv("OMP_WAIT_POLICY", "ACTIVE")
    assert report.kernel_env()["OMP_WAIT_POLICY"] == "ACTIVE"
    monkeypatch.delenv("OMP_WAIT_POLICY")

    import asyncio

    async def policy(manager) -> str:
        client = manager.client()  # the runner's managers are asynchronous
        client.start_channels()
        try:
            await client.wait_for_ready(timeout=60)
            seen: list[str] = []
            await client.execute_interactive(
                "import os; print(os.environ.get('OMP_WAIT_POLICY'))", timeout=60,
                output_hook=lambda msg: seen.append(msg["content"].get("text", "")))
            return "".join(seen)
        finally:
            client.stop_channels()

    manager = report._start_kernel(report.notebooks_dir())
    assert manager is not None
    try:
        assert asyncio.run(policy(manager)).strip() == "PASSIVE"
    finally:
        report._stop_kernel(manager)
    assert "OMP_WAIT_POLICY" not in os.environ


def test_04_run_alone_gets_what_the_runner_made(report_dir, tmp_path):
    """04 on its own makes segments and churn scores through the run catalogue with the run's
    parameters: exactly what 02 and 03 made under the runner, and the same plan."""
    import pandas as pd

    alone = tmp_path / "alone"
    report.run_report(SAMPLE, alone, seed=7, notebooks=["04_reach"], log=lambda line: None)
    for name in ("segments", "churn_scores", "reach_candidates", "reach_plan", "reach_control"):
        pd.testing.assert_frame_equal(pd.read_parquet(alone / "artifacts" / f"{name}.parquet"),
                                      pd.read_parquet(report_dir / "artifacts" / f"{name}.parquet"),
                                      obj=name)


def test_an_unwritable_output_folder_is_one_line_and_exit_2(tmp_path):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("x")
    result = subprocess.run(
        [sys.executable, "-m", "custops.run.cli", "report", "--data", str(SAMPLE), "--out",
         str(blocker / "report")], capture_output=True, text=True, check=False)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "cannot write the report into" in lines[0]


def test_build_folders_of_killed_runs_are_removed_by_the_next_run(tmp_path):
    stale = tmp_path / ".report.build-killed"
    (stale / "artifacts").mkdir(parents=True)
    (stale / ".custops-build-owner").write_text("999999999")  # no such process
    seen = []
    report.run_report(SAMPLE, tmp_path / "report", notebooks=["01_profile"], log=seen.append)
    assert not stale.exists() and any("left by a run that was stopped" in s for s in seen)
    assert not list(tmp_path.glob(".report.build-*"))
    assert not (tmp_path / "report" / ".custops-build-owner").exists()


def test_index_says_what_to_do_tomorrow(report_dir, tmp_path):
    import pandas as pd

    manifest = json.loads((report_dir / "manifest.json").read_text("utf-8"))
    digest = manifest["digest"]
    numbers = digest["numbers"]
    scores = pd.read_parquet(report_dir / "artifacts" / "churn_scores.parquet")
    features = pd.read_parquet(report_dir / "artifacts" / "features.parquet")
    summary = json.loads((report_dir / "artifacts" / "reach_summary.json").read_text("utf-8"))
    total = next(row for row in summary["summary"] if row["channel"] == "total")
    # the numbers are the artifacts' numbers
    assert numbers["customers"] == len(features)
    assert numbers["active_buyers"] == (scores["status"] == "active").sum()
    assert numbers["at_risk_buyers"] == scores["risk_band"].isin(["high_risk", "medium_risk"]).sum()
    assert numbers["churned_buyers"] == (scores["risk_band"] == "already_churned").sum()
    assert numbers["contacts_planned"] == total["contacts"]
    assert numbers["expected_incremental_revenue"] == pytest.approx(
        total["expected_incremental_revenue"])
    index = (report_dir / "index.html").read_text("utf-8")
    assert "What to do tomorrow" in index and "Key numbers" in index
    assert f"{numbers['customers']:,}" in index
    # every action links to an export that exists; retain, recall and the control list are there
    files = [file for _, file in digest["actions"] if file]
    assert {"churn_at_risk.csv", "churn_recall.csv", "control_list.csv"} <= set(files)
    for file in files:
        assert (report_dir / "exports" / file).exists()
        assert f'href="exports/{file}"' in index
    for name in manifest["exports"]:  # and every export is linked
        assert f'href="exports/{name}"' in index
    assert "first run in this folder" in index
    assert str(SAMPLE) not in index and "+0000" not in index  # no absolute path, no raw UTC stamp
    # the change since the previous run in the same folder
    previous = tmp_path / "out"
    previous.mkdir()
    manifest["digest"]["numbers"] = {**numbers, "customers": numbers["customers"] - 100}
    (previous / "manifest.json").write_text(json.dumps(manifest), "utf-8")
    again = report._digest(report_dir, previous, manifest, "en")
    rows = {label: change for label, _, change in again["key_numbers"]}
    assert rows["Customers"].startswith("+100 (")
    assert rows["Active buyers"] == "unchanged"
    zh = report._digest(report_dir, previous, manifest, "zh")
    assert dict((label, change) for label, _, change in zh["key_numbers"])["活跃购买客户"] == "无变化"


def _artifacts_and_lists(folder: Path) -> dict[str, object]:
    """Every artifact (frames, JSON) and contact list of a report folder; plan.xlsx is left
    out (it holds the time it was written)."""
    import pandas as pd  # noqa: PLC0415

    found: dict[str, object] = {}
    for path in sorted((folder / "artifacts").rglob("*")) + sorted((folder / "exports").glob("*")):
        name = str(path.relative_to(folder))
        if path.suffix == ".parquet":
            found[name] = pd.read_parquet(path)
        elif path.suffix == ".json":
            found[name] = json.loads(path.read_text("utf-8"))
        elif path.suffix == ".csv":
            found[name] = path.read_bytes()
    return found


def test_notebooks_run_two_at_once_give_the_report_of_one_at_a_time(report_dir, tmp_path):
    """The session's report ran 02 beside 03, and 04 beside 03 (auto: two on a machine with
    two cores); one at a time gives the same artifacts and lists, and no lock files stay."""
    import pandas as pd  # noqa: PLC0415

    manifest = json.loads((report_dir / "manifest.json").read_text("utf-8"))
    assert manifest["jobs"] == 2
    alone = tmp_path / "alone"
    one = report.run_report(SAMPLE, alone, lang="en", seed=7, jobs=1, log=lambda line: None)
    assert one["jobs"] == 1
    both, single = _artifacts_and_lists(report_dir), _artifacts_and_lists(alone)
    assert sorted(both) == sorted(single)
    for name, value in both.items():
        if isinstance(value, pd.DataFrame):
            pd.testing.assert_frame_equal(value, single[name], obj=name)
        elif name.endswith("health.json"):  # the same warnings, in the order they came
            assert sorted(map(json.dumps, value)) == sorted(map(json.dumps, single[name]))
        else:
            assert value == single[name], name
    assert not list(report_dir.rglob("*.lock")) and not list(report_dir.rglob("*.part"))


def test_a_notebook_failing_beside_another_stops_the_run_and_its_kernels(tmp_path):
    """04 fails (its channels file is missing) while 03 still runs: one failure, the
    previous report untouched, the partial run kept, no kernel left running."""
    import psutil  # noqa: PLC0415

    def kernels() -> set[int]:
        found = set()
        for process in psutil.Process().children(recursive=True):
            try:
                if "ipykernel" in " ".join(process.cmdline()):
                    found.add(process.pid)
            except psutil.Error:
                pass
        return found

    before = kernels()  # of earlier tests in this process (dashboard servers), not this run's
    out = tmp_path / "report"
    with pytest.raises(RunError, match=r"04_reach failed: .*channels file"):
        report.run_report(SAMPLE, out, jobs=2, log=lambda line: None,
                          extra_parameters={"channels_file": str(tmp_path / "none.yaml")})
    assert not out.exists()
    assert (tmp_path / "report.failed" / "04_reach.ipynb").exists()
    assert not list(tmp_path.glob(".report.build-*"))
    assert not kernels() - before


def test_a_stopped_kernel_manager_starts_no_kernel_and_leaves_no_process(monkeypatch):
    """A notebook stopped the moment it began must not get a new kernel from papermill (it
    starts one in a manager that has none), and a kernel process that outlives its shutdown
    (the shutdown failed halfway) is killed."""
    import asyncio  # noqa: PLC0415

    import psutil  # noqa: PLC0415

    manager = report._start_kernel(report.notebooks_dir())
    assert manager is not None and len(manager.pids) == 1
    (pid, _), = manager.pids

    async def failed_shutdown(*args, **kwargs):
        raise RuntimeError("shutdown failed halfway")

    monkeypatch.setattr(manager, "shutdown_kernel", failed_shutdown)
    report._stop_kernel(manager)
    assert not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    with pytest.raises(RuntimeError, match="stopping"):
        asyncio.run(manager.start_kernel(cwd=str(report.notebooks_dir())))
