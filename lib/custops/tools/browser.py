"""Dashboards in headless Chromium: the page selectors the tests share, and the browser benches.

:func:`bench_dashboard` opens every dashboard in headless Chromium and times, for a first
visitor and a second one arriving 2 s later, the first figure (the page's first view, drawn
before the kernel is ready, or the panel's own, whichever shows first) and the page becoming
interactive (the panel's figure drawn by the kernel's widgets: filters work), and filter
changes, next to a static HTML page with one plotly figure opened in the same browser (parsing
plotly.js alone is slow on small machines, so only the ratio is comparable across machines). :func:`bench_dashboard_load`
has 20 managers open dashboards at once against the server ``custops dashboard`` runs (kernel
cap, pools, busy page). Playwright is a development dependency: it is imported only when a
bench runs.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import tempfile
import threading
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np
import plotly.graph_objects as go
import plotly.io as pio
import psutil

from custops.app.first_view import FIRST_FIGURE
from custops.app.panels import PANELS
from custops.app.server import (
    DEFAULT_POOL_SIZE,
    LANDING,
    Server,
    default_max_kernels,
    finished_run,
    kernel_pids,
    start_server,
)
from custops.errors import ParameterError, RunError
from custops.plots import write_plotlyjs

__all__ = ["ANY_FIGURE", "CHANGE_CLOCK_JS", "CHANGE_WAIT_JS", "CHROMIUM", "CHROMIUM_ARGS",
           "ERROR_MARKERS", "FILTER_STEPS", "PANEL_FIGURE", "bench_dashboard",
           "bench_dashboard_load", "figure_clock_js", "filter_selector", "panel_state_js", "static_baseline_page", "wait_for_change"]

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run",
                 "--disable-quic"]
PANEL_FIGURE = ".custops-output .js-plotly-plot .main-svg"  # the kernel's panel: interactive
ANY_FIGURE = f"{FIRST_FIGURE}, {PANEL_FIGURE}"  # the first figure a manager sees
STATIC_FIGURE = ".js-plotly-plot .main-svg"
# Text that must never show on a dashboard page (tracebacks, Voila's and Jupyter's errors).
ERROR_MARKERS = ("Traceback", "Error:", "There was an error", "ExecutionError",
                 "An exception occurred")
SECOND_VISITOR_DELAY_S = 2.0
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


# What makes a plotly figure "drawn" for the clocks: its SVG holds a trace of its data (bars,
# lines, slices, a heatmap's image, a Sankey diagram), not just plotly's empty frame — which
# Plotly.newPlot puts on the page before it draws the data.
DRAWN_TRACE = (".main-svg .trace, .main-svg .hm, .main-svg .sankey, .main-svg .slice, "
               ".main-svg .imagelayer image, .main-svg .indicatorlayer .trace")


def figure_clock_js(selector: str, name: str = "__custopsFigureAt") -> str:
    """An init script: ``window[name]`` = ``Date.now()`` at the first frame painted after a
    plotly figure matching ``selector`` (a ``.main-svg`` under the plot's container) showed
    its data drawn inside the window: on screen, not hidden, above the fold (the first figure
    a manager sees; timed in the page, so several pages can load at once). The same clock
    times the static baseline page."""
    return "(() => {\n      const selector = " + json.dumps(selector) + """;
      const drawn = """ + json.dumps(DRAWN_TRACE) + """;
      const name = """ + json.dumps(name) + """;
      const seen = () => {
        for (const svg of document.querySelectorAll(selector)) {
          const plot = svg.closest('.js-plotly-plot');
          if (!plot || !plot.querySelector(drawn)) continue;
          const box = plot.getBoundingClientRect();
          if (box.width > 0 && box.height > 0 && box.top < window.innerHeight
              && box.bottom > 0 && plot.offsetParent !== null) return true;
        }
        return false;
      };
      // Looked for at every frame: a figure counts once a frame has painted it.
      const frame = () => {
        if (window[name]) return;
        if (seen()) {
          requestAnimationFrame(() => { if (!window[name]) window[name] = Date.now(); });
          return;
        }
        requestAnimationFrame(frame);
      };
      requestAnimationFrame(frame);
    })();"""


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
    state. The page notes when it saw the change (``window.__custopsChangedAt``, its clock:
    :data:`CHANGE_CLOCK_JS`)."""
    page.wait_for_function(
        """([js, before]) => {
          const now = JSON.parse(eval(js)());
          const old = JSON.parse(before);
          const changed = now.data !== null && now.data !== old.data
                          && JSON.stringify(now.kpis) !== JSON.stringify(old.kpis);
          if (changed) { window.__custopsChangedAt = performance.now(); }
          return changed;
        }""", arg=[panel_state_js(), before], timeout=timeout_ms, polling="raf")
    return page.evaluate(panel_state_js())


