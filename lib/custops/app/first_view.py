"""A dashboard's first view, drawn before its kernel is ready.

The panel of each dashboard opens on its first view with no filter: its key numbers and the
view's figures. Those depend only on the published report, so they are computed once when the
server starts (:func:`first_views`, in a child process: the artifacts it reads are not kept in
the server) and written by the page template (and the "busy, retrying" page) as static HTML
drawn with plotly.js from the server. The interactive panel replaces it as soon as the page's
kernel is connected; until then the manager reads the numbers and the figure.

Run as ``python -m custops.app.first_view RUN_DIR OUT.json``.
"""

from __future__ import annotations

import contextlib
import hashlib
import html
import io
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from plotly.utils import PlotlyJSONEncoder

from custops.labels import LANGS

__all__ = ["FIRST_FIGURE", "PANEL_DRAWN", "PANEL_PAGE_ATTR", "PLOTLY_MIME", "PLOTLY_ON_PAGE_ENV", "PLOTLY_READY_EVENT", "cached_first_views",
           "first_view", "first_view_html", "first_views", "main", "plotly_script",
           "when_plotly"]

PLOTLY_MIME = "application/vnd.plotly.v1+json"
FIRST_FIGURE = ".custops-first .js-plotly-plot .main-svg"  # the precomputed figure, drawn
# The interactive panel's own figure, drawn by the kernel's widgets: the first view goes, and
# the report's lazy figures start (custops.app.panels.LAZY_GATE_JS).
PANEL_DRAWN = ".custops-dashboard .custops-output .js-plotly-plot .main-svg"
# Set to "1" for the server's kernels: the page template loads plotly.js, so the panels send
# figures as HTML drawn with it (custops.app.panels.figure_html). Here, not in the server's
# module: a kernel importing the panels must not import the server (nbformat, ~2.5 s).
PLOTLY_ON_PAGE_ENV = "CUSTOPS_PLOTLY_ON_PAGE"
STATIC_PATH = "custops/static/"  # the server's path of plotly.min.js (under its base URL)
CACHE_VERSION = "2"  # bump when the stored views change shape


def first_view(ctx, notebook: str) -> dict[str, Any]:
    """The first view of ``notebook``'s panel for ``ctx`` (a read-only run in one language):
    ``intro`` and ``kpis`` (escaped HTML), ``outputs`` (HTML snippets, figures as ``{"figure":
    i}``) and ``figures`` (plotly figure dicts), built by the panel itself."""
    from custops.app.panels import PANELS  # noqa: PLC0415 - the widget stack, in the child

    with contextlib.redirect_stdout(io.StringIO()):  # widgets outside a kernel print nothing
        board = PANELS[notebook](ctx)
    outputs: list[dict[str, Any]] = []
    figures: list[dict[str, Any]] = []
    for output in board.output.outputs:
        data = output.get("data", {})
        if PLOTLY_MIME in data:
            outputs.append({"figure": len(figures)})
            figures.append(data[PLOTLY_MIME])
        elif "text/html" in data:  # headings and tables: escaped by the sections
            outputs.append({"html": data["text/html"]})
    return {"intro": board.intro.value, "kpis": board.kpis.value, "outputs": outputs,
            "figures": figures}


def first_views(run_dir: str | os.PathLike, notebooks: list[str] | None = None
                ) -> dict[str, Any]:
    """Every dashboard's first view in every language for the published report ``run_dir``:
    ``{"run_lang": ..., "views": {notebook: {lang: view}}}``. A dashboard whose panel cannot
    be built has no entry (its page then waits for the kernel, which says why)."""
    from custops.app.panels import PANELS  # noqa: PLC0415
    from custops.run.context import RUN_DIR_ENV, open_run  # noqa: PLC0415

    os.environ[RUN_DIR_ENV] = str(Path(run_dir).resolve())  # read, never written
    os.environ.pop(PLOTLY_ON_PAGE_ENV, None)  # figures as plotly JSON, drawn by the page
    os.environ.pop("QUERY_STRING", None)
    ctx = open_run({"interactive": True})  # the run's parameters and artifacts
    run_lang = ctx.lang  # the run's language (no address asks for another here)
    views: dict[str, dict[str, Any]] = {}
    for lang in LANGS:
        ctx.lang = lang  # the same artifacts, drawn in each language
        for name in notebooks or list(PANELS):
            try:
                views.setdefault(name, {})[lang] = first_view(ctx, name)
            except Exception as exc:  # noqa: BLE001 - said on stderr, the page waits instead
                print(f"custops: no first view for {name} ({lang}): {exc}", file=sys.stderr)
    return {"run_lang": run_lang if run_lang in LANGS else "en", "views": views}


