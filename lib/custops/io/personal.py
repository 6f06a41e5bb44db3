"""Personal data in columns the contract does not name.

The contract's contact keys (``customers.phone``, ``email``, ``wecom_external_id``,
``push_token``) are masked in the run folder by :func:`custops.exports.mask_contacts`. A real
export often carries more: a ``mobile`` column in an event log, a ``buyer_email`` in an order
report, a ``openid`` in touches. Those columns are kept with the cleaned tables (as read), so
they are found here, by name or by what they hold, and masked the same way before any of them
is written to a run folder — by pandas (:func:`mask_extras`) or by DuckDB
(:func:`mask_sql`). Rejected rows keep the offending value for the user to see, with phone
numbers and e-mail addresses inside it masked (:func:`scrub_text`).

The rule (``docs/security.md``): an extra column is personal when its normalised name says so
(:data:`NAME_KINDS`) or when at least 80 % of its first 1,000 non-empty values are phone numbers
or e-mail addresses. Phones are kept as ``138****5678``, addresses as ``z***@example.com``, any
other contact id as ``wm****a1b2``.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
import pandas as pd

from custops.exports import (
    EMAIL_ADDRESS,
    MASKED_PHONE,
    WHITESPACE,
    mask_emails,
    mask_ids,
    mask_phones,
)
from custops.io.contract import STRING_DTYPE

__all__ = ["NAME_KINDS", "SNIFF_ROWS", "column_kind", "extra_kind", "mask_extras", "mask_sql",
           "scrub_sql", "scrub_text", "sniff_kind", "sniff_sql"]

#: Values looked at to tell what an unnamed column holds.
SNIFF_ROWS = 1_000
_SHARE = 0.8

#: Name fragments (lower case, spaces, dashes and underscores removed) → kind of contact key.
NAME_KINDS: tuple[tuple[str, str], ...] = (
    ("email", "email"), ("mail", "email"), ("邮箱", "email"), ("邮件", "email"),
    ("phone", "phone"), ("mobile", "phone"), ("cellphone", "phone"), ("tel", "phone"),
    ("手机", "phone"), ("电话", "phone"), ("联系方式", "phone"),
    ("openid", "id"), ("unionid", "id"), ("externaluserid", "id"), ("externalcontact", "id"),
    ("wecom", "id"), ("wechat", "id"), ("weixin", "id"), ("微信", "id"), ("企微", "id"),
    ("pushtoken", "id"), ("devicetoken", "id"), ("registrationid", "id"), ("idcard", "id"),
    ("身份证", "id"), ("passport", "id"),
)
# "tel" also ends "hotel", "intel": a name part, not any substring.
_WHOLE_WORD = {"tel", "mail"}

# ASCII classes only (never \s or \d): Python's re would match Unicode spaces and full-width
# digits that DuckDB's RE2 does not, and the two engines must write the same values.
_S = "[ \\t\\n\\r\\f\\v]"
_NOT_S = "[^@ \\t\\n\\r\\f\\v]"
_PHONE = re.compile(rf"^{_S}*(?:[+]?86[ \t-]?)?1[3-9][0-9][ \t-]?[0-9]{{4}}[ \t-]?[0-9]{{4}}{_S}*$")
_EMAIL = re.compile(rf"^{_S}*{_NOT_S}+@{_NOT_S}+[.]{_NOT_S}+{_S}*$")
# Contact keys inside free text (an order note, a rejected row's raw line). No look-around, so
# DuckDB's RE2 and Python's re replace the same spans: \1 and \4 are the characters around.
# One pass leaves the second of two numbers one character apart (the first match ate the
# character between them): scrubbing runs twice.
_PHONE_IN_TEXT = (r"(^|[^0-9])(?:[+]?86[ -]?)?(1[3-9][0-9])[ -]?[0-9]{4}[ -]?([0-9]{4})"
                  r"([^0-9]|$)")
_TEXT_STOP = "@ \\t\\n\\r\\f\\v,;:\\\"'<>()"
_EMAIL_IN_TEXT = (rf"([^{_TEXT_STOP}])[^{_TEXT_STOP}]*@"
                  rf"([^{_TEXT_STOP}]+[.][^{_TEXT_STOP}]+)")
_PHONE_IN_TEXT_RE = re.compile(_PHONE_IN_TEXT)
_EMAIL_IN_TEXT_RE = re.compile(_EMAIL_IN_TEXT)



def _mask_mixed(values: pd.Series) -> pd.Series:
    """Phones and e-mail addresses in one column: each masked by its form, anything else as
    an id."""
    text = values.astype("object")
    shown = text.map(lambda v: "" if v is None or (isinstance(v, float) and v != v) else str(v))
    is_email = shown.map(lambda v: bool(_EMAIL.match(v)))
    is_phone = ~is_email & shown.map(lambda v: bool(_PHONE.match(v) or
                                                     MASKED_PHONE.match(v.strip(WHITESPACE))))
    out = mask_ids(text)
    out[is_email] = mask_emails(text[is_email])
    out[is_phone] = mask_phones(text[is_phone])
    return out


_MASKS = {"phone": mask_phones, "email": mask_emails, "id": mask_ids, "contact": _mask_mixed}


def _name_parts(header: Any) -> tuple[str, list[str]]:
    text = str(header).strip().lower()
    return re.sub(r"[\s_\-.]", "", text), [p for p in re.split(r"[^0-9a-z]+", text) if p]


def column_kind(header: Any) -> str | None:
    """The kind of contact key a column's name says it holds (``phone``, ``email``, ``id``),
    or None."""
    joined, parts = _name_parts(header)
    for fragment, kind in NAME_KINDS:
        if fragment in _WHOLE_WORD:
            if fragment in parts:
                return kind
        elif fragment in joined:
            return kind
    return None


def _shares(values: Iterable[Any]) -> tuple[int, int, int]:
    """Of the first :data:`SNIFF_ROWS` non-empty ``values``: how many, how many phones, how
    many e-mail addresses."""
    shown = [str(v) for v in values if v is not None and not (isinstance(v, float) and v != v)
             and str(v).strip(WHITESPACE)][:SNIFF_ROWS]
    phones = sum(bool(_PHONE.match(v) or MASKED_PHONE.match(v.strip(WHITESPACE)))
                 for v in shown)
    emails = sum(bool(_EMAIL.match(v)) for v in shown)
    return len(shown), phones, emails


def sniff_kind(values: Iterable[Any], shares: tuple[int, int, int] | None = None
               ) -> str | None:
    """``phone`` or ``email`` when at least 80 % of the non-empty ``values`` (the first
    :data:`SNIFF_ROWS` are enough) are phone numbers or e-mail addresses, ``contact`` when
    they are a mix of both (each value is masked by its form), else None. ``shares``: the
    values' :func:`_shares`, when already counted."""
    n, phones, emails = shares if shares is not None else _shares(values)
    if not n:
        return None
    if phones >= _SHARE * n:
        return "phone"
    if emails >= _SHARE * n:
        return "email"
    return "contact" if phones + emails >= _SHARE * n else None


