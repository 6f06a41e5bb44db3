"""Find English left in Chinese output: every Latin-alphabet word a reader sees.

Shared by the report test (``test_chinese.py``) and the browser tests (``test_dashboard.py``).
A *word* is two or more Latin letters in a row (single letters are the R/F/M scores, the A–D
prospect grades and the ``k`` of "month k"). File names, customer ids and the allow-list
below are not reported; everything else is, with where it was found.
"""

from __future__ import annotations

import csv
import json
import re
from collections.abc import Iterable, Iterator
from html.parser import HTMLParser
from pathlib import Path

# Words a Chinese reader sees as they are, each with its reason.
ALLOWED: dict[str, str] = {
    "RFM": "the RFM model's name (recency, frequency, monetary); Chinese practice keeps it",
    "BG": "BG/NBD: a model's name with no Chinese name",
    "NBD": "BG/NBD, MBG/NBD, Pareto/NBD: model names with no Chinese name",
    "MBG": "MBG/NBD: a model's name",
    "Pareto": "Pareto/NBD: a model's name",
    "Gamma": "Gamma-Gamma: a model's name",
    "BTYD": "buy-till-you-die model family, named as in the literature",
    "AUC": "a metric's name, used as is in Chinese",
    "ROI": "return on investment, used as is in Chinese",
    "Brier": "Brier score: a metric named after a person",
    "Qini": "Qini curve/coefficient: a metric's name",
    "VIP": "a value tier, used as is in Chinese",
    "App": "a channel name, used as is in Chinese (App 推送)",
    "ARPU": "average revenue per user, used as is in Chinese",
    "KOL": "key opinion leader, used as is in Chinese",
    "CSV": "a file format",
    "Excel": "a program's name",
    "CNY": "the currency code (shown with ¥)",
    "MB": "a unit (megabytes)",
    "custops": "the product's name (a brand)",
    "English": "the language switch's button for English, named in English for its readers",
    "UTC": "time-zone notation (UTC+08:00), written so in Chinese",
    "ID": "customer ID (客户 ID): written so in Chinese",
    "CRM": "the operators' customer system, named so in Chinese",
    "ms": "a unit (milliseconds)",
}

_WORD = re.compile(r"[A-Za-z][A-Za-z']+")
# Not words: file names and paths, customer/order ids (letters then digits), URLs, hex colours,
# plotly number formats.
_NOT_WORDS = re.compile(
    r"(?:https?://\S+)"
    r"|(?:[\w./-]+\.(?:csv|xlsx|json|parquet|html|js|ipynb|yaml|yml|txt))"
    r"|(?:\b[\w.-]+/(?=\s|$))"
    r"|(?:\b[A-Za-z]{1,4}[-_]?\d[\w-]*)"
    r"|(?:#[0-9a-fA-F]{3,8}\b)"
)


def latin_words(text: str) -> list[str]:
    """The Latin-alphabet words in ``text`` that are not allowed."""
    text = _NOT_WORDS.sub(" ", str(text))
    return [w for w in _WORD.findall(text) if w not in ALLOWED]


