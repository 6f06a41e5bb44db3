"""The report runner: execute the notebooks with papermill into a report folder, safely.

A run builds everything in a temporary folder next to the output folder and swaps it in only
when every notebook succeeded, so a scheduled run that fails never clobbers the last good
report. The report folder holds the executed notebooks, one HTML page per notebook (no code
cells; plotly.js once, as a file beside them, so the pages open offline), ``index.html``,
``artifacts/`` and ``manifest.json``.
"""

from __future__ import annotations

import asyncio
import hashlib
import html
import json
import os
import platform
import re
import shutil
import tempfile
import threading
import time
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from importlib import metadata
from pathlib import Path
from typing import Any

import nbformat
import pandas as pd
import papermill
import psutil
import pyarrow.parquet as pq
from jupyter_client.manager import AsyncKernelManager
from nbconvert import HTMLExporter

from custops import kernel_ports
from custops.errors import ParameterError, RunError
from custops.exports import PRIVATE_FOLDER_MODE, holds_personal_data
from custops.io import DEFAULT_TZ
from custops.kernel_logging import kernel_arguments
from custops.labels import LABELS, health_words, t, zone_name
from custops.plots import write_plotlyjs
from custops.run import catalog, digest
from custops.run.context import ARTIFACTS, STEPS, resolve_data_dir
from custops.run.locks import CAN_LOCK, LOCKS

__all__ = ["KERNEL", "NOTEBOOKS", "available_notebooks", "cli_report", "health_box",
           "data_fingerprint", "export_html", "kernel_env", "notebook_title",
           "notebooks_dir", "package_versions", "relative_paths", "run_report"]

NOTEBOOKS = ("01_profile", "02_segment", "03_churn", "04_reach")
PACKAGES = ("custops", "pandas", "numpy", "duckdb", "ibis-framework", "plotly", "papermill",
            "nbconvert", "scikit-learn", "scipy", "pyarrow", "ipywidgets", "voila")
KERNEL = "python3"
OWNER_FILE = ".custops-build-owner"  # the pid of the run building a folder
PACKAGE_NOTEBOOKS = (Path(__file__).resolve().parents[1] / "notebooks").resolve()
# Kernels get the runner's environment plus these (unless the user set them; the runner's own
# process is left as it is). Idle OpenMP workers (scikit-learn's boosting) sleep instead of
# spinning: on a shared 2-core machine a spinning worker waiting for a busy core made a
# 300k-row churn fit take 51 s instead of 16 s, with identical predictions.
KERNEL_ENV = {"OMP_WAIT_POLICY": "PASSIVE"}
# What every notebook imports first: loaded while the previous notebook runs.
# The model modules too: the step modules load them only when they fit (a dashboard kernel
# never does), and a report's kernel will.
WARM_IMPORTS = ("import numpy, pandas, pyarrow.parquet, duckdb, ibis, plotly.graph_objects, "
                "sklearn.ensemble, sklearn.cluster, scipy.optimize, scipy.sparse, scipy.stats\n"
                "from custops import churn, features, plots, profile, reach, segment\n"
                "from custops.models import btyd, classifier, gamma_gamma, uplift\n"
                "from custops.app import panels\nfrom custops.run import context")
# Online resources nbconvert's lab template links (require.js, MathJax): offline they only
# produce failed requests, so they are removed.
_ONLINE_SCRIPT = re.compile(r'<script[^>]*\ssrc="https?://[^"]*"[^>]*>\s*</script>\s*', re.I)


def notebooks_dir() -> Path:
    """Where the notebooks live: inside the installed package (``CUSTOPS_NOTEBOOKS``
    overrides it)."""
    return Path(os.environ.get("CUSTOPS_NOTEBOOKS", PACKAGE_NOTEBOOKS))


def notebook_title(name: str, lang: str = "en") -> str:
    """A notebook's title as users read it (labels ``notebook.<name>``)."""

    return t(f"notebook.{name}", lang) if f"notebook.{name}" in LABELS else name


def available_notebooks() -> list[str]:
    """The notebooks of NOTEBOOKS that exist, in order."""
    folder = notebooks_dir()
    return [name for name in NOTEBOOKS if (folder / f"{name}.ipynb").exists()]


