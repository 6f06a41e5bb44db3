"""Filter panels of the notebooks: filters, key numbers and each step's views, recomputed.

:func:`panel` is called from one cell of each notebook (right after its setup cell). With
``interactive=False`` (the report runner) it shows nothing; otherwise it shows an ipywidgets
panel: filters (RFM class, value tier, lifecycle stage, province, acquisition channel and a
month range where one applies), a language switch, a view selector, a few key numbers and the
selected view, recomputed by the step's own ``*_section`` functions on the filtered frames.
Figures go into an :class:`ipywidgets.Output` as plotly's MIME type (the renderer the static
figures use: no second plotly bundle, as a ``FigureWidget`` would load) — or, on the pages of
``custops dashboard`` (whose template loads plotly.js, ``CUSTOPS_PLOTLY_ON_PAGE``), as a small
HTML snippet that draws with that plotly.js: JupyterLab's plotly renderer draws a figure,
redraws it and renders it again to a PNG on every change, three times the work of a filter
change. Only aggregates and the first rows of tables reach the browser. On ``03_churn`` a button downloads the filtered
priority list as CSV (phones masked). On ``04_reach`` a budget slider and a contact limit
per channel re-run the optimizer (the Lagrangian method, quick enough to follow a slider) on
the run's stored candidates for the selected customers, and a button downloads the filtered
contact list.
"""

from __future__ import annotations

import datetime as dt
import html
import importlib
import json
import os
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

import ipywidgets as widgets
import numpy as np
import pandas as pd
import plotly.io as pio
from IPython.display import HTML, Markdown, display
from plotly.io.base_renderers import MimetypeRenderer
from plotly.utils import PlotlyJSONEncoder

from custops import profile
from custops.app.downloads import (
    DownloadButton,
    contact_list,
    kernel_log,
    to_csv,
)
from custops.app.first_view import (
    PANEL_DRAWN,
    PANEL_PAGE_ATTR,
    PLOTLY_MIME,
    PLOTLY_ON_PAGE_ENV,
    when_plotly,
)
from custops.errors import NotComputable, ParameterError
from custops.exports import mask_phones, priority_list
from custops.labels import check_lang, t, value_label
from custops.profile import ATTRIBUTES
from custops.sections import Section, table_html
from custops.segment import RFM_CLASS_ORDER, STAGES, TIERS

__all__ = ["ALL", "FILTERS", "PANELS", "PLOTLY_ON_PAGE_ENV", "ChurnPanel", "PageRenderer", "Panel",
           "ProfilePanel", "ReachPanel", "SegmentPanel", "View", "customer_frame", "drawn_by_page",
           "figure_html",
           "filter_mask", "filter_values", "kpi_html", "month_bounds", "month_options", "panel", "section_outputs", "use_page_plotly"]

log = kernel_log(__name__)  # errors of a panel: the server's log, never the page


class _Lazy:
    """A step module imported on first use: a dashboard kernel imports what its own panel
    needs (``custops.churn`` brings scikit-learn's ensembles, ~1 s of a kernel's start)."""

    def __init__(self, name: str):
        self._name = name

    def __getattr__(self, attr: str):
        return getattr(importlib.import_module(self._name), attr)


aggregates, churn, reach, segment = (_Lazy(f"custops.{name}") for name in
                                     ("aggregates", "churn", "reach", "segment"))

FILTERS = ("rfm_class", "value_tier", "lifecycle_stage", "province", "acquisition_channel")
FILTER_LABELS = {"rfm_class": "dash.rfm_class", "value_tier": "dash.value_tier",
                 "lifecycle_stage": "dash.lifecycle_stage", "province": "attr.province",
                 "acquisition_channel": "attr.acquisition_channel"}
ALL = ""  # dropdown value meaning "no filter on this column"
LANG_OPTIONS = (("English", "en"), ("中文", "zh"))
FIGURE_CONFIG = {"displaylogo": False, "responsive": True}
TABLE_ROWS = 30  # rows of a table sent to the browser


# -- pure helpers: the customer frame, filters, key numbers, section outputs -----------------

def customer_frame(features: pd.DataFrame, segments: pd.DataFrame | None) -> pd.DataFrame:
    """One row per customer with the filter columns, order dates and the (masked) phone.

    Required columns: ``customer_id`` in both frames; ``segments`` adds ``rfm_class``,
    ``value_tier`` and ``lifecycle_stage`` (missing columns are left empty).
    """
    keep = ["customer_id", "province", "acquisition_channel", "first_order_date",
            "last_order_date", "phone"]
    frame = features[[c for c in keep if c in features]].copy()
    for col in keep:
        if col not in frame:
            frame[col] = pd.NA
    if segments is not None:
        seg = segments.set_index("customer_id")
        for col in ("rfm_class", "value_tier", "lifecycle_stage"):
            if col in seg:
                frame[col] = seg[col].reindex(frame["customer_id"]).to_numpy()
    for col in FILTERS:
        if col not in frame:
            frame[col] = pd.NA
    frame["phone"] = mask_phones(frame["phone"])
    return frame.reset_index(drop=True)


def filter_values(frame: pd.DataFrame, column: str) -> list[str]:
    """The values a filter offers: the steps' own order for segments, else most frequent
    first; missing values are not offered."""
    counts = frame[column].dropna().astype(str).value_counts()
    order = {"rfm_class": RFM_CLASS_ORDER, "value_tier": TIERS,
             "lifecycle_stage": STAGES}.get(column)
    if order is None:
        return list(counts.index)
    return [v for v in order if v in counts.index] + [v for v in counts.index if v not in order]