_NAMED_SHARE = 0.2  # a column named as a phone or e-mail column: this share of them is enough


def extra_kind(header: Any, values: Iterable[Any]) -> str | None:
    """What an extra column holds, or None when it is not a contact key.

    By its values first (:func:`sniff_kind`). A column whose name says phone or e-mail
    (``mobile``, ``buyer_email``) is masked when at least 20 % of its values are phones or
    addresses (a half-filled column), each by its form; with fewer it is something else
    (``phone_model``: "iPhone 15") and kept. A name that says id (``openid``, ``wechat``) is
    enough: such ids have no form to recognise."""
    shares = _shares(values)
    sniffed = sniff_kind((), shares)
    if sniffed is not None:
        return sniffed
    named = column_kind(header)
    if named == "id":
        return "id"
    n, phones, emails = shares
    if named in ("phone", "email") and n and phones + emails >= _NAMED_SHARE * n:
        return "contact"
    return None


_SKIPPED = {"boolean", "date", "datetime", "datetime64", "timedelta", "timedelta64", "time",
            "period", "empty"}


def _float_text(value: Any) -> str | None:
    """A float as DuckDB's text of it: integral values below 10**15 without ``.0``."""
    if value is None or value != value:
        return None
    if math.isfinite(value) and value == round(value) and abs(value) < 1e15:
        return str(int(value))
    return str(value)


