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

import re
from collections.abc import Iterable, Sequence
from typing import Any

import pandas as pd

from custops.exports import mask_emails, mask_ids, mask_phones
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

_PHONE = re.compile(r"^\s*(?:\+?86[\s-]?)?1[3-9]\d[\s-]?\d{4}[\s-]?\d{4}\s*$")
_MASKED_PHONE = re.compile(r"^\d{3}\*{4}\d{4}$")
_EMAIL = re.compile(r"^\s*[^@\s]+@[^@\s]+\.[^@\s]+\s*$")
# Contact keys inside free text (an order note, a rejected row's raw line). No look-around, so
# DuckDB's RE2 and Python's re replace the same spans: \1 and \4 are the characters around.
_PHONE_IN_TEXT = (r"(^|[^0-9])(?:[+]?86[ -]?)?(1[3-9][0-9])[ -]?[0-9]{4}[ -]?([0-9]{4})"
                  r"([^0-9]|$)")
_EMAIL_IN_TEXT = (r"([^@\s,;:\"'<>()])[^@\s,;:\"'<>()]*@"
                  r"([^@\s,;:\"'<>()]+[.][^@\s,;:\"'<>()]+)")
_PHONE_IN_TEXT_RE = re.compile(_PHONE_IN_TEXT)
_EMAIL_IN_TEXT_RE = re.compile(_EMAIL_IN_TEXT)



def _mask_mixed(values: pd.Series) -> pd.Series:
    """Phones and e-mail addresses in one column: each masked by its form, anything else as
    an id."""
    text = values.astype("object")
    shown = text.map(lambda v: "" if v is None or (isinstance(v, float) and v != v) else str(v))
    is_email = shown.map(lambda v: bool(_EMAIL.match(v)))
    is_phone = ~is_email & shown.map(lambda v: bool(_PHONE.match(v) or
                                                     _MASKED_PHONE.match(v.strip())))
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


def sniff_kind(values: Iterable[Any]) -> str | None:
    """``phone`` or ``email`` when at least 80 % of the non-empty ``values`` (the first
    :data:`SNIFF_ROWS` are enough) are phone numbers or e-mail addresses, ``contact`` when
    they are a mix of both (each value is masked by its form), else None."""
    shown = [str(v) for v in values if v is not None and not (isinstance(v, float) and v != v)
             and str(v).strip()][:SNIFF_ROWS]
    if not shown:
        return None
    phones = sum(bool(_PHONE.match(v) or _MASKED_PHONE.match(v.strip())) for v in shown)
    if phones >= _SHARE * len(shown):
        return "phone"
    emails = sum(bool(_EMAIL.match(v)) for v in shown)
    if emails >= _SHARE * len(shown):
        return "email"
    return "contact" if phones + emails >= _SHARE * len(shown) else None


def extra_kind(header: Any, values: Iterable[Any]) -> str | None:
    """What an extra column holds, from its first values (phones, e-mails) or else its name;
    None when it is not a contact key."""
    sniffed = sniff_kind(values)
    return sniffed if sniffed is not None else column_kind(header)


def mask_extras(frame: pd.DataFrame, known: Sequence[str]) -> tuple[pd.DataFrame, dict]:
    """``frame`` with its personal columns outside ``known`` (the contract's columns) masked,
    and ``{column: kind}`` of the columns masked.

    Numeric columns are looked at as text; a masked column is text (``object``)."""
    found: dict[str, str] = {}
    for header in frame.columns:
        if header in known:
            continue
        column = frame[header]
        if pd.api.types.is_bool_dtype(column) or pd.api.types.is_datetime64_any_dtype(column):
            continue
        sample = column.dropna().head(SNIFF_ROWS)
        if pd.api.types.is_float_dtype(column):  # 13812345678.0 read as a float
            sample = sample[sample == sample.round()].astype("int64")
        kind = extra_kind(header, sample.astype(str).tolist())
        if kind is not None:
            found[str(header)] = kind
    masked = {}
    for header in frame.columns:  # free text keeps its words, not the numbers in it
        column = frame[header]
        if header not in known and header not in found and (
                column.dtype == object or isinstance(column.dtype, pd.StringDtype)):
            scrubbed = scrub_text(column)
            changed = scrubbed.ne(column.astype(object)) & column.notna()
            if changed.any():
                masked[header] = pd.Series(scrubbed.to_numpy(), dtype=column.dtype).array
    if not found:
        return (frame.assign(**masked) if masked else frame), {}
    for header, kind in found.items():
        column = frame[header]
        if pd.api.types.is_float_dtype(column):
            column = column.map(lambda v: None if pd.isna(v) else
                                (str(int(v)) if v == round(v) else str(v)))
        masked[header] = _MASKS[kind](column.astype("object")).astype(STRING_DTYPE).array
    return frame.assign(**masked), found


