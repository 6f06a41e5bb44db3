"""Exports: what leaves a run for operators' tools (phones masked)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from custops.exports import mask_phones


def test_phones_are_masked_or_dropped():
    phones = pd.Series(["138****5678", "13812345678", "+86 139-1234-5678", "12345", None,
                        np.nan])
    masked = mask_phones(phones)
    assert masked.tolist() == ["138****5678", "138****5678", "139****5678", "", "", ""]