def _sample(column: pd.Series) -> list[str]:
    """The values a column is judged by, as text: the first :data:`SNIFF_ROWS` non-null
    ones (of a float column, the integral finite ones: a phone read as 13812345678.0)."""
    values = column.dropna()
    if pd.api.types.is_float_dtype(values):
        numbers = values.astype("float64")
        values = numbers[np.isfinite(numbers) & (numbers == numbers.round())
                         & (numbers.abs() < 1e15)].astype("int64")
    return values.head(SNIFF_ROWS).astype(str).tolist()


def mask_extras(frame: pd.DataFrame, known: Sequence[str]) -> tuple[pd.DataFrame, dict]:
    """``frame`` with its personal columns outside ``known`` (the contract's columns) masked,
    and ``{column: kind}`` of the columns masked.

    Numeric columns are looked at as text; a masked column is text; other text columns
    (categorical ones too) keep their words with the numbers inside masked."""
    found: dict[str, str] = {}
    texts = []
    for header in frame.columns:
        if header in known:
            continue
        column = frame[header]
        if pd.api.types.is_bool_dtype(column) or pd.api.types.is_datetime64_any_dtype(column) \
                or pd.api.types.is_timedelta64_dtype(column):
            continue
        if column.dtype == object and pd.api.types.infer_dtype(column, skipna=True) in _SKIPPED:
            continue  # flags or dates with gaps: DuckDB types them as such and keeps them
        kind = extra_kind(header, _sample(column))
        if kind is not None:
            found[str(header)] = kind
        elif column.dtype == object or isinstance(column.dtype, (pd.StringDtype,
                                                                  pd.CategoricalDtype)):
            texts.append(header)
    masked = {}
    for header in texts:  # free text keeps its words, not the numbers in it
        column = frame[header]
        text = column.astype(object)
        scrubbed = scrub_text(text)
        changed = scrubbed.ne(text) & column.notna()
        if changed.any():
            masked[header] = (pd.Series(scrubbed.to_numpy(), dtype=STRING_DTYPE).array
                              if isinstance(column.dtype, pd.CategoricalDtype)
                              else pd.Series(scrubbed.to_numpy(), dtype=column.dtype).array)
    for header, kind in found.items():
        column = frame[header]
        if pd.api.types.is_float_dtype(column):
            column = column.astype("float64").map(_float_text)
        masked[header] = _MASKS[kind](column.astype("object")).astype(STRING_DTYPE).array
    return (frame.assign(**masked) if masked else frame), found


_SQL_WHITESPACE = "' ' || chr(9) || chr(10) || chr(13) || chr(12) || chr(11)"


