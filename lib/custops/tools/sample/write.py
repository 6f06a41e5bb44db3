"""Write a generated dataset as CSV or Parquet with its READMEs; ``custops sample``."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq

from custops.errors import ParameterError
from custops.tools.sample.arrays import bytes_to_strings, digits
from custops.tools.sample.generate import (
    DEFAULT_CHUNK_CUSTOMERS,
    SampleData,
    iter_sample_chunks,
)
from custops.tools.sample.parameters import SampleParameters
from custops.tools.sample.timeline import SECONDS_PER_DAY, parse_as_of
from custops.tools.sample.truth import TruthSummary, truth_readme

__all__ = ["SampleFiles", "cli_sample", "write_sample", "write_sample_in_chunks"]


def _file_table(frame: pd.DataFrame) -> pa.Table:
    """A frame in the file conventions: flags as 0/1, times to the second."""
    columns = {}
    for name in frame.columns:
        column = frame[name]
        if pd.api.types.is_bool_dtype(column.dtype):
            columns[name] = pa.array(column.to_numpy(dtype=np.int8))
        elif pd.api.types.is_datetime64_any_dtype(column.dtype):
            columns[name] = pa.Array.from_pandas(column).cast(pa.timestamp("s"))
        else:
            columns[name] = pa.Array.from_pandas(column)
    return pa.table(columns)


def _format_timestamps(column: pa.Array | pa.ChunkedArray) -> pa.Array:
    """Timestamps (seconds) → ``YYYY-MM-DD HH:MM:SS`` strings, vectorized (strftime is slow)."""
    if isinstance(column, pa.ChunkedArray):
        column = column.combine_chunks()
    missing = column.is_null().to_numpy(zero_copy_only=False)
    seconds = column.cast(pa.int64()).fill_null(0).to_numpy()
    days = np.floor_divide(seconds, SECONDS_PER_DAY)
    second_of_day = seconds - days * SECONDS_PER_DAY
    date = days.astype("datetime64[D]")
    month_start = date.astype("datetime64[M]")
    year = month_start.astype("datetime64[Y]")
    parts = [
        (year.astype(np.int64) + 1970, 4, "-"),
        ((month_start - year.astype("datetime64[M]")).astype(np.int64) + 1, 2, "-"),
        ((date - month_start.astype("datetime64[D]")).astype(np.int64) + 1, 2, " "),
        (second_of_day // 3600, 2, ":"),
        (second_of_day // 60 % 60, 2, ":"),
        (second_of_day % 60, 2, ""),
    ]
    pieces = []
    for values, width, separator in parts:
        pieces.append(digits(values, width))
        if separator:
            pieces.append(np.full((len(seconds), 1), ord(separator), dtype=np.uint8))
    text = bytes_to_strings(np.hstack(pieces))
    if missing.any():
        text = pc.if_else(pa.array(missing), pa.scalar(None, text.type), text)
    return text


class _TableFile:
    """One output table, written chunk by chunk: Parquet row groups, or CSV lines after one
    header. Every chunk is cast to the first chunk's schema, so the file has one schema."""

    def __init__(self, path: Path, fmt: str) -> None:
        self.path, self.fmt, self.rows = path, fmt, 0
        self._parquet: pq.ParquetWriter | None = None
        self._started = False

    def write(self, frame: pd.DataFrame) -> None:
        table = _file_table(frame)
        if self.fmt == "csv":
            _write_csv(table, self.path, append=self._started)
        else:
            if self._parquet is None:
                self._parquet = pq.ParquetWriter(self.path, table.schema, compression="zstd")
            self._parquet.write_table(table.cast(self._parquet.schema))
        self._started = True
        self.rows += len(frame)

    def close(self) -> None:
        if self._parquet is not None:
            self._parquet.close()
            self._parquet = None


def _write_csv(table: pa.Table, path: Path, append: bool = False) -> None:
    columns = []
    for column in table.columns:
        if pa.types.is_timestamp(column.type):
            column = _format_timestamps(column)
        columns.append(column)
    text_table = pa.table(columns, names=table.column_names)
    with path.open("ab" if append else "wb") as handle:
        if not append:
            handle.write((",".join(table.column_names) + "\n").encode("utf-8"))
        pa_csv.write_csv(text_table, handle, pa_csv.WriteOptions(
            include_header=False, quoting_style="none"))


@dataclass(frozen=True)
class _Made:
    """How a dataset was made, for the READMEs (``chunk_customers`` None: in one piece)."""

    n_customers: int
    seed: int
    as_of: str
    years: float
    params: SampleParameters
    chunk_customers: int | None


