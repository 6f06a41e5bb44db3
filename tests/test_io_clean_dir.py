"""load_dataset(clean_dir=...): DuckDB writes the long tables' clean rows straight to Parquet.

The files must be what ``DataFrame.to_parquet`` writes of the tables the pandas checks give
(read back: same rows, order, columns, dtypes), and a run reading them must give the same
features and segments as a run that held every table in pandas, without ever reading the
events into pandas.
"""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import pandas as pd
import pyarrow as pa
import pytest

from custops.io import duckdb_checks, load_dataset
from custops.io.dataset import CLEAN_ON_DISK_TABLES, StoredTable
from custops.run import context
from test_io_duckdb import AS_OF, SAMPLE, _hostile_text_tables, _write


def _sample_as_parquet(folder: Path) -> Path:
    return _write(folder, {path.stem: pd.read_csv(path, dtype=str, keep_default_na=False)
                           for path in sorted(SAMPLE.glob("*.csv"))})


def _no_event_reads(monkeypatch) -> list[str]:
    """Make reading a stored events table into pandas fail; returns the tables read."""
    read: list[str] = []
    original = StoredTable.read

    def read_guarded(self):
        if not self.loaded:
            read.append(self.path.stem)
        if self.path.stem == "events":
            raise AssertionError("the events table was read into pandas")
        return original(self)

    monkeypatch.setattr(StoredTable, "read", read_guarded)
    return read


def _assert_files_match_pandas(by_pandas, by_duckdb, clean: Path, scratch: Path) -> None:
    for table in CLEAN_ON_DISK_TABLES:
        path = by_duckdb.parquet_path(table)
        assert path == clean / f"{table}.parquet", table
        assert not by_duckdb.in_memory(table)
        expected = scratch / f"{table}_by_pandas.parquet"
        getattr(by_pandas, table).to_parquet(expected, index=False)
        pd.testing.assert_frame_equal(pd.read_parquet(expected), pd.read_parquet(path),
                                      check_exact=True, obj=table)


@pytest.mark.parametrize("tables", ["sample", "hostile"])
def test_clean_dir_files_are_what_pandas_writes(tmp_path, monkeypatch, tables):
    source = (_sample_as_parquet(tmp_path / "data") if tables == "sample"
              else _write(tmp_path / "data", _hostile_text_tables()))
    by_pandas = load_dataset(source, as_of=AS_OF, duckdb_min_rows=None)
    read = _no_event_reads(monkeypatch)
    clean = tmp_path / "clean"
    by_duckdb = load_dataset(source, as_of=AS_OF, duckdb_min_rows=0, clean_dir=clean)
    assert not by_duckdb.in_memory("orders")
    assert isinstance(by_duckdb.customers, pd.DataFrame)
    assert sorted(p.name for p in clean.iterdir()) == ["events.parquet", "orders.parquet",
                                                       "touches.parquet"]
    # counts, rejects and the summary come from the files, without reading them
    assert by_pandas.quality == by_duckdb.quality
    assert by_pandas.warnings == by_duckdb.warnings
    pd.testing.assert_frame_equal(by_pandas.rejects, by_duckdb.rejects, check_exact=True)
    assert by_pandas.summary() == by_duckdb.summary()
    assert f"events=StoredTable({str(clean / 'events.parquet')!r})" in repr(by_duckdb)
    assert read == []
    _assert_files_match_pandas(by_pandas, by_duckdb, clean, tmp_path)
    # touches are read into pandas on first use, once, as the pandas checks gave them
    pd.testing.assert_frame_equal(by_pandas.touches, by_duckdb.touches, check_exact=True)
    assert by_duckdb.in_memory("touches") and by_duckdb.touches is by_duckdb.touches
    assert read == ["touches"]


def test_rows_out_of_order_are_sorted_before_writing(tmp_path):
    """A join that hands rows back out of order: the file is written again, sorted."""
    schema = pa.Schema.from_pandas(pd.DataFrame({"x": pd.Series([], dtype="int64")}),
                                   preserve_index=False)
    with duckdb.connect() as con:
        query = "select r, r * 10 as x from (values (2), (0), (1)) t(r)"
        path = tmp_path / "t.parquet"
        assert duckdb_checks.write_clean_parquet(con, query, path, schema,
                                                 ordered=False) is None
        assert not path.exists() and not list(tmp_path.iterdir())
        assert duckdb_checks.write_clean_parquet(con, query, path, schema, ordered=True) == 3
    assert pd.read_parquet(path)["x"].tolist() == [0, 10, 20]


def test_object_extra_columns_stay_in_pandas(tmp_path):
    """An extra column whose pandas dtype is ``object`` (decimals) has no fixed Parquet type:
    that table comes back as a frame, as without clean_dir."""
    tables = _hostile_text_tables(400)
    events = pa.Table.from_pandas(tables["events"], preserve_index=False)
    decimals = pa.array([None] * len(events), type=pa.decimal128(10, 2))
    tables["events"] = events.append_column("score", decimals)
    source = _write(tmp_path / "data", tables)
    by_pandas = load_dataset(source, as_of=AS_OF, duckdb_min_rows=None)
    by_duckdb = load_dataset(source, as_of=AS_OF, duckdb_min_rows=0, clean_dir=tmp_path / "c")
    assert by_duckdb.parquet_path("events") is None
    assert by_duckdb.parquet_path("touches") is not None
    pd.testing.assert_frame_equal(by_pandas.events, by_duckdb.events, check_exact=True)


