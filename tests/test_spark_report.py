"""The whole report on Spark (``--engine spark``, a local session) gives the DuckDB report.

Both runs execute the four notebooks on the sample; every artifact and export is compared:
features, snapshots and segments identical, scores and everything made from them equal
within floating tolerance. Spark's event log shows the work really ran on Spark: the feature
layer read the run's validated Parquet and churn scoring ran in ``mapInPandas`` tasks.
"""

from __future__ import annotations

import json
import math
import os
import shutil
from pathlib import Path

import openpyxl
import pandas as pd
import pytest

from custops.run import cli
from custops.run.runner import run_report

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "data" / "sample"

pytestmark = [pytest.mark.spark, pytest.mark.slow]

EXACT = ("features", "segments")  # artifacts that must be identical, not just close
RTOL, ATOL = 1e-9, 1e-12


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    pytest.importorskip("pyspark")
    if shutil.which("java") is None:
        pytest.fail("Java is missing: `make test` installs it (system-deps); run it first")
    base = tmp_path_factory.mktemp("spark-report")
    events = base / "spark-events"
    events.mkdir()
    # The kernels inherit the environment: every Spark session they start logs its jobs here.
    saved = os.environ.get("PYSPARK_SUBMIT_ARGS")
    os.environ["PYSPARK_SUBMIT_ARGS"] = (
        f"--conf spark.eventLog.enabled=true --conf spark.eventLog.compress=false "
        f"--conf spark.eventLog.dir=file://{events} pyspark-shell")
    try:
        on_duckdb = run_report(SAMPLE, base / "duckdb", log=lambda line: None)
        on_spark = run_report(SAMPLE, base / "spark", log=lambda line: None,
                              extra_parameters={"engine": "spark",
                                                "spark_master": "local[2]"})
    finally:
        if saved is None:
            os.environ.pop("PYSPARK_SUBMIT_ARGS", None)
        else:
            os.environ["PYSPARK_SUBMIT_ARGS"] = saved
    return base / "duckdb", base / "spark", events, on_duckdb, on_spark


def _files(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for sub in ("artifacts", "exports")
                  for p in (folder / sub).rglob("*") if p.is_file())


def _json_close(a, b, where: str) -> list[str]:
    if isinstance(a, dict) and isinstance(b, dict):
        if set(a) != set(b):
            return [f"{where}: keys {sorted(set(a) ^ set(b))} differ"]
        return [d for k in a for d in _json_close(a[k], b[k], f"{where}.{k}")]
    if isinstance(a, list) and isinstance(b, list):
        if len(a) != len(b):
            return [f"{where}: {len(a)} items vs {len(b)}"]
        return [d for i, (x, y) in enumerate(zip(a, b, strict=True))
                for d in _json_close(x, y, f"{where}[{i}]")]
    if isinstance(a, float | int) and isinstance(b, float | int) and not isinstance(a, bool):
        if math.isnan(a) and math.isnan(b) or math.isclose(a, b, rel_tol=RTOL, abs_tol=ATOL):
            return []
    return [] if a == b else [f"{where}: {a!r} vs {b!r}"]


def _differences(name: str, a: Path, b: Path) -> list[str]:
    if name.endswith(".parquet"):
        left, right = pd.read_parquet(a), pd.read_parquet(b)
        exact = Path(name).stem.startswith(EXACT) or name.startswith("artifacts/clean/")
        try:
            pd.testing.assert_frame_equal(left, right, check_exact=exact,
                                          **({} if exact else {"rtol": RTOL, "atol": ATOL}))
        except AssertionError as exc:
            return [f"{name}: {' '.join(str(exc).split())[:300]}"]
        return []
    if name.endswith(".json"):
        left, right = json.loads(a.read_text("utf-8")), json.loads(b.read_text("utf-8"))
        if name.endswith("_exports.json"):  # the files written, by path in each build folder
            left, right = [Path(p).name for p in left], [Path(p).name for p in right]
        return _json_close(left, right, name)
    if name.endswith(".xlsx"):
        out = []
        books = openpyxl.load_workbook(a, read_only=True), openpyxl.load_workbook(b,
                                                                                   read_only=True)
        if books[0].sheetnames != books[1].sheetnames:
            return [f"{name}: sheets {books[0].sheetnames} vs {books[1].sheetnames}"]
        for sheet in books[0].sheetnames:
            rows = [list(book[sheet].iter_rows(values_only=True)) for book in books]
            out += _json_close(rows[0], rows[1], f"{name}[{sheet}]")
        return out
    return [] if a.read_bytes() == b.read_bytes() else [f"{name}: content differs"]


def test_spark_report_matches_the_duckdb_report(runs):
    on_duckdb, on_spark, _events, manifest_duckdb, manifest_spark = runs
    assert manifest_spark["parameters"]["engine"] == "spark"
    assert manifest_duckdb["parameters"].get("engine", "duckdb") == "duckdb"
    assert manifest_spark["jobs"] == 1  # one Spark session at a time, not one per notebook
    assert [n["status"] for n in manifest_spark["notebooks"]] == ["ok"] * 4
    names = _files(on_duckdb)
    assert names == _files(on_spark)
    # Every artifact of the report is compared, snapshots and exports included.
    for expected in ("artifacts/features.parquet", "artifacts/segments.parquet",
                     "artifacts/churn_scores.parquet", "artifacts/reach_plan.parquet",
                     "exports/churn_at_risk.csv"):
        assert expected in names
    assert sum(n.startswith("artifacts/features_") for n in names) >= 2
    differences = [d for name in names
                   for d in _differences(name, on_duckdb / name, on_spark / name)]
    assert differences == [], "\n".join(differences)
    scores = pd.read_parquet(on_spark / "artifacts" / "churn_scores.parquet")
    assert scores["churn_probability_supervised"].between(0, 1).all()


def test_the_heavy_steps_ran_on_spark(runs):
    _duckdb, _spark, events, _m, _ms = runs
    # One log per application: a folder of rolled files (Spark 4's default) or one file.
    applications = [entry for entry in events.iterdir() if not entry.name.startswith(".")]
    assert len(applications) >= 3, "a Spark application per notebook that builds or scores"
    logs = ["".join(p.read_text("utf-8", errors="replace")
                    for p in sorted(app.glob("events_*") if app.is_dir() else [app]))
            for app in applications]
    # The feature layer read the run's validated tables, not the raw CSVs.
    assert any("orders.parquet" in log and "artifacts/clean" in log for log in logs)
    # Scoring ran in Python tasks on the executors.
    assert any("MapInPandas" in log and "features.parquet" in log for log in logs)


def test_report_command_takes_the_engine_as_run_parameters():
    args = cli.build_parser().parse_args([
        "report", "--data", "shop", "--out", "reports", "--engine", "spark",
        "--spark-master", "spark://host:7077", "-p", "budget", "5000"])
    assert sorted(map(tuple, args.parameter)) == [
        ("budget", "5000"), ("engine", "spark"), ("spark_master", "spark://host:7077")]
    with pytest.raises(SystemExit):
        cli.build_parser().parse_args(["report", "--data", "x", "--out", "y",
                                       "--engine", "polars"])