def mask_sql(expr: str, kind: str, *, floating: bool = False) -> str:
    """A DuckDB expression masking the text of ``expr`` as :func:`mask_extras` does (same
    output for the same value: the clean files are alike whichever engine checked them).
    ``floating``: the column is a float (a phone read as ``13812345678.0``)."""
    expr = _as_text(expr, floating)
    text = f"trim({expr})"
    if kind == "phone":
        digits = f"regexp_replace({text}, '[^0-9]', '', 'g')"
        last = f"right({digits}, 11)"
        return (f"case when {expr} is null then '' "
                f"when regexp_full_match({text}, '[0-9]{{3}}[*]{{4}}[0-9]{{4}}') then {text} "
                f"when length({digits}) >= 11 then left({last}, 3) || '****' || right({last}, 4) "
                f"else '' end")
    if kind == "email":
        pattern = r"'^\s*([^@\s]+)@([^@\s]+\.[^@\s]+)\s*$'"
        raw = expr
        return (f"case when {expr} is null then '' "
                f"when regexp_matches({raw}, {pattern}) then "
                f"left(regexp_extract({raw}, {pattern}, 1), 1) || '***@' || "
                f"regexp_extract({raw}, {pattern}, 2) else '' end")
    if kind == "contact":
        email = r"'^\s*[^@\s]+@[^@\s]+\.[^@\s]+\s*$'"
        phone = ("'" + _PHONE.pattern.replace("\\d", "[0-9]") + "'")
        masked_phone = "'^[0-9]{3}[*]{4}[0-9]{4}$'"
        return (f"case when regexp_matches({expr}, {email}) then {mask_sql(expr, 'email')} "
                f"when regexp_matches({expr}, {phone}) or regexp_matches({text}, "
                f"{masked_phone}) then {mask_sql(expr, 'phone')} "
                f"else {mask_sql(expr, 'id')} end")
    return (f"case when {expr} is null or {text} = '' then '' "
            f"when contains({text}, '****') then {text} "
            f"when length({text}) > 10 then left({text}, 2) || '****' || right({text}, 4) "
            f"else '****' end")


def _as_text(expr: str, floating: bool) -> str:
    if not floating:
        return f"cast({expr} as varchar)"
    return (f"(case when {expr} = round({expr}) then cast(cast({expr} as hugeint) as varchar) "
            f"else cast({expr} as varchar) end)")


def sniff_sql(con, relation: str, header_sql: str, *, floating: bool = False) -> list[str]:
    """The first :data:`SNIFF_ROWS` non-empty values of a column, as text, read by DuckDB."""
    rows = con.sql(f"select {_as_text(header_sql, floating)} from {relation} where "
                   f"{header_sql} is not null limit {SNIFF_ROWS}").fetchall()
    return [row[0] for row in rows]


def _scrub_one(value: Any) -> Any:
    if not isinstance(value, str) or not value:
        return value
    value = _PHONE_IN_TEXT_RE.sub(r"\1\2****\3\4", value)
    return _EMAIL_IN_TEXT_RE.sub(r"\1***@\2", value)


def scrub_text(values: pd.Series) -> pd.Series:
    """Text with the phone numbers and e-mail addresses inside it masked (``138****5678``,
    ``z***@example.com``): rejected rows keep the value that failed for the user to see, and
    free-text columns (an order note) stay, but no contact key in full."""
    if values.dtype == object or isinstance(values.dtype, pd.StringDtype):
        return values.astype(object).map(_scrub_one)
    return values


def scrub_sql(expr: str) -> str:
    """The DuckDB twin of :func:`scrub_text` for a text column."""
    phone = _PHONE_IN_TEXT.replace("'", "''")
    email = _EMAIL_IN_TEXT.replace("'", "''")
    return (f"regexp_replace(regexp_replace({expr}, '{phone}', '\\1\\2****\\3\\4', 'g'), "
            f"'{email}', '\\1***@\\2', 'g')")
