"""Figures and their look: one template, one palette, fonts that render Chinese, offline HTML.

Every ``*_figure`` function returns a :class:`plotly.graph_objects.Figure` and never shows it.
:func:`setup_notebook` (called once at the top of each notebook) selects the template and a
renderer that works in all three places the notebooks are read:

- JupyterLab and Voila draw plotly's own MIME type;
- nbconvert's HTML export falls back to a ``text/html`` part that does *not* inline plotly.js:
  the first figure of a report carries ``<script src="plotly.min.js">`` and the report runner
  writes that file once per report folder (see :func:`write_plotlyjs`). A report then stays
  small and opens offline from disk.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import plotly.io as pio
from plotly.io._base_renderers import MimetypeRenderer
from plotly.offline import get_plotlyjs
from plotly.subplots import make_subplots

__all__ = [
    "plain_text",
    "FONT_FAMILY",
    "PALETTE",
    "PLOTLYJS_FILE",
    "SEQUENTIAL",
    "TEMPLATE_NAME",
    "bar_figure",
    "bars_and_rate_figure",
    "budget_curve_figure",
    "date_axis",
    "month_labels",
    "calibration_figure",
    "funnel_figure",
    "heatmap_figure",
    "line_figure",
    "lorenz_figure",
    "qini_figure",
    "sankey_figure",
    "setup_notebook",
    "share_bars_figure",
    "small_multiples_figure",
    "treemap_figure",
    "write_plotlyjs",
]

PLOTLYJS_FILE = "plotly.min.js"
FONT_FAMILY = (
    '"Noto Sans CJK SC", "Source Han Sans SC", "PingFang SC", "Microsoft YaHei", '
    '"WenQuanYi Micro Hei", "Helvetica Neue", Arial, sans-serif'
)
PALETTE = ["#2f6690", "#d1495b", "#edae49", "#66a182", "#8e6c8a", "#3a7ca5", "#f28f3b",
           "#00798c", "#9c6644", "#6c757d"]
SEQUENTIAL = "Blues"
TEMPLATE_NAME = "custops"


def _template() -> go.layout.Template:
    template = go.layout.Template(pio.templates["plotly_white"])
    template.layout.font = {"family": FONT_FAMILY, "size": 13}
    template.layout.colorway = PALETTE
    template.layout.margin = {"l": 60, "r": 30, "t": 60, "b": 50}
    template.layout.title = {"x": 0.01, "xanchor": "left", "font": {"size": 16}}
    template.layout.legend = {"orientation": "h", "y": -0.18}
    return template


class _ScriptState:
    """Shared mutable state: plotly copies the renderer on every display, so a flag on the
    renderer instance would not stick between figures."""

    tag_written = False


class _ReportRenderer(MimetypeRenderer):
    """``text/html`` without plotly.js inlined; the first figure links ``plotly.min.js``."""

    state = _ScriptState

    def __init__(self, config: dict | None = None):
        self.config = config or {"displaylogo": False, "responsive": True}

    def to_mimebundle(self, fig_dict):
        html = pio.to_html(
            fig_dict, config=self.config, include_plotlyjs=False, include_mathjax=False,
            full_html=False, default_width="100%", default_height=480, validate=False,
        )
        if not self.state.tag_written:
            html = f'<script src="{PLOTLYJS_FILE}" charset="utf-8"></script>\n' + html
            self.state.tag_written = True
        return {"text/html": html}


def setup_notebook() -> None:
    """Select the custops template and the report renderer (idempotent)."""
    pio.templates[TEMPLATE_NAME] = _template()
    pio.templates.default = TEMPLATE_NAME
    if "custops_report" not in pio.renderers:
        pio.renderers["custops_report"] = _ReportRenderer()
    _ReportRenderer.state.tag_written = False
    pio.renderers.default = "plotly_mimetype+custops_report"


def write_plotlyjs(folder: str | Path) -> Path:
    """Write plotly.js once into a report folder (offline, no CDN)."""

    path = Path(folder) / PLOTLYJS_FILE
    path.write_text(get_plotlyjs(), encoding="utf-8")
    return path


def plain_text(values) -> list:
    """Labels that may come from the data (categories, provinces, channels) as plain text:
    plotly draws a subset of HTML inside text (links, bold, line breaks), so ``<`` and ``>``
    are escaped and a label can never become a link or markup."""
    return [html.escape(v, quote=False) if isinstance(v, str) else v for v in values]


def bar_figure(frame: pd.DataFrame, x: str, y: str, *, title: str, color: str | None = None,
               text: str | None = None, orientation: str = "v", xaxis_title: str | None = None,
               yaxis_title: str | None = None, barmode: str = "group",
               name: str | None = None) -> go.Figure:
    """A bar chart of ``y`` by ``x`` (one trace per value of ``color`` when given; ``name``
    names the single trace otherwise, shown on hover)."""
    fig = go.Figure()
    groups = [(None, frame)] if color is None else list(frame.groupby(color, sort=False))
    for i, (group, part) in enumerate(groups):
        xs, ys = (part[x], part[y]) if orientation == "v" else (part[y], part[x])
        fig.add_bar(x=plain_text(xs), y=plain_text(ys),
                    name=plain_text([str(group) if group is not None else (name or "")])[0],
                    orientation=orientation, marker_color=PALETTE[i % len(PALETTE)],
                    text=part[text] if text else None, textposition="auto" if text else None)
    fig.update_layout(title=title, barmode=barmode, showlegend=color is not None,
                      xaxis_title=xaxis_title, yaxis_title=yaxis_title)
    return fig


def line_figure(frame: pd.DataFrame, x: str, ys: Sequence[str], *, title: str,
                names: Sequence[str] | None = None, yaxis_title: str | None = None,
                percent: bool = False) -> go.Figure:
    """One line per column in ``ys`` against ``x``."""
    fig = go.Figure()
    for i, col in enumerate(ys):
        fig.add_scatter(x=frame[x], y=frame[col], mode="lines+markers",
                        name=names[i] if names else col, line_color=PALETTE[i % len(PALETTE)])
    fig.update_layout(title=title, yaxis_title=yaxis_title)
    if percent:
        fig.update_yaxes(tickformat=".0%")
    return fig


# Date ticks per language: plotly's own month names are English ("Oct 2024").
DATE_TICKS = {"en": ("%b %Y", "%Y-%m-%d"), "zh": ("%Y年%-m月", "%Y年%-m月%-d日")}


def date_axis(fig: go.Figure, lang: str, axis: str = "x") -> go.Figure:
    """Date ticks and hover dates of ``axis`` in ``lang`` (``2024年10月``, not ``Oct 2024``)."""
    ticks, hover = DATE_TICKS.get(lang, DATE_TICKS["en"])
    update = fig.update_xaxes if axis == "x" else fig.update_yaxes
    update(tickformat=ticks, hoverformat=hover)
    return fig


def month_labels(months: Sequence, lang: str) -> list[str]:
    """Months (``"2024-10"``, dates or periods) as category labels: ``2024年10月`` in Chinese,
    ``2024-10`` otherwise."""
    stamps = pd.to_datetime(pd.Series([str(m) for m in months]), format="mixed")
    if lang == "zh":
        return [f"{d.year}年{d.month}月" for d in stamps]
    return [f"{d:%Y-%m}" for d in stamps]


def small_multiples_figure(panels: Sequence[tuple[str, Sequence[str], Sequence[float],
                                                  Sequence[float]]], *, title: str | None,
                           names: tuple[str, str], yaxis_title: str, columns: int = 2,
                           percent: bool = True) -> go.Figure:
    """One small bar chart per panel (``(title, labels, first, second)``), two bars per label
    (``names``: e.g. high-value vs the other buyers), one shared legend, same y scale."""
    rows = max(1, -(-len(panels) // columns))
    fig = make_subplots(rows=rows, cols=columns, subplot_titles=plain_text(p[0] for p in panels),
                        shared_yaxes=True, vertical_spacing=min(0.12, 0.5 / rows),
                        horizontal_spacing=0.06)
    for i, (_, labels, first, second) in enumerate(panels):
        row, col = i // columns + 1, i % columns + 1
        labels = plain_text(labels)
        for j, (name, values) in enumerate(zip(names, (first, second), strict=True)):
            fig.add_bar(x=labels, y=list(values), name=name, legendgroup=name,
                        showlegend=i == 0, marker_color=PALETTE[j], row=row, col=col)
    fig.update_layout(title=title, barmode="group", height=max(320, 260 * rows),
                      margin={"t": 110 if title else 70},
                      legend={"orientation": "h", "y": 1.02 + 0.04 / rows, "yanchor": "bottom",
                              "x": 1, "xanchor": "right"})
    fig.update_yaxes(matches="y")  # one scale: panels compare at a glance
    if percent:
        fig.update_yaxes(tickformat=".0%")
    for row in range(1, rows + 1):
        fig.update_yaxes(title_text=yaxis_title, row=row, col=1)
    return fig


def heatmap_figure(matrix: pd.DataFrame, *, title: str, xaxis_title: str | None = None,
                   yaxis_title: str | None = None, percent: bool = False,
                   colorscale: str = SEQUENTIAL, text_format: str | None = None,
                   color_title: str | None = None) -> go.Figure:
    """A heatmap of a frame (index → rows, columns → columns), NaN cells left blank; the
    colour and the numbers in the cells are the frame's values (``color_title`` names them)."""
    values = matrix.to_numpy(dtype=float)
    fmt = text_format or (".0%" if percent else ",.0f")
    text = np.where(np.isnan(values), "", np.vectorize(lambda v: format(v, fmt))(
        np.nan_to_num(values)))
    fig = go.Figure(go.Heatmap(
        z=values, x=plain_text(str(c) for c in matrix.columns),
        y=plain_text(str(i) for i in matrix.index),
        colorscale=colorscale, text=text, texttemplate="%{text}", hoverongaps=False,
        colorbar={"tickformat": ".0%" if percent else None,
                  **({"title": {"text": color_title}} if color_title else {})},
    ))
    fig.update_layout(title=title, xaxis_title=xaxis_title, yaxis_title=yaxis_title)
    fig.update_yaxes(autorange="reversed", type="category")
    fig.update_xaxes(type="category")
    return fig


