"""Dashboards in headless Chromium: the page selectors the tests share, and the browser bench.

:func:`bench_dashboard` opens every dashboard in headless Chromium and times the first figure
and a filter change, next to a static HTML page with one plotly figure opened in the same
browser (parsing plotly.js alone is slow on small machines, so only the ratio is comparable
across machines). Playwright is a development dependency: it is imported only when a bench
runs.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np
import plotly.graph_objects as go
import plotly.io as pio
import psutil

from custops.app.panels import PANELS
from custops.app.server import Server, finished_run, kernel_pids, start_server
from custops.errors import ParameterError, RunError
from custops.plots import write_plotlyjs

__all__ = ["CHROMIUM", "CHROMIUM_ARGS", "FILTER_STEPS", "PANEL_FIGURE", "bench_dashboard",
           "filter_selector", "panel_state_js", "static_baseline_page", "wait_for_change"]

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run",
                 "--disable-quic"]
PANEL_FIGURE = ".custops-output .js-plotly-plot .main-svg"
# A filter change per dashboard for the bench and the tests: (filter column, option index).
FILTER_STEPS = {"01_profile": [("value_tier", 1), ("province", 1), ("value_tier", 0)],
                "02_segment": [("lifecycle_stage", 1), ("acquisition_channel", 1),
                               ("lifecycle_stage", 0)],
                "03_churn": [("value_tier", 1), ("province", 1), ("value_tier", 0)],
                "04_reach": [("value_tier", 1), ("value_tier", 2), ("value_tier", 0)]}


def filter_selector(column: str) -> str:
    """CSS selector of a filter's <select> element on a dashboard page."""
    return f".custops-filter-{column.replace('_', '-')} select"


def panel_state_js() -> str:
    """JavaScript returning the panel's key numbers and the data of its first figure."""
    return """() => {
      const kpis = [...document.querySelectorAll('.custops-kpi-value')].map(e => e.textContent);
      const plot = document.querySelector('.custops-output .js-plotly-plot');
      let data = null;
      if (plot && plot.data) {
        data = JSON.stringify(plot.data.map(d => [d.x, d.y, d.z, d.values]));
      }
      return JSON.stringify({kpis, data});
    }"""