# In the page, the time of the next filter change (the <select>'s change event, as a manager's
# pick fires it): with :func:`wait_for_change`'s time of the redrawn numbers and figure, the
# wait a manager sees, without the automation's own round trips (Playwright's checks before
# it picks an option, and the answer of the wait coming back), ~30-80 ms here.
# Milliseconds from that change event to the frame showing it; null if the page saw no change.
CHANGE_WAIT_JS = """() => window.__custopsChangeAt === null || !window.__custopsChangedAt
  ? null : window.__custopsChangedAt - window.__custopsChangeAt"""
CHANGE_CLOCK_JS = """() => {
  window.__custopsChangeAt = null;
  window.__custopsChangedAt = null;
  document.addEventListener('change', () => { window.__custopsChangeAt = performance.now(); },
                            {capture: true, once: true});
}"""


def bench_dashboard(run_dir: str | os.PathLike, *, notebooks: Iterable[str] | None = None,
                    preheat: bool = True, pool_size: int = DEFAULT_POOL_SIZE,
                    chromium: str = CHROMIUM) -> dict[str, Any]:
    """Time the dashboards in headless Chromium against a static one-figure plotly page.

    Served as ``custops dashboard`` serves them (``preheat``: ``pool_size`` ready kernels per
    dashboard). For each dashboard, once the server's kernels are idle, a first visitor opens
    it in a fresh browser context (nothing cached) and a second visitor 2 s later in another
    (both tabs opened, blank, before the first arrives, and the browser left to settle);
    both close their page after the first visitor's filter changes. The static page is timed
    in the same browser, its tab settled the same way, before each dashboard and after the
    last.

    Parameters
    ----------
    run_dir : path
        A finished report the dashboards show.
    notebooks : iterable of str, optional
        Dashboards to time (default: those with a panel).
    preheat : bool
        Serve with preheated kernels (False: a kernel starts per visit).
    pool_size : int
        Ready kernels per dashboard when ``preheat``.
    chromium : str
        The Chromium executable.

    Returns
    -------
    dict
        ``baseline_static_plotly_s`` (static page, first figure drawn; the median of
        ``baseline_runs_s``, one timed right before each dashboard and one at the end, after
        ``baseline_warmup_s``, the browser's first page, which is not used), ``dashboards[name]``: ``html_s`` (page received),
        ``first_figure_s`` (first visitor: the first figure drawn — the page's first view,
        or the panel's own; ``first_figure_from_first_view`` says which), ``interactive_s``
        (the panel's figure drawn by the kernel's widgets: the filters work), ``figures_s``
        (every figure of the page drawn), ``second_visitor_first_figure_s`` and
        ``second_visitor_interactive_s`` (arriving ``second_visitor_delay_s`` later, from its
        own arrival), ``filter_change_s`` (each filter change until numbers and figure
        changed, timed from Python: the automation's round trips included),
        ``filter_change_in_page_s`` (the same changes timed in the page, from the select's
        change event to the frame showing them: what a manager waits),
        ``first_figure_ratio``, ``second_visitor_ratio``, ``interactive_ratio`` and
        ``second_visitor_interactive_ratio`` (over the baseline); plus the configuration.
    """
    from playwright.sync_api import sync_playwright  # a development dependency

    if not Path(chromium).exists():
        raise RunError(f"{chromium} not found: install Debian chromium (make system-deps)")
    run = finished_run(run_dir)
    if run is None:
        raise ParameterError(f"{run_dir} is not a finished report")
    names = list(notebooks or [n for n in PANELS])
    result: dict[str, Any] = {"run_dir": str(run), "preheat": preheat,
                              "pool_size": pool_size if preheat else 0,
                              "second_visitor_delay_s": SECOND_VISITOR_DELAY_S,
                              "dashboards": {}, "cpu_count": os.cpu_count()}
    tmp = Path(tempfile.mkdtemp(prefix="custops-bench-"))
    not_settled_before = len(_NOT_SETTLED)
    server = start_server(run, preheat=preheat, pool_size=pool_size,
                          cull_idle_timeout=600 if preheat else 120,
                          log_path=tmp / "voila.log")
    try:
        if preheat:
            _wait_pools(server, pool_size)
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
            try:
                baseline = static_baseline_page(tmp / "baseline")
                _wait_idle(server.pid)  # the pools run their notebooks first
                # the browser's first page (cold caches, first compile): not a baseline
                result["baseline_warmup_s"] = _time_static(browser, baseline)
                runs = []
                for name in names:
                    failures = []
                    for _attempt in range(2):  # a page that never drew is retried once
                        _wait_idle(server.pid)
                        if preheat:
                            _wait_pools(server, pool_size)
                        # the static page right before, in the same conditions
                        runs.append(_time_static(browser, baseline))
                        try:
                            entry = _bench_one(browser, server, name)
                        except Exception as exc:  # a failed page is a result, not a crash
                            log_tail = (tmp / "voila.log").read_text("utf-8", "replace")
                            failures.append({"error": f"{type(exc).__name__}: {str(exc)[:300]}",
                                             "server_log_tail": log_tail.splitlines()[-15:]})
                            entry = failures[-1]
                        else:
                            break
                    if failures and "error" not in entry:
                        entry["failed_attempts"] = failures  # recorded, not hidden
                    result["dashboards"][name] = entry
                _wait_idle(server.pid)
                runs.append(_time_static(browser, baseline))
            finally:
                browser.close()
        result["baseline_runs_s"] = runs
        # clocks started although the browser had not settled within its wait (0: none)
        result["browser_not_settled"] = len(_NOT_SETTLED) - not_settled_before
        result["baseline_static_plotly_s"] = base = round(float(np.median(runs)), 3)
        for entry in result["dashboards"].values():
            if "first_figure_s" in entry:
                entry["first_figure_ratio"] = round(entry["first_figure_s"] / base, 2)
                entry["second_visitor_ratio"] = round(
                    entry["second_visitor_first_figure_s"] / base, 2)
                entry["interactive_ratio"] = round(entry["interactive_s"] / base, 2)
                entry["second_visitor_interactive_ratio"] = round(
                    entry["second_visitor_interactive_s"] / base, 2)
    finally:
        server.stop()
        shutil.rmtree(tmp, ignore_errors=True)
    return result