def data_fingerprint(data_dir: Path | str) -> dict[str, Any]:
    """Names, sizes and SHA-256 of the input files (what exactly a report was made from)."""
    if isinstance(data_dir, str):  # a database URL: nothing on disk to fingerprint
        return {"sha256": None, "source": data_dir.split("@")[-1], "files": []}
    files = [data_dir] if data_dir.is_file() else sorted(
        p for p in data_dir.iterdir() if p.is_file()
    )
    entries, overall = [], hashlib.sha256()
    for path in files:
        digest = hashlib.sha256()
        with path.open("rb") as handle:
            for chunk in iter(lambda: handle.read(1 << 20), b""):
                digest.update(chunk)
        entries.append({"file": path.name, "bytes": path.stat().st_size,
                        "sha256": digest.hexdigest()})
        overall.update(f"{path.name}:{digest.hexdigest()}".encode())
    return {"sha256": overall.hexdigest(), "files": entries}


def package_versions() -> dict[str, str]:
    versions = {"python": platform.python_version()}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions


def export_html(notebook_path: Path, html_path: Path) -> int:
    """Export an executed notebook to HTML without code cells; returns the file size."""

    exporter = HTMLExporter(template_name="lab")
    exporter.exclude_input = True
    exporter.exclude_input_prompt = True
    exporter.exclude_output_prompt = True
    nb = nbformat.read(notebook_path, as_version=4)
    # Widget state would add a second copy of the JS libraries and cannot render offline.
    nb.metadata.pop("widgets", None)
    for cell in nb.cells:  # a widget (e.g. DuckDB's progress bar) cannot draw on a static page
        if cell.cell_type == "code":
            cell.outputs = [o for o in cell.outputs if "application/vnd.jupyter.widget-view+json"
                            not in o.get("data", {})]
    body, _ = exporter.from_notebook_node(nb)
    body = _ONLINE_SCRIPT.sub("", body)
    html_path.write_text(body, encoding="utf-8")
    return html_path.stat().st_size


def health_box(entries: list[dict[str, Any]], lang: str) -> str:
    """The short box a report opens with: every warning of the run, or that there is none."""
    if entries:
        items = "".join(f"<li>{html.escape(health_words(e, lang))}</li>" for e in entries)
        body, colour, border = f"<ul style='margin:4px 0'>{items}</ul>", "#fff8e6", "#e0b252"
    else:
        body, colour, border = html.escape(t("health.none", lang)), "#eef7ee", "#8cc08c"
    return (f'<div class="custops-health" style="border:1px solid {border};background:{colour};'
            f'padding:8px 14px;margin:12px 0;font-family:sans-serif">'
            f"<b>{html.escape(t('health.title', lang))}</b> {body}</div>")


def _local_time(stamp: str, tz: str, lang: str) -> str:
    """An ISO time stamp shown in the run's time zone (the data's), to the minute, with the
    zone's name in ``lang`` (:func:`custops.labels.zone_name`: 北京时间, or ``UTC+05:45``)."""
    try:
        when = pd.Timestamp(stamp).tz_convert(tz)
    except (ValueError, TypeError, KeyError):
        return stamp
    return f"{when:%Y-%m-%d %H:%M} ({zone_name(tz, when.strftime('%z'), lang)})"


