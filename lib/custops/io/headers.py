"""Header normalization: the comparison key shared by header matching and value spellings."""

from __future__ import annotations

import re
import unicodedata
from typing import Any

__all__ = ["normalize_header"]


def normalize_header(header: Any) -> str:
    text = unicodedata.normalize("NFKC", str(header)).replace("\ufeff", "").replace("\u200b", "")
    without_unit = re.sub(r"[(\[【].*?[)\]】]", "", text)
    if without_unit.strip():
        text = without_unit
    return re.sub(r"[\s_\-./:·'\"]+", "", text).lower()
