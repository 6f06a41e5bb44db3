"""Errors custops raises for problems a user can fix (bad files, columns, parameters)."""

from __future__ import annotations

__all__ = ["CustopsError", "DataError", "NotComputable", "ParameterError", "RunError"]


class CustopsError(Exception):
    """Base class: the message is written for the user and shown without a traceback."""


class DataError(CustopsError):
    """The input data cannot be used as it is (missing file, table, column, or no usable rows)."""


class NotComputable(DataError):
    """This step cannot run on this data (e.g. no repeat buyers, a history shorter than the
    horizon): the report shows the reason in the step's place and goes on."""


class ParameterError(CustopsError):
    """A parameter value is out of range or inconsistent with the data."""


class RunError(CustopsError):
    """A report run failed (a notebook raised); the previous good report was left untouched."""
