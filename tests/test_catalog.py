"""The run catalogue: every artifact declared once, fingerprints, and load-or-make."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from custops import aggregates, segment
from custops.errors import ParameterError
from custops.run import catalog, context

SAMPLE = Path(__file__).resolve().parents[1] / "data" / "sample"


def test_every_artifact_is_made_by_exactly_one_node_and_the_graph_has_no_cycle():
    made = [name for node in catalog.NODES for name in node.outputs]
    assert sorted(made) == sorted(catalog.ARTIFACTS) and len(made) == len(set(made))
    order = []  # a node comes after the nodes it reads from
    pending = list(catalog.NODES)
    while pending:
        ready = [n for n in pending if all(i in order for i in n.inputs)]
        assert ready, f"cycle among {[n.outputs for n in pending]}"
        for node in ready:
            order += list(node.outputs)
            pending.remove(node)
    for node in catalog.NODES:
        assert set(node.params) <= set(catalog.DEFAULTS), node.outputs


def test_notebook_parameter_defaults_are_the_catalogues():
    """Each notebook's parameters cell holds literals (papermill); they must equal the run
    parameters' defaults, or a notebook run alone and the runner would disagree."""
    for path in sorted((Path(__file__).resolve().parents[1] / "notebooks").glob("0*.ipynb")):
        cell = next(c for c in json.loads(path.read_text("utf-8"))["cells"]
                    if "parameters" in c.get("metadata", {}).get("tags", []))
        namespace: dict = {}
        exec("".join(cell["source"]), namespace)  # literals only (checked in test_project)
        for name, value in namespace.items():
            if name in catalog.DEFAULTS and name not in ("data_dir",):
                assert value == catalog.DEFAULTS[name], (path.name, name)


def _fingerprints(**changes) -> dict[str, str]:
    params = {**catalog.DEFAULTS, **changes}
    return {name: catalog.fingerprint(name, params, "2026-09-30") for name in catalog.ARTIFACTS}


@pytest.mark.parametrize(("change", "changed"), [
    ({"rfm_cut": "median"}, {"segments", "segment_params", "churn_scores", "btyd_params",
                             "churn_exports", "reach_inputs", "reach_plan", "reach_exports"}),
    ({"horizon_days": 60}, {"churn_backtest", "churn_scores", "btyd_params", "churn_exports",
                            "reach_inputs", "reach_plan", "reach_exports"}),
    ({"budget": 5000.0}, {"reach_plan", "reach_exports"}),
    ({"max_touches_7d": 3}, {"reach_inputs", "reach_plan", "reach_exports"}),
    ({"lang": "zh"}, {"churn_exports", "reach_exports"}),
    ({"tz": "UTC"}, set(catalog.ARTIFACTS)),
])
def test_a_parameter_changes_exactly_the_artifacts_that_depend_on_it(change, changed):
    before, after = _fingerprints(), _fingerprints(**change)
    assert {name for name in before if before[name] != after[name]} == changed


def _wrap_segmentation(monkeypatch, before=lambda: None) -> list[int]:
    """Count the calls of ``segment.segment_customers``; ``before`` runs ahead of each."""
    calls: list[int] = []
    real = segment.segment_customers

    def wrapped(*args, **kwargs):
        calls.append(1)
        before()
        return real(*args, **kwargs)

    monkeypatch.setattr(segment, "segment_customers", wrapped)
    return calls


def test_an_artifact_is_made_once_stored_and_read_back_with_the_same_parameters(
        tmp_path, monkeypatch):
    calls = _wrap_segmentation(monkeypatch)
    run = tmp_path / "run"
    first = context.open_run(data_dir=str(SAMPLE), run_dir=str(run), n_clusters=3)
    segments = first.get("segments")
    assert first.get("segments") is segments and len(calls) == 1  # memory
    assert (run / "artifacts" / "segments.parquet").exists()
    assert first.get("segment_params")["rfm_cut"] == "mean"  # made by the same node
    assert len(calls) == 1

    second = context.open_run(data_dir=str(SAMPLE), run_dir=str(run), n_clusters=3)
    # from the run folder (text columns come back from Parquet as pandas strings)
    pd.testing.assert_frame_equal(second.get("segments"), segments, check_dtype=False)
    assert len(calls) == 1

    other = context.open_run(data_dir=str(SAMPLE), run_dir=str(run), n_clusters=3,
                             rfm_cut="median")
    remade = other.get("segments")  # another rfm_cut: made again, and the record follows it
    assert len(calls) == 2 and not remade["rfm_class"].equals(segments["rfm_class"])
    records = json.loads((run / "artifacts" / catalog.RECORD).read_text("utf-8"))
    assert records["segments"] == catalog.fingerprint("segments", other.params, other.as_of)
    assert set(remade["cluster"].dropna().unique()) == {0, 1, 2}