def _pool_total(server: Server, pool_size: int) -> int:
    return pool_size * len([n for n in server.notebooks if n != LANDING])


def _wait_pools(server: Server, pool_size: int, timeout: float = 240.0) -> None:
    """Wait until every dashboard's pool is full (kernels started; :func:`_wait_idle` then
    waits until they have run their notebook)."""
    deadline = time.monotonic() + timeout
    while (server.kernel_count() < _pool_total(server, pool_size)
           and time.monotonic() < deadline):
        time.sleep(0.5)
    _wait_idle(server.pid)


def _time_static(browser, page_path: Path) -> float:
    context = browser.new_context()
    context.add_init_script(figure_clock_js(STATIC_FIGURE))
    page = context.new_page()
    try:
        _wait_browser_idle()  # its new tab's renderer started, as the dashboards' are
        start = time.time()
        page.goto(page_path.as_uri(), wait_until="commit")
        page.wait_for_function("() => window.__custopsFigureAt", timeout=60_000)
        return round(page.evaluate("window.__custopsFigureAt") / 1000 - start, 3)
    finally:
        context.close()


def _wait_browser_idle(*, timeout: float = 10.0, busy_percent: float = 10.0,
                       window: float = 0.3) -> bool:
    """Wait until this process's Chromium (under Playwright's driver) uses less than
    ``busy_percent`` of a core over ``window`` seconds: tabs just opened have finished
    starting their renderers. False when it was still busy after ``timeout`` seconds (the
    bench counts such clocks: ``browser_not_settled``)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        processes = []
        for child in psutil.Process().children(recursive=True):
            with contextlib.suppress(psutil.Error):
                if "chrom" in child.name().lower():
                    child.cpu_percent(None)
                    processes.append(child)
        time.sleep(window)
        busy = 0.0
        for process in processes:
            with contextlib.suppress(psutil.Error):
                busy += process.cpu_percent(None)
        if busy < busy_percent:
            return True
    _NOT_SETTLED.append(time.time())
    return False


_NOT_SETTLED: list[float] = []  # clocks started with the browser still busy (see above)


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
    """A first visitor, a second one ``SECOND_VISITOR_DELAY_S`` later, then the first
    visitor's filter changes; both pages are closed as a tab is (``beforeunload``)."""
    visitors, tabs = [], []
    try:
        # Both visitors' tabs exist before the first arrives (each manager's browser is
        # running already): opening the second tab — a new renderer process — inside the first
        # visitor's load timed the bench's own work, not the page.
        for _visitor in range(2):
            context = browser.new_context()
            tabs.append((context, None))  # closed below whatever happens next
            context.add_init_script(figure_clock_js(ANY_FIGURE))
            context.add_init_script(figure_clock_js(PANEL_FIGURE, "__custopsInteractiveAt"))
            tabs[-1] = (context, context.new_page())  # a blank page: its renderer runs
        # A new tab's renderer keeps a core busy for ~1 s after it opens: measured with the
        # two tabs just opened, the first visitor's figure came 0.3-1.0 s later than with
        # the browser settled (the static page is timed settled too).
        _wait_browser_idle()
        t0 = time.time()
        for (context, page), delay in zip(tabs, (0.0, SECOND_VISITOR_DELAY_S), strict=True):
            time.sleep(max(t0 + delay - time.time(), 0.0))
            start = time.time()
            visitors.append((context, page, start))
            page.goto(server.url(name), wait_until="commit", timeout=120_000)
        first_s, interactive_s, first_views = [], [], []
        for _context, page, start in visitors:
            page.wait_for_function("() => window.__custopsFigureAt", timeout=120_000)
            first_s.append(page.evaluate("window.__custopsFigureAt") / 1000 - start)
            first_views.append(page.evaluate(
                f"() => Boolean(document.querySelector({json.dumps(FIRST_FIGURE)}))"
                " || !document.querySelector('.custops-dashboard')"))
        for _context, page, start in visitors:
            page.wait_for_function("() => window.__custopsInteractiveAt", timeout=180_000)
            interactive_s.append(page.evaluate("window.__custopsInteractiveAt") / 1000 - start)
        _context, page, start = visitors[0]
        html_s = page.evaluate(
            "performance.getEntriesByType('navigation')[0].responseEnd") / 1000
        page.wait_for_function(
            """() => { const all = document.querySelectorAll('.js-plotly-plot');
                       return all.length > 0 && [...all].every(p => p.querySelector('.main-svg'));
                     }""", timeout=120_000)
        every = time.time() - start
        page.wait_for_timeout(1000)  # let the page settle, as a user would
        changes, in_page = [], []
        state = page.evaluate(panel_state_js())
        for column, index in FILTER_STEPS[name]:
            page.evaluate(CHANGE_CLOCK_JS)
            t1 = time.perf_counter()
            page.locator(filter_selector(column)).select_option(index=index)
            state = wait_for_change(page, state)
            changes.append(round(time.perf_counter() - t1, 3))
            waited = page.evaluate(CHANGE_WAIT_JS)
            if waited is None:  # no number rather than a wrong one
                raise RunError(f"{name}: the page saw no change event for the {column} filter")
            in_page.append(round(waited / 1000, 3))
        return {"html_s": round(html_s, 3), "first_figure_s": round(first_s[0], 3),
                "first_figure_from_first_view": first_views[0],
                "interactive_s": round(interactive_s[0], 3),
                "figures_s": round(every, 3),
                "second_visitor_first_figure_s": round(first_s[1], 3),
                "second_visitor_interactive_s": round(interactive_s[1], 3),
                "second_visitor_arrived_s": round(visitors[1][2] - visitors[0][2], 2),
                "filter_change_s": changes,
                "filter_change_median_s": float(np.median(changes)),
                "filter_change_in_page_s": in_page,
                "filter_change_in_page_median_s": float(np.median(in_page))}
    finally:
        for context, page in tabs:
            with contextlib.suppress(Exception):
                if page is not None:
                    page.close(run_before_unload=True)
                    page.wait_for_timeout(300)
            with contextlib.suppress(Exception):
                context.close()


