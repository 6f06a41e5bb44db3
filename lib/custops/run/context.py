"""The state one notebook run shares with the next: parameters, loaded data, artifacts.

A notebook calls :func:`open_run` with its parameters. With a ``run_dir`` (set by the report
runner) every step writes its artifacts to ``run_dir/artifacts/`` and later notebooks read them
back instead of recomputing; without one (a notebook opened alone in JupyterLab) everything is
computed in memory from ``data_dir``.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from custops.errors import DataError
from custops.labels import check_lang

ARTIFACTS = "artifacts"
CLEAN = "clean"
TABLES = ("orders", "customers", "events", "touches")
RUN_DIR_ENV = "CUSTOPS_RUN_DIR"


def repo_root() -> Path:
    """The checkout this package lives in (``lib/custops`` → repository root)."""
    return Path(__file__).resolve().parents[2]


def resolve_data_dir(data_dir: str | os.PathLike) -> Path | str:
    """Find ``data_dir`` as given, or relative to the repository root (notebooks run from
    ``notebooks/``, the CLI from anywhere). URLs (``duckdb://…``, ``postgres://…``) pass as
    they are."""
    if "://" in str(data_dir):
        return str(data_dir)
    path = Path(data_dir).expanduser()
    if path.exists():
        return path.resolve()
    candidate = repo_root() / path
    if candidate.exists():
        return candidate.resolve()
    raise DataError(f"data folder {str(data_dir)!r} does not exist (looked in {Path.cwd()} and "
                    f"{repo_root()}); pass --data with the folder holding orders.csv")


@dataclass
class RunContext:
    """Parameters of a run plus lazily loaded data and the artifact store."""

    data_dir: Path | str
    as_of: dt.date | None
    lang: str = "en"
    run_dir: Path | None = None
    seed: int = 42
    mapping: str | None = None
    tz: str = "Asia/Shanghai"
    read_only: bool = False  # a published report (dashboards): read artifacts, never rewrite
    _cache: dict[str, Any] = field(default_factory=dict, repr=False)
    _pending: dict[str, Future] = field(default_factory=dict, repr=False)
    _worker: ThreadPoolExecutor | None = field(default=None, repr=False)
    _data_lock: threading.RLock = field(default_factory=threading.RLock, repr=False)

    # -- artifacts -------------------------------------------------------------------------
    @property
    def artifacts_dir(self) -> Path | None:
        return None if self.run_dir is None else self.run_dir / ARTIFACTS

    def save(self, name: str, obj: Any) -> Path | None:
        """Keep an artifact in memory and, with a run folder, on disk (DataFrame → Parquet,
        dict/list → JSON)."""
        self._cache[name] = obj
        if self.artifacts_dir is None or self.read_only:
            return None
        self.artifacts_dir.mkdir(parents=True, exist_ok=True)
        if isinstance(obj, pd.DataFrame):
            path = self.artifacts_dir / f"{name}.parquet"
            obj.to_parquet(path, index=False)
        else:
            path = self.artifacts_dir / f"{name}.json"
            path.write_text(json.dumps(obj, ensure_ascii=False, indent=2, default=str),
                            encoding="utf-8")
        return path

    def published(self, name: str) -> Any | None:
        """Artifact ``name`` of the published report a dashboard shows (a read-only run), else
        None: the notebook then computes it."""
        return self.load(name) if self.read_only else None

    def load(self, name: str) -> Any | None:
        """An artifact saved earlier in this run (memory, then disk), or None."""
        if name in self._cache:
            return self._cache[name]
        if self.artifacts_dir is None:
            return None
        parquet, js = self.artifacts_dir / f"{name}.parquet", self.artifacts_dir / f"{name}.json"
        if parquet.exists():
            self._cache[name] = pd.read_parquet(parquet)
        elif js.exists():
            self._cache[name] = json.loads(js.read_text(encoding="utf-8"))
        else:
            return None
        return self._cache[name]

    # -- data ------------------------------------------------------------------------------
    def dataset(self):
        """The loaded, validated data (cleaned tables are stored in the run folder once, so
        later notebooks skip parsing)."""
        with self._data_lock:  # a prefetch thread may ask at the same time: load once
            return self._dataset()

    def _dataset(self):
        if "dataset" in self._cache:
            return self._cache["dataset"]
        from custops import io as data_module

        clean = self._clean_dir()
        if clean is not None:
            # Validated earlier in this run: the typed tables are read back as they are, each
            # on first use (03 needs only the orders; 18M event rows cost seconds and GBs).
            dataset = StoredDataset(clean, tz=self.tz, source=str(self.data_dir),
                                    as_of=pd.Timestamp(self.as_of) if self.as_of else None)
        else:
            dataset = data_module.load_dataset(
                self.data_dir, as_of=self.as_of, mapping=self.mapping or None, tz=self.tz
            )
            self._set_default_as_of(dataset)
            clean = None if self.artifacts_dir is None else self.artifacts_dir / CLEAN
            if clean is not None and not self.read_only:
                clean.mkdir(parents=True, exist_ok=True)
                frames = {name: getattr(dataset, name, None) for name in TABLES}
                # Two files at a time: Parquet compression runs on one core per file.
                with ThreadPoolExecutor(max_workers=2) as pool:
                    list(pool.map(lambda item: item[1].to_parquet(
                        clean / f"{item[0]}.parquet", index=False),
                        [(name, frame) for name, frame in frames.items() if frame is not None]))
                dataset.write_rejects(self.artifacts_dir / "rejects.csv")
                self.save("data_quality", {**dataset.summary(), "as_of": str(self.as_of)})
        self._set_default_as_of(dataset)
        self._cache["dataset"] = dataset
        return dataset

    def _clean_dir(self) -> Path | None:
        """The folder of tables validated earlier in this run, if there is one."""
        clean = None if self.artifacts_dir is None else self.artifacts_dir / CLEAN
        return clean if clean is not None and (clean / "orders.parquet").exists() else None

    def parquet_table(self, name: str) -> Path | None:
        """The run's validated table ``name`` as a Parquet file, when this run stored one
        (DuckDB reads the columns a query needs from it; nothing is held in pandas)."""
        clean = self._clean_dir()
        path = None if clean is None else clean / f"{name}.parquet"
        return path if path is not None and path.exists() else None

    def table_source(self, name: str):
        """What a DuckDB query should read for table ``name``: the table already in memory,
        else the run's validated Parquet file, else the loaded table."""
        dataset = self._cache.get("dataset")
        in_memory = dataset is not None and (not isinstance(dataset, StoredDataset)
                                             or name in dataset._tables)
        path = None if in_memory else self.parquet_table(name)
        return path if path is not None else getattr(self.dataset(), name)

    def _feature_tables(self):
        """What the feature layer reads, and on which connection: the tables in memory when
        this notebook has read them, else the run's validated Parquet files (DuckDB reads
        only the columns it needs, and nothing is held in pandas)."""
        clean = self._clean_dir()
        dataset = self._cache.get("dataset")
        in_memory = dataset is not None and (
            not isinstance(dataset, StoredDataset) or dataset.loaded())
        if clean is None or in_memory:
            return self.dataset(), None
        import ibis

        con = ibis.duckdb.connect()
        paths = {name: self.parquet_table(name) for name in ("orders", "customers", "events")}
        return {name: con.read_parquet(path, table_name=name)
                for name, path in paths.items() if path is not None}, con

    def _set_default_as_of(self, dataset) -> None:
        if self.as_of is None:
            self.as_of = pd.Timestamp(dataset.orders["order_time"].max()).date()

    def quality(self) -> dict:
        """The data-quality summary of the original load (not of the cleaned copy)."""
        stored = self.load("data_quality")
        return stored if stored is not None else self.dataset().summary()

    def features(self) -> pd.DataFrame:
        """The per-customer feature table as of ``as_of`` (artifact ``features``)."""
        stored = self.load("features")
        if stored is not None:
            return stored
        return self._build_and_save(self.as_of, "features")


    def features_at(self, date: dt.date | str) -> pd.DataFrame:
        """The feature table as of another date (migration, backtests, campaign snapshots).

        Stored as artifact ``features_<YYYY-MM-DD>``: 02 and 03 both need as_of − 90 days,
        and at a million customers each snapshot costs seconds.
        """
        from custops.features import to_date

        day = to_date(date)
        if day == self.as_of:
            return self.features()
        name = _snapshot_name(day)
        pending = self._pending.pop(name, None)
        if pending is not None:  # started by prefetch_features: wait for it (errors surface here)
            return pending.result()
        stored = self.load(name)
        if stored is None:
            stored = self._build_and_save(day, name)
        return stored

    def _build_and_save(self, day: dt.date, name: str) -> pd.DataFrame:
        from custops.features import build_features

        data, con = self._feature_tables()
        frame = build_features(data, day, con=con)
        self.save(name, frame)
        return frame

    def prefetch_features(self, *dates: dt.date | str) -> None:
        """Start building the feature tables as of ``dates`` in a background thread; a later
        :meth:`features_at` for the same date waits for it. DuckDB does the work and releases
        the GIL, so at a million customers the ~10 s a snapshot costs run while the notebook
        draws its sections. Dates already stored (or ``as_of``) are skipped."""
        from custops.features import to_date

        missing = []
        for date in dates:
            day = to_date(date)
            name = _snapshot_name(day)
            on_disk = self.artifacts_dir is not None and (
                self.artifacts_dir / f"{name}.parquet").exists()
            if day == self.as_of or name in self._pending or name in self._cache or on_disk \
                    or day in missing:
                continue
            missing.append(day)
        if not missing:
            return
        if self._worker is None:
            self._worker = ThreadPoolExecutor(max_workers=1,
                                              thread_name_prefix="custops-features")
        # What to read is decided here, not when the thread runs: a later cell touching the
        # tables in memory must not make the thread load 18M event rows into pandas.
        # One job builds every missing date in one pass (build_feature_snapshots), each stored
        # and handed over as soon as it is ready.
        futures = {day: Future() for day in missing}
        for day, future in futures.items():
            self._pending[_snapshot_name(day)] = future
        self._worker.submit(self._build_several, futures, self._feature_tables())

    def _build_several(self, futures: dict[dt.date, Future], source) -> None:
        from custops.features import build_feature_snapshots

        try:
            data, con = source
            for day, frame in build_feature_snapshots(data, list(futures), con=con):
                self.save(_snapshot_name(day), frame)
                futures[day].set_result(frame)
        except BaseException as exc:  # handed to whoever waits for a date
            for future in futures.values():
                if not future.done():
                    future.set_exception(exc)

    def exports_dir(self) -> Path:
        """Where contact lists go: ``<run_dir>/exports``; for a notebook run on its own, or a
        dashboard reading a published report, a scratch folder under ``reports/``."""
        if self.run_dir is not None and not self.read_only:
            return self.run_dir / "exports"
        return repo_root() / "reports" / "scratch-exports"

    def days_before(self, days: int) -> dt.date:
        """``as_of`` minus ``days``."""
        return self.as_of - dt.timedelta(days=int(days))


def _snapshot_name(day: dt.date) -> str:
    """The artifact holding the feature table as of ``day`` (other than ``as_of``)."""
    return f"features_{day:%Y-%m-%d}"


class StoredDataset:
    """A :class:`custops.io.dataset.Dataset` validated earlier in the run and stored as Parquet:
    each table is read on first use."""

    def __init__(self, folder: Path, *, tz: str, source: str, as_of: pd.Timestamp | None):
        from custops.io import empty_rejects

        self.folder = folder
        self.tz, self.source, self.as_of = tz, source, as_of
        self.quality: dict[str, dict[str, Any]] = {}
        self.rejects = empty_rejects()
        self.warnings: list[str] = []
        self._tables: dict[str, pd.DataFrame | None] = {}
        self._lock = threading.Lock()  # a prefetch thread may ask for the same table

    def _table(self, name: str) -> pd.DataFrame | None:
        with self._lock:
            if name not in self._tables:
                path = self.folder / f"{name}.parquet"
                self._tables[name] = pd.read_parquet(path) if path.exists() else None
            return self._tables[name]

    orders = property(lambda self: self._table("orders"))
    customers = property(lambda self: self._table("customers"))
    events = property(lambda self: self._table("events"))
    touches = property(lambda self: self._table("touches"))

    def loaded(self) -> bool:
        """Whether any table the feature layer reads is already in memory."""
        return any(name in self._tables for name in ("orders", "customers", "events"))

    def tables(self) -> dict[str, pd.DataFrame]:
        from custops.io import Dataset

        return Dataset.tables(self)

    def summary(self) -> dict[str, Any]:
        from custops.io import Dataset

        return Dataset.summary(self)


PAGE_PARAMETERS = ("data_dir", "run_dir", "lang", "interactive")  # never taken from a run


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


def open_run(
    data_dir: str = "data/sample",
    as_of: str = "",
    lang: str = "en",
    run_dir: str = "",
    seed: int = 42,
    mapping: str = "",
    tz: str = "Asia/Shanghai",
    namespace: dict[str, Any] | None = None,
) -> RunContext:
    """Open a run from notebook parameters (empty strings mean "not given").

    ``as_of`` empty: the day of the last order in the data. ``run_dir`` empty: the
    ``CUSTOPS_RUN_DIR`` environment variable if set (dashboards: that report is read, never
    rewritten), else no artifacts on disk.

    A dashboard shows a published report as that run made it: when the report is read (not
    written), the parameters the run was given (``manifest.json``; e.g. ``-p rfm_cut
    median``) replace the notebook's defaults in ``namespace`` (pass ``globals()``) and the
    run's seed is used. The page language, folders and ``interactive`` stay the page's own.
    """
    run = run_dir or os.environ.get(RUN_DIR_ENV, "")
    read_only = not run_dir and bool(run)
    published = published_parameters(Path(run)) if read_only else {}
    if namespace is not None:
        for key, value in published.items():
            if key in namespace and key not in PAGE_PARAMETERS:
                namespace[key] = value
    # The run's own seed, time zone, mapping and snapshot date (they matter when a table
    # has to be read again).
    seed = published.get("seed", seed)
    tz = published.get("tz", tz)
    mapping = published.get("mapping", mapping)
    as_of = as_of or published.get("as_of") or ""
    as_of_date = pd.Timestamp(as_of).date() if as_of else None
    ctx = RunContext(
        data_dir=resolve_data_dir(data_dir),
        as_of=as_of_date,
        lang=check_lang(lang),
        run_dir=Path(run).resolve() if run else None,
        read_only=read_only,
        seed=int(seed),
        mapping=mapping or None,
        tz=tz,
    )
    if ctx.as_of is None:
        quality = ctx.load("data_quality")  # an earlier notebook of this run fixed it
        if quality and quality.get("as_of"):
            ctx.as_of = pd.Timestamp(quality["as_of"]).date()
        else:
            ctx.dataset()  # sets as_of to the day of the last order
    return ctx