def test_each_step_made_in_a_run_folder_says_how_long_it_took(tmp_path, monkeypatch):
    """Segments ask for the feature table: both are timed, the segments' own seconds leave
    out the features they waited for; a step read back from the folder is not timed."""
    import time  # noqa: PLC0415

    _wrap_segmentation(monkeypatch, before=lambda: time.sleep(0.5))
    run = tmp_path / "run"
    context.open_run(data_dir=str(SAMPLE), run_dir=str(run), n_clusters=3).get("segments")
    lines = (run / context.STEPS).read_text("utf-8").splitlines()
    steps = {tuple(entry["outputs"]): entry for entry in map(json.loads, lines)}
    assert list(steps) == [("features",), ("segments", "segment_params")]
    features, segments = steps[("features",)], steps[("segments", "segment_params")]
    assert features["notebook"] == "01_profile" and segments["notebook"] == "02_segment"
    assert features["own_seconds"] == features["seconds"] > 0
    assert segments["seconds"] >= features["seconds"] + 0.5
    assert segments["own_seconds"] == pytest.approx(segments["seconds"] - features["seconds"],
                                                    abs=0.002)
    assert segments["own_seconds"] >= 0.5 and segments["cpu_seconds"] > 0
    assert segments["started_at"] <= features["started_at"]

    context.open_run(data_dir=str(SAMPLE), run_dir=str(run), n_clusters=3).get("segments")
    assert (run / context.STEPS).read_text("utf-8").splitlines() == lines  # read, not made


def test_without_a_run_folder_nothing_is_written(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    ctx = context.open_run(data_dir=str(SAMPLE))
    ctx.get("segments")
    assert ctx.artifacts_dir is None and not list(tmp_path.iterdir())


def test_open_run_takes_the_notebooks_parameters_and_refuses_unknown_ones():
    ctx = context.open_run({"rfm_cut": "median", "budget": 10.0, "interactive": False,
                            "unrelated": 1}, data_dir=str(SAMPLE), as_of="2026-06-30")
    assert ctx.segment_params.rfm_cut == "median" and ctx.reach_params.budget == 10.0
    assert str(ctx.as_of) == "2026-06-30"
    with pytest.raises(ParameterError, match="budgett"):
        context.open_run(data_dir=str(SAMPLE), budgett=5)


def test_duckdb_min_rows_is_a_run_parameter_checked_before_the_run():
    """The size from which Parquet tables are checked in DuckDB is a run parameter of every
    notebook (the parameters cells hold it, same default); -1 turns it off, below is refused."""
    assert catalog.DEFAULTS["duckdb_min_rows"] == 1_000_000
    assert catalog.check_parameters({"duckdb_min_rows": "0"}) == {"duckdb_min_rows": 0}
    assert catalog.check_parameters({"duckdb_min_rows": "-1"}) == {"duckdb_min_rows": -1}
    with pytest.raises(ParameterError, match="duckdb_min_rows"):
        catalog.check_parameters({"duckdb_min_rows": "-5"})
    for path in sorted((Path(__file__).resolve().parents[1] / "notebooks").glob("0*.ipynb")):
        cell = next(c for c in json.loads(path.read_text("utf-8"))["cells"]
                    if "parameters" in c.get("metadata", {}).get("tags", []))
        assert "duckdb_min_rows" in "".join(cell["source"]), path.name


def test_order_aggregates_are_computed_once_for_the_page_and_its_summary(monkeypatch):
    """01's page and its profile_summary use the same customer months, order times and
    repeat curve: computed once per run process, equal to the functions called directly."""
    calls: list[str] = []
    for name in context.ORDER_AGGREGATES:
        real = getattr(aggregates, name)

        def counted(*args, _real=real, _name=name, **kwargs):
            calls.append(_name)
            return _real(*args, **kwargs)

        monkeypatch.setattr(aggregates, name, counted)
    ctx = context.open_run(data_dir=str(SAMPLE))
    months = ctx.order_aggregate("customer_months")
    ctx.get("profile_summary")
    assert ctx.order_aggregate("customer_months") is months
    assert sorted(calls) == sorted(context.ORDER_AGGREGATES)
    orders = ctx.dataset().orders
    pd.testing.assert_frame_equal(months, aggregates.customer_months(orders, ctx.as_of))
    with pytest.raises(ParameterError, match="unknown order aggregate"):
        ctx.order_aggregate("customer_weeks")


def test_churn_steps_beyond_the_sample_size_build_snapshots_for_the_sample_only(
        tmp_path, monkeypatch):
    """Beyond churn.BACKTEST_CUSTOMERS (here 1,500 of the sample's customers) the backtest and
    the scores' training snapshot are built for the seeded sample alone: the backtest and the
    scores are those of the whole snapshots sampled afterwards, and no whole snapshot is
    built or stored on the way."""
    from custops import churn

    monkeypatch.setattr(churn, "BACKTEST_CUSTOMERS", 1500)
    run = tmp_path / "run"
    ctx = context.open_run(data_dir=str(SAMPLE), run_dir=str(run))
    feats = ctx.get("features")
    got = ctx.get("churn_backtest")
    scores = ctx.get("churn_scores")
    assert sorted(p.name for p in (run / "artifacts").glob("features_*.parquet")) == []
    assert got.sample == {"customers": 1500, "of": len(feats)}
    whole = context.open_run(data_dir=str(SAMPLE))
    test_day, train_day = catalog._churn_dates(whole)
    expected = churn.backtest(whole.features_at(train_day), whole.features_at(test_day),
                              whole.get("features"), whole.churn_params, seed=whole.seed,
                              dates=got.dates)
    assert json.dumps(got.to_dict(), sort_keys=True, default=str) == json.dumps(
        expected.to_dict(), sort_keys=True, default=str)
    expected_scores, _ = churn.score_customers(
        whole.features_at(test_day), whole.get("features"), whole.get("segments"),
        expected.winner, whole.churn_params, seed=whole.seed, btyd_model=expected.btyd_model)
    pd.testing.assert_frame_equal(scores.reset_index(drop=True),
                                  expected_scores.reset_index(drop=True))