def lorenz_figure(cum_customers: np.ndarray, cum_value: np.ndarray, *, title: str,
                  x_title: str, y_title: str, curve_name: str, equality_name: str,
                  marks: Sequence[tuple[float, float, str]] = ()) -> go.Figure:
    """A Lorenz curve with the equality line and annotated points (top x% → y% of value)."""
    fig = go.Figure()
    fig.add_scatter(x=[0, 1], y=[0, 1], mode="lines", name=equality_name,
                    line={"dash": "dash", "color": "#999"})
    fig.add_scatter(x=cum_customers, y=cum_value, mode="lines", name=curve_name,
                    line={"color": PALETTE[0], "width": 3}, fill="tonexty")
    for x, y, label in marks:
        fig.add_annotation(x=x, y=y, text=label, showarrow=True, arrowhead=2, ax=40, ay=30)
    fig.update_layout(title=title, xaxis_title=x_title, yaxis_title=y_title)
    fig.update_xaxes(tickformat=".0%", range=[0, 1])
    fig.update_yaxes(tickformat=".0%", range=[0, 1])
    return fig


def share_bars_figure(labels: Sequence[str], customer_share: Sequence[float],
                      revenue_share: Sequence[float], *, title: str, customer_name: str,
                      revenue_name: str) -> go.Figure:
    """Side-by-side bars: share of customers and share of revenue per segment."""
    fig = go.Figure()
    labels = plain_text(labels)
    fig.add_bar(x=labels, y=list(customer_share), name=customer_name,
                marker_color=PALETTE[0], text=[f"{v:.0%}" for v in customer_share],
                textposition="outside")
    fig.add_bar(x=labels, y=list(revenue_share), name=revenue_name,
                marker_color=PALETTE[1], text=[f"{v:.0%}" for v in revenue_share],
                textposition="outside")
    fig.update_layout(title=title, barmode="group")
    fig.update_yaxes(tickformat=".0%")
    return fig