def static_baseline_page(folder: str | os.PathLike) -> Path:
    """A static HTML page with one plotly figure and plotly.js beside it (the baseline)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    write_plotlyjs(folder)
    fig = go.Figure(go.Bar(x=["a", "b", "c"], y=[3, 1, 2]), layout={"title": "baseline"})
    body = pio.to_html(fig, include_plotlyjs=False, full_html=False)
    page = folder / "baseline.html"
    page.write_text('<!doctype html><html><head><meta charset="utf-8">'
                    '<script src="plotly.min.js"></script></head><body>'
                    f"{body}</body></html>", encoding="utf-8")
    return page


def wait_for_change(page, before: str, timeout_ms: int = 10_000) -> str:
    """Wait until both the key numbers and the figure differ from ``before``; return the new
    state."""
    page.wait_for_function(
        """([js, before]) => {
          const now = JSON.parse(eval(js)());
          const old = JSON.parse(before);
          return now.data !== null && JSON.stringify(now.kpis) !== JSON.stringify(old.kpis)
                 && now.data !== old.data;
        }""", arg=[panel_state_js(), before], timeout=timeout_ms, polling="raf")
    return page.evaluate(panel_state_js())


def bench_dashboard(run_dir: str | os.PathLike, *, notebooks: Iterable[str] | None = None,
                    preheat: bool = True, chromium: str = CHROMIUM) -> dict[str, Any]:
    """Time the dashboards in headless Chromium against a static one-figure plotly page.

    Each dashboard is opened in a fresh browser context (nothing cached) once the server's
    kernels are idle; ``preheat`` (default, as ``custops dashboard`` serves) first lets every
    notebook's ready kernel run its notebook.

    Parameters
    ----------
    run_dir : path
        A finished report the dashboards show.
    notebooks : iterable of str, optional
        Dashboards to time (default: those with a panel).
    preheat : bool
        Serve with one preheated kernel per notebook (False: a kernel starts per visit).
    chromium : str
        The Chromium executable.

    Returns
    -------
    dict
        ``baseline_static_plotly_s`` (static page, first figure drawn),
        ``dashboards[name]``: ``html_s`` (page streamed: the notebook ran), ``first_figure_s``
        (first figure of the panel drawn), ``figures_s`` (every figure of the page drawn),
        ``filter_change_s`` (each filter change until numbers and figure changed),
        ``first_figure_ratio`` (first figure / baseline); plus the configuration.
    """
    from playwright.sync_api import sync_playwright  # a development dependency

    if not Path(chromium).exists():
        raise RunError(f"{chromium} not found: install Debian chromium (make system-deps)")
    run = finished_run(run_dir)
    if run is None:
        raise ParameterError(f"{run_dir} is not a finished report")
    names = list(notebooks or [n for n in PANELS])
    result: dict[str, Any] = {"run_dir": str(run), "preheat": preheat, "dashboards": {},
                              "cpu_count": os.cpu_count()}
    tmp = Path(tempfile.mkdtemp(prefix="custops-bench-"))
    server = start_server(run, preheat=preheat, cull_idle_timeout=600 if preheat else 120,
                          log_path=tmp / "voila.log")
    try:
        if preheat:  # let the pool fill (every notebook executed once) before timing
            deadline = time.monotonic() + 180
            while server.kernel_count() < len(server.notebooks) and time.monotonic() < deadline:
                time.sleep(1)
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
            try:
                baseline = static_baseline_page(tmp / "baseline")
                context = browser.new_context()
                page = context.new_page()
                start = time.perf_counter()
                page.goto(baseline.as_uri(), wait_until="domcontentloaded")
                page.wait_for_selector(".js-plotly-plot .main-svg", timeout=60_000)
                result["baseline_static_plotly_s"] = round(time.perf_counter() - start, 3)
                context.close()
                for name in names:
                    failures = []
                    for _attempt in range(2):  # a page that never drew is retried once
                        _wait_idle(server.pid)
                        try:
                            entry = _bench_one(browser, server, name)
                        except Exception as exc:  # a failed page is a result, not a crash
                            log_tail = (tmp / "voila.log").read_text("utf-8", "replace")
                            failures.append({"error": f"{type(exc).__name__}: {str(exc)[:300]}",
                                             "server_log_tail": log_tail.splitlines()[-15:]})
                            entry = failures[-1]
                        else:
                            entry["first_figure_ratio"] = round(
                                entry["first_figure_s"] / result["baseline_static_plotly_s"], 2)
                            break
                    if failures and "error" not in entry:
                        entry["failed_attempts"] = failures  # recorded, not hidden
                    result["dashboards"][name] = entry
            finally:
                browser.close()
    finally:
        server.stop()
        shutil.rmtree(tmp, ignore_errors=True)
    return result


def _wait_idle(pid: int, *, timeout: float = 180.0, busy_percent: float = 10.0) -> None:
    """Wait until the kernels under ``pid`` use less than ``busy_percent`` of a core together
    (a refilling pool or a closing page would otherwise compete with the measurement)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        kernels = []
        for kernel_pid in kernel_pids(pid):
            with contextlib.suppress(psutil.Error):
                process = psutil.Process(kernel_pid)
                process.cpu_percent(None)
                kernels.append(process)
        time.sleep(1.0)
        busy = 0.0
        for process in kernels:
            with contextlib.suppress(psutil.Error):
                busy += process.cpu_percent(None)
        if busy < busy_percent:
            return


def _bench_one(browser, server: Server, name: str) -> dict[str, Any]:
    context = browser.new_context()
    page = context.new_page()
    try:
        start = time.perf_counter()
        page.goto(server.url(name), wait_until="domcontentloaded", timeout=120_000)
        html_s = time.perf_counter() - start
        page.wait_for_selector(PANEL_FIGURE, timeout=120_000)
        first = time.perf_counter() - start
        page.wait_for_function(
            """() => { const all = document.querySelectorAll('.js-plotly-plot');
                       return all.length > 0 && [...all].every(p => p.querySelector('.main-svg'));
                     }""", timeout=120_000)
        every = time.perf_counter() - start
        page.wait_for_timeout(1000)  # let the page settle, as a user would
        changes = []
        state = page.evaluate(panel_state_js())
        for column, index in FILTER_STEPS[name]:
            t0 = time.perf_counter()
            page.locator(filter_selector(column)).select_option(index=index)
            state = wait_for_change(page, state)
            changes.append(round(time.perf_counter() - t0, 3))
        return {"html_s": round(html_s, 3), "first_figure_s": round(first, 3),
                "figures_s": round(every, 3), "filter_change_s": changes,
                "filter_change_median_s": float(np.median(changes))}
    finally:
        context.close()
