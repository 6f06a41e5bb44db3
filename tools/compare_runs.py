"""Compare two report folders artifact by artifact: are the results of a change the same?

    python tools/compare_runs.py BEFORE AFTER

Every file under ``artifacts/`` and ``exports/`` of BEFORE must exist in AFTER with the same
content: Parquet tables with the same columns, rows and values; JSON with the same keys and
values (keys AFTER adds are listed, not counted as differences); CSV byte for byte; Excel cell
for cell. A column that changed from sentences to codes (the churn ``reason``) is compared after
rendering AFTER's codes in the run's language (``custops.labels.reason_words``). Exits 1 and
lists every difference when there is one.
"""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path

import openpyxl
import pandas as pd

from custops.labels import reason_words

SKIP = {"catalog.json", "reach_exports.json"}  # the run catalogue's own records
# Keys the redesign removed on purpose: the run catalogue records each artifact's fingerprint.
REMOVED = {"artifacts/reach_inputs.json.fingerprint"}


def _json_diff(before, after, path: str, out: list[str], added: list[str]) -> None:
    if isinstance(before, dict) and isinstance(after, dict):
        for key in before:
            if key not in after:
                if f"{path}.{key}" not in REMOVED:
                    out.append(f"{path}.{key}: missing")
            else:
                _json_diff(before[key], after[key], f"{path}.{key}", out, added)
        added += [f"{path}.{key}" for key in after if key not in before]
    elif isinstance(before, list) and isinstance(after, list):
        if len(before) != len(after):
            out.append(f"{path}: {len(before)} items before, {len(after)} after")
        for i, (b, a) in enumerate(zip(before, after, strict=False)):
            _json_diff(b, a, f"{path}[{i}]", out, added)
    elif isinstance(before, float) and isinstance(after, float | int):
        if not (math.isclose(before, after, rel_tol=1e-12, abs_tol=1e-12)
                or (math.isnan(before) and math.isnan(after))):
            out.append(f"{path}: {before!r} before, {after!r} after")
    elif before != after:
        out.append(f"{path}: {str(before)[:80]!r} before, {str(after)[:80]!r} after")


def _frame_diff(before: pd.DataFrame, after: pd.DataFrame, lang: str, name: str) -> list[str]:
    if "reason" in before and "reason" in after:
        after = after.assign(reason=reason_words(after["reason"], lang).to_numpy())
    out = []
    if list(before.columns) != list(after.columns):
        out.append(f"{name}: columns {list(before.columns)} before, {list(after.columns)} after")
        common = [c for c in before.columns if c in after.columns]
        before, after = before[common], after[common]
    try:
        pd.testing.assert_frame_equal(before.reset_index(drop=True),
                                      after.reset_index(drop=True), check_exact=True)
    except AssertionError as exc:
        out.append(f"{name}: {' '.join(str(exc).split())[:400]}")
    return out


def _excel_diff(before: Path, after: Path, name: str) -> list[str]:
    out = []
    book_b = openpyxl.load_workbook(before, read_only=True)
    book_a = openpyxl.load_workbook(after, read_only=True)
    if book_b.sheetnames != book_a.sheetnames:
        return [f"{name}: sheets {book_b.sheetnames} before, {book_a.sheetnames} after"]
    for sheet in book_b.sheetnames:
        rows_b = list(book_b[sheet].iter_rows(values_only=True))
        rows_a = list(book_a[sheet].iter_rows(values_only=True))
        if rows_b != rows_a:
            out.append(f"{name}[{sheet}]: cells differ ({len(rows_b)} rows before, "
                       f"{len(rows_a)} after)")
    return out


def compare(before: Path, after: Path) -> tuple[list[str], list[str], int]:
    """(differences, keys added in AFTER, files compared)."""
    manifest = json.loads((before / "manifest.json").read_text("utf-8"))
    lang = manifest["parameters"].get("lang", "en")
    differences: list[str] = []
    added: list[str] = []
    compared = 0
    for folder in ("artifacts", "exports"):
        for path in sorted((before / folder).rglob("*")):
            if not path.is_file() or path.name in SKIP:
                continue
            rel = path.relative_to(before)
            other = after / rel
            compared += 1
            if not other.exists():
                differences.append(f"{rel}: missing")
            elif path.suffix == ".parquet":
                differences += _frame_diff(pd.read_parquet(path), pd.read_parquet(other), lang,
                                           str(rel))
            elif path.suffix == ".json":
                _json_diff(json.loads(path.read_text("utf-8")),
                           json.loads(other.read_text("utf-8")), str(rel), differences, added)
            elif path.suffix == ".xlsx":
                differences += _excel_diff(path, other, str(rel))
            elif path.read_bytes() != other.read_bytes():
                differences.append(f"{rel}: content differs")
    return differences, added, compared


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    differences, added, compared = compare(Path(argv[0]), Path(argv[1]))
    for line in added:
        print(f"added   {line}")
    for line in differences:
        print(f"DIFFERS {line}")
    print(f"{compared} files compared, {len(differences)} differences, {len(added)} keys added")
    return 1 if differences else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
