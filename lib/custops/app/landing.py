"""The dashboards' landing page: which report they show, and a link to each dashboard."""

from __future__ import annotations

import html
import json
import os

from IPython.display import HTML, display

from custops.app.server import finished_run
from custops.labels import t
from custops.run.context import RUN_DIR_ENV
from custops.run.runner import available_notebooks, notebook_title

__all__ = ["landing"]


def landing(run_dir: str = "", data_dir: str = "data/sample") -> None:
    """Show the landing page: which report the dashboards show and a link to each, with
    titles in English and Chinese."""
    run = finished_run(run_dir or os.environ.get(RUN_DIR_ENV, ""))
    items = []
    for name in available_notebooks():
        # Each link opens the dashboard in its own language (the page reads ``?lang=``).
        items.append(f'<li style="margin:10px 0;font-size:1.15em">'
                     f'<a href="{name}.ipynb?lang=en" lang="en">'
                     f'{html.escape(notebook_title(name, "en"))}</a> · '
                     f'<a href="{name}.ipynb?lang=zh" lang="zh">'
                     f'{html.escape(notebook_title(name, "zh"))}</a></li>')
    lines = []
    for lang in ("en", "zh"):
        if run is not None:
            manifest = json.loads((run / "manifest.json").read_text("utf-8"))
            lines.append(t("dash.landing_run", lang, run=run.name,
                           as_of=manifest.get("parameters", {}).get("as_of", ""),
                           finished=manifest.get("finished", "")))
        else:
            lines.append(t("dash.landing_no_run", lang, data=data_dir))
    display(HTML(
        f'<div class="custops-landing"><h2>{html.escape(t("dash.landing_title", "en"))} · '
        f'{html.escape(t("dash.landing_title", "zh"))}</h2>'
        + "".join(f"<p>{html.escape(line)}</p>" for line in lines)
        + f"<ol>{''.join(items)}</ol></div>"))
