"""The state one notebook run shares with the next: parameters, loaded data, artifacts.

A notebook calls :func:`open_run` with its parameters and gets every artifact with
:meth:`RunContext.get` (the run catalogue, :mod:`custops.run.catalog`, says how each is made).
With a ``run_dir`` (set by the report runner) artifacts are stored in ``run_dir/artifacts/`` and
later notebooks read them back instead of recomputing; without one (a notebook opened alone in
JupyterLab) they are computed in memory from ``data_dir`` with the same parameters.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import json
import os
import tempfile
import threading
import time
import urllib.parse
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import ibis
import pandas as pd
import pyarrow.parquet as pq

from custops import aggregates, churn, io
from custops.churn import ChurnParams
from custops.errors import DataError, NotComputable, ParameterError
from custops.exports import full_contact_columns, mask_contacts
from custops.features import (
    build_feature_snapshots,
    build_features,
    customer_ids_at,
    to_date,
)
from custops.frames import read_parquet_frame
from custops.io.duckdb_checks import DUCKDB_MIN_ROWS, FEATURE_MEMORY_SHARE, memory_settings
from custops.io.personal import mask_extras
from custops.labels import LANGS, check_lang, t
from custops.rules import ReachParams
from custops.run import catalog
from custops.run import spark as on_spark
from custops.run.locks import file_lock, write_whole
from custops.run.process import no_huge_pages
from custops.sections import not_computed
from custops.segment import SegmentParams

__all__ = ["RUN_DIR_ENV", "RunContext", "StoredDataset", "open_run", "published_parameters",
           "resolve_data_dir"]

ARTIFACTS = "artifacts"
CLEAN = "clean"  # the validated tables of the run, as Parquet
DATA_QUALITY = "data_quality.json"
REJECTS = "rejects.csv"
HEALTH = "health.json"  # the run's warnings (codes and numbers), every notebook's
STEPS = "steps.jsonl"  # in the run folder: how long each step took (the runner's manifest)
RUN_DIR_ENV = "CUSTOPS_RUN_DIR"
FEATURE_TABLES = ("orders", "customers", "events")


def resolve_data_dir(data_dir: str | os.PathLike, *, must_exist: bool = True) -> Path | str:
    """``data_dir`` as an absolute path (relative paths are relative to the working folder).
    URLs (``duckdb://…``, ``postgres://…``) pass as they are."""
    if "://" in str(data_dir):
        return str(data_dir)
    path = Path(data_dir).expanduser()
    if path.exists() or not must_exist:
        return path.resolve()
    raise DataError(f"data folder {str(data_dir)!r} does not exist (looked in {Path.cwd()}); "
                    "pass --data with the folder holding orders.csv")


#: Order-level aggregates a run computes once (:meth:`RunContext.order_aggregate`).
ORDER_AGGREGATES = ("customer_months", "order_time_counts", "repeat_order_curve")


@dataclass
class RunContext:
    """Parameters of a run plus lazily loaded data and the artifact store."""

    data_dir: Path | str
    as_of: dt.date | None
    lang: str = "en"
    run_dir: Path | None = None
    seed: int = 42
    mapping: str | None = None
    tz: str = io.DEFAULT_TZ
    read_only: bool = False  # a published report (dashboards): read artifacts, never rewrite
    params: dict[str, Any] = field(default_factory=lambda: dict(catalog.DEFAULTS))
    _cache: dict[str, tuple[str, Any]] = field(default_factory=dict, repr=False)
    _dataset: Any = field(default=None, repr=False)
    _snapshots: dict[str, pd.DataFrame] = field(default_factory=dict, repr=False)
    _pending: dict[str, Future] = field(default_factory=dict, repr=False)
    _worker: ThreadPoolExecutor | None = field(default=None, repr=False)
    _scratch_exports: Path | None = field(default=None, repr=False)
    _data_lock: threading.RLock = field(default_factory=threading.RLock, repr=False)
    _health: list[dict[str, Any]] = field(default_factory=list, repr=False)
    interactive: bool = False  # JupyterLab, Voila: sections can be drawn again in a language
    _shown: list[tuple[Any, str]] = field(default_factory=list, repr=False)
    _language_listeners: list[Any] = field(default_factory=list, repr=False)
    _aggregates: dict[tuple[str, str], pd.DataFrame] = field(default_factory=dict, repr=False)
    _numbers: dict[str, Any] = field(default_factory=dict, repr=False)  # show(keep=...)
    _timing: threading.local = field(default_factory=threading.local, repr=False)

    # -- parameters ------------------------------------------------------------------------
    @property
    def segment_params(self) -> SegmentParams:
        return catalog.step_params(SegmentParams, self.params)

    @property
    def churn_params(self) -> ChurnParams:
        return catalog.step_params(ChurnParams, self.params)

    @property
    def reach_params(self) -> ReachParams:
        return catalog.step_params(ReachParams, self.params)

    def days_before(self, days: int) -> dt.date:
        """``as_of`` minus ``days``."""
        return self.as_of - dt.timedelta(days=int(days))

    # -- artifacts -------------------------------------------------------------------------
    @property
    def artifacts_dir(self) -> Path | None:
        return None if self.run_dir is None else self.run_dir / ARTIFACTS

    def get(self, name: str) -> Any:
        """Artifact ``name`` (see :data:`custops.run.catalog.ARTIFACTS`): from memory, else
        from the run folder when it was made with this run's parameters, else made by its
        step with them (and stored in the run folder unless the run is a published one)."""
        key = catalog.fingerprint(name, self.params, self.as_of)
        cached = self._cache.get(name)
        if cached is not None and cached[0] == key:
            return cached[1]
        node = catalog.artifact_node(name)
        # Another notebook of the run (the runner may execute two at once) may be making
        # the same step: the first to take its lock makes it, the others wait and read it.
        with file_lock(None if self.read_only else self.artifacts_dir, node.outputs[0]):
            return self._read_or_make(name, key, node)

    def _read_or_make(self, name: str, key: str, node: catalog.Node) -> Any:
        folder = self.artifacts_dir
        if self.is_stored(name):
            value = catalog.ARTIFACTS[name].read(folder)
            self._cache[name] = (key, value)
            return value
        made = self._timed(node)
        for output, value in made.items():
            output_key = catalog.fingerprint(output, self.params, self.as_of)
            self._cache[output] = (output_key, value)
            if folder is not None and not self.read_only:
                catalog.ARTIFACTS[output].write(value, folder)
                self._record(output, output_key)  # after the files: "stored" means whole
        return made[name]

    def _timed(self, node: catalog.Node) -> dict[str, Any]:
        """Run ``node`` and, in a run folder, append how long it took to :data:`STEPS`:
        wall seconds with the steps it asked for, ``own_seconds`` without them (what this
        step itself cost), and the CPU seconds of this process meanwhile (every thread)."""
        stack = self._timing.__dict__.setdefault("stack", [])
        started, wall, cpu = time.time(), time.perf_counter(), time.process_time()
        stack.append(0.0)
        try:
            made = node.run(self)
        finally:
            inner = stack.pop()
        seconds = time.perf_counter() - wall
        if stack:
            stack[-1] += seconds
        if self.run_dir is not None and not self.read_only:
            entry = {"outputs": list(node.outputs), "notebook": node.step,
                     "started_at": round(started, 3), "seconds": round(seconds, 3),
                     "own_seconds": round(seconds - inner, 3),
                     "cpu_seconds": round(time.process_time() - cpu, 3), "pid": os.getpid()}
            with file_lock(self.artifacts_dir, "steps"), \
                    open(self.run_dir / STEPS, "a", encoding="utf-8") as handle:
                handle.write(json.dumps(entry) + "\n")
        return made

    def is_stored(self, name: str) -> bool:
        """Whether artifact ``name`` is in the run folder, made with this run's parameters
        (:meth:`get` then reads it instead of making it)."""
        folder = self.artifacts_dir
        key = catalog.fingerprint(name, self.params, self.as_of)
        return folder is not None and self._records().get(name) == key and all(
            path.exists() for path in catalog.ARTIFACTS[name].files(folder))

    def _records(self) -> dict[str, str]:
        path = None if self.artifacts_dir is None else self.artifacts_dir / catalog.RECORD
        if path is None or not path.exists():
            return {}
        return json.loads(path.read_text(encoding="utf-8"))

    def _record(self, name: str, key: str) -> None:
        with self._data_lock, file_lock(self.artifacts_dir, "catalog"):
            records = self._records()
            records[name] = key
            text = json.dumps(records, indent=2, sort_keys=True)
            write_whole(self.artifacts_dir / catalog.RECORD,
                        lambda path: path.write_text(text, encoding="utf-8"))

    # -- health: every warning of the run, for the report's health box and the manifest ----
    def warn(self, step: str, code: str, **fields: Any) -> None:
        """Record a warning of this run (a code and the numbers its words show; words are
        made at display time, :func:`custops.labels.health_words`)."""
        entry = {"step": step, "code": code, **fields}
        with self._data_lock:
            if entry in self._health:
                return
            self._health.append(entry)
            if self.artifacts_dir is not None and not self.read_only:
                with file_lock(self.artifacts_dir, "health"):
                    path = self.artifacts_dir / HEALTH
                    stored = json.loads(path.read_text("utf-8")) if path.exists() else []
                    if entry not in stored:
                        text = json.dumps(stored + [entry], ensure_ascii=False, indent=2,
                                          default=str)
                        write_whole(path, lambda part: part.write_text(text, encoding="utf-8"))

    def health(self) -> list[dict[str, Any]]:
        """Every warning recorded so far in this run (all notebooks, with a run folder)."""
        path = None if self.artifacts_dir is None else self.artifacts_dir / HEALTH
        stored = json.loads(path.read_text("utf-8")) if path is not None and path.exists() \
            else []
        return stored + [e for e in self._health if e not in stored]

    def show(self, make, step: str = "", *, keep: str = "") -> None:
        """Display the section ``make()`` builds (``make`` reads ``ctx.lang`` when called; it
        may also display by itself and return None); a step that cannot run on this data is
        said in its place and recorded as a warning of the run. Returns nothing, so a cell
        ending with it shows the section and no ``Section(...)`` text after it.

        ``keep``: the section's numbers (``Section.data``) are kept under this name for
        :meth:`drawn_numbers` (01's ``profile_summary`` takes the page's numbers instead of
        computing them again). Only a section that was computed is kept.

        On an interactive page the section is also remembered: :meth:`page_outputs` draws
        every section again in the page's current language (the panel's language switch
        shows them in place of the page's own; no widget is made per section, so the page
        draws as fast and as reliably as before)."""
        self._draw(make, step, keep=keep)
        if self.interactive:
            self._shown.append((make, step))

    def _draw(self, make, step: str, *, record: bool = True, outputs: bool = False,
              keep: str = "") -> list[dict[str, Any]]:
        """Build the section; display it, or (``outputs``) return it as notebook outputs."""
        try:
            section = make()
        except NotComputable as exc:
            if record:
                self.warn(step, "not_computed", **exc.record())  # said in each page's language
            section = not_computed(exc, self.lang)
        else:
            if keep and section is not None:
                self._numbers[keep] = section.data
        if section is None:
            return []
        if outputs:
            return section.outputs(self.lang)
        section.display(self.lang)
        return []

    def drawn_numbers(self, names) -> dict[str, Any] | None:
        """The numbers of the sections shown with ``keep=`` one of ``names`` (name → numbers),
        or None unless every one of them was drawn on this page with the run's date."""
        if not all(name in self._numbers for name in names):
            return None
        return {name: self._numbers[name] for name in names}

    def relabel(self, lang: str) -> None:
        """Put the page into ``lang``: later sections and :meth:`page_outputs` speak it, and
        every listener (the panel's language switch) is told."""
        lang = check_lang(lang)
        if lang == self.lang:
            return
        self.lang = lang
        for listener in list(self._language_listeners):
            listener(lang)

    def page_outputs(self) -> list[dict[str, Any]]:
        """Every section shown with :meth:`show` on this page, drawn again in ``self.lang``,
        as notebook outputs (an output area takes them from a widget callback)."""
        outputs: list[dict[str, Any]] = []
        for make, step in self._shown:
            outputs += self._draw(make, step, record=False, outputs=True)
        return outputs

    def on_language(self, listener) -> None:
        """Call ``listener(lang)`` whenever :meth:`relabel` changes the page's language."""
        self._language_listeners.append(listener)

    def exports_dir(self) -> Path:
        """Where contact lists go: ``<run_dir>/exports``; for a notebook run on its own, or a
        dashboard reading a published report, a new temporary folder (never the checkout).
        A notebook run on its own prints that folder's path the first time it is made (a
        dashboard's managers download their lists from the page instead)."""
        if self.run_dir is not None and not self.read_only:
            return self.run_dir / "exports"
        if self._scratch_exports is None:
            self._scratch_exports = Path(tempfile.mkdtemp(prefix="custops-exports-"))
            if not self.read_only:
                print(t("exports.scratch", self.lang, path=self._scratch_exports), flush=True)
        return self._scratch_exports

    # -- data ------------------------------------------------------------------------------
    def dataset(self):
        """The loaded, validated data (cleaned tables are stored in the run folder once, so
        later notebooks skip parsing)."""
        with self._data_lock:  # a prefetch thread may ask at the same time: load once
            if self._dataset is None:
                self._dataset = self._load()
            return self._dataset

    def _load(self):
        clean = self._clean_dir()
        if clean is not None:
            # Validated earlier in this run: the typed tables are read back as they are, each
            # on first use (a notebook that needs only the orders never reads the events).
            return StoredDataset(clean, tz=self.tz, source=str(self.data_dir),
                                 as_of=pd.Timestamp(self.as_of) if self.as_of else None)
        preset = self.params.get("preset") or None
        source = on_spark.data_source(self.data_dir, self.params.get("spark_master", ""),
                                      engine=self.params.get("engine", "duckdb"))
        if self.artifacts_dir is not None and not self.read_only:
            clean = self.artifacts_dir / CLEAN
            clean.mkdir(parents=True, exist_ok=True)
        # With a run folder, the long tables checked in DuckDB (orders, events, touches) are
        # written by DuckDB straight into it and never come into pandas here
        # (io.CLEAN_ON_DISK_TABLES).
        min_rows = self.params.get("duckdb_min_rows", DUCKDB_MIN_ROWS)
        if min_rows is not None and int(min_rows) < 0:
            min_rows = None  # -1: no table is checked in DuckDB
        dataset = io.load_dataset(source, as_of=self.as_of, mapping=self.mapping or None,
                                  tz=self.tz, duckdb_min_rows=min_rows, clean_dir=clean,
                                  **({"preset": preset} if preset else {}))
        self._set_default_as_of(dataset)
        if clean is not None:
            frames = {name: getattr(dataset, name, None) for name in io.TABLE_NAMES
                      if dataset.parquet_path(name) is None}  # the others are written
            if frames.get("customers") is not None:
                # Personal data: the run folder keeps contact keys masked (the loaded table
                # in memory keeps them as they are); which columns the data hold in full is
                # recorded (names only) so the channel lists read just those again.
                (self.artifacts_dir / catalog.CONTACT_RECORD).write_text(json.dumps(
                    {"full": full_contact_columns(frames["customers"])}), encoding="utf-8")
                frames["customers"] = mask_contacts(frames["customers"])
            # Columns outside the contract that hold contact keys (a `mobile` in the event
            # log, a buyer e-mail in an order report) are masked the same way; DuckDB masks
            # those of the tables it writes itself (custops.io.duckdb_checks).
            for name, frame in list(frames.items()):
                if frame is not None:
                    frames[name], found = mask_extras(
                        frame, [spec.name for spec in io.TABLE_SCHEMAS[name]])
                    if found:
                        dataset.quality.setdefault(name, {})["personal_columns"] = found
            # Two files at a time: Parquet compression runs on one core per file.
            with ThreadPoolExecutor(max_workers=2) as pool:
                list(pool.map(lambda item: item[1].to_parquet(
                    clean / f"{item[0]}.parquet", index=False),
                    [(name, frame) for name, frame in frames.items() if frame is not None]))
            dataset.write_rejects(self.artifacts_dir / REJECTS)
            (self.artifacts_dir / DATA_QUALITY).write_text(json.dumps(
                {**dataset.summary(), "as_of": str(self.as_of)}, ensure_ascii=False, indent=2,
                default=str), encoding="utf-8")
        return dataset

    def _clean_dir(self) -> Path | None:
        """The folder of tables validated earlier in this run, if there is one."""
        # data_quality.json is written last: DuckDB writes clean/orders.parquet during the
        # load, so a load that failed after it leaves a file that must not count as done.
        clean = None if self.artifacts_dir is None else self.artifacts_dir / CLEAN
        done = clean is not None and (clean / "orders.parquet").exists() \
            and (self.artifacts_dir / DATA_QUALITY).exists()
        return clean if done else None

    def _set_default_as_of(self, dataset) -> None:
        if self.as_of is None:
            last = (dataset.orders["order_time"].max() if dataset.in_memory("orders")
                    else dataset.quality["orders"]["date_max"])  # orders left on disk
            self.as_of = pd.Timestamp(last).date()

    def quality(self) -> dict:
        """The data-quality summary of the original load (not of the cleaned copy)."""
        path = None if self.artifacts_dir is None else self.artifacts_dir / DATA_QUALITY
        if path is not None and path.exists():
            return json.loads(path.read_text(encoding="utf-8"))
        return self.dataset().summary()

    def stored_as_of(self) -> dt.date | None:
        """The as-of date an earlier notebook of this run fixed, if any."""
        path = None if self.artifacts_dir is None else self.artifacts_dir / DATA_QUALITY
        if path is None or not path.exists():
            return None
        as_of = json.loads(path.read_text(encoding="utf-8")).get("as_of")
        return pd.Timestamp(as_of).date() if as_of and as_of != "None" else None

    def parquet_table(self, name: str) -> Path | None:
        """The run's validated table ``name`` as a Parquet file, when this run stored one
        (DuckDB reads the columns a query needs from it; nothing is held in pandas)."""
        clean = self._clean_dir()
        path = None if clean is None else clean / f"{name}.parquet"
        return path if path is not None and path.exists() else None

    def table_source(self, name: str):
        """What a DuckDB query should read for table ``name``: the table already in memory,
        else the run's validated Parquet file (also the one the loaded dataset holds a table
        in, :meth:`custops.io.Dataset.parquet_path`), else the loaded table."""
        dataset = self._dataset
        if dataset is not None and dataset.in_memory(name):
            return getattr(dataset, name)
        path = dataset.parquet_path(name) if dataset is not None else None
        path = path if path is not None else self.parquet_table(name)
        return path if path is not None else getattr(self.dataset(), name)

    def order_aggregate(self, name: str) -> pd.DataFrame:
        """One of the order-level aggregates of the profile (:data:`ORDER_AGGREGATES`, the
        functions of :mod:`custops.aggregates` of that name) as of the run's date, computed
        once per process by DuckDB from :meth:`table_source` (the run's Parquet file when
        the orders are not in memory): 01's page and its ``profile_summary`` share them."""
        if name not in ORDER_AGGREGATES:
            raise ParameterError(f"unknown order aggregate {name!r}; known: "
                                 f"{', '.join(ORDER_AGGREGATES)}")
        with self._data_lock:
            source = self.table_source("orders")  # loads the data (and fixes as_of) if needed
            key = (name, str(self.as_of))
            if key not in self._aggregates:
                self._aggregates[key] = getattr(aggregates, name)(source, self.as_of)
            return self._aggregates[key]

    # -- feature tables --------------------------------------------------------------------
    def _feature_tables(self):
        """What the feature layer reads, and on which connection: the tables in memory when
        this notebook has read them, else the run's validated Parquet files (DuckDB reads
        only the columns it needs, and nothing is held in pandas)."""
        return self._open_feature_sources(self._feature_sources())

    def _feature_sources(self) -> tuple[str, Any]:
        """What :meth:`_feature_tables` reads, decided now and opened later (each opening
        its own connection): ``("spark", None)``, ``("dataset", dataset)`` or
        ``("tables", {name: frame or Parquet path})``."""
        if self.params.get("engine") == "spark":
            return "spark", None
        if self._clean_dir() is None:
            # Loaded first: a notebook that validates the data itself (01) leaves the long
            # tables in the run's clean folder, and must read them from there, not into pandas
            # (at 10M customers the orders and events took 14 GiB that way). A later notebook
            # of the run finds the folder and loads nothing.
            dataset = self.dataset()
            if self._clean_dir() is None:
                return "dataset", dataset
        # Each table as it is at hand: a frame this process holds, else its Parquet file.
        sources = {name: self.table_source(name) for name in FEATURE_TABLES}
        return "tables", {name: source for name, source in sources.items()
                          if source is not None}

    def _open_feature_sources(self, chosen: tuple[str, Any]):
        """The tables of :meth:`_feature_sources` and their connection (None: the feature
        layer opens its own, or reads frames)."""
        kind, sources = chosen
        if kind == "spark":
            return on_spark.feature_tables(self)
        if kind == "dataset":
            return sources, None
        if not any(isinstance(source, Path) for source in sources.values()):
            return sources, None
        con = ibis.duckdb.connect()
        try:
            # DuckDB draws a progress widget in notebooks: a static report shows its text.
            con.raw_sql("SET enable_progress_bar = false")
            for statement in memory_settings(FEATURE_MEMORY_SHARE):  # spill, not 80 % of RAM
                con.raw_sql(statement)
            return {name: con.read_parquet(source, table_name=name)
                    if isinstance(source, Path) else source
                    for name, source in sources.items()}, con
        except BaseException:
            con.disconnect()  # an unreadable file: its connection goes with the error
            raise

    def build_features(self, day: dt.date, customers: pd.Index | None = None, *,
                       sources: tuple[str, Any] | None = None) -> pd.DataFrame:
        """The per-customer feature table as of ``day``, built from the run's data (only
        the rows of ``customers`` when given; ``sources``: what to read, as
        :meth:`_feature_sources` decided it earlier). The engine's connection is closed
        before pandas reads the table."""
        data, con = self._open_feature_sources(sources or self._feature_sources())
        try:
            return build_features(data, day, con=con, customers=customers, close=True)
        finally:
            _close_own(con)

    def features_at(self, date: dt.date | str, customers: pd.Index | None = None
                    ) -> pd.DataFrame:
        """The feature table as of another date (migration, backtests, campaign snapshots):
        artifact ``features_<YYYY-MM-DD>`` (:func:`custops.run.catalog.snapshot_name`),
        built once per run.

        ``customers``: only these customers' rows (e.g. churn's seeded sample,
        :meth:`sampled_customers`), the same rows as the whole table's, in its order: taken
        from the whole table when it is at hand (in memory or stored), else built for them
        alone. Such a table is kept in memory only; the run folder stores whole tables."""
        day = to_date(date)
        if customers is not None:
            return self._features_of(day, pd.Index(customers))
        if day == self.as_of:
            return self.get("features")
        name = catalog.snapshot_name(day)
        pending = self._pending.pop(name, None)
        if pending is not None:  # started by prefetch_features: wait for it (errors surface here)
            return pending.result()
        if name in self._snapshots:
            return self._snapshots[name]
        return self._stored_or_built(day)

    def _stored_or_built(self, day: dt.date, sources: tuple[str, Any] | None = None
                         ) -> pd.DataFrame:
        """The whole feature table as of ``day`` from the run folder, else built and stored
        there, under the date's lock (another notebook of the run may be building it)."""
        name = catalog.snapshot_name(day)
        with self._snapshot_locks([day]):
            path = self._stored_snapshot(name)
            if path is not None:
                self._snapshots[name] = read_parquet_frame(path)
                return self._snapshots[name]
            frame = self.build_features(day, sources=sources)
            self._save_snapshot(name, frame)
        return frame

    @contextlib.contextmanager
    def _snapshot_locks(self, days):
        """Hold the run folder's locks of the snapshots of ``days`` (in date order, so two
        processes asking for overlapping dates never wait on each other)."""
        folder = None if self.read_only else self.artifacts_dir
        with contextlib.ExitStack() as stack:
            for day in sorted(set(days)):
                stack.enter_context(file_lock(folder, catalog.snapshot_name(day)))
            yield

    def _stored_snapshot(self, name: str) -> Path | None:
        path = None if self.artifacts_dir is None else self.artifacts_dir / f"{name}.parquet"
        return path if path is not None and path.exists() else None

    def _whole_at_hand(self, day: dt.date) -> pd.DataFrame | None:
        """The whole feature table as of ``day`` when this process holds it or is making it."""
        if day == self.as_of:
            return self.get("features")
        name = catalog.snapshot_name(day)
        pending = self._pending.pop(name, None)
        if pending is not None:
            return pending.result()
        return self._snapshots.get(name)

    def _features_of(self, day: dt.date, customers: pd.Index) -> pd.DataFrame:
        """:meth:`features_at` for ``customers`` only."""
        key = _sample_key(catalog.snapshot_name(day), customers)
        pending = self._pending.pop(key, None)
        if pending is not None:
            return pending.result()
        if key in self._snapshots:
            return self._snapshots[key]
        whole = self._whole_at_hand(day)
        if whole is not None:
            frame = _rows_of(whole, customers)
        else:
            path = self._stored_snapshot(catalog.snapshot_name(day))
            frame = (read_parquet_frame(path, customers=customers) if path is not None
                     else self.build_features(day, customers))
        self._snapshots[key] = frame
        return frame

    def customers_at(self, date: dt.date | str) -> pd.Series:
        """The ids of the feature table as of ``date``, in its order (``string``): from the
        table when it is at hand or stored, else from one distinct query (not the table)."""
        day = to_date(date)
        whole = self._whole_at_hand(day)
        if whole is not None:
            return whole["customer_id"].reset_index(drop=True)
        path = self._stored_snapshot(catalog.snapshot_name(day))
        if path is not None:
            ids = pq.read_table(path, columns=["customer_id"]).column(0)
            return pd.Series(ids.to_pandas(), name="customer_id").astype("string")
        data, con = self._feature_tables()
        try:
            return customer_ids_at(data, day, con=con)
        finally:
            _close_own(con)

    def sampled_customers(self, date: dt.date | str) -> pd.Index | None:
        """The customers churn keeps of the feature table as of ``date``
        (:func:`custops.churn.sample_customers`: a seeded sample beyond
        :data:`custops.churn.BACKTEST_CUSTOMERS`), or None when it keeps them all. An
        earlier table never has more customers than ``as_of``'s: up to that many, nothing
        is read."""
        day = to_date(date)
        if day != self.as_of and len(self.get("features")) <= churn.BACKTEST_CUSTOMERS:
            return None
        return churn.sample_customers(self.customers_at(day), self.seed)

    def _save_snapshot(self, name: str, frame: pd.DataFrame) -> None:
        self._snapshots[name] = frame
        if self.artifacts_dir is not None and not self.read_only:
            write_whole(self.artifacts_dir / f"{name}.parquet",
                        lambda path: frame.to_parquet(path, index=False))

    def prefetch_features(self, *dates: dt.date | str,
                          customers: pd.Index | None = None) -> None:
        """Start building the feature tables as of ``dates`` (of ``customers`` only, when
        given: see :meth:`features_at`) in a background thread; a later :meth:`features_at`
        for the same date and customers waits for it. DuckDB does the work and releases the
        GIL, so the snapshots are built while the notebook draws its sections. Dates already
        stored (or ``as_of``) are skipped."""
        customers = None if customers is None else pd.Index(customers)
        missing = []
        for date in dates:
            day = to_date(date)
            name = catalog.snapshot_name(day)
            key = name if customers is None else _sample_key(name, customers)
            on_disk = self._stored_snapshot(name) is not None
            if day == self.as_of or key in self._pending or key in self._snapshots \
                    or name in self._pending or name in self._snapshots \
                    or on_disk or day in missing:
                continue
            missing.append(day)
        if not missing:
            return
        if self._worker is None:
            self._worker = ThreadPoolExecutor(max_workers=1,
                                              thread_name_prefix="custops-features")
        # What to read is decided here, not when the thread runs: a later cell touching the
        # tables in memory must not make the thread load the event rows into pandas. Decided
        # before any date is registered as pending: data that cannot be read fails here, and
        # no later features_at waits for a job that never started.
        chosen = self._feature_sources()
        # Whole tables of several dates: one date at a time, the latest first. Otherwise one
        # job builds every missing date in one pass; the engine writes them all, closes, then
        # each is read, stored and handed over.
        one_by_one = customers is None and len(missing) > 1 and chosen[0] != "spark"
        source = None if one_by_one else self._open_feature_sources(chosen)
        futures = {day: Future() for day in missing}
        for day, future in futures.items():
            name = catalog.snapshot_name(day)
            self._pending[name if customers is None else _sample_key(name, customers)] = future
        if one_by_one:
            self._worker.submit(self._build_one_by_one, futures, chosen)
            return
        self._worker.submit(self._build_several, futures, source, customers)

    def _build_one_by_one(self, futures: dict[dt.date, Future], chosen: tuple[str, Any]
                          ) -> None:
        """Whole feature tables of several dates on DuckDB: one date at a time, the latest
        first, each under its own lock and handed over as soon as it is stored. Each date
        takes the single-date query (:mod:`custops.features_sql`), which costs about what
        the one pass over all dates does (measured at 1M customers: 14.7 s against 14.2 s
        for two dates), and the latest date, which 02's migration and 03's backtest both
        need, is ready in half the time; another notebook of the run building the same
        dates waits for one date, not for the pass. A date that fails hands its error to
        whoever waits for it; the other dates are still built."""
        for day in sorted(futures, reverse=True):
            try:
                frame = self._stored_or_built(day, chosen)
            except BaseException as exc:  # handed to whoever waits for this date
                futures[day].set_exception(exc)
                continue
            futures[day].set_result(frame)

    def _build_several(self, futures: dict[dt.date, Future], source,
                       customers: pd.Index | None = None) -> None:
        try:
            data, con = source
            # Whole tables go to the run folder: another notebook of the run may be building
            # some of the same dates, so their locks are held and what it stored is read.
            with self._snapshot_locks(futures if customers is None else []):
                days = list(futures)
                if customers is None:
                    for day in list(days):
                        path = self._stored_snapshot(catalog.snapshot_name(day))
                        if path is not None:
                            frame = read_parquet_frame(path)
                            self._snapshots[catalog.snapshot_name(day)] = frame
                            futures[day].set_result(frame)
                            days.remove(day)
                built = (build_feature_snapshots(data, days, con=con, customers=customers,
                                                 close=True) if days else ())
                for day, frame in built:
                    name = catalog.snapshot_name(day)
                    if customers is None:
                        self._save_snapshot(name, frame)
                    else:  # a part of the table: in memory only, never under the table's name
                        self._snapshots[_sample_key(name, customers)] = frame
                    futures[day].set_result(frame)
        except BaseException as exc:  # handed to whoever waits for a date
            for future in futures.values():
                if not future.done():
                    future.set_exception(exc)
        finally:
            _close_own(source[1])


def _sample_key(name: str, customers: pd.Index) -> str:
    """The in-memory name of snapshot ``name`` restricted to ``customers``."""
    digest = hashlib.sha1("\n".join(customers.astype(str)).encode()).hexdigest()[:16]
    return f"{name}#customers-{len(customers)}-{digest}"


def _rows_of(frame: pd.DataFrame, customers: pd.Index) -> pd.DataFrame:
    """The rows of ``customers``, in ``frame``'s order."""
    return frame[frame["customer_id"].isin(customers).to_numpy()].reset_index(drop=True)


def _close_own(con) -> None:
    """Close a DuckDB connection :meth:`RunContext._feature_tables` opened (its memory goes
    back at once instead of when the connection is collected); Spark sessions stay open."""
    if con is not None and getattr(con, "name", "") == "duckdb":
        con.disconnect()


class StoredDataset:
    """A :class:`custops.io.Dataset` validated earlier in the run and stored as Parquet:
    each table is read on first use."""

    def __init__(self, folder: Path, *, tz: str, source: str, as_of: pd.Timestamp | None):
        self.folder = folder
        self.tz, self.source, self.as_of = tz, source, as_of
        self.quality: dict[str, dict[str, Any]] = {}
        self.rejects = io.empty_rejects()
        self.warnings: list[str] = []
        self._tables: dict[str, pd.DataFrame | None] = {}
        self._lock = threading.Lock()  # a prefetch thread may ask for the same table

    def _table(self, name: str) -> pd.DataFrame | None:
        with self._lock:
            if name not in self._tables:
                path = self.folder / f"{name}.parquet"
                self._tables[name] = read_parquet_frame(path) if path.exists() else None
            return self._tables[name]

    orders = property(lambda self: self._table("orders"))
    customers = property(lambda self: self._table("customers"))
    events = property(lambda self: self._table("events"))
    touches = property(lambda self: self._table("touches"))

    def in_memory(self, name: str) -> bool:
        """Whether table ``name`` has been read (see :meth:`custops.io.Dataset.in_memory`)."""
        return name in self._tables

    def parquet_path(self, name: str) -> Path | None:
        """The stored file of table ``name``, or None when the run stored none."""
        path = self.folder / f"{name}.parquet"
        return path if path.exists() else None

    def tables(self) -> dict[str, pd.DataFrame]:
        return io.Dataset.tables(self)

    def summary(self) -> dict[str, Any]:
        return io.Dataset.summary(self)


PAGE_PARAMETERS = ("run_dir", "lang", "interactive")  # a page's own, never taken from a run


def published_parameters(run_dir: Path) -> dict[str, Any]:
    """The parameters a finished report was run with (its ``manifest.json``), or {}."""
    manifest = Path(run_dir) / "manifest.json"
    if not manifest.exists():
        return {}
    try:
        return dict(json.loads(manifest.read_text(encoding="utf-8")).get("parameters") or {})
    except (OSError, ValueError) as exc:
        raise DataError(f"{manifest}: not a readable report manifest ({exc}); run the "
                        "report again") from exc


def requested_lang() -> str | None:
    """The language a dashboard page's address asks for (``?lang=zh``), when Voila has told
    the kernel (``QUERY_STRING``); None otherwise."""
    query = urllib.parse.parse_qs(os.environ.get("QUERY_STRING") or "")
    lang = (query.get("lang") or [""])[0]
    return lang if lang in LANGS else None


def _follow_request_language(ctx: RunContext) -> None:
    """A preheated Voila kernel runs its notebook before anyone asks for the page: once the
    request comes, put the page into the language its address asks for."""
    try:
        from voila.utils import wait_for_request  # noqa: PLC0415 - only inside Voila
    except ImportError:
        return

    def follow() -> None:
        try:
            wait_for_request()
        except Exception:  # noqa: BLE001 - the page then stays in the run's language
            return
        lang = requested_lang()
        if lang is not None:
            ctx.relabel(lang)

    threading.Thread(target=follow, name="custops-page-language", daemon=True).start()


def open_run(namespace: dict[str, Any] | None = None, **parameters: Any) -> RunContext:
    """Open a run from a notebook's parameters: ``open_run(globals())`` takes every run
    parameter (:data:`custops.run.catalog.DEFAULTS`) the notebook defines or papermill
    injected; keywords override them. Empty strings mean "not given".

    ``as_of`` empty: the day of the last order in the data. ``run_dir`` empty: the
    ``CUSTOPS_RUN_DIR`` environment variable if set (dashboards: that report is read, never
    rewritten), else no artifacts on disk.

    A dashboard shows a published report as that run made it: when the report is read (not
    written), the parameters the run was given (``manifest.json``; e.g. ``-p rfm_cut
    median``) replace the notebook's own, in the context and in ``namespace``. The page
    folders and ``interactive`` stay the page's own. The page speaks the run's language
    unless its address asks for another (``?lang=zh``: the landing page's links).
    """
    no_huge_pages()  # a kernel JupyterLab started: DuckDB's memory without huge pages
    namespace = namespace if namespace is not None else {}
    known = set(catalog.DEFAULTS) | {"run_dir"}
    unknown = set(parameters) - known
    if unknown:
        raise ParameterError(f"unknown run parameter(s): {', '.join(sorted(unknown))}")
    values = {**catalog.DEFAULTS,
              **{k: v for k, v in namespace.items() if k in known}, **parameters}
    given = values.pop("run_dir", "")
    run = given or os.environ.get(RUN_DIR_ENV, "")
    read_only = not given and bool(run)
    published = published_parameters(Path(run)) if read_only else {}
    for key, value in published.items():
        if key in catalog.DEFAULTS and key not in PAGE_PARAMETERS:
            values[key] = value
            if key in namespace:
                namespace[key] = value
    asked = requested_lang()
    page_lang = asked or (published.get("lang") if read_only else None)
    if page_lang in LANGS:
        values["lang"] = page_lang
        if "lang" in namespace:
            namespace["lang"] = page_lang
    as_of = values["as_of"]
    # A published report is read from the tables it stored: its data folder need not exist
    # where the dashboard runs. The resolved path is what the artifacts' fingerprints record.
    data_dir = resolve_data_dir(values["data_dir"], must_exist=not read_only)
    values["data_dir"] = str(data_dir)
    ctx = RunContext(
        data_dir=data_dir,
        as_of=pd.Timestamp(as_of).date() if as_of else None,
        lang=check_lang(values["lang"]),
        run_dir=Path(run).resolve() if run else None,
        read_only=read_only,
        seed=int(values["seed"]),
        mapping=values["mapping"] or None,
        tz=values["tz"],
        params=values,
        interactive=bool(namespace.get("interactive", False)),
    )
    if ctx.interactive and read_only and os.environ.get("VOILA_PREHEAT") == "True":
        _follow_request_language(ctx)
    if ctx.as_of is None:
        ctx.as_of = ctx.stored_as_of()  # an earlier notebook of this run fixed it
        if ctx.as_of is None:
            ctx.dataset()  # sets as_of to the day of the last order
    return ctx
