"""Mapping rules that set rows aside: ``keep:``/``drop:`` a column, with conditions on its values.

A rule is read once with the mapping (:func:`parse_rule`, which checks every key) and applied to
whole columns (:meth:`Rule.matches`): every condition is a vectorised pandas operation.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from custops.io.parse import as_bool_array, clean_cell_text, is_blank, parse_numbers

__all__ = ["RULE_CONDITIONS", "Rule", "RuleError", "parse_rule"]


RULE_CONDITIONS = ("in", "not_in", "starts_with", "contains", "blank", "min", "max", "above",
                   "below")
_RULE_KEYS = ("name", "keep", "drop", *RULE_CONDITIONS)


class RuleError(ValueError):
    """A rule is not well formed; ``key`` is the rule's key at fault (``""`` for the rule)."""

    def __init__(self, key: str, message: str) -> None:
        super().__init__(message)
        self.key = key


@dataclass(frozen=True)
class Rule:
    """``action`` (``"keep"`` or ``"drop"``) rows by ``conditions`` on ``column``."""

    action: str
    column: str
    conditions: tuple[tuple[str, Any], ...]
    name: str

    def holds(self, values: pd.Series, decimal: str = ".") -> np.ndarray:
        """Where every condition holds (a boolean array over ``values``)."""
        result = np.ones(len(values), dtype=bool)
        text: pd.Series | None = None
        numbers: np.ndarray | None = None
        for key, wanted in self.conditions:
            if key in ("in", "not_in", "starts_with", "contains"):
                if text is None:
                    text = clean_cell_text(values)
                filled = text.fillna("")
                if key in ("in", "not_in"):
                    found = as_bool_array(filled.isin(list(wanted)))
                    result &= found if key == "in" else ~found
                elif key == "starts_with":
                    result &= as_bool_array(filled.str.startswith(tuple(wanted)))
                else:
                    found = np.zeros(len(values), dtype=bool)
                    for part in wanted:
                        found |= as_bool_array(filled.str.contains(part, regex=False))
                    result &= found
            elif key == "blank":
                blank = is_blank(values)
                result &= blank if wanted else ~blank
            else:
                if numbers is None:
                    numbers = parse_numbers(values, decimal).values.to_numpy(dtype=float)
                with np.errstate(invalid="ignore"):
                    if key == "min":
                        result &= numbers >= wanted
                    elif key == "max":
                        result &= numbers <= wanted
                    elif key == "above":
                        result &= numbers > wanted
                    else:
                        result &= numbers < wanted
        return result

    def sets_aside(self, values: pd.Series, decimal: str = ".") -> np.ndarray:
        """Where this rule sets the row aside."""
        holds = self.holds(values, decimal)
        return ~holds if self.action == "keep" else holds


def _describe(action: str, column: str, conditions: Sequence[tuple[str, Any]]) -> str:
    words = []
    for key, wanted in conditions:
        if key in ("in", "not_in"):
            words.append(f"{'not ' if key == 'not_in' else ''}in [{', '.join(wanted)}]")
        elif key == "starts_with":
            words.append(f"starting with {' or '.join(wanted)}")
        elif key == "contains":
            words.append(f"containing {' or '.join(wanted)}")
        elif key == "blank":
            words.append("blank" if wanted else "not blank")
        else:
            symbol = {"min": ">=", "max": "<=", "above": ">", "below": "<"}[key]
            words.append(f"{symbol} {wanted:g}")
    return f"{action} {column} {' and '.join(words)}"


def _text_list(key: str, value: Any, allow_empty_text: bool) -> tuple[str, ...]:
    items = list(value) if isinstance(value, list | tuple) else [value]
    if not items:
        raise RuleError(key, "needs at least one value")
    texts = []
    for item in items:
        if item is None or isinstance(item, Mapping | list | tuple):
            raise RuleError(key, f"values must be text or numbers, got {item!r}")
        text = ("true" if item else "false") if isinstance(item, bool) else str(item).strip()
        if not text and not allow_empty_text:
            raise RuleError(key, "an empty value matches everything; use `blank:` for blanks")
        texts.append(text)
    return tuple(texts)


def parse_rule(raw: Any) -> Rule:
    """Check one rule as written in the mapping; raise :class:`RuleError` naming the key."""
    if not isinstance(raw, Mapping):
        raise RuleError("", f"a rule is a map like {{drop: StockCode, in: [POST]}}, got {raw!r}")
    unknown = [str(key) for key in raw if key not in _RULE_KEYS]
    if unknown:
        raise RuleError(unknown[0], f"unknown rule key {unknown[0]!r}; a rule has keep: or "
                                    f"drop: COLUMN, optional name:, and conditions: "
                                    f"{', '.join(RULE_CONDITIONS)}")
    actions = [key for key in ("keep", "drop") if key in raw]
    if len(actions) != 1:
        raise RuleError("", "a rule needs exactly one of keep: COLUMN or drop: COLUMN"
                        + (" (it has both)" if len(actions) == 2 else ""))
    action = actions[0]
    column = raw[action]
    if not isinstance(column, str | int) or isinstance(column, bool) or not str(column).strip():
        raise RuleError(action, f"must name a column, got {column!r}")
    column = str(column).strip()
    conditions: list[tuple[str, Any]] = []
    for key in RULE_CONDITIONS:
        if key not in raw:
            continue
        value = raw[key]
        if key in ("in", "not_in"):
            conditions.append((key, _text_list(key, value, allow_empty_text=True)))
        elif key in ("starts_with", "contains"):
            conditions.append((key, _text_list(key, value, allow_empty_text=False)))
        elif key == "blank":
            if not isinstance(value, bool):
                raise RuleError(key, f"must be true or false, got {value!r}")
            conditions.append((key, value))
        else:
            if isinstance(value, bool) or not isinstance(value, int | float) or not np.isfinite(
                    value):
                raise RuleError(key, f"must be a number, got {value!r}")
            conditions.append((key, float(value)))
    if not conditions:
        raise RuleError("", f"{action}: {column} needs a condition: "
                            f"{', '.join(RULE_CONDITIONS)}")
    name = raw.get("name")
    if name is not None and (not isinstance(name, str | int) or not str(name).strip()):
        raise RuleError("name", f"must be a short text, got {name!r}")
    label = str(name).strip() if name is not None else _describe(action, column, conditions)
    return Rule(action, column, tuple(conditions), label)
