"""Errors custops raises for problems a user can fix (bad files, columns, parameters)."""

from __future__ import annotations

__all__ = ["CustopsError", "DataError", "ParameterError", "RunError"]


class CustopsError(Exception):
    """Base class: the message is written for the user and shown without a traceback."""


class DataError(CustopsError):
    """The input data cannot be used as it is (missing file, table, column, or no usable rows)."""


class ParameterError(CustopsError):
    """A parameter value is out of range or inconsistent with the data."""


class RunError(CustopsError):
    """A report run failed (a notebook raised); the previous good report was left untouched."""