# -- many managers at once ---------------------------------------------------------------------

def bench_dashboard_load(run_dir: str | os.PathLike, *, managers: int = 20,
                         hold_s: float = 5.0, pool_size: int = DEFAULT_POOL_SIZE,
                         max_kernels: int | None = None, timeout_s: float = 300.0,
                         chromium: str = CHROMIUM) -> dict[str, Any]:
    """``managers`` managers open the dashboards (01–04 in turn, half in English, half in
    Chinese browsers) at the same moment against the server ``custops dashboard`` runs.

    Each waits for the interactive panel (through "busy, retrying" pages where the kernel cap
    is reached; they show the dashboard's first view meanwhile), reads the page for
    ``hold_s`` seconds and closes the tab. The server's process tree (Voila and its kernels)
    is sampled throughout.

    Returns
    -------
    dict
        ``served`` (the interactive panel arrived and no error text) of ``managers``,
        ``saw_busy_page``, ``first_figure_median_s`` / ``first_figure_slowest_s`` (the first
        figure drawn, first view or panel, from opening the page, busy pages included; of the
        ``first_figure_seen`` managers who saw one), ``interactive_median_s`` /
        ``interactive_slowest_s`` (the panel's figure, of those served), ``peak_tree_gib``, ``peak_kernels``, ``max_kernels`` (the cap),
        ``pool_kernels``, ``kernels_after_close`` (once every page closed and the pools
        refilled), ``per_manager``.
    """
    from playwright.async_api import async_playwright  # a development dependency

    if not Path(chromium).exists():
        raise RunError(f"{chromium} not found: install Debian chromium (make system-deps)")
    run = finished_run(run_dir)
    if run is None:
        raise ParameterError(f"{run_dir} is not a finished report")
    names = [n for n in PANELS]
    pools = pool_size * len(names)
    cap = max_kernels or default_max_kernels(pools)
    tmp = Path(tempfile.mkdtemp(prefix="custops-bench-load-"))
    server = start_server(run, preheat=True, pool_size=pool_size, max_kernels=cap,
                          log_path=tmp / "voila.log")
    watcher = _TreeWatcher(server.pid)
    try:
        _wait_pools(server, pool_size)
        load_at_start = [round(x, 2) for x in os.getloadavg()]
        watcher.start()

        async def main() -> list[dict[str, Any]]:
            async with async_playwright() as p:
                browser = await p.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
                try:
                    return await asyncio.gather(*[
                        _one_manager(browser, server.url(names[i % len(names)]),
                                     "zh-CN" if i % 2 else "en-US", hold_s, timeout_s)
                        for i in range(managers)])
                finally:
                    await browser.close()

        per_manager = asyncio.run(main())
        closed = time.monotonic()
        deadline = closed + 180
        while server.kernel_count() > pools and time.monotonic() < deadline:
            time.sleep(1)
        settle_s = time.monotonic() - closed
        time.sleep(3)
        after = server.kernel_count()
    finally:
        watcher.stop()
        server.stop()
        log_lines = (tmp / "voila.log").read_text("utf-8", "replace").splitlines()
        shutil.copy(tmp / "voila.log", Path(tempfile.gettempdir()) / "custops-bench-load.log")
        shutil.rmtree(tmp, ignore_errors=True)
    for i, entry in enumerate(per_manager):
        entry["page"] = i
        entry["dashboard"] = names[i % len(names)]
    served = [e for e in per_manager if e.get("served")]
    failures = [_failure(e, log_lines) for e in per_manager if not e.get("served")]
    for entry in per_manager:  # the console of served pages only as counts (the file stays small)
        events = entry.pop("events", [])
        errors = [e for e in events if " console.error: " in e or " pageerror: " in e
                  or " console.warning: " in e]
        entry["console_errors"] = len(errors)
        entry["console_error_lines"] = errors[:8]
        if not entry.get("served"):
            entry["events"] = events
    times = [e["first_figure_s"] for e in per_manager if "first_figure_s" in e]
    interactive = [e["interactive_s"] for e in served]

    def median(values):
        return round(float(np.median(values)), 2) if values else None

    return {
        "run_dir": str(run), "managers": managers, "hold_s": hold_s, "cpu_count": os.cpu_count(),
        "served": len(served), "saw_busy_page": sum(e["busy_pages"] > 0 for e in per_manager),
        "first_figure_seen": len(times),
        "first_figure_median_s": median(times),
        "first_figure_slowest_s": round(max(times), 2) if times else None,
        "interactive_median_s": median(interactive),
        "interactive_slowest_s": round(max(interactive), 2) if interactive else None,
        "peak_tree_gib": round(watcher.peak_bytes / 2**30, 2),
        "peak_kernel_gib": round(watcher.peak_kernel_bytes / 2**30, 3),
        "peak_kernels": watcher.peak_kernels, "max_kernels": cap, "pool_kernels": pools,
        "kernels_after_close": after, "seconds_to_pools_after_close": round(settle_s, 1),
        "kernel_median_s": median([e["kernel_s"] for e in per_manager if "kernel_s" in e]),
        "panel_median_s": median([e["panel_s"] for e in per_manager if "panel_s" in e]),
        "panel_slowest_s": max([e["panel_s"] for e in per_manager if "panel_s" in e],
                               default=None),
        "load_average_at_start": load_at_start,
        "load_average_at_end": [round(x, 2) for x in os.getloadavg()],
        "failures": failures,
        "per_manager": per_manager,
        "server_log_tail": [] if len(served) == managers else [
            line[:200] for line in log_lines if "custops:" in line or "ERROR" in line][-20:],
    }