class _VisibleText(HTMLParser):
    """Text nodes of an HTML page, without scripts, styles and the page's <title>."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag, attrs):
        if tag in ("script", "style", "title", "code"):
            self._skip += 1

    def handle_endtag(self, tag):
        if tag in ("script", "style", "title", "code") and self._skip:
            self._skip -= 1

    def handle_data(self, data):
        if not self._skip and data.strip():
            self.parts.append(data.strip())


def html_text(page: str) -> list[str]:
    """The visible text nodes of an HTML page (``<code>`` holds file and folder names)."""
    parser = _VisibleText()
    parser.feed(page)
    return parser.parts


_DATE = re.compile(r"^\d{4}-\d{2}(-\d{2})?([ T]\d{2}:\d{2}(:\d{2})?)?$")
_PLACEHOLDER = re.compile(r"%\{[^}]*\}|<extra>.*?</extra>|<br>|</?b>")
_DAY_MONTH = re.compile(r"%[aAbB]")


def _strings(value) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        if "bdata" in value:  # plotly 7 packs numeric arrays: numbers, not words
            return
        for v in value.values():
            yield from _strings(v)
    elif isinstance(value, list | tuple):
        for v in value:
            yield from _strings(v)


def figure_texts(fig: dict) -> Iterator[tuple[str, str]]:
    """(where, text) for every piece of text a plotly figure (its JSON) shows: titles, axis
    titles, category ticks, legend names, hover templates, text labels, node labels,
    annotations; and a note for each date axis drawn with plotly's English month names."""
    layout = fig.get("layout", {})
    for key, value in layout.items():
        if key == "title" or key.startswith(("xaxis", "yaxis", "coloraxis")):
            for sub in ("title", "ticktext"):
                part = value.get(sub) if isinstance(value, dict) else None
                if key == "title":
                    part = value
                for text in _strings(part):
                    yield f"layout.{key}", text
    for i, note in enumerate(layout.get("annotations", [])):
        yield f"annotation {i}", note.get("text", "")
    date_axes = set()
    for i, trace in enumerate(fig.get("data", [])):
        where = f"trace {i} ({trace.get('type', 'scatter')})"
        if trace.get("showlegend", True) is not False and "name" in trace:
            yield f"{where} name", str(trace["name"])
        for key in ("hovertemplate", "texttemplate"):
            for text in _strings(trace.get(key)):
                yield f"{where} {key}", _PLACEHOLDER.sub(" ", text)
        for key in ("text", "hovertext", "labels", "parents", "ids"):
            for text in _strings(trace.get(key)):
                yield f"{where} {key}", text
        for key in ("node", "link", "marker", "header", "cells"):
            sub = trace.get(key)
            if isinstance(sub, dict):
                for field in ("label", "values", "customdata", "hovertemplate"):
                    for text in _strings(sub.get(field)):
                        yield f"{where} {key}.{field}", _PLACEHOLDER.sub(" ", text)
                colorbar = sub.get("colorbar", {})
                for text in _strings(colorbar.get("title")):
                    yield f"{where} colorbar", text
        for text in _strings(trace.get("colorbar", {}).get("title")):
            yield f"{where} colorbar", text
        for axis in ("x", "y"):
            values = trace.get(axis)
            if isinstance(values, dict):  # plotly 7 packs typed arrays: numbers, not words
                continue
            if isinstance(values, list) and values:
                strings = [v for v in values if isinstance(v, str)]
                name = trace.get(f"{axis}axis", axis)
                category = layout.get(f"{axis}axis" + name[1:], {}).get("type") == "category"
                if strings and not category and all(_DATE.match(v) for v in strings):
                    date_axes.add(f"{axis}axis" + name[1:])
                else:
                    for text in strings:
                        yield f"{where} {axis} ticks", text
    for axis in sorted(date_axes):
        spec = layout.get(axis, {})
        fmt = spec.get("tickformat")
        if not spec.get("ticktext") and (not fmt or _DAY_MONTH.search(fmt)):
            yield f"layout.{axis}", f"dates drawn with plotly's English month names (tickformat {fmt!r})"


def notebook_texts(path: Path) -> Iterator[tuple[str, str]]:
    """(where, text) for every output of an executed notebook: HTML and Markdown as their
    visible text, plain-text streams, and plotly figures."""
    nb = json.loads(Path(path).read_text("utf-8"))
    for n, cell in enumerate(nb["cells"]):
        if cell["cell_type"] == "markdown":
            for text in html_text(_markdown_as_text("".join(cell["source"]))):
                yield f"{path.name} cell {n} markdown", text
            continue
        for output in cell.get("outputs", []):
            where = f"{path.name} cell {n}"
            if output.get("output_type") == "stream":
                yield f"{where} {output.get('name')}", "".join(output.get("text", ""))
                continue
            data = output.get("data", {})
            fig = data.get("application/vnd.plotly.v1+json")
            if fig:
                for spot, text in figure_texts(fig):
                    yield f"{where} figure {spot}", text
            elif "text/html" in data:
                for text in html_text("".join(data["text/html"])):
                    yield f"{where} html", text
            elif "text/markdown" in data:
                for text in html_text(_markdown_as_text("".join(data["text/markdown"]))):
                    yield f"{where} markdown", text


def _markdown_as_text(text: str) -> str:
    """Markdown with its code spans (file names) and link targets taken out."""
    text = re.sub(r"`[^`]*`", " ", text)
    return re.sub(r"\]\([^)]*\)", "]", text)


def export_texts(folder: Path) -> Iterator[tuple[str, str]]:
    """(where, text) for the headers and text values of every CSV and Excel export."""
    for path in sorted(Path(folder).glob("*.csv")):
        with path.open(encoding="utf-8-sig", newline="") as handle:
            for r, row in enumerate(csv.reader(handle)):
                for c, value in enumerate(row):
                    yield f"{path.name} row {r} col {c}", value
    for path in sorted(Path(folder).glob("*.xlsx")):
        import openpyxl  # noqa: PLC0415 - only where exports are checked

        book = openpyxl.load_workbook(path, read_only=True)
        for sheet in book.worksheets:
            yield f"{path.name} sheet name", sheet.title
            for r, row in enumerate(sheet.iter_rows(values_only=True)):
                for c, value in enumerate(row):
                    if isinstance(value, str):
                        yield f"{path.name}/{sheet.title} row {r} col {c}", value


def findings(texts: Iterable[tuple[str, str]], limit: int = 60) -> list[str]:
    """``where: [words] in 'text'`` for each distinct text holding words that are not allowed
    (at most ``limit``)."""
    found, seen = [], set()
    for where, text in texts:
        words = latin_words(text)
        if not words or text in seen:
            continue
        seen.add(text)
        found.append(f"{where}: {sorted(set(words))[:8]} in {text[:100]!r}")
    return found[:limit] + ([f"... {len(found) - limit} more"] if len(found) > limit else [])