def _command(made: _Made, out_dir: str, fmt: str) -> str:
    """The shortest call that writes these files again byte for byte."""
    one_piece = made.chunk_customers is None or made.n_customers <= made.chunk_customers
    # The command line simulates in chunks of the default size (one piece up to it).
    by_cli = made.params == SampleParameters() and (
        made.chunk_customers == DEFAULT_CHUNK_CUSTOMERS
        or (one_piece and made.n_customers <= DEFAULT_CHUNK_CUSTOMERS))
    if by_cli:
        parts = ["custops sample", f"--customers {made.n_customers}", f"--seed {made.seed}"]
        if made.as_of != "2026-09-30":
            parts.append(f"--as-of {made.as_of}")
        if made.years != 2.0:
            parts.append(f"--years {made.years:g}")
        parts.append(f"--out {out_dir}")
        if fmt != "csv":
            parts.append(f"--format {fmt}")
        return " ".join(parts)
    where = "" if made.params == SampleParameters() else ", params=..."
    settings = f"seed={made.seed}, as_of={made.as_of!r}, years={made.years:g}{where}"
    if made.chunk_customers is None:
        call = (f"write_sample(generate_sample({made.n_customers}, {settings}), "
                f"{out_dir!r}, fmt={fmt!r})")
        names = "generate_sample, write_sample"
    else:
        call = (f"write_sample_in_chunks({made.n_customers}, {out_dir!r}, {settings}, "
                f"fmt={fmt!r}, chunk_customers={made.chunk_customers})")
        names = "write_sample_in_chunks"
    return f'python -c "from custops.tools.sample import {names}; {call}"'



def _readme(made: _Made, rows: dict[str, int], command: str, fmt: str) -> str:
    lines = [
        "# Synthetic sample data (custops)",
        "",
        "Made by `custops.tools.sample.generate_sample` — a simulated Chinese retail/app business with",
        "known ground truth. Regenerate it byte for byte with:",
        "",
        "```",
        command,
        "```",
        "",
        f"Snapshot (as_of): {made.as_of} end of day; window: {made.years:g} years before it.",
        "",
        "| file | rows | what |",
        "|---|---|---|",
    ]
    what = {
        "orders": "purchases and refunds (refund = own row, negative amount, same order_id)",
        "customers": "profiles, acquisition channel, consent per touch channel, masked phone",
        "events": "visit, check_in, cart_add, share, referral, review, complaint",
        "touches": "two past campaigns with a randomised holdout (control = not contacted)",
    }
    for name in what:
        lines.append(f"| {name}.{fmt} | {rows[name]:,} | {what[name]} |")
    chunks = made.chunk_customers
    if chunks is not None and made.n_customers > chunks:
        lines += [
            "",
            f"Simulated in chunks of {chunks:,} customers (`iter_sample_chunks`), each from its",
            "own seed: rows come chunk by chunk, in time order within a chunk; campaigns and",
            "referrals stay within a chunk; order ids are unique but ordered by time only within",
            "a chunk.",
        ]
    lines += [
        "",
        "`truth/` holds what the generator knows and a company never does (latent parameters,",
        "what happens after as_of, true campaign effects). Notebooks and models must not read",
        "it; tests and benchmarks grade models against it. See `truth/README.md`.",
        "",
    ]
    return "\n".join(lines)


@dataclass
class SampleFiles:
    """What :func:`write_sample_in_chunks` wrote.

    Attributes
    ----------
    paths : list of Path
        Data files, truth files and the two READMEs.
    rows : dict
        Rows per data and truth file, keyed by the path relative to the output folder
        (``orders.parquet``, ``truth/customers.parquet``, ...).
    chunks : int
        Number of chunks simulated.
    """

    paths: list[Path]
    rows: dict[str, int]
    chunks: int