def filter_mask(frame: pd.DataFrame, selection: Mapping[str, str | None], *,
                date_column: str | None = None, months: tuple[str, str] | None = None
                ) -> np.ndarray:
    """Rows of ``frame`` matching every chosen value (empty/None = no filter) and, with
    ``date_column``, whose date falls in the month range ``months`` ("YYYY-MM", inclusive)."""
    mask = np.ones(len(frame), dtype=bool)
    for column, value in selection.items():
        if value:
            mask &= (frame[column].astype("object") == value).fillna(False).to_numpy(bool)
    if date_column is not None and months is not None:
        start, end = month_bounds(months)
        dates = pd.to_datetime(frame[date_column])
        mask &= ((dates >= start) & (dates < end)).fillna(False).to_numpy(bool)
    return mask


def month_bounds(months: tuple[str, str]) -> tuple[pd.Timestamp, pd.Timestamp]:
    """("2025-01", "2025-03") → [2025-01-01, 2025-04-01)."""
    start = pd.Period(months[0], "M").start_time
    end = (pd.Period(months[1], "M") + 1).start_time
    return start, end


def month_options(first: Any, last: Any) -> list[str]:
    """Every month from ``first`` to ``last`` as "YYYY-MM"."""
    if pd.isna(first) or pd.isna(last):
        return []
    periods = pd.period_range(pd.Timestamp(first).to_period("M"),
                              pd.Timestamp(last).to_period("M"), freq="M")
    return [str(p) for p in periods]


def kpi_html(items: Sequence[tuple[str, str, str]]) -> str:
    """Key numbers as a row of cards: (key, label, formatted value)."""
    cards = "".join(
        f'<div class="custops-kpi" data-kpi="{html.escape(key)}" style="padding:6px 14px;'
        f'border-left:4px solid #2f6690;background:#f5f7fa;min-width:120px">'
        f'<div class="custops-kpi-value" style="font-size:1.45em;font-weight:600">'
        f'{html.escape(value)}</div><div style="color:#555">{html.escape(label)}</div></div>'
        for key, label, value in items)
    return f'<div class="custops-kpis" style="display:flex;flex-wrap:wrap;gap:10px">{cards}</div>'


# How far below the window a lazy figure starts drawing (a manager scrolling finds it drawn).
LAZY_MARGIN_PX = 600
PLOTLY_DEFAULT_HEIGHT_PX = 450
# How long lazy figures wait once the panel's widgets are on the page without a figure (a
# view with none), and at most in all (the page template reloads a page whose widgets never
# drew after ``custops dashboard --widget-seconds``, 120 s by default).
LAZY_GATE_MS = 3000
LAZY_GATE_MAX_MS = 120_000
# ``window.custopsAfterPanel(fn)``: runs ``fn`` once the page's panel has drawn its figure.
# Voila renders a page's widgets in no fixed order: the report below the panel came before
# the panel itself, near the top of a page not laid out yet, so its first figure was drawn
# (~0.25 s of the browser's main thread on 01) before the panel's — below the window once the
# panel was there. A dashboard page says a panel is coming (``PANEL_PAGE_ATTR`` on its
# plotly.js tag, there with or without a first view; or the panel's widgets); elsewhere ``fn``
# runs at once. Lazy figures wait for the panel's own figure (``PANEL_DRAWN``). A panel
# that could not be computed opens the gate itself (``window.custopsOpenGate``, from
# :func:`panel`). ``window.custopsGateOpenedBy`` says what opened it: "panel", "no panel",
# "no panel figure" (``LAZY_GATE_MS`` after the panel's widgets came without a figure) or
# "timeout" (``LAZY_GATE_MAX_MS``); ``window.custopsGateHeld`` counts the figures it held.
LAZY_GATE_JS = (
    "if (!window.custopsAfterPanel) { (function () {"
    "var waiting = [], open = false, cap = null, settle = null;"
    f"var drawn = {json.dumps(PANEL_DRAWN)};"
    "function coming() { return !window.custopsNoPanel && Boolean("
    "document.querySelector('.custops-dashboard')"
    f" || document.querySelector('script[{PANEL_PAGE_ATTR}]')); }}"
    "function release(why) { if (open) { return; } open = true;"
    " window.custopsGateOpenedBy = why; watch.disconnect(); clearTimeout(cap);"
    " clearTimeout(settle); waiting.splice(0).forEach(function (fn) {"
    " try { fn(); } catch (e) { setTimeout(function () { throw e; }, 0); } }); }"
    "function settling() { if (settle === null && document.querySelector('.custops-dashboard'))"
    f" {{ settle = setTimeout(function () {{ release('no panel figure'); }}, {LAZY_GATE_MS}); }} }}"
    "var watch = new MutationObserver(function () {"
    " if (document.querySelector(drawn)) { release('panel'); } else { settling(); } });"
    "window.custopsOpenGate = function () { release('no panel'); };"
    "window.custopsAfterPanel = function (fn) {"
    " if (open) { fn(); return; }"
    " if (document.querySelector(drawn)) { release('panel'); fn(); return; }"
    " if (!coming()) { release('no panel'); fn(); return; }"
    " waiting.push(fn); window.custopsGateHeld = (window.custopsGateHeld || 0) + 1;"
    f" if (cap === null) {{ cap = setTimeout(function () {{ release('timeout'); }}, {LAZY_GATE_MAX_MS});"
    " settling(); watch.observe(document.documentElement, {childList: true, subtree: true}); }"
    " };"
    "})(); }")
# What a panel that could not be computed sends on a dashboard page: no figure is coming.
NO_PANEL_JS = ("<script>window.custopsNoPanel = true;"
               " if (window.custopsOpenGate) { window.custopsOpenGate(); }</script>")


