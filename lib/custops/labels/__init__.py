"""User-facing labels in English and Chinese, in one dictionary; ``lang`` chooses.

The words live in one module per step (:mod:`custops.labels.profile`, ``.segment``,
``.churn``, ``.reach``, ``.exports``, ``.app``, ``.run``, ``.common``; category values in
``.values``) and are merged here into :data:`LABELS`; a key defined in two modules stops the
import (:func:`merge_labels`).

Notebooks and figures never type a label twice: they call :func:`t` with a key, or
:func:`value_label` for a category value (segment, stage, channel...). Text templates use
``str.format`` fields, so generated interpretations read naturally in both languages.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

import pandas as pd

from custops.errors import ParameterError
from custops.labels import app, churn, common, exports, profile, reach, run, segment
from custops.labels.values import FOCUS, VALUES, WEEKDAYS, ZONES

__all__ = [
    "FOCUS",
    "LABELS",
    "LABEL_MODULES",
    "LANGS",
    "VALUES",
    "WEEKDAYS",
    "ZONES",
    "check_lang",
    "focus",
    "health_words",
    "merge_labels",
    "not_computable_words",
    "reason_words",
    "reject_reason_words",
    "t",
    "value_label",
    "value_labels",
    "zone_name",
]

LANGS = ("en", "zh")

# Every module's words, one mapping: a key defined in two modules is an error here (a merge
# would silently keep one of them), not a surprise in a report.
LABEL_MODULES = (common, profile, segment, churn, reach, exports, app, run)


def merge_labels(*parts: dict[str, dict[str, str]]) -> dict[str, dict[str, str]]:
    """The parts as one mapping; raises ValueError naming every key defined more than once."""
    merged: dict[str, dict[str, str]] = {}
    twice = []
    for part in parts:
        for key, value in part.items():
            if key in merged:
                twice.append(key)
            merged[key] = value
    if twice:
        raise ValueError(f"label key(s) defined in more than one module: {', '.join(twice)}")
    return merged


LABELS: dict[str, dict[str, str]] = merge_labels(*(m.LABELS for m in LABEL_MODULES))


def focus(segment: str, lang: str = "en") -> str:
    """The operating focus for a segment or stage (empty when none is defined)."""
    return FOCUS.get(segment, {}).get(check_lang(lang), "")


def check_lang(lang: str) -> str:
    """Return ``lang`` if supported, else raise a clear error."""
    if lang not in LANGS:
        raise ParameterError(f"lang={lang!r} is not supported; use one of {', '.join(LANGS)}")
    return lang


def t(key: str, lang: str = "en", **fields) -> str:
    """The label for ``key`` in ``lang``, formatted with ``fields``."""
    check_lang(lang)
    try:
        text = LABELS[key][lang]
    except KeyError as exc:
        raise KeyError(f"no label {key!r} for lang {lang!r}; add it to custops.labels") from exc
    return text.format(**fields) if fields else text


def value_label(value, lang: str = "en") -> str:
    """A category value as users read it; unknown values are shown as they are."""
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return t("unknown", lang)
    entry = VALUES.get(str(value))
    return entry[lang] if entry else str(value)


def value_labels(values: Iterable, lang: str = "en") -> list[str]:
    """:func:`value_label` for each value (each distinct value labelled once: a list of a
    million customers has a handful of tiers, stages and strategies)."""
    series = (values if isinstance(values, pd.Series) else pd.Series(list(values), dtype=object)
              ).astype(object)
    missing = series.isna().to_numpy()
    names = {v: value_label(v, lang) for v in pd.unique(series[~missing])}
    out = series.map(names).to_numpy(dtype=object)
    out[missing] = t("unknown", lang)
    return out.tolist()


def _reason_words(code: str, lang: str, parts: dict[str, str] | None = None) -> str:
    sep = "; " if lang == "en" else "；"
    words = []
    for part in str(code).split(";"):
        if parts is not None and part in parts:
            words.append(parts[part])
            continue
        kind, _, shown = part.partition(":")
        fields: dict[str, Any] = {}
        for item in filter(None, shown.split(",")):
            key, _, value = item.partition("=")
            fields[key] = float(value) if "." in value or "e" in value else int(value)
        said = t(f"churn.reason_{kind}", lang, **fields)
        if parts is not None:
            parts[part] = said
        words.append(said)
    return sep.join(words)


def reason_words(codes: pd.Series, lang: str = "en") -> pd.Series:
    """Churn reason codes (:func:`custops.churn.reason_codes`, e.g.
    ``overdue:days=45,gap=30;idle:days=70``) in words of ``lang``; missing stays missing.
    Each distinct code, and each distinct part of one, is said once."""
    codes = pd.Series(codes)
    values = codes.astype("object")
    present = values.notna() & (values != "")
    parts: dict[str, str] = {}
    words = {code: _reason_words(code, lang, parts) for code in values[present].unique()}
    return values.where(~present, values.map(words))


#: The models' names in health entries (they have no Chinese names).
MODEL_NAMES = {"bgnbd": "BG/NBD", "mbgnbd": "MBG/NBD", "pnbd": "Pareto/NBD",
               "gamma_gamma": "Gamma-Gamma"}


def health_words(entry: dict[str, Any], lang: str = "en") -> str:
    """One warning of a run (``{"step", "code", ...numbers}``) in words of ``lang``: the label
    ``health.<code>`` filled with the entry's numbers, else the reason it carries (said in
    ``lang`` when the entry has the reason's key: :meth:`custops.errors.NotComputable.record`)."""
    fields = {k: v for k, v in entry.items() if k not in ("step", "code")}
    if "model" in fields:  # a model's code (bgnbd) as its name (BG/NBD)
        fields["model"] = MODEL_NAMES.get(str(fields["model"]), fields["model"])
    if fields.get("reason_key") in LABELS:  # a NotComputable's reason, said in ``lang``
        fields["reason"] = not_computable_words(fields["reason_key"],
                                                fields.get("reason_params") or {}, lang)
    key = f"health.{entry.get('code')}"
    if key in LABELS:
        return t(key, lang, **fields)
    return str(fields.get("reason") or entry.get("code"))