def _write(chunks: Iterable[SampleData], made: _Made, out_dir: str | Path, fmt: str,
           log: Callable[[str], None] | None = None) -> SampleFiles:
    if fmt not in ("csv", "parquet"):
        raise ParameterError(f"format must be 'csv' or 'parquet', got {fmt!r}")
    out = Path(out_dir)
    truth_dir = out / "truth"
    truth_dir.mkdir(parents=True, exist_ok=True)
    files: dict[str, _TableFile] = {}
    summary = TruthSummary()
    count = 0
    try:
        for chunk in chunks:
            count += 1
            for folder, prefix, tables in ((out, "", chunk.tables()),
                                           (truth_dir, "truth/", chunk.truth_tables())):
                for name, frame in tables.items():
                    key = f"{prefix}{name}.{fmt}"
                    if key not in files:
                        files[key] = _TableFile(folder / f"{name}.{fmt}", fmt)
                    files[key].write(frame)
            summary.add(chunk.truth_customers, chunk.truth_campaign_effects)
            del chunk  # one chunk in memory: this one is freed before the next is simulated
            if log is not None:
                log(f"chunk {count}: {summary.customers:,} of {made.n_customers:,} customers "
                    f"written, {files[f'orders.{fmt}'].rows:,} order rows so far")
    finally:
        for table_file in files.values():
            table_file.close()
    rows = {key: table_file.rows for key, table_file in files.items()}
    readme = out / "README.md"
    readme.write_text(_readme(made, {k.split(".")[0]: v for k, v in rows.items()},
                              _command(made, str(out_dir), fmt), fmt), encoding="utf-8")
    truth_readme_path = truth_dir / "README.md"
    truth_readme_path.write_text(truth_readme(made.params, summary, seed=made.seed,
                                              as_of=made.as_of, years=made.years),
                                 encoding="utf-8")
    paths = [table_file.path for table_file in files.values()]
    return SampleFiles([*paths, readme, truth_readme_path], rows, count)


def write_sample(sample: SampleData, out_dir: str | Path, fmt: str = "csv") -> list[Path]:
    """Write the tables to ``out_dir`` and the truth to ``out_dir/truth``.

    Parameters
    ----------
    sample : SampleData
        From :func:`generate_sample`.
    out_dir : str or Path
        Output directory (created if needed; existing files of the same names are replaced).
    fmt : {"csv", "parquet"}
        File format. CSV is UTF-8 with times as ``YYYY-MM-DD HH:MM:SS``; both formats write
        flags as 0/1.

    Returns
    -------
    list of Path
        The files written (data, truth and the two READMEs).
    """
    made = _Made(len(sample.customers), sample.seed, sample.as_of, sample.years,
                 sample.parameters, None)
    return _write([sample], made, out_dir, fmt).paths


def write_sample_in_chunks(n_customers: int, out_dir: str | Path, *, seed: int = 42,
                           as_of: str = "2026-09-30", years: float = 2.0, fmt: str = "parquet",
                           params: SampleParameters | None = None,
                           chunk_customers: int = DEFAULT_CHUNK_CUSTOMERS,
                           log: Callable[[str], None] | None = None) -> SampleFiles:
    """Simulate and write ``n_customers`` chunk by chunk (:func:`iter_sample_chunks`), holding
    one chunk in memory: peak memory follows ``chunk_customers``, not ``n_customers``.

    Up to ``chunk_customers`` customers the files are those of :func:`write_sample` on
    :func:`generate_sample` (byte for byte). Parameters are those of
    :func:`iter_sample_chunks` and :func:`write_sample`; ``log`` gets a line per chunk.

    Returns
    -------
    SampleFiles
        Paths, rows per file and the number of chunks.
    """
    params = params or SampleParameters()
    as_of_day = str(parse_as_of(as_of))
    chunks = iter_sample_chunks(n_customers, seed=seed, as_of=as_of, years=years, params=params,
                                chunk_customers=chunk_customers)
    made = _Made(int(n_customers), int(seed), as_of_day, float(years),
                 params, int(chunk_customers))
    return _write(chunks, made, out_dir, fmt, log)


def cli_sample(args: Any) -> int:
    """``custops sample``: generate a sample and write it; print what was written.

    Up to :data:`DEFAULT_CHUNK_CUSTOMERS` customers in one piece (the shipped sample); above,
    in chunks of that many customers, so memory stays near that of one chunk.
    """
    started = time.perf_counter()
    chunk = getattr(args, "chunk_customers", None) or DEFAULT_CHUNK_CUSTOMERS
    written = write_sample_in_chunks(
        args.customers, args.out, seed=args.seed, as_of=args.as_of, years=args.years,
        fmt=args.format, chunk_customers=chunk,
        log=(lambda line: print(line, flush=True)) if args.customers > chunk else None)
    for path in written.paths:
        relative = path.relative_to(Path(args.out)).as_posix()
        count = written.rows.get(relative)
        size = path.stat().st_size / 1e6
        detail = f"{count:>10,} rows" if count is not None else " " * 15
        print(f"{path}  {detail}  {size:7.2f} MB")
    print(f"generated {args.customers:,} customers (seed {args.seed}, "
          f"as_of {parse_as_of(args.as_of)}) "
          f"in {time.perf_counter() - started:.1f} s")
    return 0