def treemap_figure(labels: Sequence[str], sizes: Sequence[float], colors: Sequence[float], *,
                   title: str, color_title: str, hover: Sequence[str] | None = None
                   ) -> go.Figure:
    """A treemap (area = size, colour = a share), e.g. RFM classes."""
    fig = go.Figure(go.Treemap(
        labels=plain_text(labels), parents=[""] * len(labels), values=list(sizes),
        marker={"colors": list(colors), "colorscale": SEQUENTIAL,
                "colorbar": {"title": color_title, "tickformat": ".0%"}},
        text=list(hover) if hover is not None else None,
        textinfo="label+value+text", branchvalues="total",
    ))
    fig.update_layout(title=title, margin={"t": 50, "l": 10, "r": 10, "b": 10})
    return fig


def funnel_figure(labels: Sequence[str], values: Sequence[int], *, title: str) -> go.Figure:
    """A pyramid/funnel of nested customer groups."""
    fig = go.Figure(go.Funnel(y=plain_text(labels), x=list(values), textinfo="value+percent initial",
                              marker={"color": PALETTE[: len(labels)]}))
    fig.update_layout(title=title)
    return fig


def sankey_figure(matrix: pd.DataFrame, *, title: str, row_labels: Sequence[str],
                  col_labels: Sequence[str], before: str, after: str) -> go.Figure:
    """A Sankey diagram of a transition matrix (rows: before, columns: after). A category has
    one colour on both sides (by its code in the matrix, whatever its position)."""
    n_rows = len(matrix.index)
    sources, targets, values = [], [], []
    for i, _ in enumerate(matrix.index):
        for j, _ in enumerate(matrix.columns):
            v = int(matrix.iat[i, j])
            if v > 0:
                sources.append(i)
                targets.append(n_rows + j)
                values.append(v)
    codes = list(dict.fromkeys([str(c) for c in matrix.index] + [str(c) for c in matrix.columns]))
    colour_of = {code: PALETTE[k % len(PALETTE)] for k, code in enumerate(codes)}
    colours = [colour_of[str(c)] for c in matrix.index]
    col_colours = [colour_of[str(c)] for c in matrix.columns]
    fig = go.Figure(go.Sankey(
        node={"label": plain_text([f"{x} ({before})" for x in row_labels]
                                  + [f"{x} ({after})" for x in col_labels]),
              "color": colours + col_colours, "pad": 12},
        link={"source": sources, "target": targets, "value": values,
              "color": [_rgba(colours[s], 0.35)
                        for s in sources]},
    ))
    fig.update_layout(title=title, height=600)
    return fig


