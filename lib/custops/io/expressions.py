"""The small expression form of ``computed`` columns: column names, numbers, ``+ - *``, brackets.

An expression is parsed once, when the mapping is read (:func:`parse_expression`), into a tree of
:class:`Expr` nodes; :meth:`Expr.evaluate` computes it over whole columns with numpy. Nothing is
ever passed to ``eval``: the only operations are the four nodes below.

Names: a run of characters between operators (spaces inside are part of the name, spaces around
it are not), or any text in backticks. A name that reads as a plain number is a number.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

__all__ = ["Expr", "ExpressionError", "Operand", "parse_expression"]


class ExpressionError(ValueError):
    """The expression text cannot be read (the message says where)."""


@dataclass
class Operand:
    """One column read as numbers: values (NaN where blank or bad) and the blank / bad masks."""

    values: np.ndarray
    blank: np.ndarray
    bad: np.ndarray


@dataclass(frozen=True)
class Expr:
    """A node: ``kind`` is ``"number"``, ``"column"``, ``"sum"``, ``"product"`` or ``"negate"``."""

    kind: str
    value: float | str | None = None
    items: tuple[tuple[int, Expr], ...] = ()  # (sign, node) for sums; (1, node) for products

    def is_column(self) -> bool:
        """A column on its own (or its negation)."""
        return self.kind == "column" or (self.kind == "negate" and self.items[0][1].is_column())

    @property
    def columns(self) -> list[str]:
        """The column names used, in order of first use."""
        if self.kind == "column":
            return [str(self.value)]
        found: list[str] = []
        for _, item in self.items:
            found.extend(name for name in item.columns if name not in found)
        return found

    def evaluate(self, operand: Callable[[str], Operand], size: int) -> tuple[np.ndarray,
                                                                               np.ndarray]:
        """Return (values, blank) over ``size`` rows; ``operand(name)`` reads a column.

        A blank operand makes a product blank; in a sum, a blank column on its own counts as 0
        while a blank product makes the sum blank (and a sum of blanks is blank). Values are
        NaN where blank.
        """
        values, blank = self._evaluate(operand, size)
        values = np.where(blank, np.nan, values)
        return values, blank

    def _evaluate(self, operand: Callable[[str], Operand], size: int):
        if self.kind == "number":
            return np.full(size, float(self.value)), np.zeros(size, dtype=bool)
        if self.kind == "column":
            read = operand(str(self.value))
            return read.values, read.blank | read.bad
        if self.kind == "negate":
            values, blank = self.items[0][1]._evaluate(operand, size)
            return -values, blank
        parts = [(sign, *item._evaluate(operand, size)) for sign, item in self.items]
        if self.kind == "product":
            values = np.ones(size)
            blank = np.zeros(size, dtype=bool)
            for _, part_values, part_blank in parts:
                values = values * np.where(part_blank, 0.0, part_values)
                blank |= part_blank
            return values, blank
        # A blank column added or subtracted on its own counts as 0 (a blank discount is no
        # discount); a blank product or bracket makes the sum blank. All terms blank: blank.
        values = np.zeros(size)
        all_blank = np.ones(size, dtype=bool)
        some_blank = np.zeros(size, dtype=bool)
        for (sign, part_values, part_blank), (_, item) in zip(parts, self.items, strict=True):
            values = values + sign * np.where(part_blank, 0.0, part_values)
            all_blank &= part_blank
            if not item.is_column():
                some_blank |= part_blank
        return values, all_blank | some_blank

    def __str__(self) -> str:
        if self.kind == "number":
            return f"{self.value:g}"
        if self.kind == "column":
            return str(self.value)
        if self.kind == "negate":
            return f"-{self.items[0][1]}"
        if self.kind == "product":
            return " * ".join(_bracketed(item) for _, item in self.items)
        text = ""
        for index, (sign, item) in enumerate(self.items):
            if index == 0:
                text = str(item) if sign > 0 else f"-{item}"
            else:
                text += f" {'+' if sign > 0 else '-'} {item}"
        return text


def _bracketed(item: Expr) -> str:
    return f"({item})" if item.kind == "sum" else str(item)


_NUMBER_RE = re.compile(r"[0-9]+(?:\.[0-9]*)?|\.[0-9]+")
_OPERATORS = "+-*()"


def _tokens(text: str) -> list[tuple[str, str]]:
    """Split into (kind, text) tokens: ``op``, ``name`` or ``number``."""
    tokens: list[tuple[str, str]] = []
    index = 0
    word = ""

    def end_word() -> None:
        nonlocal word
        name = word.strip()
        if name:
            tokens.append(("number" if _NUMBER_RE.fullmatch(name) else "name", name))
        word = ""

    while index < len(text):
        char = text[index]
        if char == "`":
            close = text.find("`", index + 1)
            if close < 0:
                raise ExpressionError("a backtick ` is not closed")
            if word.strip():
                raise ExpressionError(f"a name runs into `…`: {word.strip()!r}")
            name = text[index + 1:close]
            if not name.strip():
                raise ExpressionError("empty name in backticks")
            tokens.append(("name", name))
            word = ""
            index = close + 1
            continue
        if char in _OPERATORS:
            end_word()
            tokens.append(("op", char))
        elif char in "/%^=<>!&|,;":
            raise ExpressionError(f"{char!r} is not allowed: use column names, numbers, + - * "
                                  f"and brackets (a name holding it goes in backticks)")
        else:
            if not word.strip() and tokens and tokens[-1][0] in ("name", "number") \
                    and not char.isspace():
                raise ExpressionError(f"an operator is missing before {text[index:]!r}")
            word += char
        index += 1
    end_word()
    return tokens


class _Parser:
    def __init__(self, tokens: list[tuple[str, str]]) -> None:
        self.tokens = tokens
        self.position = 0

    def peek(self) -> tuple[str, str] | None:
        return self.tokens[self.position] if self.position < len(self.tokens) else None

    def take(self) -> tuple[str, str]:
        token = self.peek()
        if token is None:
            raise ExpressionError("the expression ends too early")
        self.position += 1
        return token

    def sum(self) -> Expr:
        items = [(1, self.product())]
        while (token := self.peek()) is not None and token in (("op", "+"), ("op", "-")):
            self.take()
            items.append((1 if token[1] == "+" else -1, self.product()))
        return items[0][1] if len(items) == 1 else Expr("sum", items=tuple(items))

    def product(self) -> Expr:
        items = [(1, self.unary())]
        while self.peek() == ("op", "*"):
            self.take()
            items.append((1, self.unary()))
        return items[0][1] if len(items) == 1 else Expr("product", items=tuple(items))

    def unary(self) -> Expr:
        if self.peek() == ("op", "-"):
            self.take()
            return Expr("negate", items=((1, self.unary()),))
        if self.peek() == ("op", "+"):
            self.take()
            return self.unary()
        kind, text = self.take()
        if kind == "number":
            return Expr("number", float(text))
        if kind == "name":
            return Expr("column", text)
        if text == "(":
            inner = self.sum()
            if self.peek() != ("op", ")"):
                raise ExpressionError("a bracket ( is not closed")
            self.take()
            return inner
        raise ExpressionError(f"unexpected {text!r}")


def parse_expression(text: str) -> Expr:
    """Parse ``text`` (e.g. ``"Quantity * Price - 优惠"``); raise :class:`ExpressionError`."""
    if not isinstance(text, str) or not text.strip():
        raise ExpressionError("the expression is empty")
    parser = _Parser(_tokens(text))
    if not parser.tokens:
        raise ExpressionError("the expression is empty")
    expression = parser.sum()
    if parser.peek() is not None:
        raise ExpressionError(f"unexpected {parser.peek()[1]!r} after {expression}")
    return expression