def _index_html(manifest: dict[str, Any], lang: str) -> str:
    """The page a manager opens first: when, how healthy, the key numbers with their change
    since the previous run, what to do tomorrow (each action linked to its export), the
    reports and every export."""
    esc = html.escape
    title = esc(t("index.title", lang))
    params = manifest["parameters"]
    digest = manifest.get("digest") or {}
    rows = []
    for item in manifest["notebooks"]:
        name = item["name"]
        rows.append(f'<li><a href="{esc(name)}.html">{esc(notebook_title(name, lang))}</a> '
                    f'<small>({t("index.seconds", lang, seconds=item["seconds"])})</small></li>')
    numbers = "".join(
        f"<tr><td>{esc(label)}</td><td class='n'>{esc(value)}</td>"
        f"<td class='c'>{esc(change)}</td></tr>"
        for label, value, change in digest.get("key_numbers", []))
    previous = digest.get("previous_as_of")
    numbers_head = (f"<tr><th></th><th></th><th>{esc(t('index.change', lang, as_of=previous))}"
                    "</th></tr>" if previous else "")
    todo = "".join(
        f"<li>{esc(sentence)}" + (f' → <a href="exports/{esc(file)}">{esc(file)}</a>'
                                  if file else "") + "</li>"
        for sentence, file in digest.get("actions", []))
    exports = " · ".join(f'<a href="exports/{esc(name)}">{esc(name)}</a>'
                         for name in manifest.get("exports", [])) or "–"
    finished = _local_time(manifest["finished"], str(params.get("tz") or DEFAULT_TZ), lang)
    return (
        f'<!doctype html><html lang="{lang}"><head><meta charset="utf-8"><title>{title}</title>'
        '<style>body{font-family:"Noto Sans CJK SC","PingFang SC","Microsoft YaHei",Arial,'
        'sans-serif;max-width:820px;margin:40px auto;color:#222}li{margin:8px 0;font-size:1.05em}'
        'small{color:#777}table{border-collapse:collapse;margin:8px 0}td,th{padding:4px 14px;'
        'border-bottom:1px solid #eee;text-align:left}td.n{text-align:right;font-weight:bold}'
        'td.c{color:#555}h2{font-size:1.2em;margin-top:28px}</style></head><body>'
        f"<h1>{title}</h1><p>{esc(t('index.as_of', lang))} "
        f"<b>{esc(str(params['as_of']))}</b> · {esc(t('index.data', lang))} "
        f"<code>{esc(Path(str(params['data_dir'])).name)}</code> · "
        f"{esc(t('index.finished', lang))} {esc(finished)}</p>"
        f"{health_box(manifest.get('health', []), lang)}"
        + (f"<h2>{esc(t('index.key_numbers', lang))}</h2><table>{numbers_head}{numbers}</table>"
           if numbers else "")
        + (f"<h2>{esc(t('index.tomorrow', lang))}</h2><ol>{todo}</ol>" if todo else "")
        + f"<h2>{esc(t('index.reports', lang))}</h2><ol>{''.join(rows)}</ol>"
        f"<h2>{esc(t('index.exports', lang))}</h2><p>{exports}</p>"
        '<p><small><a href="manifest.json">manifest.json</a> · <a href="artifacts/">artifacts/</a>'
        "</small></p></body></html>"
    )


def _digest(build: Path, out_path: Path, manifest: dict[str, Any], lang: str) -> dict[str, Any]:
    """Key numbers, their change since the previous good run in ``out_path``, and actions."""
    numbers = digest.key_numbers(build)
    before, previous_as_of = None, None
    try:
        previous = json.loads((out_path / "manifest.json").read_text("utf-8"))
        before = (previous.get("digest") or {}).get("numbers")
        previous_as_of = previous.get("parameters", {}).get("as_of") if before else None
    except (OSError, ValueError):
        pass
    return {"numbers": numbers, "previous_numbers": before, "previous_as_of": previous_as_of,
            "key_numbers": digest.key_number_rows(numbers, before, lang),
            "actions": digest.actions(build, numbers, manifest.get("exports", []), lang)}


def _swap_in(build_dir: Path, out_dir: Path) -> None:
    """Replace ``out_dir`` by ``build_dir`` with two renames (old report removed last)."""
    old = out_dir.with_name(f".{out_dir.name}.old")
    if old.exists():
        shutil.rmtree(old)
    if out_dir.exists():
        out_dir.rename(old)
    build_dir.rename(out_dir)
    if old.exists():
        shutil.rmtree(old)