# Reports to the bench, on every page of a visit (busy pages and reloads included), when the
# page got its kernel (Voila's ``jupyter-config-data`` with a kernel id), the first figure
# (first view or panel) showed, the widget panel appeared and the panel's own figure showed.
_MARKS_JS = """(() => {
  const marks = {first: @FIRST@, app: '.jp-OutputArea-output', panel: '.custops-dashboard',
                 interactive: @PANEL@};
  const done = {};
  const check = () => {
    if (!done.kernel) {
      const config = document.getElementById('jupyter-config-data');
      if (config) {
        let id = '';  // (a page still streaming may hold half the element: look again later)
        try { id = JSON.parse(config.textContent).kernelId || ''; } catch (e) { id = ''; }
        if (id) { done.kernel = true; window.__custopsMark('kernel', Date.now(), id); }
      }
    }
    for (const [kind, selector] of Object.entries(marks)) {
      if (!done[kind] && document.querySelector(selector)) {
        done[kind] = true;
        window.__custopsMark(kind, Date.now(), '');
      }
    }
    return Object.keys(done).length === Object.keys(marks).length + 1;
  };
  if (check()) return;
  const observer = new MutationObserver(() => { if (check()) observer.disconnect(); });
  observer.observe(document, {childList: true, subtree: true});
})();""".replace("@FIRST@", json.dumps(ANY_FIGURE)).replace("@PANEL@", json.dumps(PANEL_FIGURE))

