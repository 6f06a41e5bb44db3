"""Numbers as a manager reads them: money with ¥, thousands separators and sensible rounding."""

from __future__ import annotations

import math

from custops.labels import t

__all__ = ["money"]


def money(value: float | None, lang: str = "en") -> str:
    """Money as a manager reads it: ¥, thousands separators, cents only below ¥100, and up to
    three decimals below ¥1 (a cost of 0.15 stays ¥0.15, 0.005 is ¥0.005; 58.66 stays ¥58.66;
    40,346.2 is ¥40,346). Not a number: "not available" in ``lang``."""
    if value is None or not math.isfinite(float(value)):
        return t("not_available", lang)
    sign = "−" if value < 0 else ""
    value = abs(float(value))
    if value < 1:
        body = f"{value:.3f}"
        body = body[:-1] if body.endswith("0") else body
    elif value < 100:
        body = f"{value:,.2f}"
    else:
        body = f"{value:,.0f}"
    return f"{sign}¥{body}"
