"""Errors custops raises for problems a user can fix (bad files, columns, parameters)."""

from __future__ import annotations

from typing import Any

__all__ = ["CustopsError", "DataError", "NotComputable", "ParameterError", "RunError"]


class CustopsError(Exception):
    """Base class: the message is written for the user and shown without a traceback."""


class DataError(CustopsError):
    """The input data cannot be used as it is (missing file, table, column, or no usable rows)."""


class NotComputable(DataError):
    """This step cannot run on this data (e.g. no repeat buyers, a history shorter than the
    horizon): the report shows the reason in the step's place and goes on.

    Raised with a label key and its fields (``NotComputable("nc.rfm_no_spend")``); the
    reason is then said in any language with :meth:`words` (``str(exc)`` is the English one,
    for logs). A field whose name ends in ``_label`` holds a label key itself and is said in
    the same language (``where_label="nc.where_training"`` fills ``{where}``)."""

    def __init__(self, key: str, **params: Any) -> None:
        self.key = key
        self.params = params
        super().__init__(self.words("en"))

    def words(self, lang: str = "en") -> str:
        """The reason in words of ``lang``."""
        from custops.labels import not_computable_words  # labels import this module

        return not_computable_words(self.key, self.params, lang)

    def record(self) -> dict[str, Any]:
        """The reason as a run's warning stores it: English words for logs, and the key and
        fields that say it again in any language."""
        return {"reason": str(self), "reason_key": self.key, "reason_params": dict(self.params)}

    def __reduce__(self):  # pickles (e.g. from a worker process) keep the key and fields
        return _not_computable, (self.key, self.params)


def _not_computable(key: str, params: dict[str, Any]) -> NotComputable:
    return NotComputable(key, **params)


class ParameterError(CustopsError):
    """A parameter value is out of range or inconsistent with the data."""


class RunError(CustopsError):
    """A report run failed (a notebook raised); the previous good report was left untouched."""
