"""Reading a company's data into the data contract: readers, mapping, parsers, rejects, quality.

The public surface is re-exported here; the modules of this package are its implementation.
"""

from custops.io.dataset import (
    DEFAULT_TZ,
    MAX_REJECTED_SHARE,
    REJECTS_COLUMNS,
    TABLE_NAMES,
    TABLE_SCHEMAS,
    ColumnSpec,
    Dataset,
    cli_validate,
    empty_rejects,
    format_summary,
    load_dataset,
    read_mapping,
)

__all__ = [
    "DEFAULT_TZ",
    "MAX_REJECTED_SHARE",
    "REJECTS_COLUMNS",
    "TABLE_NAMES",
    "TABLE_SCHEMAS",
    "ColumnSpec",
    "Dataset",
    "cli_validate",
    "empty_rejects",
    "format_summary",
    "load_dataset",
    "read_mapping",
]