# What a page that was not served showed when the bench gave up on it.
_VISIBLE_JS = """() => {
  const visible = (sel) => { const e = document.querySelector(sel);
    return Boolean(e && e.offsetParent !== null); };
  const cells = document.getElementById('rendered_cells');
  return {
    url: location.href,
    busy_page: Boolean(document.querySelector('.custops-busy')),
    first_view: Boolean(document.querySelector('#custops-first')),
    first_view_figures: document.querySelectorAll('.custops-first .js-plotly-plot').length,
    spinner: visible('#loading'),
    rendered_cells_shown: Boolean(cells && cells.style.display !== 'none'),
    kernel_id: (() => { const c = document.getElementById('jupyter-config-data');
      try { return c ? JSON.parse(c.textContent).kernelId || '' : ''; } catch (e) { return ''; }
    })(),
    beating: Boolean(window.custopsBeating),
    widget_views: document.querySelectorAll('.jupyter-widgets').length,
    widget_outputs: document.querySelectorAll('.jp-OutputArea-output').length,
    panel: Boolean(document.querySelector('.custops-dashboard')),
    panel_figure: Boolean(document.querySelector(@PANEL@)),
    recovery: window.custopsRecovery || null,
    text: (document.body ? document.body.innerText : '').slice(0, 600),
  };
}""".replace("@PANEL@", json.dumps(PANEL_FIGURE))