def figure_html(fig, *, lazy: bool = False, after_paint: bool = False) -> str:
    """A figure (or its dict) as HTML that draws itself with the page's ``window.Plotly``
    (one plot, no PNG copy); the figure's JSON cannot close the script early.

    ``lazy``: drawn once it comes within ``LAZY_MARGIN_PX`` of the window (the report below a
    dashboard's panel: a page's first figures are drawn first, and a page closed before its
    reader scrolled never spends the browser's time on the rest).

    On a dashboard page a lazy figure starts watching the window only once the page's panel
    has drawn its own figure (``LAZY_GATE_JS``, which also says when it does not wait): the
    figure a manager needs first comes before the rest.

    ``after_paint``: drawn in a task of its own once the browser has painted what came with
    it (a panel's second and later figures: the first figure and the key numbers of a filter
    change show without waiting for every figure of the view to be drawn). With ``lazy``: once
    near the window, after the next paint."""
    figure = fig if isinstance(fig, dict) else fig.to_plotly_json()
    payload = json.dumps({"data": figure.get("data", []), "layout": figure.get("layout", {})},
                         cls=PlotlyJSONEncoder)
    payload = payload.replace("<", "\\u003c")  # valid JSON and JS: no tag can start
    draw = when_plotly("window.Plotly.newPlot(node, fig.data, fig.layout || {}, "
                       f"{json.dumps(FIGURE_CONFIG)});")
    start = "draw();"
    if after_paint:  # the next frame is painted first, then this figure is drawn
        start = "requestAnimationFrame(function () { setTimeout(draw, 0); });"
    if lazy:  # IntersectionObserver is in every browser Voila's scripts run in; then ``start``
        start = (LAZY_GATE_JS + "window.custopsAfterPanel(function () {"
                 "var seen = new IntersectionObserver(function (entries) {"
                 "if (entries.some(function (e) { return e.isIntersecting; })) {"
                 f"seen.disconnect(); {start} }} }}, {{rootMargin: '{LAZY_MARGIN_PX}px 0px'}});"
                 "seen.observe(node); });")
    css = "custops-figure custops-lazy-figure" if lazy else "custops-figure"
    # a lazy figure keeps its place (plotly's default height) until drawn: figures not drawn
    # yet must not all sit within the margin at once
    style = ""
    if lazy:
        height = figure.get("layout", {}).get("height") or PLOTLY_DEFAULT_HEIGHT_PX
        style = f' style="min-height:{int(height)}px"'
    return (f'<div class="{css}"{style}></div><script type="text/javascript">(function () {{'
            "var script = document.currentScript;"
            "var node = script && script.previousElementSibling;"
            f"var fig = {payload};"
            f"function draw() {{ {draw} }}"
            f"if (node) {{ {start} }}"
            "})();</script>")


def drawn_by_page(output: dict[str, Any]) -> dict[str, Any]:
    """A notebook output whose plotly figure (plotly's MIME type) becomes :func:`figure_html`
    (a ``custops dashboard`` page has no JupyterLab plotly renderer); others unchanged."""
    figure = output.get("data", {}).get(PLOTLY_MIME)
    if figure is None:
        return output
    return {**output, "data": {"text/html": figure_html(figure, lazy=True)}}


def section_outputs(sections: Sequence, empty_text: str = "", *,
                    html_figures: bool | None = None) -> list[dict[str, Any]]:
    """Sections as notebook ``display_data`` outputs: heading, figures, tables (first
    rows only) and text. Figures are plotly's MIME type (JupyterLab and Voila draw it), or with
    ``html_figures`` (default: ``CUSTOPS_PLOTLY_ON_PAGE`` is set) :func:`figure_html`."""
    def output(data: dict[str, Any]) -> dict[str, Any]:
        return {"output_type": "display_data", "data": data, "metadata": {}}

    if html_figures is None:
        html_figures = os.environ.get(PLOTLY_ON_PAGE_ENV) == "1"
    plotly_mime = pio.renderers["plotly_mimetype"]

    figures = 0

    def figure(fig) -> dict[str, Any]:
        nonlocal figures
        figures += 1
        if html_figures:  # the first figure at once, the others after the browser painted it
            return output({"text/html": figure_html(fig, after_paint=figures > 1)})
        return output(plotly_mime.to_mimebundle(fig.to_dict()))

    outputs = []
    if not sections:
        outputs.append(output({"text/html": f'<p class="custops-empty">'
                                            f"{html.escape(empty_text)}</p>"}))
    for section in sections:
        outputs.append(output({"text/html": f"<h4>{html.escape(section.title)}</h4>"}))
        # figures before tables: a view's first figure is on screen when the page opens (04's
        # plan table pushed its figure below the window)
        outputs += [figure(fig) for fig in section.figures]
        outputs += [output({"text/html": table_html(table, max_rows=TABLE_ROWS)})
                    for table in section.tables]
        if section.text and html_figures:  # one HTML output for the whole view
            outputs.append(output({"text/html": _markdown_html(section.text)}))
        elif section.text:
            outputs.append(output({"text/markdown": section.text}))
    return _merge_html(outputs)


def _markdown_html(text: str) -> str:
    """A section's Markdown as HTML (raw HTML in it escaped, as text)."""
    import mistune  # noqa: PLC0415 - nbconvert's Markdown parser; only on dashboard pages

    global _MARKDOWN
    if _MARKDOWN is None:
        _MARKDOWN = mistune.create_markdown(escape=True, plugins=["table", "strikethrough"])
    return f'<div class="custops-text">{_MARKDOWN(text)}</div>'


_MARKDOWN = None