def run_report(
    data_dir: str | os.PathLike,
    out_dir: str | os.PathLike,
    *,
    as_of: str | None = None,
    lang: str = "en",
    seed: int = 42,
    mapping: str | None = None,
    preset: str | None = None,
    tz: str = DEFAULT_TZ,
    notebooks: list[str] | None = None,
    extra_parameters: dict[str, Any] | None = None,
    jobs: int | None = None,
    log=print,
) -> dict[str, Any]:
    """Run the notebooks in order into ``out_dir``; return the manifest.

    ``jobs``: notebooks run at once after the first (None: :func:`auto_jobs`; 1: one at a
    time). Every notebook's page and artifacts are the same either way.

    Raises :class:`RunError` when a notebook fails: the partial run is kept in
    ``<out_dir>.failed/`` for debugging and ``out_dir`` is left as it was.
    """
    data_path = resolve_data_dir(data_dir)
    # The notebooks run in their own folder: a relative mapping is the caller's, as for
    # `custops validate`.
    mapping_path = str(Path(mapping).expanduser().resolve()) if mapping else ""
    out_path = Path(out_dir).resolve()
    names = notebooks or available_notebooks()
    unknown = [n for n in names if not (notebooks_dir() / f"{n}.ipynb").exists()]
    if unknown:
        raise ParameterError(f"no such notebook(s): {', '.join(unknown)}; available: "
                             f"{', '.join(available_notebooks())}")
    if not names:
        raise ParameterError(f"no notebooks found in {notebooks_dir()}")
    # Every parameter is checked before anything runs (names, types, ranges, the date).
    extra_parameters = catalog.check_parameters(
        {"as_of": as_of or "", "lang": lang, "seed": seed, **(extra_parameters or {})})
    build = _new_build_folder(out_path, log)
    parameters: dict[str, Any] = {
        "data_dir": str(data_path), "as_of": as_of or "", "lang": lang,
        "run_dir": str(build), "seed": int(seed), "mapping": mapping_path, "tz": tz,
        "preset": preset or "",
    }
    # Static reports get no widgets (they would render as blank boxes in HTML); Voila and
    # JupyterLab keep the notebooks' default, interactive=True.
    parameters["interactive"] = False
    parameters.update(extra_parameters or {})
    manifest: dict[str, Any] = {
        "status": "running",
        "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "parameters": {k: v for k, v in parameters.items() if k != "run_dir"},
        "data": data_fingerprint(data_path),
        "packages": package_versions(),
        "notebooks": [],
    }


    total_start = time.perf_counter()
    execute = _Executor(names, parameters, build, log)
    try:
        results = execute.all(jobs)
    except _NotebookFailed as failure:
        failed = out_path.with_name(f"{out_path.name}.failed")
        if failed.exists():
            shutil.rmtree(failed)
        (build / OWNER_FILE).unlink(missing_ok=True)
        build.rename(failed)
        raise RunError(
            f"{failure.name} failed: {_one_line(failure.error)} — executed notebook kept in "
            f"{failed / f'{failure.name}.ipynb'}; the previous report in {out_path} is "
            "untouched") from failure.error
    # In the notebooks' order, whichever finished first.
    manifest["notebooks"] = [results[name] for name in names]
    manifest["jobs"] = execute.jobs
    try:
        _finish(build, out_path, manifest, lang=str(parameters["lang"]), started=total_start)
    except OSError as exc:  # disk full, permissions: one line, and no half-built folder left
        shutil.rmtree(build, ignore_errors=True)
        raise RunError(f"writing the report in {out_path.parent} failed: {exc.strerror or exc} "
                       f"({exc.filename or out_path}); the previous report in {out_path} is "
                       "untouched") from None
    return manifest


def _new_build_folder(out_path: Path, log) -> Path:
    """A fresh folder beside ``out_path`` to build the run in (swapped in at the end); build
    folders of runs that were killed are removed first."""
    try:
        out_path.parent.mkdir(parents=True, exist_ok=True)
        for stale in out_path.parent.glob(f".{out_path.name}.build-*"):
            owner = stale / OWNER_FILE
            pid = int(owner.read_text()) if owner.exists() else None
            if pid is None or not psutil.pid_exists(pid):
                shutil.rmtree(stale, ignore_errors=True)
                log(f"removed {stale.name}, left by a run that was stopped")
        build = Path(tempfile.mkdtemp(prefix=f".{out_path.name}.build-", dir=out_path.parent))
        build.chmod(0o755)  # mkdtemp makes it private; a report folder is meant to be shared
        (build / OWNER_FILE).write_text(str(os.getpid()))
    except OSError as exc:
        raise RunError(f"cannot write the report into {out_path.parent}: "
                       f"{exc.strerror or exc} ({exc.filename or out_path.parent})") from None
    return build