def cached_first_views(run_dir: str | os.PathLike, *, timeout: float = 300.0
                       ) -> dict[str, Any] | None:
    """:func:`first_views` computed in a child process, cached per report (its path and the
    time its manifest was written) in the temporary folder; None when it failed (the pages
    then wait for their kernels, as before)."""
    run = Path(run_dir).resolve()
    manifest = run / "manifest.json"
    if not manifest.is_file():
        return None
    key = hashlib.sha256(f"{CACHE_VERSION}|{run}|{manifest.stat().st_mtime_ns}".encode()
                         ).hexdigest()[:20]
    cache = Path(tempfile.gettempdir()) / "custops-first-views" / f"{key}.json"
    if not cache.exists():
        cache.parent.mkdir(parents=True, exist_ok=True)
        partial = cache.with_suffix(f".{os.getpid()}.tmp")
        start = time.monotonic()
        try:
            done = subprocess.run([sys.executable, "-m", "custops.app.first_view", str(run),
                                   str(partial)], stdin=subprocess.DEVNULL,
                                  stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                                  timeout=timeout, check=False)
        except subprocess.TimeoutExpired:
            print(f"custops: first views not ready after {timeout:.0f} s", file=sys.stderr)
            return None
        if done.returncode != 0 or not partial.exists():
            print(f"custops: first views failed: {done.stderr.strip()[-500:]}", file=sys.stderr)
            return None
        partial.replace(cache)
        print(f"custops: first views of {run.name} in {time.monotonic() - start:.1f} s",
              file=sys.stderr)
    return json.loads(cache.read_text("utf-8"))


# Fired on window once plotly.js has run / when it did not load (with
# ``window.custopsPlotlyFailed`` set). The page template (custops/index.html.j2) adds Voila's
# script on either: a name changed here must change there.
PLOTLY_READY_EVENT = "custops-plotly"
PLOTLY_FAILED_EVENT = "custops-plotly-failed"
# On the plotly.js tag of every dashboard page: a panel is coming (the report's lazy figures
# wait for it to draw, custops.app.panels.LAZY_GATE_JS), first view or not.
PANEL_PAGE_ATTR = "data-custops-panel"


def plotly_script(base_url: str = "/", plotly_version: str = "") -> str:
    """The page's ``<script async>`` loading plotly.js from the server (``?v=``: browsers may
    cache it, a second page does not fetch it again). Async: the page's heartbeat and Voila's
    scripts are not held behind 4.8 MB of JavaScript (under load the heartbeat came too late
    and the server took the page's kernel for an orphan); figures wait for the
    ``custops-plotly`` event when they arrive first."""
    src = (f"{base_url.rstrip('/')}/{STATIC_PATH}plotly.min.js"
           + (f"?v={plotly_version}" if plotly_version else ""))
    return (f'<script async {PANEL_PAGE_ATTR} src="{html.escape(src)}" onload="window.dispatchEvent('
            f"new Event('{PLOTLY_READY_EVENT}'))\" onerror=\"window.custopsPlotlyFailed = true; "
            f"window.dispatchEvent(new Event('{PLOTLY_FAILED_EVENT}'))\"></script>")


def when_plotly(code: str) -> str:
    """JavaScript running ``code`` (a function body) once ``window.Plotly`` exists."""
    return ("(function (run) { if (window.Plotly) { run(); } else { "
            f"window.addEventListener('{PLOTLY_READY_EVENT}', run, {{once: true}}); }} }})"
            f"(function () {{ {code} }});")