def not_computable_words(key: str, params: dict[str, Any], lang: str = "en") -> str:
    """Why a step could not run (:class:`custops.errors.NotComputable`'s key and fields) in
    words of ``lang``; a field named ``<name>_label`` holds a label key and fills ``{<name>}``."""
    fields = {(name[:-len("_label")] if name.endswith("_label") else name):
              (t(value, lang) if name.endswith("_label") else value)
              for name, value in params.items()}
    return t(key, lang, **fields)


def zone_name(tz: str, offset: str, lang: str = "en") -> str:
    """A time zone as readers of ``lang`` know it: its name (:data:`ZONES`; with the offset
    in English) for the common zones, else its offset from UTC. ``offset``: ``+0800`` (as
    ``strftime("%z")`` gives it, at the time shown: summer time moves it)."""
    check_lang(lang)
    offset = f"UTC{offset[:3]}:{offset[3:]}" if offset else "UTC"
    names = ZONES.get(str(tz))
    return t("index.zone_named", lang, name=names[lang], offset=offset) if names else offset


_REJECT_REASONS = (  # the reasons custops.io gives a rejected row, and their labels
    (re.compile(r"^missing (\w+)$"), "dq.reason_missing"),
    (re.compile(r"^unparseable (\w+)$"), "dq.reason_unparseable"),
    (re.compile(r"^(\w+) after as_of$"), "dq.reason_after_as_of"),
    (re.compile(r"^duplicate (\w+)$"), "dq.reason_duplicate"),
    (re.compile(r"^wrong number of fields$"), "dq.reason_wrong_fields"),
)


def reject_reason_words(reason: str, lang: str = "en") -> str:
    """Why a row was rejected (``missing customer_id``) in words of ``lang`` (缺少客户ID);
    a reason without a label is shown as it is."""
    check_lang(lang)
    for pattern, key in _REJECT_REASONS:
        found = pattern.match(str(reason))
        if found:
            column = found.group(1) if found.groups() else ""
            name = t(f"column.{column}", lang) if f"column.{column}" in LABELS else column
            return t(key, lang, column=name)
    return str(reason)