def _finish(build: Path, out_path: Path, manifest: dict[str, Any], *, lang: str,
            started: float) -> None:
    """plotly.js, the health box on every page, the manifest and the index; then the swap."""
    shutil.rmtree(build / ARTIFACTS / LOCKS, ignore_errors=True)  # the notebooks are done
    write_plotlyjs(build)
    relative_paths(build)
    for executed in build.glob("*.ipynb"):  # run again in place, it uses its own folder
        text = executed.read_text("utf-8")
        moved = text.replace(json.dumps(str(build))[1:-1], json.dumps(str(out_path))[1:-1])
        if moved != text:
            executed.write_text(moved, encoding="utf-8")
    health_file = build / "artifacts" / "health.json"
    manifest["health"] = (json.loads(health_file.read_text("utf-8"))
                          if health_file.exists() else [])
    box = health_box(manifest["health"], lang)
    for item in manifest["notebooks"]:  # every report opens with the run's health
        page = build / f"{item['name']}.html"
        page.write_text(page.read_text("utf-8").replace("<main>", "<main>" + box, 1),
                        encoding="utf-8")
        item["html_bytes"] = page.stat().st_size
    quality = build / "artifacts" / "data_quality.json"
    if quality.exists():
        manifest["parameters"]["as_of"] = json.loads(quality.read_text("utf-8")).get(
            "as_of", manifest["parameters"]["as_of"])
    manifest["steps"] = _step_times(build, time.time() - (time.perf_counter() - started))
    manifest["status"] = "ok"
    manifest["seconds"] = round(time.perf_counter() - started, 2)
    manifest["finished"] = time.strftime("%Y-%m-%dT%H:%M:%S%z")
    manifest["exports"] = sorted(p.name for p in (build / "exports").glob("*")) \
        if (build / "exports").exists() else []
    # The channel lists hold full contact keys: owner-only files (0600) in an owner-only
    # folder (0700), listed here as personal data (docs/security.md).
    manifest["personal_data"] = [f"exports/{name}" for name in manifest["exports"]
                                 if holds_personal_data(build / "exports" / name)]
    if (build / "exports").exists():
        (build / "exports").chmod(PRIVATE_FOLDER_MODE)
    manifest["digest"] = _digest(build, out_path, manifest, lang)
    (build / "manifest.json").write_text(json.dumps(manifest, ensure_ascii=False, indent=2),
                                         encoding="utf-8")
    (build / "index.html").write_text(_index_html(manifest, lang), encoding="utf-8")
    (build / OWNER_FILE).unlink(missing_ok=True)
    _swap_in(build, out_path)


def _step_times(build: Path, run_started: float) -> list[dict[str, Any]]:
    """The steps the notebooks made (:data:`custops.run.context.STEPS`), in the order they
    started, each with ``start_s`` from the run's start; the file is folded into the
    manifest and removed."""
    path = build / STEPS
    if not path.exists():
        return []
    steps = [json.loads(line) for line in path.read_text("utf-8").splitlines() if line.strip()]
    path.unlink()
    for step in steps:
        step["start_s"] = round(step.pop("started_at") - run_started, 2)
    return sorted(steps, key=lambda step: step["start_s"])


def _relative(value: Any, build: str) -> Any:
    if isinstance(value, str):
        if value == build:
            return "."
        if value.startswith(build + os.sep):
            return Path(value).relative_to(build).as_posix()
        return value
    if isinstance(value, list):
        return [_relative(v, build) for v in value]
    if isinstance(value, dict):
        return {k: _relative(v, build) for k, v in value.items()}
    return value