def mask_sql(expr: str, kind: str, *, floating: bool = False) -> str:
    """A DuckDB expression masking the text of ``expr`` as :func:`mask_extras` does (same
    output for the same value: the clean files are alike whichever engine checked them).
    ``floating``: the column is a float (a phone read as ``13812345678.0``)."""
    expr = _as_text(expr, floating)
    text = f"trim({expr}, {_SQL_WHITESPACE})"
    if kind == "phone":
        digits = f"regexp_replace({text}, '[^0-9]', '', 'g')"
        last = f"right({digits}, 11)"
        return (f"case when {expr} is null then '' "
                f"when regexp_matches({text}, '{MASKED_PHONE.pattern}') then {text} "
                f"when length({digits}) >= 11 then left({last}, 3) || '****' || right({last}, 4) "
                f"else '' end")
    if kind == "email":
        pattern = "'" + EMAIL_ADDRESS.pattern + "'"
        return (f"case when {expr} is null then '' "
                f"when regexp_matches({expr}, {pattern}) then "
                f"left(regexp_extract({expr}, {pattern}, 1), 1) || '***@' || "
                f"regexp_extract({expr}, {pattern}, 2) else '' end")
    if kind == "contact":
        email = "'" + _EMAIL.pattern + "'"
        phone = "'" + _PHONE.pattern + "'"
        masked_phone = "'" + MASKED_PHONE.pattern + "'"
        return (f"case when regexp_matches({expr}, {email}) then {mask_sql(expr, 'email')} "
                f"when regexp_matches({expr}, {phone}) or regexp_matches({text}, "
                f"{masked_phone}) then {mask_sql(expr, 'phone')} "
                f"else {mask_sql(expr, 'id')} end")
    return (f"case when {expr} is null or {text} = '' then '' "
            f"when contains({text}, '****') then {text} "
            f"when length({text}) > 10 then left({text}, 2) || '****' || right({text}, 4) "
            f"else '****' end")


def _finite_integral(expr: str) -> str:
    return f"(isfinite({expr}) and {expr} = round({expr}) and abs({expr}) < 1e15)"


def _as_text(expr: str, floating: bool) -> str:
    if not floating:
        return f"cast({expr} as varchar)"
    return (f"(case when {_finite_integral(expr)} then cast(cast({expr} as hugeint) as varchar) "
            f"when isnan({expr}) then NULL else cast({expr} as varchar) end)")


def sniff_sql(con, relation: str, header_sql: str, *, floating: bool = False) -> list[str]:
    """The values :func:`mask_extras` judges a column by, read by DuckDB: the first
    :data:`SNIFF_ROWS` non-null ones as text (of a float column, the integral finite ones)."""
    where = f"{header_sql} is not null"
    if floating:
        where += f" and {_finite_integral(header_sql)}"
    rows = con.sql(f"select {_as_text(header_sql, floating)} from {relation} where {where} "
                   f"limit {SNIFF_ROWS}").fetchall()
    return [row[0] for row in rows]


def _scrub_one(value: Any) -> Any:
    if not isinstance(value, str) or not value:
        return value
    for _ in range(2):  # twice: see _PHONE_IN_TEXT
        value = _PHONE_IN_TEXT_RE.sub(r"\1\2****\3\4", value)
    for _ in range(2):
        value = _EMAIL_IN_TEXT_RE.sub(r"\1***@\2", value)
    return value


def scrub_text(values: pd.Series) -> pd.Series:
    """Text with the phone numbers and e-mail addresses inside it masked (``138****5678``,
    ``z***@example.com``): rejected rows keep the value that failed for the user to see, and
    free-text columns (an order note) stay, but no contact key in full."""
    if values.dtype == object or isinstance(values.dtype, (pd.StringDtype,
                                                            pd.CategoricalDtype)):
        return values.astype(object).map(_scrub_one)
    return values


def scrub_sql(expr: str) -> str:
    """The DuckDB twin of :func:`scrub_text` for a text column."""
    phone = _PHONE_IN_TEXT.replace("'", "''")
    email = _EMAIL_IN_TEXT.replace("'", "''")
    out = f"cast({expr} as varchar)"
    for _ in range(2):
        out = f"regexp_replace({out}, '{phone}', '\\1\\2****\\3\\4', 'g')"
    for _ in range(2):
        out = f"regexp_replace({out}, '{email}', '\\1***@\\2', 'g')"
    return out
