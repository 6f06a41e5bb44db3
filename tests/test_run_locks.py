"""Two notebooks of one run at once (the runner's ``jobs``): they share the run folder
through its locks, so a step is made once and every shared file is read whole."""

from __future__ import annotations

import json
import multiprocessing
import time
from pathlib import Path

import pandas as pd
import pytest

from custops.run import catalog, context, locks

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "data" / "sample"


def _make_segments(run_dir: str, log: str, out: str) -> None:
    """A second notebook's process: asks for segments, noting each time it makes them."""
    node = catalog.artifact_node("segments")
    make = node.run

    def noted(ctx):
        with open(log, "a") as handle:
            handle.write("made\n")
        time.sleep(1.0)  # long enough for the other process to ask meanwhile
        return make(ctx)

    object.__setattr__(node, "run", noted)
    ctx = context.open_run(data_dir=str(SAMPLE), run_dir=run_dir)
    ctx.get("segments").to_parquet(out)


@pytest.mark.skipif(not locks.CAN_LOCK, reason="no flock on this system")
def test_two_processes_asking_for_one_step_make_it_once(tmp_path):
    run = tmp_path / "run"
    context.open_run(data_dir=str(SAMPLE), run_dir=str(run)).get("features")
    log = tmp_path / "made.log"
    fork = multiprocessing.get_context("fork")
    children = [fork.Process(target=_make_segments,
                             args=(str(run), str(log), str(tmp_path / f"{i}.parquet")))
                for i in range(2)]
    for child in children:
        child.start()
    for child in children:
        child.join(120)
        assert child.exitcode == 0
    assert log.read_text().splitlines() == ["made"]  # one made them, the other read them
    pd.testing.assert_frame_equal(pd.read_parquet(tmp_path / "0.parquet"),
                                  pd.read_parquet(tmp_path / "1.parquet"))
    records = json.loads((run / "artifacts" / catalog.RECORD).read_text("utf-8"))
    assert {"features", "segments", "segment_params"} <= set(records)


def test_a_file_is_replaced_whole_or_not_at_all(tmp_path):
    target = tmp_path / "catalog.json"
    target.write_text("old")

    def fails(path):
        path.write_text("half")
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        locks.write_whole(target, fails)
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["catalog.json"]  # no part left
    locks.write_whole(target, lambda path: path.write_text("new"))
    assert target.read_text() == "new"