def relative_paths(build: Path) -> list[Path]:
    """Make the paths the run's JSON artifacts hold (the exports each step wrote:
    ``churn_exports.json``, ``reach_exports.json``) relative to the run folder
    (``exports/contacts_sms.csv``): they were written as paths into the build folder, which
    is renamed when the run is swapped in, so the folder can also be moved or copied.
    Returns the files changed."""
    changed = []
    root = str(build.resolve())
    for path in sorted((build / "artifacts").glob("*.json")):
        text = path.read_text("utf-8")
        if root not in text and str(build) not in text:
            continue
        stored = json.loads(text)
        fixed = _relative(_relative(stored, root), str(build))
        if fixed != stored:
            path.write_text(json.dumps(fixed, ensure_ascii=False, indent=2), encoding="utf-8")
            changed.append(path)
    return changed


PARALLEL_MAX_CUSTOMERS = 2_000_000  # above this many customers, one notebook at a time
PARALLEL_BASE_GIB = 4.0  # memory a second notebook needs free: this plus ...
PARALLEL_GIB_PER_MILLION = 3.0  # ... this per million customers (1M run: 3.7 GiB peak alone)


def auto_jobs(build: Path, engine: str = "duckdb") -> int:
    """How many notebooks may run at once once the first has stored the run's data and
    feature table in ``build``: 2 on a machine with two cores or more, locks (not Windows)
    and memory for two kernels (:data:`PARALLEL_BASE_GIB` plus
    :data:`PARALLEL_GIB_PER_MILLION` per million customers free, at most
    :data:`PARALLEL_MAX_CUSTOMERS` customers); 1 otherwise, and on the Spark engine (each
    kernel would start its own Spark session)."""
    features = build / ARTIFACTS / "features.parquet"
    if engine != "duckdb" or not CAN_LOCK or (os.cpu_count() or 1) < 2 \
            or not features.exists():
        return 1
    customers = pq.ParquetFile(features).metadata.num_rows
    needed = (PARALLEL_BASE_GIB + PARALLEL_GIB_PER_MILLION * customers / 1e6) * 2**30
    if customers > PARALLEL_MAX_CUSTOMERS or psutil.virtual_memory().available < needed:
        return 1
    return 2


class _NotebookFailed(Exception):
    def __init__(self, name: str, error: BaseException):
        super().__init__(name)
        self.name, self.error = name, error