CONSOLE_KEEP = 400  # console lines kept per page (the last ones)


async def _one_manager(browser, url: str, locale: str, hold_s: float,
                       timeout_s: float) -> dict[str, Any]:
    context = await browser.new_context(locale=locale)
    start = time.time()
    marks: dict[str, float] = {}
    kernels: list[dict[str, Any]] = []  # each kernel id a page of the visit got, and when
    events: list[str] = []  # console, page errors, failed requests, websockets, navigations

    def note(kind: str, text: str) -> None:
        events.append(f"{time.time() - start:7.1f}s {kind}: {text[:300]}")
        del events[:-CONSOLE_KEEP]

    def mark(kind: str, at: float, extra: str) -> None:
        if kind == "kernel":
            kernels.append({"kernel_id": extra, "at_s": round(at / 1000 - start, 2)})
            note("kernel", extra)
        else:
            if kind not in marks:
                note("mark", kind)
            marks.setdefault(kind, at / 1000)

    await context.expose_function("__custopsMark", mark)
    await context.add_init_script(_MARKS_JS)
    page = await context.new_page()
    statuses: list[int] = []
    page.on("response", lambda r: statuses.append(r.status) if "/voila/render/" in r.url
            else None)
    page.on("console", lambda m: note(f"console.{m.type}", m.text))
    page.on("pageerror", lambda e: note("pageerror", str(e)))
    page.on("requestfailed", lambda r: note(
        "requestfailed", f"{r.method} {r.url.split('?')[0]} {r.failure}"))
    page.on("framenavigated", lambda f: note("navigated", f.url)
            if f.parent_frame is None else None)

    def on_websocket(ws) -> None:
        name = ws.url.split("?")[0]
        note("websocket", f"open {name}")
        if name.endswith("/channels"):
            marks.setdefault("websocket", time.time())
        ws.on("close", lambda _ws: note("websocket", f"close {name}"))
        ws.on("socketerror", lambda err: note("websocket", f"error {name} {err}"))

    page.on("websocket", on_websocket)
    entry: dict[str, Any] = {"locale": locale, "lang": "zh" if locale.startswith("zh") else "en"}
    try:
        await page.goto(url, wait_until="commit", timeout=timeout_s * 1000)
        # served: the interactive panel arrived (widgets connected to a kernel)
        await page.wait_for_selector(PANEL_FIGURE, timeout=timeout_s * 1000)
        for _ in range(50):  # the binding's call may trail the selector by a moment
            if "interactive" in marks:
                break
            await asyncio.sleep(0.1)
        entry["first_figure_s"] = round(marks.get("first", time.time()) - start, 2)
        entry["interactive_s"] = round(marks.get("interactive", time.time()) - start, 2)
        text = await page.inner_text("body")
        entry["errors"] = [m for m in ERROR_MARKERS if m in text]
        entry["served"] = not entry["errors"]
        if entry["errors"]:
            entry["visible"] = await page.evaluate(_VISIBLE_JS)
        await asyncio.sleep(hold_s)
    except Exception as exc:  # a manager who never got the panel is a result
        entry["served"] = False
        entry["error"] = f"{type(exc).__name__}: {str(exc)[:200]}"
        if "first" in marks:  # the first view was drawn, the panel never came
            entry["first_figure_s"] = round(marks["first"] - start, 2)
        with contextlib.suppress(Exception):
            entry["visible"] = await page.evaluate(_VISIBLE_JS)
    finally:
        entry["busy_pages"] = sum(s == 503 for s in statuses)
        entry["kernels"] = kernels
        if kernels:
            entry["kernel_s"] = kernels[-1]["at_s"]
        for kind in ("app", "websocket", "panel"):  # Voila's scripts ran; kernel channel
            if kind in marks:
                entry[f"{kind}_s"] = round(marks[kind] - start, 2)
        entry["page_loads"] = sum(" navigated: " in e for e in events)
        entry["events"] = events
        with contextlib.suppress(Exception):
            await page.close(run_before_unload=True)
            await asyncio.sleep(0.3)
        await context.close()
    return entry