def first_view_html(views: dict[str, Any], notebook: str, base_url: str = "/", *,
                    plotly_version: str = "") -> str:
    """What a page of ``notebook`` opens with: plotly.js (the panel's figures draw with it),
    then the first view in the page's language (``?lang=``, else the run's), hidden once the
    interactive panel has drawn its own figure (just plotly.js when there is no view)."""
    script = plotly_script(base_url, plotly_version)
    by_lang = (views or {}).get("views", {}).get(notebook)
    if not by_lang:
        return script
    payload = json.dumps({"run_lang": views.get("run_lang", "en"), "views": by_lang},
                         cls=PlotlyJSONEncoder, ensure_ascii=False)
    payload = payload.replace("<", "\\u003c")  # valid JSON and JS: no tag can start
    return f"""<style>
  .custops-first {{border:1px solid #d8dde3;padding:10px;margin:8px auto 24px auto;
                   max-width:1200px;font-family:sans-serif}}
  .custops-first-wait {{height:3px;margin:6px 0;background:#d8dde3;overflow:hidden}}
  .custops-first-wait i {{display:block;height:3px;width:30%;background:#2f6690}}
  .custops-first-shown #loading {{display:none !important}}
</style>
<div id="custops-first" class="custops-first" data-notebook="{html.escape(notebook)}"></div>
<script type="application/json" id="custops-first-data">{payload}</script>
{script}
<script type="text/javascript">
(function () {{
  var box = document.getElementById('custops-first');
  var data = JSON.parse(document.getElementById('custops-first-data').textContent);
  var asked = new URLSearchParams(window.location.search).get('lang');
  var lang = data.views[asked] ? asked : data.run_lang;
  var view = data.views[lang] || data.views[Object.keys(data.views)[0]];
  if (!view) {{ box.remove(); return; }}
  box.setAttribute('lang', lang);
  var parts = [view.intro, '<div class="custops-first-wait"><i></i></div>', view.kpis];
  view.outputs.forEach(function (out) {{
    parts.push(out.html !== undefined ? out.html
               : '<div class="custops-first-figure" data-figure="' + out.figure + '"></div>');
  }});
  box.innerHTML = parts.join('');
  document.body.classList.add('custops-first-shown');
  // The wait bar moves a step a second from a timer, not a CSS animation: a running animation
  // makes the browser draw 60 frames a second for as long as the panel loads (7 % of a core
  // per page; with 20 pages waiting on one 2-core machine, a third of its CPU).
  var bar = box.querySelector('.custops-first-wait i');
  var step = 0;
  var tick = setInterval(function () {{
    if (!box.isConnected) {{ clearInterval(tick); return; }}
    step = (step + 1) % 8;
    bar.style.marginLeft = (step * 10) + '%';
  }}, 1000);
  // The first figure first, each further one in a task of its own: the browser shows the
  // first before it works on the rest (a page's scripts wait less, too).
  function draw() {{
    var figures = Array.prototype.slice.call(box.querySelectorAll('.custops-first-figure'));
    (function next() {{
      var el = figures.shift();
      if (!el || !box.isConnected) {{ return; }}
      var fig = view.figures[Number(el.getAttribute('data-figure'))];
      window.Plotly.newPlot(el, fig.data, fig.layout || {{}},
                            {{displaylogo: false, responsive: true}});
      if (!window.custopsFirstDrawnAt) {{ window.custopsFirstDrawnAt = performance.now(); }}
      if (figures.length) {{ setTimeout(next, 0); }}
    }})();
  }}
  if (window.Plotly) {{ draw(); }} else {{
    window.addEventListener('{PLOTLY_READY_EVENT}', draw, {{once: true}});
  }}
  // The interactive panel has drawn its figure: the first view goes (watched, not a CSS
  // :has() rule, which the browser would re-check on every change of a large page).
  var panel = {json.dumps(PANEL_DRAWN)};
  var watch = new MutationObserver(function () {{
    if (document.querySelector(panel)) {{
      watch.disconnect();
      clearInterval(tick);
      box.remove();
      document.body.classList.remove('custops-first-shown');
    }}
  }});
  watch.observe(document.body, {{childList: true, subtree: true}});
}})();
</script>
"""


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 2:
        print("usage: python -m custops.app.first_view RUN_DIR OUT.json", file=sys.stderr)
        return 2
    views = first_views(args[0])
    Path(args[1]).write_text(json.dumps(views, cls=PlotlyJSONEncoder, ensure_ascii=False),
                             encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
