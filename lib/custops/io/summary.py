"""The data-quality summary as text, and the ``custops validate`` command.

Its labels live in :mod:`custops.labels` (``validate.*``, ``table.*``).
"""

from __future__ import annotations

import json
import sys
import tempfile
import unicodedata
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from custops.errors import DataError, ParameterError
from custops.io.contract import TABLE_NAMES
from custops.io.dataset import load_dataset
from custops.labels import reject_reason_words, t

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
    totals = summary["totals"]
    # The "set aside" column appears only when a mapping rule set rows aside.
    set_aside = bool(totals.get("rows_set_aside"))
    columns = ["table", "file", "rows_read", "rows_kept", "rows_rejected", "dates", "customers"]
    rows = [[label(name) for name in columns]]
    if set_aside:
        rows[0].insert(5, t("quality.rows_set_aside", lang))
    for table, quality in summary["tables"].items():
        table_label = t(f"table.{table}", lang)
        if quality is None:
            rows.append([table_label, label("not_found"), "", "", "", "", ""]
                        + ([""] if set_aside else []))
            continue
        dates = ""
        if quality.get("date_min"):
            dates = f"{quality['date_min'][:10]} … {quality['date_max'][:10]}"
        row = [table_label, quality["file"], f"{quality['rows_read']:,}",
               f"{quality['rows_kept']:,}", f"{quality['rows_rejected']:,}", dates,
               f"{quality['customers']:,}"]
        if set_aside:
            row.insert(5, f"{quality.get('rows_set_aside', 0):,}")
        rows.append(row)
    total_row = [label("total"), "", f"{totals['rows_read']:,}", f"{totals['rows_kept']:,}",
                 f"{totals['rows_rejected']:,}", "", f"{totals['customers']:,}"]
    if set_aside:
        total_row.insert(5, f"{totals['rows_set_aside']:,}")
    rows.append(total_row)
    lines.extend(_align_columns(rows, right_aligned={2, 3, 4, 5, 7} if set_aside
                                else {2, 3, 4, 6}))
    reason_lines = []
    for table, quality in summary["tables"].items():
        if quality and quality["rejected_by_reason"]:
            reasons = ", ".join(f"{_translate_reason(reason, lang)} {count:,}"
                                for reason, count in quality["rejected_by_reason"].items())
            reason_lines.append(f"  {t('table.' + table, lang)}: {reasons}")
    lines.extend(["", f"{label('reasons')}:"])
    lines.extend(reason_lines or [f"  {label('none')}"])
    rule_lines = []
    for table, quality in summary["tables"].items():
        if quality and quality.get("set_aside_by_rule"):
            rules = ", ".join(f"{rule} {count:,}"
                              for rule, count in quality["set_aside_by_rule"].items())
            rule_lines.append(f"  {t('table.' + table, lang)}: {rules}")
    if rule_lines:
        lines.extend(["", f"{t('quality.set_aside', lang)}:", *rule_lines])
    orders = summary["tables"].get("orders")
    if orders and "net_amount" in orders:
        lines.extend(["", t("quality.orders_line", lang,
            orders=orders["orders"], purchases=orders["purchases"], refunds=orders["refunds"],
            gross=orders["gross_amount"], net=orders["net_amount"])])
    if summary.get("warnings"):
        lines.extend(["", f"{label('warnings')}:"])
        lines.extend(f"  - {warning}" for warning in summary["warnings"])
    return "\n".join(lines)


def cli_validate(args: Any) -> int:
    """Run ``custops validate``: load the data, print the summary, optionally write the rejects.

    Parameters
    ----------
    args : argparse.Namespace
        ``data``, ``as_of``, ``mapping``, ``preset``, ``tz``, ``json`` (print JSON on stdout),
        ``rejects`` (CSV path for the rejected and set-aside rows, written also when loading
        stops on too many rejects) and ``suggest_mapping`` (write a first mapping for the data
        to this YAML file instead of loading it).

    Returns
    -------
    int
        0; a :class:`DataError` propagates and the CLI prints it with exit code 2.
    """
    suggest_out = getattr(args, "suggest_mapping", None)
    if suggest_out:
        return _write_suggestion(args.data, suggest_out)
    rejects_path = getattr(args, "rejects", None)
    # The tables checked in DuckDB are written to a scratch folder instead of coming into
    # pandas (load_dataset's clean_dir): the summary is counted from the files.
    with tempfile.TemporaryDirectory(prefix="custops-validate-") as scratch:
        dataset = load_dataset(args.data, as_of=args.as_of, mapping=args.mapping, tz=args.tz,
                               preset=getattr(args, "preset", None), rejects_path=rejects_path,
                               clean_dir=scratch, clean_tables=TABLE_NAMES)
        summary = dataset.summary()
    if getattr(args, "json", False):
        print(json.dumps(summary, ensure_ascii=False, indent=2))
        note_stream = sys.stderr
    else:
        print(format_summary(summary, lang=getattr(args, "lang", None) or "en"))
        note_stream = sys.stdout
    if rejects_path:
        aside = (f" and {len(dataset.set_aside):,} rows set aside by rules"
                 if len(dataset.set_aside) else "")
        print(f"\n{len(dataset.rejects):,} rejected rows{aside} written to {rejects_path}",
              file=note_stream)
    elif len(dataset.rejects):
        print(f"\n{len(dataset.rejects):,} rows were rejected; add --rejects rejects.csv to list "
              f"them with line numbers", file=note_stream)
    return 0


def _write_suggestion(data: Any, out: Any) -> int:
    from custops.io.suggest import suggest_mapping

    path = Path(out)
    if path.exists():
        raise DataError(f"{path} already exists: choose another name for the suggested mapping "
                        f"(it is never written over a file)")
    text = suggest_mapping(data)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    print(f"Wrote a first mapping to {path}. Check the lines marked `check`, then run:\n"
          f"  custops validate --data {data} --mapping {path}")
    return 0


def _translate_reason(reason: str, lang: str) -> str:
    """A reject reason as validate prints it: the reason code in English (what the rejects
    file says), in words with the column's name in Chinese (the pages' own labels)."""
    return reason if lang == "en" else reject_reason_words(reason, lang)


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