def _merge_html(outputs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Consecutive HTML-only outputs as one: the browser renders one output area child
    instead of one per heading, table and figure (a filter change redraws them all)."""
    merged: list[dict[str, Any]] = []
    for out in outputs:
        if (merged and list(out["data"]) == ["text/html"]
                and list(merged[-1]["data"]) == ["text/html"]):
            merged[-1] = {**merged[-1], "data": {
                "text/html": merged[-1]["data"]["text/html"] + out["data"]["text/html"]}}
        else:
            merged.append(out)
    return merged


# -- the panel ---------------------------------------------------------------------------------

# Hides every cell after the panel's — the page's own sections, while they show again in
# another language below the panel. JupyterLab draws cells as .jp-Cell siblings; Voila wraps
# each cell in a div of its own (measured in Voila 0.5).
HIDE_PAGE_SECTIONS = ("<style>.jp-Cell:has(.custops-dashboard) ~ .jp-Cell, "
                      "div:has(> .jp-Cell .custops-dashboard) ~ div:has(> .jp-Cell) "
                      "{display: none !important;}</style>")

@dataclass
class View:
    """One entry of the view selector: a label (per language) and the sections it shows."""

    label: Callable[[str], str]
    sections: Callable[[np.ndarray, tuple[str, str] | None, str], list]


class Panel:
    """Filter bar, language switch, view selector, key numbers and the selected view.

    Subclasses give the customer frame, the views and the key numbers; everything else
    (widgets, relabelling, caching, error handling) lives here.
    """

    date_label: str | None = None  # label key of the month-range filter (None: no range)
    date_column: str | None = None  # column of ``customers`` the range filters (None: orders)

    def __init__(self, ctx, customers: pd.DataFrame, *, months: Sequence[str] = ()):
        self.ctx = ctx
        self.lang = ctx.lang
        self.customers = customers
        self.months = list(months)
        self.views: dict[str, View] = self.make_views()
        self._muted = False
        self._cache: OrderedDict[tuple, tuple[list, list]] = OrderedDict()
        self.last_seconds = 0.0
        self.values = {col: filter_values(customers, col) for col in FILTERS}

        wide = {"description_width": "initial"}
        self.language = widgets.ToggleButtons(options=list(LANG_OPTIONS), value=self.lang,
                                              style={"button_width": "72px"})
        self.language.add_class("custops-lang")
        self.view = widgets.Dropdown(options=[(v.label(self.lang), k) for k, v in
                                              self.views.items()], style=wide,
                                     layout=widgets.Layout(width="auto", min_width="320px"))
        self.view.add_class("custops-view")
        self.dropdowns: dict[str, Any] = {}
        for col in FILTERS:
            dropdown = widgets.Dropdown(style=wide, layout=widgets.Layout(width="auto",
                                                                  margin="2px 12px 2px 0"),
                                        disabled=not self.values[col])
            dropdown.add_class(f"custops-filter-{col.replace('_', '-')}")
            self.dropdowns[col] = dropdown
        self.range = None
        if self.date_label and len(self.months) > 1:
            self.range = widgets.SelectionRangeSlider(
                options=[(m.replace("-", "/"), m) for m in self.months],
                index=(0, len(self.months) - 1), continuous_update=False,
                style=wide, layout=widgets.Layout(width="520px"))
            self.range.add_class("custops-months")
        self.reset = widgets.Button(icon="undo", layout=widgets.Layout(width="auto"))
        self.reset.add_class("custops-reset")
        self.intro = widgets.HTML()
        self.kpis = widgets.HTML()
        self.output = widgets.Output(layout=widgets.Layout(min_height="480px"))
        self.output.add_class("custops-output")
        self.page_lang = self.lang  # the language the page's own sections are drawn in
        self.page_style = widgets.HTML()
        self.page_report = widgets.Output()
        self.page_report.add_class("custops-page-report")
        self._relabel()

        for control in (*self.dropdowns.values(), self.view):
            control.observe(self.refresh, "value")
        if self.range is not None:
            self.range.observe(self.refresh, "value")
        for control in self.controls():
            control.observe(self.refresh, "value")
        self.language.observe(self._switch_language, "value")
        if hasattr(ctx, "on_language"):
            ctx.on_language(self._follow_language)
        self.reset.on_click(self._reset)
        filters = [*self.dropdowns.values()] + ([self.range] if self.range is not None else [])
        self.widget = widgets.VBox([
            self.intro,
            widgets.HBox([self.language, self.view, self.reset],
                         layout=widgets.Layout(flex_flow="row wrap", align_items="center")),
            widgets.HBox(filters, layout=widgets.Layout(flex_flow="row wrap")),
            self.kpis, *self.extra_widgets(), self.output,
        ], layout=widgets.Layout(border="1px solid #d8dde3", padding="10px", margin="0 0 24px 0"))
        self.widget.add_class("custops-dashboard")
        self.refresh()

    # -- to be given by subclasses ------------------------------------------------------------
    def make_views(self) -> dict[str, View]:
        raise NotImplementedError

    def key_numbers(self, mask: np.ndarray, months: tuple[str, str] | None, lang: str
                    ) -> list[tuple[str, str, str]]:
        raise NotImplementedError

    def extra_widgets(self) -> list:
        return []

    def controls(self) -> list:
        """Extra widgets whose value changes the view (observed like the filters)."""
        return []

    def state(self) -> tuple:
        """The extra controls' values, part of the cache key."""
        return ()

    def reset_extra(self) -> None:
        """Put the extra controls back to their initial values (called muted)."""

    # -- state -----------------------------------------------------------------------------
    def selection(self) -> dict[str, str]:
        return {col: dropdown.value for col, dropdown in self.dropdowns.items()}

    def month_range(self) -> tuple[str, str] | None:
        if self.range is None or tuple(self.range.index) == (0, len(self.months) - 1):
            return None
        return tuple(self.range.value)

    def customer_mask(self) -> np.ndarray:
        months = self.month_range() if self.date_column else None
        return filter_mask(self.customers, self.selection(), date_column=self.date_column,
                           months=months)

    # -- rendering -------------------------------------------------------------------------
    def refresh(self, *_) -> None:
        """Recompute the selected view for the current filters and language, and show it."""
        if self._muted:
            return
        start = time.perf_counter()
        lang, months = self.lang, self.month_range()
        key = (lang, self.view.value, tuple(self.selection().items()), months, self.state())
        try:
            if key in self._cache:  # what the browser gets, ready: a filter set back is instant
                self._cache.move_to_end(key)
                kpis, outputs = self._cache[key]
            else:
                mask = self.customer_mask()
                kpis = kpi_html(self.key_numbers(mask, months, lang))
                sections = (self.views[self.view.value].sections(mask, months, lang)
                            if mask.any() else [])
                outputs = tuple(section_outputs(sections, t("dash.empty", lang)))
                self._cache[key] = (kpis, outputs)
                while len(self._cache) > 24:
                    self._cache.popitem(last=False)
            self.kpis.value = kpis
            self._show_outputs(outputs)
        except Exception:  # managers never see a traceback: log it, say what to do
            log.exception("dashboard view %s failed for %s", self.view.value, key)
            self._show([], t("dash.failed", lang))
        self.last_seconds = time.perf_counter() - start

    def _show(self, sections: list, empty_text: str) -> None:
        self._show_outputs(tuple(section_outputs(sections, empty_text)))

    def _show_outputs(self, outputs: tuple) -> None:
        # The outputs are assigned, not captured with ``with output:``: during Voila's run of
        # the cell, a capturing Output makes nbclient send comm messages on the shell channel
        # it is waiting on, and the page could hang (nbclient issue 312).
        self.output.outputs = outputs

    def _relabel(self) -> None:
        """Put every widget label into ``self.lang`` without firing a recomputation."""
        lang = self.lang
        self._muted = True
        try:
            view = self.view.value
            self.view.options = [(v.label(lang), k) for k, v in self.views.items()]
            self.view.value = view
            self.view.description = t("dash.view", lang)
            for col, dropdown in self.dropdowns.items():
                value = dropdown.value
                dropdown.options = [(t("dash.all", lang), ALL)] + [
                    (value_label(v, lang), v) for v in self.values[col]]
                dropdown.value = value if value in self.values[col] else ALL
                dropdown.description = t(FILTER_LABELS[col], lang)
            if self.range is not None:
                self.range.description = t(self.date_label, lang)
            self.reset.description = t("dash.reset", lang)
            self.intro.value = (f'<div class="custops-intro" style="color:#555">'
                                f'{self.intro_text(lang, markup=True)}</div>')
            self.relabel_extra(lang)
        finally:
            self._muted = False

    def relabel_extra(self, lang: str) -> None:
        """Subclasses relabel their own widgets here."""

    def intro_text(self, lang: str, *, markup: bool = False) -> str:
        """Where the page's numbers come from; ``markup``: escaped HTML with the folder's
        name as code (a name, not a word of the page's language)."""
        ctx = self.ctx
        esc = html.escape if markup else str

        def name(folder: str) -> str:
            return f"<code>{esc(folder)}</code>" if markup else folder

        source = (t("dash.source_run", lang, run=name(ctx.run_dir.name))
                  if ctx.run_dir is not None
                  else t("dash.source_data", lang, data=name(ctx.data_dir.name)))
        intro = esc(t("dash.intro", lang, as_of=ctx.as_of, source="@SOURCE@"))
        intro = intro.replace("@SOURCE@", source)
        return intro + esc((". " if lang == "en" else "。") + t("dash.below", lang))

    def _switch_language(self, change) -> None:
        self.lang = check_lang(change["new"])
        self._relabel()
        self.refresh()
        self._show_page()

    def _show_page(self) -> None:
        """The report below the panel in the panel's language: in the page's own language the
        page's sections show as drawn; in another, the same sections drawn again in that
        language show in their place (the page's own are hidden)."""
        if not hasattr(self.ctx, "page_outputs"):
            return
        self.ctx.relabel(self.lang)
        if self.lang == self.page_lang:
            self.page_style.value, self.page_report.outputs = "", ()
            return
        outputs = self.ctx.page_outputs()
        if os.environ.get(PLOTLY_ON_PAGE_ENV) == "1":
            outputs = [drawn_by_page(output) for output in outputs]
        self.page_report.outputs = tuple(outputs)
        self.page_style.value = HIDE_PAGE_SECTIONS

    def _follow_language(self, lang: str) -> None:
        """The page changed language (its address asked for one): the switch follows."""
        self.language.value = lang

    def _reset(self, *_) -> None:
        self._muted = True
        try:
            for dropdown in self.dropdowns.values():
                dropdown.value = ALL
            if self.range is not None:
                self.range.index = (0, len(self.months) - 1)
            self.reset_extra()
        finally:
            self._muted = False
        self.refresh()


def _fmt(value: float, digits: int = 0) -> str:
    return f"{value:,.{digits}f}"


class ProfilePanel(Panel):
    """01_profile: customer base, concentration, high-value attributes, order times, cohorts,
    repurchase and channels; the month range filters orders."""

    date_label = "dash.orders_between"
    date_column = None  # the range applies to orders, not to customers

    def __init__(self, ctx):
        self.features = ctx.get("features")
        self.orders = ctx.dataset().orders
        self.attributes = [a for a in ATTRIBUTES
                           if ("age" if a == "age_band" else a) in self.features
                           and self.features["age" if a == "age_band" else a].notna().any()]
        customers = customer_frame(self.features, ctx.get("segments"))
        times = pd.to_datetime(self.orders["order_time"])
        as_of = pd.Timestamp(ctx.as_of)
        self._order_month = times.dt.strftime("%Y-%m").to_numpy()
        # each order's row in ``customers`` (-1: unknown customer), so a customer mask
        # selects orders by indexing instead of by matching ids
        self._order_row = pd.Index(customers["customer_id"]).get_indexer(
            self.orders["customer_id"])
        super().__init__(ctx, customers, months=month_options(times.min(), min(times.max(), as_of)))

    def _orders(self, mask: np.ndarray, months: tuple[str, str] | None) -> pd.DataFrame:
        keep = np.append(mask, False)[self._order_row]
        if months is not None:
            keep &= (self._order_month >= months[0]) & (self._order_month <= months[1])
        return self.orders[keep]

    def _as_of(self, months: tuple[str, str] | None) -> dt.date:
        if months is None:
            return self.ctx.as_of
        return min(self.ctx.as_of, (month_bounds(months)[1] - pd.Timedelta(days=1)).date())

    def make_views(self) -> dict[str, View]:
        def customers(mask):
            return self.features[mask]

        def months_table(mask, months):
            return aggregates.customer_months(self._orders(mask, months), self._as_of(months))

        views = {
            "base": View(lambda lang: t("base.title", lang), lambda m, r, lang: [
                profile.customer_base_section(customers(m), months_table(m, r), lang)]),
            "concentration": View(lambda lang: t("conc.title", lang), lambda m, r, lang: [
                profile.concentration_section(customers(m), lang)]),
            "time": View(lambda lang: t("heat.title", lang), lambda m, r, lang: [
                profile.order_time_section(aggregates.order_time_counts(
                    self._orders(m, r), self._as_of(r)), lang)]),
            "cohorts": View(lambda lang: t("cohort.title", lang), lambda m, r, lang: [
                profile.cohort_section(months_table(m, r), self._as_of(r), lang)]),
            "repurchase": View(lambda lang: t("repurchase.title", lang), lambda m, r, lang: [
                profile.repurchase_section(aggregates.repeat_order_curve(
                    self._orders(m, r), self._as_of(r)), lang)]),
            "channels": View(lambda lang: t("chan.title", lang), lambda m, r, lang: [
                profile.channel_section(customers(m), lang)]),
        }
        for attribute in self.attributes:
            views[f"attr.{attribute}"] = View(
                lambda lang, a=attribute: t("attr.title", lang, attribute=t(f"attr.{a}", lang)),
                lambda m, r, lang, a=attribute: [
                    profile.attributes_section(customers(m), lang, attributes=(a,))])
        return views

    def key_numbers(self, mask, months, lang):
        feats = self.features[mask]
        buyers = feats["is_buyer"].astype(bool)
        active = feats["days_since_last_order"].astype("Float64").fillna(np.inf) < 90
        orders = self._orders(mask, months)
        refunds = orders["is_refund"].fillna(False).to_numpy(bool) if "is_refund" in orders \
            else np.zeros(len(orders), bool)
        return [("customers", t("customers", lang), _fmt(len(feats))),
                ("buyers", t("base.buyers", lang), _fmt(int(buyers.sum()))),
                ("active", t("base.active", lang, days=90), _fmt(int(active.sum()))),
                ("net_revenue", t("dash.net_revenue", lang), _fmt(feats["net_spend"].sum())),
                ("orders", t("orders", lang), _fmt(int((~refunds).sum())))]


class SegmentPanel(Panel):
    """02_segment: RFM classes, value tiers, lifecycle stages and the pyramid for the
    selected customers (segments computed on everyone, then filtered)."""

    def __init__(self, ctx):
        self.features = ctx.get("features")
        self.params = ctx.segment_params
        self.segments = ctx.get("segments")
        super().__init__(ctx, customer_frame(self.features, self.segments))

    def make_views(self) -> dict[str, View]:
        def frames(mask):
            return self.features[mask], self.segments[mask]

        return {
            "rfm": View(lambda lang: t("seg.rfm_title", lang,
                                       cut=t(f"seg.cut_{self.params.rfm_cut}", lang)),
                        lambda m, r, lang: [segment.rfm_section(*frames(m), self.params, lang)]),
            "tiers": View(lambda lang: t("seg.tier_title", lang),
                          lambda m, r, lang: [segment.tiers_section(*frames(m), lang)]),
            "stages": View(lambda lang: t("seg.stage_title", lang), lambda m, r, lang: [
                segment.stages_section(*frames(m), self.params, lang)]),
            "pyramid": View(lambda lang: t("seg.pyramid_title", lang),
                            lambda m, r, lang: [segment.pyramid_section(*frames(m), lang)]),
        }

    def key_numbers(self, mask, months, lang):
        feats, segs = self.features[mask], self.segments[mask]
        buyers = int(feats["is_buyer"].sum())
        top = int(segs["value_tier"].isin(["vip", "large"]).sum())
        return [("customers", t("customers", lang), _fmt(len(feats))),
                ("buyers", t("base.buyers", lang), _fmt(buyers)),
                ("top_tiers", t("dash.top_tiers", lang), _fmt(top)),
                ("true_fans", value_label("true_fans", lang), _fmt(int(segs["true_fan"].sum())))]


class ChurnPanel(Panel):
    """03_churn: risk bands × tiers and the priority list, the churn trend; the month range
    filters on the last order; a button downloads the filtered priority list."""

    date_label = "dash.last_order_between"
    date_column = "last_order_date"

    def __init__(self, ctx):
        self.features = ctx.get("features")
        self.params = ctx.churn_params
        segments = ctx.get("segments")
        self.scores = ctx.get("churn_scores")
        everyone = customer_frame(self.features, segments).set_index("customer_id")
        scored = everyone.reindex(self.scores["customer_id"]).reset_index()
        for col in ("rfm_class", "value_tier", "lifecycle_stage"):  # the scores' own segments
            if col in self.scores:
                scored[col] = self.scores[col].to_numpy()
        self.download = DownloadButton(filename="priority_list.csv")
        self.download.add_class("custops-download")
        self.download.provider = self._csv
        last = pd.to_datetime(scored["last_order_date"])
        super().__init__(ctx, scored, months=month_options(last.min(), last.max()))

    def extra_widgets(self) -> list:
        return [self.download]

    def relabel_extra(self, lang: str) -> None:
        self.download.label = t("dash.download", lang)

    def _csv(self) -> str:
        mask = self.customer_mask()
        return to_csv(priority_list(self.scores[mask], self.customers[mask], self.lang))

    def make_views(self) -> dict[str, View]:
        def priority(mask, months, lang):
            scores = self.scores[mask]
            return [churn.risk_section(scores, lang), churn.priority_section(scores, lang),
                    churn.recall_section(scores, lang)]

        def trend(mask, months, lang):
            orders = self.ctx.dataset().orders
            ids = self.customers["customer_id"].to_numpy()[mask]
            events = aggregates.churn_events(orders[orders["customer_id"].isin(ids)],
                                                self.ctx.as_of)
            return [churn.trend_section(events, self.ctx.as_of, lang)]

        return {"priority": View(lambda lang: t("churn.priority_title", lang), priority),
                "trend": View(lambda lang: t("churn.trend_title", lang, days=180), trend)}

    def key_numbers(self, mask, months, lang):
        scores = self.scores[mask]
        at_risk = scores["risk_band"].isin(["high_risk", "medium_risk"])
        return [("buyers", t("base.buyers", lang), _fmt(len(scores))),
                ("high_risk", value_label("high_risk", lang),
                 _fmt(int((scores["risk_band"] == "high_risk").sum()))),
                ("medium_risk", value_label("medium_risk", lang),
                 _fmt(int((scores["risk_band"] == "medium_risk").sum()))),
                ("value_at_risk", t("dash.value_at_risk", lang),
                 _fmt(scores.loc[at_risk, "expected_value"].clip(lower=0).sum())),
                ("already_churned", value_label("already_churned", lang),
                 _fmt(int((scores["risk_band"] == "already_churned").sum())))]


class ReachPanel(Panel):
    """04_reach: the campaign re-planned for the selected customers. A budget slider and one
    contact-limit slider per channel (0 switches the channel off) re-run the optimizer on the
    run's stored candidates (uplift, value of a conversion, send hour) and eligibility; the
    views show the plan, the budget curve, send times and the first contacts, and a button
    downloads the filtered contact list (phones masked)."""

    def __init__(self, ctx):
        self.features = ctx.get("features")
        inputs = ctx.get("reach_inputs")  # shared with the notebook's sections below
        self.inputs, self.channels, self.params = inputs, inputs.channels, inputs.params
        customers = customer_frame(self.features, inputs.candidates)
        order = pd.Index(inputs.candidates["customer_id"]).get_indexer(customers["customer_id"])
        customers = customers[order >= 0].reset_index(drop=True)
        order = order[order >= 0]
        self.candidates = inputs.candidates.iloc[order].reset_index(drop=True)
        self.eligible = inputs.eligible[order]
        self._plans: OrderedDict[tuple, tuple[Any, Any]] = OrderedDict()

        wide = {"description_width": "initial"}
        n = len(self.candidates)
        budget = float(self.params.budget)
        top = max(budget * 3, 10.0)
        self.budget = widgets.FloatSlider(
            value=budget, min=0.0, max=top, step=_nice_step(top / 60), continuous_update=False,
            readout_format=",.0f", style=wide, layout=widgets.Layout(width="560px"))
        self.budget.add_class("custops-budget")
        self.capacity: dict[str, Any] = {}
        self._initial_capacity: dict[str, int] = {}
        for row in self.channels.itertuples():
            limit = int(min(float(row.daily_capacity) * self.params.campaign_days, n))
            slider = widgets.IntSlider(value=limit, min=0, max=n, continuous_update=False,
                                       readout_format=",d", style=wide,
                                       layout=widgets.Layout(width="360px", margin="2px 16px 2px 0"))
            slider.add_class(f"custops-capacity-{str(row.channel).replace('_', '-')}")
            self.capacity[str(row.channel)] = slider
            self._initial_capacity[str(row.channel)] = limit
        self._initial_budget = budget
        self.capacity_help = widgets.HTML()
        self.download = DownloadButton(filename="contact_list.csv")
        self.download.add_class("custops-download")
        self.download.provider = self._csv
        super().__init__(ctx, customers)

    # -- widgets ---------------------------------------------------------------------------
    def extra_widgets(self) -> list:
        return [self.budget, self.capacity_help,
                widgets.HBox(list(self.capacity.values()),
                             layout=widgets.Layout(flex_flow="row wrap")),
                self.download]

    def controls(self) -> list:
        return [self.budget, *self.capacity.values()]

    def state(self) -> tuple:
        return (round(float(self.budget.value), 2),
                tuple(int(s.value) for s in self.capacity.values()))

    def reset_extra(self) -> None:
        self.budget.value = self._initial_budget
        for name, slider in self.capacity.items():
            slider.value = self._initial_capacity[name]

    def relabel_extra(self, lang: str) -> None:
        self.budget.description = t("dash.budget", lang)
        self.capacity_help.value = (f'<div style="color:#555;margin-top:6px">'
                                    f'{html.escape(t("dash.capacity", lang))}</div>')
        for name, slider in self.capacity.items():
            slider.description = value_label(name, lang)
        self.download.label = t("dash.download_contacts", lang)

    # -- the plan --------------------------------------------------------------------------
    def plan(self, mask: np.ndarray):
        """The re-optimized plan for the customers in ``mask`` at the sliders' budget and
        limits, and the parameters it used (memoized: views share one optimization)."""
        key = (np.packbits(mask).tobytes(), self.state())
        if key in self._plans:
            self._plans.move_to_end(key)
            return self._plans[key]
        params = replace(self.params, budget=float(self.budget.value), campaign_days=1)
        channels = self.channels.assign(
            daily_capacity=[float(self.capacity[str(c)].value) for c in self.channels["channel"]])
        eligible = self.eligible[mask]
        if mask.all():
            excluded = self.inputs.excluded
        else:  # the stored counts are for everyone; per channel for the selection
            excluded = {f"not eligible: {c}": int((~eligible[:, j]).sum())
                        for j, c in enumerate(channels["channel"])}
        plan = reach.build_plan(self.candidates[mask].reset_index(drop=True), channels,
                                eligible, params, seed=self.ctx.seed, excluded=excluded,
                                uplift_source=self.inputs.uplift.source, method="lagrangian")
        self._plans[key] = (plan, params, channels)
        while len(self._plans) > 12:
            self._plans.popitem(last=False)
        return self._plans[key]

    def contacts(self, mask: np.ndarray, lang: str, *, rows: int | None = None) -> pd.DataFrame:
        """The contacted customers of the plan for ``mask`` (the first ``rows``, labelled for
        reading, or all in the exports' columns), reasons written in ``lang``."""
        plan, _, _ = self.plan(mask)
        frame = plan.plan if rows is None else plan.plan.head(rows)
        return contact_list(frame, lang, labelled=rows is not None)

    def _csv(self) -> str:
        return to_csv(self.contacts(self.customer_mask(), self.lang))

    def make_views(self) -> dict[str, View]:
        def plan_view(mask, months, lang):
            plan, params, _ = self.plan(mask)
            return [reach.plan_section(plan, params, lang)]

        def budget_view(mask, months, lang):
            plan, params, channels = self.plan(mask)
            # 7 points, not the report's 13: each point is one optimization
            curve = reach.budget_curve(self.candidates[mask].reset_index(drop=True), channels,
                                       self.eligible[mask], params, points=7, plan=plan)
            return [reach.budget_section(curve, params, lang)]

        def timing_view(mask, months, lang):
            plan, params, _ = self.plan(mask)
            return [reach.send_time_section(plan, params, lang)]

        def contacts_view(mask, months, lang):
            plan, _, _ = self.plan(mask)
            table = self.contacts(mask, lang, rows=TABLE_ROWS)
            return [Section(t("dash.contacts_title", lang, rows=len(table),
                              total=len(plan.plan)), tables=[table])]

        return {"plan": View(lambda lang: t("reach.plan_title", lang), plan_view),
                "budget": View(lambda lang: t("reach.curve_title", lang), budget_view),
                "timing": View(lambda lang: t("reach.time_title", lang), timing_view),
                "contacts": View(lambda lang: t("reach.exports_title", lang), contacts_view)}

    def key_numbers(self, mask, months, lang):
        plan, _, _ = self.plan(mask)
        total = plan.summary[plan.summary["channel"] == "total"]
        cost = float(total["cost"].iloc[0]) if len(total) else 0.0
        revenue = float(total["expected_incremental_revenue"].iloc[0]) if len(total) else 0.0
        roi = total["roi"].iloc[0] if len(total) else float("nan")
        return [("contacts", t("reach.contacts", lang), _fmt(len(plan.plan))),
                ("holdout", t("dash.holdout", lang), _fmt(len(plan.control))),
                ("cost", t("reach.cost", lang), _fmt(cost)),
                ("incremental", t("reach.incremental", lang), _fmt(revenue)),
                ("roi", t("reach.roi", lang), "–" if pd.isna(roi) else f"{roi:.1f}×")]


def _nice_step(raw: float) -> float:
    """A round slider step near ``raw`` (1, 2 or 5 × a power of ten)."""
    if raw <= 0:
        return 1.0
    power = 10 ** np.floor(np.log10(raw))
    return float(min((m * power for m in (1, 2, 5, 10)), key=lambda v: abs(v - raw)))


PANELS: dict[str, type[Panel]] = {
    "01_profile": ProfilePanel, "02_segment": SegmentPanel, "03_churn": ChurnPanel,
    "04_reach": ReachPanel,
}


class PageRenderer(MimetypeRenderer):
    """Figures of a dashboard page (``fig.show()`` in the cells below the panel) as
    :func:`figure_html`: drawn once with the page's plotly.js, instead of JupyterLab's plotly
    renderer (a second 4.8 MB copy of plotly.js, and per figure a redraw and a PNG copy)."""

    def to_mimebundle(self, fig_dict):
        return {"text/html": figure_html(fig_dict, lazy=True)}


def use_page_plotly() -> bool:
    """On a ``custops dashboard`` page (its template loads plotly.js) figures draw with it."""
    if os.environ.get(PLOTLY_ON_PAGE_ENV) != "1":
        return False
    if "custops_page" not in pio.renderers:
        pio.renderers["custops_page"] = PageRenderer()
    pio.renderers.default = "custops_page"
    return True


def panel(ctx, notebook: str, interactive: bool = True) -> Panel | None:
    """Show the interactive panel of ``notebook`` (JupyterLab, Voila); nothing when
    ``interactive`` is False (the report runner: the static sections are the report).

    Parameters
    ----------
    ctx : custops.run.context.RunContext
        The notebook's run: the panel gets the artifacts it shows with ``ctx.get`` (the same
        objects the notebook's sections below it use: computed once).
    notebook : str
        "01_profile", "02_segment", "03_churn" or "04_reach".
    interactive : bool
        The notebooks' ``interactive`` parameter.

    Returns
    -------
    Panel or None
        The panel (its ``widget`` is displayed), or None when not interactive.
    """
    if not interactive:
        return None
    use_page_plotly()  # the page's own figures below the panel, too
    if notebook not in PANELS:
        raise ParameterError(f"no dashboard panel for {notebook!r}; available: "
                             f"{', '.join(PANELS)}")
    try:
        built = PANELS[notebook](ctx)
    except NotComputable as exc:  # the page's sections below say the same, step by step
        display(Markdown(f"**{t('not_computed', ctx.lang)}**: {exc.words(ctx.lang)}"))
        if os.environ.get(PLOTLY_ON_PAGE_ENV) == "1":  # the report's figures need not wait
            display(HTML(NO_PANEL_JS))
        return None
    # The page's sections in another language go right below the panel (see Panel._show_page).
    display(widgets.VBox([built.widget, built.page_style, built.page_report]))
    return built