class _Executor:
    """Executes a run's notebooks into ``build``: the first alone (it loads and checks the
    data and stores them, and the feature table, in the run folder for the others), then
    the rest in their order, up to ``jobs`` at once (:func:`auto_jobs` when not given). Two
    notebooks at once share the run folder through its locks (:mod:`custops.run.locks`): a
    step one of them is making, the other waits for and reads. Kernels are started ahead, one
    per notebook that may run next. Each notebook's HTML page is written as soon as it ends.
    When a notebook fails, the others running are stopped and the failure is raised."""

    def __init__(self, names: list[str], parameters: dict[str, Any], build: Path, log):
        self.names, self.parameters, self.build, self.log = names, parameters, build, log
        self.jobs = 1
        self._warm = ThreadPoolExecutor(max_workers=2, thread_name_prefix="custops-kernel")
        self._kernels: list[Future] = []  # kernels starting or started, for the next ones
        self._running: dict[str, Any] = {}  # notebook -> its kernel
        self._managers: list[_RunKernelManager] = []  # every kernel manager of the run
        self._lock = threading.RLock()  # _refill asks _manager under it

    def all(self, jobs: int | None) -> dict[str, dict[str, Any]]:
        results: dict[str, dict[str, Any]] = {}
        first, *rest = self.names
        try:
            # The first notebook's kernel and the two that may start when it ends: started
            # now, while the first loads the data (a kernel takes ~5 s to start).
            self._refill(len(self.names), ahead=3)
            results[first] = self._finish(first, self._run(first, self._kernel(len(rest))))
            self.jobs = max(1, min(jobs or auto_jobs(
                self.build, str(self.parameters.get("engine") or "duckdb")), max(len(rest), 1)))
            self._refill(len(rest))
            with ThreadPoolExecutor(max_workers=self.jobs,
                                    thread_name_prefix="custops-notebook") as pool:
                waiting, running = list(rest), {}
                while waiting or running:
                    while waiting and len(running) < self.jobs:
                        name = waiting.pop(0)
                        kernel = self._kernel(len(waiting))
                        running[pool.submit(self._run, name, kernel)] = name
                    done, _ = wait(running, return_when=FIRST_COMPLETED)
                    for future in done:
                        name = running.pop(future)
                        try:
                            seconds = future.result()
                        except _NotebookFailed:
                            self._stop_all()  # the others end with their kernel
                            wait(running)
                            raise
                        results[name] = self._finish(name, seconds)
        finally:
            for future in self._kernels:
                _stop_kernel(_take_kernel(future))
            self._warm.shutdown()
            for manager in self._managers:  # each has stopped already; its processes checked
                _stop_kernel(manager)
        return results

    def _refill(self, remaining: int, ahead: int | None = None) -> None:
        """Start kernels ahead: one per notebook that may start next (``ahead``, else up
        to ``jobs``), never more than ``remaining``."""
        with self._lock:
            while len(self._kernels) < min(ahead or self.jobs, remaining):
                self._kernels.append(self._warm.submit(_start_kernel, notebooks_dir(),
                                                       self._manager()))

    def _manager(self) -> _RunKernelManager:
        manager = _new_manager()
        with self._lock:
            self._managers.append(manager)
        return manager

    def _kernel(self, remaining_after: int):
        """A kernel started ahead, and the next one started. When none was started ahead or
        it failed to start, a manager without a kernel: papermill starts its kernel in it, and
        the run can stop it like the others."""
        with self._lock:
            future = self._kernels.pop(0) if self._kernels else None
        self._refill(remaining_after)
        return _take_kernel(future) or self._manager()

    def _run(self, name: str, kernel) -> float:
        start = time.perf_counter()
        index = self.names.index(name) + 1
        with self._lock:
            self._running[name] = kernel
        try:
            papermill.execute_notebook(
                str(notebooks_dir() / f"{name}.ipynb"), str(self.build / f"{name}.ipynb"),
                parameters=self.parameters, kernel_name=KERNEL, progress_bar=False,
                cwd=str(notebooks_dir()),
                extra_arguments=kernel_arguments(),  # quiet kernels (no TCP warning)
                km=kernel,
            )
        except Exception as exc:  # papermill raises PapermillExecutionError and others
            self.log(f"[{index}/{len(self.names)}] {name} FAILED after "
                     f"{time.perf_counter() - start:.1f} s")
            raise _NotebookFailed(name, exc) from exc
        finally:
            with self._lock:
                self._running.pop(name, None)
            _stop_kernel(kernel)
        return time.perf_counter() - start

    def _stop_all(self) -> None:
        with self._lock:
            kernels = list(self._running.values())
        for kernel in kernels:
            _stop_kernel(kernel)

    def _finish(self, name: str, seconds: float) -> dict[str, Any]:
        html_bytes = export_html(self.build / f"{name}.ipynb", self.build / f"{name}.html")
        index = self.names.index(name) + 1
        self.log(f"[{index}/{len(self.names)}] {name} ok ({seconds:.1f} s, "
                 f"HTML {html_bytes / 1e6:.2f} MB)")
        return {"name": name, "status": "ok", "seconds": round(seconds, 2),
                "html_bytes": html_bytes}


def kernel_env() -> dict[str, str]:
    """The environment the runner's kernels start with: the runner's own, plus
    :data:`KERNEL_ENV` where the user set nothing."""
    env = dict(os.environ)
    for name, value in KERNEL_ENV.items():
        env.setdefault(name, value)
    return env