def _run(data: Path, run_dir: Path, duckdb_min_rows: int | None):
    ctx = context.open_run(data_dir=str(data), run_dir=str(run_dir), as_of=AS_OF)
    ctx.params["duckdb_min_rows"] = duckdb_min_rows
    return ctx


def test_run_with_events_on_disk_gives_the_same_features_and_segments(tmp_path, monkeypatch):
    data = _sample_as_parquet(tmp_path / "data")
    held = _run(data, tmp_path / "held", None)
    expected = {name: held.get(name) for name in ("features", "segments")}
    assert held.dataset().parquet_path("events") is None
    expected_quality = held.quality()

    read = _no_event_reads(monkeypatch)
    ctx = _run(data, tmp_path / "on_disk", 0)
    dataset = ctx.dataset()
    clean = tmp_path / "on_disk" / "artifacts" / "clean"
    assert dataset.parquet_path("events") == clean / "events.parquet"
    assert ctx.table_source("events") == clean / "events.parquet"
    for name in ("features", "segments"):
        pd.testing.assert_frame_equal(expected[name], ctx.get(name), check_exact=True, obj=name)
    assert ctx.quality() == expected_quality
    assert ctx.table_source("events") == clean / "events.parquet"
    assert "events" not in read
    # the stored tables are the held run's, so later notebooks read the same data
    for table in ("orders", "customers", "events", "touches"):
        pd.testing.assert_frame_equal(
            pd.read_parquet(tmp_path / "held" / "artifacts" / "clean" / f"{table}.parquet"),
            pd.read_parquet(clean / f"{table}.parquet"), check_exact=True, obj=table)
    # a later notebook of the run reads the events from the run folder, not into pandas
    later = context.open_run(data_dir=str(data), run_dir=str(tmp_path / "on_disk"),
                             as_of=AS_OF)
    assert later.table_source("events") == clean / "events.parquet"
    pd.testing.assert_frame_equal(expected["features"], later.build_features(later.as_of),
                                  check_exact=True)
    assert later._dataset is None  # built from the run's files, nothing loaded


def test_customers_can_go_to_clean_dir_too(tmp_path, monkeypatch):
    """``custops validate`` keeps customers out of pandas as well: the check of customer ids
    across tables reads them from the file, with the same warning."""
    tables = _hostile_text_tables()
    tables["customers"] = tables["customers"].iloc[::2]  # orders of customers not listed
    source = _write(tmp_path / "data", tables)
    by_pandas = load_dataset(source, as_of=AS_OF, duckdb_min_rows=None)
    read = _no_event_reads(monkeypatch)
    clean = tmp_path / "clean"
    by_duckdb = load_dataset(source, as_of=AS_OF, duckdb_min_rows=0, clean_dir=clean,
                             clean_tables=("customers", "events", "touches"))
    assert any("not in the customers table" in w for w in by_duckdb.warnings)
    assert by_pandas.warnings == by_duckdb.warnings
    assert by_pandas.quality == by_duckdb.quality
    assert by_pandas.summary() == by_duckdb.summary()
    assert read == []
    expected = tmp_path / "customers_by_pandas.parquet"
    by_pandas.customers.to_parquet(expected, index=False)
    pd.testing.assert_frame_equal(pd.read_parquet(expected),
                                  pd.read_parquet(by_duckdb.parquet_path("customers")),
                                  check_exact=True)
    with pytest.raises(ValueError, match="clean_tables"):
        load_dataset(source, clean_dir=clean, clean_tables=("refunds",))


def test_validate_reads_no_table_into_pandas(tmp_path, monkeypatch, capsys):
    from types import SimpleNamespace

    from custops.io import summary

    source = _write(tmp_path / "data", _hostile_text_tables())
    loaded = []

    def load_small_tables_in_duckdb(*args, **kwargs):  # the sample is under the threshold
        loaded.append(load_dataset(*args, duckdb_min_rows=0, **kwargs))
        return loaded[-1]

    monkeypatch.setattr(summary, "load_dataset", load_small_tables_in_duckdb)
    read = _no_event_reads(monkeypatch)
    args = SimpleNamespace(data=source, as_of=AS_OF, mapping=None, tz="Asia/Shanghai",
                           json=True, rejects=None)
    assert summary.cli_validate(args) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed == json.loads(json.dumps(
        load_dataset(source, as_of=AS_OF, duckdb_min_rows=None).summary(), default=str))
    assert [name for name in ("orders", "customers", "events", "touches")
            if loaded[0].parquet_path(name) is not None] == ["orders", "customers", "events",
                                                              "touches"]
    assert read == []
    assert not loaded[0].parquet_path("events").exists()  # the scratch folder is removed