def _verdict(entry: dict[str, Any]) -> str:
    """Where a page not served was when the bench gave up on it, in a few words."""
    visible = entry.get("visible") or {}
    recovery = visible.get("recovery") or {}
    if entry.get("errors"):
        return "error text on the page: " + ", ".join(entry["errors"])
    if visible.get("busy_page"):
        return "still on the busy page (no kernel free for it)"
    if not entry.get("kernels"):
        return "no kernel: the page never arrived"
    kernel_s = entry.get("kernel_s")
    if recovery.get("state") in ("reloading", "gave up"):
        return f"widgets missing ({recovery.get('reason')}), {recovery.get('state')}"
    if "app_s" not in entry:
        return (f"kernel at {kernel_s} s; Voila's scripts had not run yet "
                "(page still being rendered or loaded)")
    if "websocket_s" not in entry:
        return f"kernel at {kernel_s} s, outputs at {entry['app_s']} s; never connected"
    return (f"kernel at {kernel_s} s, outputs at {entry['app_s']} s, connected at "
            f"{entry['websocket_s']} s; panel not drawn yet "
            f"(recovery: {recovery.get('state', 'none')})")


def _failure(entry: dict[str, Any], log_lines: list[str]) -> dict[str, Any]:
    """What the result says about a page that was not served: its dashboard and language,
    when it got its kernel(s), what it showed, its last console lines and the server's log
    lines about its kernels."""
    ids = [k["kernel_id"] for k in entry.get("kernels", [])]
    return {
        "page": entry.get("page"), "dashboard": entry.get("dashboard"),
        "verdict": _verdict(entry),
        "lang": entry.get("lang"), "error": entry.get("error") or entry.get("errors"),
        "busy_pages": entry.get("busy_pages"), "page_loads": entry.get("page_loads"),
        "kernels": entry.get("kernels"), "first_figure_s": entry.get("first_figure_s"),
        "panel_s": entry.get("panel_s"), "visible": entry.get("visible"),
        "last_console": entry.get("events", [])[-40:],
        "server_log": [line[:240] for line in log_lines
                       if any(kid and kid in line for kid in ids)][-30:],
    }


class _TreeWatcher:
    """Samples the summed RSS of a process and its descendants, and its kernel count, in a
    thread."""

    def __init__(self, pid: int, interval: float = 0.5):
        self.pid, self.interval = pid, interval
        self.peak_bytes = self.peak_kernel_bytes = self.peak_kernels = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(5)

    def _run(self) -> None:
        while not self._stop.is_set():
            with contextlib.suppress(psutil.Error):
                root = psutil.Process(self.pid)
                total = root.memory_info().rss
                kernels = 0
                for child in root.children(recursive=True):
                    with contextlib.suppress(psutil.Error):
                        rss = child.memory_info().rss
                        total += rss
                        if any("ipykernel_launcher" in part for part in child.cmdline()):
                            kernels += 1
                            self.peak_kernel_bytes = max(self.peak_kernel_bytes, rss)
                self.peak_bytes = max(self.peak_bytes, total)
                self.peak_kernels = max(self.peak_kernels, kernels)
            self._stop.wait(self.interval)
