"""The data-quality summary as text, and the ``custops validate`` command.

Its labels live in :mod:`custops.labels` (``validate.*``, ``table.*``).
"""

from __future__ import annotations

import json
import re
import sys
import unicodedata
from collections.abc import Mapping
from typing import Any

from custops.errors import ParameterError
from custops.io.dataset import load_dataset
from custops.labels import t

__all__ = ["cli_validate", "format_summary"]


def format_summary(summary: Mapping[str, Any], lang: str = "en") -> str:
    """Render :meth:`Dataset.summary` as text for a terminal or a notebook.

    Parameters
    ----------
    summary : dict
        The output of :meth:`Dataset.summary`.
    lang : {"en", "zh"}
        Language of the labels and reasons.

    Returns
    -------
    str
    """
    if lang not in ("en", "zh"):
        raise ParameterError(f"lang must be 'en' or 'zh', got {lang!r}")

    def label(key: str) -> str:
        return t(f"validate.{key}", lang)

    as_of = summary.get("as_of")
    header = f"{label('title')} — {label('source')}: {summary.get('source', '')}"
    lines = [header,
             f"{label('as_of')}: {as_of or label('no_as_of')}    {label('tz')}: {summary['tz']}",
             ""]
    columns = ["table", "file", "rows_read", "rows_kept", "rows_rejected", "dates", "customers"]
    rows = [[label(name) for name in columns]]
    for table, quality in summary["tables"].items():
        table_label = t(f"table.{table}", lang)
        if quality is None:
            rows.append([table_label, label("not_found"), "", "", "", "", ""])
            continue
        dates = ""
        if quality.get("date_min"):
            dates = f"{quality['date_min'][:10]} … {quality['date_max'][:10]}"
        rows.append([table_label, quality["file"], f"{quality['rows_read']:,}",
                     f"{quality['rows_kept']:,}", f"{quality['rows_rejected']:,}", dates,
                     f"{quality['customers']:,}"])
    totals = summary["totals"]
    rows.append([label("total"), "", f"{totals['rows_read']:,}", f"{totals['rows_kept']:,}",
                 f"{totals['rows_rejected']:,}", "", f"{totals['customers']:,}"])
    lines.extend(_align_columns(rows, right_aligned={2, 3, 4, 6}))
    reason_lines = []
    for table, quality in summary["tables"].items():
        if quality and quality["rejected_by_reason"]:
            reasons = ", ".join(f"{_translate_reason(reason, lang)} {count:,}"
                                for reason, count in quality["rejected_by_reason"].items())
            reason_lines.append(f"  {t('table.' + table, lang)}: {reasons}")
    lines.extend(["", f"{label('reasons')}:"])
    lines.extend(reason_lines or [f"  {label('none')}"])
    if summary.get("warnings"):
        lines.extend(["", f"{label('warnings')}:"])
        lines.extend(f"  - {warning}" for warning in summary["warnings"])
    return "\n".join(lines)


def cli_validate(args: Any) -> int:
    """Run ``custops validate``: load the data, print the summary, optionally write the rejects.

    Parameters
    ----------
    args : argparse.Namespace
        ``data``, ``as_of``, ``mapping``, ``tz``, ``json`` (print JSON on stdout) and ``rejects``
        (CSV path for the rejected rows, or None to not write them).

    Returns
    -------
    int
        0; a :class:`DataError` propagates and the CLI prints it with exit code 2.
    """
    dataset = load_dataset(args.data, as_of=args.as_of, mapping=args.mapping, tz=args.tz)
    summary = dataset.summary()
    rejects_path = getattr(args, "rejects", None)
    if getattr(args, "json", False):
        print(json.dumps(summary, ensure_ascii=False, indent=2))
        note_stream = sys.stderr
    else:
        print(format_summary(summary, lang=getattr(args, "lang", None) or "en"))
        note_stream = sys.stdout
    if rejects_path:
        written = dataset.write_rejects(rejects_path)
        print(f"\n{len(dataset.rejects):,} rejected rows written to {written}", file=note_stream)
    elif len(dataset.rejects):
        print(f"\n{len(dataset.rejects):,} rows were rejected; add --rejects rejects.csv to list "
              f"them with line numbers", file=note_stream)
    return 0


_REASON_TEMPLATES_ZH = (
    (re.compile(r"^missing (\w+)$"), r"\1 为空"),
    (re.compile(r"^unparseable (\w+)$"), r"\1 无法解析"),
    (re.compile(r"^(\w+) after as_of$"), r"\1 晚于截止日期"),
    (re.compile(r"^duplicate (\w+)$"), r"\1 重复"),
    (re.compile(r"^wrong number of fields$"), "字段数与表头不符"),
)


def _translate_reason(reason: str, lang: str) -> str:
    if lang == "en":
        return reason
    for pattern, replacement in _REASON_TEMPLATES_ZH:
        if pattern.match(reason):
            return pattern.sub(replacement, reason)
    return reason


def _display_width(text: str) -> int:
    return sum(2 if unicodedata.east_asian_width(char) in "WF" else 1 for char in text)


def _align_columns(rows: list[list[str]], right_aligned: set[int]) -> list[str]:
    widths = [max(_display_width(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = []
    for row in rows:
        cells = []
        for i, cell in enumerate(row):
            padding = " " * (widths[i] - _display_width(cell))
            cells.append(padding + cell if i in right_aligned else cell + padding)
        lines.append("  ".join(cells).rstrip())
    return lines
