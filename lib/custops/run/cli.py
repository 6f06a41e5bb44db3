"""The ``custops`` command line: validate, sample, report, dashboard, notebooks, bench.

Each subcommand's arguments are declared here; the work is done by a ``cli_<name>(args) -> int``
function in the module that owns it, imported only when that subcommand runs (imports are slow).
A :class:`custops.CustopsError` is printed as one line on stderr with exit code 2 — users never see
a traceback for a problem they can fix.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from custops.errors import CustopsError
from custops.io import DEFAULT_TZ
from custops.run.process import no_huge_pages

__all__ = ["build_parser", "main"]


def _add_data_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--data", required=True, help="data directory, DuckDB file (.duckdb) or URL")
    p.add_argument("--as-of", dest="as_of", default=None, help="snapshot date YYYY-MM-DD")
    p.add_argument("--mapping", default=None, help="YAML file mapping your column names")
    p.add_argument("--preset", default=None,
                   help="a shipped mapping for a platform's export: taobao, online-retail, "
                        "shopify, transaction-log (a --mapping may refine it)")
    p.add_argument("--tz", default=DEFAULT_TZ, help=f"time zone of naive times (default {DEFAULT_TZ})")


class _RunParameter(argparse.Action):
    """An option that is a run parameter: added to ``-p NAME VALUE`` (checked with them)."""

    def __call__(self, parser, namespace, values, option_string=None):
        namespace.parameter = [*(namespace.parameter or []), [self.dest, values]]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="custops", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("validate", help="check input data and print a data-quality summary")
    _add_data_args(p)
    p.add_argument("--json", action="store_true", help="print the summary as JSON on stdout")
    p.add_argument("--rejects", default=None, help="write rejected rows to this CSV file")
    p.add_argument("--suggest-mapping", dest="suggest_mapping", default=None, metavar="OUT",
                   help="write a commented first mapping for this data to OUT (YAML)")
    p.set_defaults(module="custops.io", func="cli_validate")

    p = sub.add_parser("sample", help="generate a synthetic dataset with ground truth")
    p.add_argument("--customers", type=int, default=5000)
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--out", required=True, help="output directory (truth goes to OUT/truth/)")
    p.add_argument("--as-of", dest="as_of", default="2026-09-30")
    p.add_argument("--years", type=float, default=2.0, help="years of history before as_of")
    p.add_argument("--format", choices=["csv", "parquet"], default="csv")
    p.add_argument("--chunk-customers", dest="chunk_customers", type=int, default=None,
                   help="customers generated per chunk (default: one piece up to 250,000 "
                        "customers, chunks of 250,000 above; each chunk is seeded on its own)")
    p.set_defaults(module="custops.tools.sample", func="cli_sample")

    p = sub.add_parser("report", help="run the four notebooks with papermill into a report folder")
    _add_data_args(p)
    p.add_argument("--out", required=True, help="report folder (replaced only on success)")
    p.add_argument("--lang", choices=["en", "zh"], default="en")
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--notebooks", nargs="*", default=None, help="subset, e.g. 01_profile")
    p.add_argument("--jobs", type=int, default=0, metavar="N",
                   help="notebooks run at once after the first (default 0: two when the "
                        "machine has the cores and memory for it, else one)")
    p.add_argument("-p", "--parameter", nargs=2, action="append", default=[],
                   metavar=("NAME", "VALUE"), help="extra notebook parameter (repeatable)")
    p.add_argument("--engine", action=_RunParameter, choices=["duckdb", "spark"],
                   help="where the feature layer, its snapshots and churn scoring run "
                        "(default duckdb, in process)")
    p.add_argument("--spark-master", dest="spark_master", action=_RunParameter, metavar="URL",
                   help="Spark master for --engine spark (default local[2]; e.g. "
                        "spark://host:7077, yarn, k8s://...)")
    p.set_defaults(module="custops.run.runner", func="cli_report")

    p = sub.add_parser("dashboard", help="serve the notebooks as Voila dashboards")
    p.add_argument("--run", default=None, help="report folder whose artifacts to show")
    p.add_argument("--port", type=int, default=8866)
    p.add_argument("--ip", default="127.0.0.1",
                   help="address to listen on; another than loopback needs --allow-remote and "
                        "a token or password")
    p.add_argument("--allow-remote", dest="allow_remote", action="store_true",
                   help="allow an --ip other than loopback (with --token or "
                        "CUSTOPS_DASHBOARD_TOKEN, or CUSTOPS_DASHBOARD_PASSWORD)")
    p.add_argument("--token", default=None,
                   help="access token (prefer the CUSTOPS_DASHBOARD_TOKEN environment variable: "
                        "a command line is visible to other users)")
    p.add_argument("--max-kernels", dest="max_kernels", type=int, default=None,
                   help="most kernels at once, pooled and in use (default: from available "
                        "memory and cores); beyond it pages show 'busy, retrying'")
    p.add_argument("--pool-size", dest="pool_size", type=int, default=None,
                   help="ready kernels per dashboard (default 2)")
    p.add_argument("--no-preheat", dest="preheat", action="store_false",
                   help="keep no ready kernels (saves ~300 MB each; pages then wait for "
                        "their notebook to run)")
    p.set_defaults(module="custops.app.server", func="cli_dashboard")

    p = sub.add_parser("notebooks", help="copy the notebooks and the sample data into a folder "
                       "of your own, to open in JupyterLab")
    p.add_argument("dir", metavar="DIR",
                   help="writes DIR/notebooks/ (01-04, index) and DIR/data/sample/ (generated: "
                        "5,000 customers, seed 42 - the repository's data/sample CSVs byte for "
                        "byte)")
    p.add_argument("--force", action="store_true", help="overwrite files that already exist")
    p.set_defaults(module="custops.tools.notebooks", func="cli_notebooks")

    p = sub.add_parser("bench", help="run the benchmarks and write benchmarks/results.json")
    p.add_argument("--out", default="benchmarks/results.json")
    p.add_argument("--sizes", nargs="*", type=int, default=None, help="order counts to bench")
    p.add_argument("--quick", action="store_true", help="small sizes only (smoke run)")
    p.add_argument("--cases", nargs="+", default=None,
                   choices=["features", "btyd", "report", "out_of_core", "dashboard", "uplift",
                            "dashboard_load", "report_10m"],
                   help="run only these cases (default: all)")
    p.add_argument("--skip-10m", dest="skip_10m", action="store_true",
                   help="leave out report_10m (10M customers: about half an hour and 16 GiB)")
    p.set_defaults(module="custops.tools.bench", func="cli_bench")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    # Kernels, the dashboard server and DuckDB in this process: no transparent huge pages
    # (custops.run.process; the processes it starts inherit the setting).
    no_huge_pages()
    try:
        module = importlib.import_module(args.module)
        return int(getattr(module, args.func)(args) or 0)
    except CustopsError as exc:
        print(f"custops {args.command}: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"custops {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