def _rgba(hex_colour: str, alpha: float) -> str:
    h = hex_colour.lstrip("#")
    r, g, b = (int(h[i:i + 2], 16) for i in (0, 2, 4))
    return f"rgba({r},{g},{b},{alpha})"


def calibration_figure(curves: dict[str, pd.DataFrame], *, title: str, xaxis_title: str,
                       yaxis_title: str) -> go.Figure:
    """Predicted against actual rates, one line per model (``curves``: name → frame with
    predicted, actual, customers), beside the diagonal of perfect calibration."""
    fig = go.Figure()
    fig.add_scatter(x=[0, 1], y=[0, 1], mode="lines", line={"dash": "dash", "color": "#999"},
                    showlegend=False)
    for name, cal in curves.items():
        fig.add_scatter(x=cal["predicted"], y=cal["actual"], mode="lines+markers",
                        name=name, text=cal["customers"],
                        hovertemplate="%{x:.2f} → %{y:.2f} (n=%{text})")
    fig.update_layout(title=title, xaxis_title=xaxis_title, yaxis_title=yaxis_title)
    fig.update_xaxes(range=[0, 1], tickformat=".0%")
    fig.update_yaxes(range=[0, 1], tickformat=".0%")
    return fig


def bars_and_rate_figure(x: Sequence, bars: dict[str, Sequence], rate: Sequence, *,
                         title: str, rate_name: str, yaxis_title: str) -> go.Figure:
    """Grouped bars (``bars``: name → values) with a rate line on a second, percent axis."""
    fig = go.Figure()
    x = plain_text(x)
    for name, values in bars.items():
        fig.add_bar(x=x, y=values, name=name)
    fig.add_scatter(x=x, y=rate, name=rate_name, yaxis="y2", mode="lines+markers")
    fig.update_layout(title=title, barmode="group", yaxis={"title": yaxis_title},
                      yaxis2={"overlaying": "y", "side": "right", "tickformat": ".0%",
                              "title": rate_name, "rangemode": "tozero"})
    return fig


def qini_figure(curve: pd.DataFrame, *, title: str, model_name: str, random_name: str,
                xaxis_title: str, yaxis_title: str) -> go.Figure:
    """The Qini curve (share targeted → incremental conversions) against random targeting."""
    fig = go.Figure()
    fig.add_scatter(x=curve["share"], y=curve["incremental"], name=model_name, mode="lines")
    fig.add_scatter(x=curve["share"], y=curve["random"], name=random_name, mode="lines",
                    line={"dash": "dash", "color": "#999"})
    fig.update_layout(title=title, xaxis_title=xaxis_title, yaxis_title=yaxis_title)
    fig.update_xaxes(tickformat=".0%")
    return fig


def budget_curve_figure(curve: pd.DataFrame, budget: float, *, title: str, line_name: str,
                        budget_name: str, xaxis_title: str) -> go.Figure:
    """Net value against spend, with the current budget marked."""
    fig = go.Figure()
    fig.add_scatter(x=curve["budget"], y=curve["objective"], mode="lines+markers",
                    name=line_name)
    fig.add_vline(x=budget, line_dash="dot", annotation_text=budget_name)
    fig.update_layout(title=title, xaxis_title=xaxis_title, yaxis_title=line_name)
    return fig
