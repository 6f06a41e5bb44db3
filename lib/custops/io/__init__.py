"""Reading a company's data into the data contract: readers, mapping, parsers, rejects, quality.

The public surface is re-exported here; the modules of this package are its implementation.
"""

from custops.io.checks import MAX_REJECTED_SHARE
from custops.io.contract import DEFAULT_TZ, TABLE_NAMES, TABLE_SCHEMAS, ColumnSpec
from custops.io.dataset import Dataset, MostlyRejectedError, load_dataset
from custops.io.mapping import preset_names, read_mapping
from custops.io.rejects import REJECTS_COLUMNS, empty_rejects
from custops.io.suggest import suggest_mapping
from custops.io.summary import cli_validate, format_summary

__all__ = [
    "DEFAULT_TZ",
    "MAX_REJECTED_SHARE",
    "REJECTS_COLUMNS",
    "TABLE_NAMES",
    "TABLE_SCHEMAS",
    "ColumnSpec",
    "Dataset",
    "MostlyRejectedError",
    "cli_validate",
    "empty_rejects",
    "format_summary",
    "load_dataset",
    "preset_names",
    "read_mapping",
    "suggest_mapping",
]