class _RunKernelManager(AsyncKernelManager):
    """A kernel manager of the report runner. Once stopped (:func:`_stop_kernel`) it starts
    no kernel again: papermill starts a kernel in a manager it is handed when the manager has
    none, so a notebook whose kernel was stopped the moment it began would otherwise run on a
    kernel nobody stops."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.stopped = False
        self.pids: set[tuple[int, float]] = set()  # kernels it started: (pid, create time)
        self.stop_lock = threading.Lock()  # the run's threads stop a kernel one at a time

    async def start_kernel(self, **kwargs):
        if self.stopped:
            raise RuntimeError("the report run is stopping: no kernel is started")
        await super().start_kernel(**kwargs)
        pid = getattr(self.provisioner, "pid", None)
        with self.stop_lock:  # a stop that came while the kernel started still reaches it
            if pid:
                try:
                    self.pids.add((int(pid), psutil.Process(int(pid)).create_time()))
                except psutil.Error:
                    pass
            stopped = self.stopped
        if stopped:
            self.kill_leftovers()
            raise RuntimeError("the report run is stopping: the kernel just started is stopped")

    def kill_leftovers(self) -> None:
        """Kill and reap every kernel process this manager started that is still running."""
        for pid, created in sorted(self.pids):
            _kill_process(pid, created)


def _new_manager() -> _RunKernelManager:
    kernel_ports.install()  # ports no outgoing connection can take (idempotent)
    return _RunKernelManager(kernel_name=KERNEL)


def _start_kernel(cwd: Path, manager: _RunKernelManager | None = None):
    """A started kernel for the next notebook (None if it could not start: the notebook then
    starts one in a new manager)."""

    async def start(manager) -> None:
        await manager.start_kernel(cwd=str(cwd), env=kernel_env(),
                                   extra_arguments=kernel_arguments())
        client = manager.client()
        client.start_channels()
        try:
            await client.wait_for_ready(timeout=60)
            # Silent, outside the history: the notebook's own imports then find them loaded.
            await client.execute_interactive(WARM_IMPORTS, silent=True, store_history=False,
                                             timeout=120)
        finally:
            client.stop_channels()

    manager = manager if manager is not None else _new_manager()
    try:
        asyncio.run(start(manager))
        return manager
    except Exception:  # noqa: BLE001 - a warm kernel is an optimization only
        _stop_kernel(manager)
        return None


def _take_kernel(future):
    """The kernel a background start produced, or None."""
    if future is None:
        return None
    try:
        return future.result()
    except Exception:  # noqa: BLE001
        return None


def _stop_kernel(manager) -> None:
    """Shut down a kernel the runner started (papermill only stops kernels it started) and
    make sure its process has gone; the manager starts no kernel afterwards. Safe to call from
    two threads at once (a failing notebook stops the others while they stop themselves)."""
    if manager is None:
        return
    with manager.stop_lock:
        manager.stopped = True
        try:
            asyncio.run(manager.shutdown_kernel(now=True))
        except Exception:  # noqa: BLE001 - already gone, or stopped halfway: checked below
            pass
        manager.kill_leftovers()


def _kill_process(pid: int, created: float) -> None:
    """Kill a kernel process of ours that outlived its shutdown, and reap it."""
    try:
        process = psutil.Process(pid)
        if process.ppid() != os.getpid() or process.create_time() != created:
            return  # gone and reaped, or another process now has that pid
        if process.status() != psutil.STATUS_ZOMBIE:
            process.kill()
        process.wait(timeout=10)
    except (psutil.Error, ChildProcessError):
        pass


def _one_line(exc: BaseException) -> str:
    ename = getattr(exc, "ename", type(exc).__name__)
    evalue = getattr(exc, "evalue", str(exc))
    text = f"{ename}: {evalue}".strip()
    text = re.sub(r"\x1b\[[0-9;]*m", "", text)
    return " ".join(text.split())[:500]


def cli_report(args) -> int:
    """``custops report``: run, print a progress line per notebook, exit non-zero on failure."""
    extra = {}
    for name, value in args.parameter:
        try:
            extra[name] = json.loads(value)
        except json.JSONDecodeError:
            extra[name] = value
    manifest = run_report(
        args.data, args.out, as_of=args.as_of, lang=args.lang, seed=args.seed,
        mapping=args.mapping, preset=getattr(args, "preset", None), tz=args.tz,
        notebooks=args.notebooks or None,
        extra_parameters=extra, jobs=getattr(args, "jobs", 0) or None,
        log=lambda line: print(line, flush=True),
    )
    print(f"report ready: {Path(args.out).resolve() / 'index.html'} "
          f"({manifest['seconds']:.1f} s)", flush=True)
    return 0

