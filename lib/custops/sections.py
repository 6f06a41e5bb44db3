"""A report section — heading, figures, tables and a generated interpretation — and its display.

Step functions return a :class:`Section`; a notebook cell shows it with ``.display()``. The same
object feeds the dashboards (its figures and tables) and the artifacts (its ``data``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pandas as pd
import plotly.graph_objects as go
from IPython.display import HTML, Markdown, display

from custops.labels import t

__all__ = ["Section", "pct", "show_not_computed", "table_html"]


@dataclass
class Section:
    """One step's result as users see it."""

    title: str
    text: str = ""
    figures: list[go.Figure] = field(default_factory=list)
    tables: list[pd.DataFrame] = field(default_factory=list)
    data: dict[str, Any] = field(default_factory=dict)

    def display(self) -> None:
        """Show heading, tables, figures and text in a notebook (JupyterLab, papermill, Voila)."""

        display(Markdown(f"### {self.title}"))
        for table in self.tables:
            display(HTML(table_html(table)))
        for fig in self.figures:
            fig.show()
        if self.text:
            display(Markdown(self.text))


def show_not_computed(reason: Exception | str, lang: str = "en") -> None:
    """Say in a section's place that its step could not run on this data, and why."""
    display(Markdown(f"### {t('not_computed', lang)}\n\n{reason}"))


def table_html(table: pd.DataFrame, max_rows: int = 30) -> str:
    """A compact HTML table without the index, numbers with thousands separators."""
    shown = table.head(max_rows).copy()
    for col in shown.columns:
        values = shown[col]
        if pd.api.types.is_float_dtype(values):
            shown[col] = values.map(lambda v: "" if pd.isna(v) else f"{v:,.2f}")
        elif pd.api.types.is_integer_dtype(values):
            shown[col] = values.map(lambda v: "" if pd.isna(v) else f"{v:,}")
    html = shown.to_html(index=False, border=0, classes="custops-table", escape=True)
    note = "" if len(table) <= max_rows else f"<p><small>{len(table):,} rows; first " \
                                             f"{max_rows} shown</small></p>"
    return html + note


def pct(value: float) -> str:
    """0.1234 → '12.3%'."""
    return "" if pd.isna(value) else f"{value:.1%}"
