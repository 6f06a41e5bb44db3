"""A report section — heading, figures, tables and a generated interpretation — and its display.

Step functions return a :class:`Section`; a notebook cell shows it with ``.display()``. The same
object feeds the dashboards (its figures and tables) and the artifacts (its ``data``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pandas as pd
import plotly.graph_objects as go
import plotly.io as pio
from IPython.display import HTML, Markdown, display

from custops.errors import NotComputable
from custops.labels import t

__all__ = ["Section", "intro", "not_computed", "pct", "show_not_computed", "table_html",
           "untitled_below"]


@dataclass
class Section:
    """One step's result as users see it."""

    title: str
    text: str = ""
    figures: list[go.Figure] = field(default_factory=list)
    tables: list[pd.DataFrame] = field(default_factory=list)
    data: dict[str, Any] = field(default_factory=dict)
    level: int = 3  # heading level (1: a report's own heading)

    def display(self, lang: str = "en") -> None:
        """Show heading, tables, figures and text in a notebook (JupyterLab, papermill, Voila);
        ``lang``: the page's, for the words the tables add (how many rows are shown)."""

        display(Markdown(f"{'#' * self.level} {self.title}"))
        for table in self.tables:
            display(HTML(table_html(table, lang=lang)))
        for fig in self.figures:
            untitled_below(fig, self.title).show()
        if self.text:
            display(Markdown(self.text))


    def outputs(self, lang: str = "en") -> list[dict[str, Any]]:
        """The same as notebook ``display_data`` outputs (an output area can be given them
        from a widget callback or another thread, where ``display`` would not reach it)."""
        def output(data: dict[str, Any]) -> dict[str, Any]:
            return {"output_type": "display_data", "data": data, "metadata": {}}

        plotly_mime = pio.renderers["plotly_mimetype"]
        shown = [output({"text/markdown": f"{'#' * self.level} {self.title}"})]
        shown += [output({"text/html": table_html(table, lang=lang)}) for table in self.tables]
        shown += [output(plotly_mime.to_mimebundle(untitled_below(fig, self.title).to_dict()))
                  for fig in self.figures]
        if self.text:
            shown.append(output({"text/markdown": self.text}))
        return shown


def untitled_below(fig: go.Figure, heading: str) -> go.Figure:
    """The figure without its title when the title only repeats the heading above it (a
    dashboard view shows the same figure alone, titled)."""
    if (fig.layout.title.text or "").strip() != heading.strip():
        return fig
    shown = go.Figure(fig)
    shown.update_layout(title=None, margin={"t": 30})
    return shown


def intro(name: str, lang: str = "en") -> Section:
    """A report's heading and what it answers, in ``lang`` (labels ``notebook.<name>``,
    ``intro.<name>``): a markdown cell could only hold both languages."""
    return Section(t(f"notebook.{name}", lang), text=t(f"intro.{name}", lang), level=1)


def not_computed(reason: Exception | str, lang: str = "en") -> Section:
    """What stands in a section's place when its step could not run on this data."""
    text = reason.words(lang) if isinstance(reason, NotComputable) else str(reason)
    return Section(t("not_computed", lang), text=text)


def show_not_computed(reason: Exception | str, lang: str = "en") -> None:
    """Say in a section's place that its step could not run on this data, and why."""
    not_computed(reason, lang).display()


def table_html(table: pd.DataFrame, max_rows: int = 30, lang: str = "en") -> str:
    """A compact HTML table without the index, numbers with thousands separators; a longer
    table shows its first ``max_rows`` and says so in ``lang``."""
    shown = table.head(max_rows).copy()
    for col in shown.columns:
        values = shown[col]
        if pd.api.types.is_float_dtype(values):
            shown[col] = values.map(lambda v: "" if pd.isna(v) else f"{v:,.2f}")
        elif pd.api.types.is_integer_dtype(values):
            shown[col] = values.map(lambda v: "" if pd.isna(v) else f"{v:,}")
    html = shown.to_html(index=False, border=0, classes="custops-table", escape=True)
    note = "" if len(table) <= max_rows else \
        f"<p><small>{t('table.rows_shown', lang, rows=len(table), shown=max_rows)}</small></p>"
    return html + note


def pct(value: float) -> str:
    """0.1234 → '12.3%'."""
    return "" if pd.isna(value) else f"{value:.1%}"
