"""Contact lists for the operators' tools: one file per channel with the contact key that
channel's tool needs, send date and time, offer and reason in the run's language; the masking
of contact keys everywhere else; the one writer that neutralizes spreadsheet formulas."""

from __future__ import annotations

import csv
import datetime as dt
import io
import os
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from custops.labels import reason_words, t, value_label, value_labels
from custops.rules import contact_key

__all__ = [
    "CHANNEL_LIST_COLUMNS",
    "CONTACT_COLUMNS",
    "EXCEL_ROWS_PER_SHEET",
    "EXPORT_COLUMNS",
    "FORMULA_STARTS",
    "PERSONAL_FILE_MODE",
    "PRIVATE_FOLDER_MODE",
    "channel_list",
    "churn_lists",
    "contact_lookup",
    "csv_text",
    "excel_writer",
    "export_frame",
    "export_lists",
    "full_contact_columns",
    "holds_personal_data",
    "mask_contacts",
    "mask_emails",
    "mask_ids",
    "mask_phones",
    "neutralize",
    "priority_list",
    "private_folder",
    "send_schedule",
    "write_csv",
]

# People read the workbook; tools load the full CSV lists. Writing Excel is slow per cell, so a
# sheet holds the first rows only.
EXCEL_ROWS_PER_SHEET = 5_000

#: The customers' contact keys (personal data). Only the channel lists of a run's ``exports/``
#: hold them in full (mode 0600 in a 0700 folder); every other file and page shows the masked
#: form (:func:`mask_contacts`).
CONTACT_COLUMNS = ("phone", "email", "wecom_external_id", "push_token")
PERSONAL_FILE_MODE = 0o600
PRIVATE_FOLDER_MODE = 0o700

#: The dashboard download's columns (contact keys masked).
EXPORT_COLUMNS = ("customer_id", "channel", "send_time", "strategy", "reason", "rfm_class",
                  "lifecycle_stage", "value_tier", "wecom_tags", "phone", "group")

#: What each channel's tool needs, in file order after the customer id: the contact key
#: (:func:`custops.rules.contact_key`), the WeCom owner and tag names for WeCom.
CHANNEL_LIST_COLUMNS = {
    "sms": ("phone",),
    "phone": ("phone",),
    "wecom_1v1": ("wecom_external_id", "wecom_owner", "wecom_tags"),
    "wecom_mass": ("wecom_external_id", "wecom_owner", "wecom_tags"),
    "email": ("email",),
    "push": ("push_token",),
}

PROSPECT_STRATEGY = "prospect_first_order"


def _is_prospect(frame: pd.DataFrame) -> pd.Series:
    """Customers who never ordered: no RFM class (the plan's prospects)."""
    if "customer_class" in frame:
        return frame["customer_class"].astype("object").eq("prospect")
    if "rfm_class" in frame:
        return frame["rfm_class"].isna()
    return pd.Series(False, index=frame.index)


def _labels(values: pd.Series, lang: str) -> pd.Series:
    """Category codes in words of ``lang``, labelled once per distinct value."""
    values = values.astype("object")
    names = {v: value_label(v, lang) for v in values.dropna().unique()}
    return values.map(names)


def _described(frame: pd.DataFrame, lang: str) -> pd.DataFrame:
    """Strategy, reason, segment, stage, tier and WeCom tag names in words of ``lang``, never
    empty: prospects (no orders yet) get their own strategy (first-order offer), reason and
    segment (their prospect grade)."""
    out = pd.DataFrame(index=frame.index)
    prospect = _is_prospect(frame)
    grade = (frame["prospect_grade"].astype("object") if "prospect_grade" in frame
             else pd.Series(None, index=frame.index, dtype="object"))
    grade_words = _labels(grade, lang)
    prospect_segment = grade_words.map(
        lambda g: t("exports.prospect_segment", lang, grade=g) if isinstance(g, str)
        else value_label("prospect", lang))
    strategy = (frame["strategy"].astype("object") if "strategy" in frame
                else pd.Series(None, index=frame.index, dtype="object"))
    strategy = strategy.where(~prospect, PROSPECT_STRATEGY)
    strategy = strategy.where(strategy.notna(), "monitor")
    out["strategy"] = _labels(strategy, lang)
    reason = (reason_words(frame["reason"], lang) if "reason" in frame
              else pd.Series(None, index=frame.index, dtype="object")).astype("object")
    reason = reason.where(~prospect, prospect_segment.map(
        lambda s: t("exports.reason_prospect", lang, segment=s)))
    out["reason"] = reason.where(reason.notna() & (reason != ""),
                                 t("exports.reason_uplift", lang))
    rfm = (_labels(frame["rfm_class"], lang) if "rfm_class" in frame
           else pd.Series(None, index=frame.index, dtype="object"))
    out["segment"] = rfm.where(~prospect, prospect_segment).fillna(value_label(None, lang))
    for col, prospect_value in (("lifecycle_stage", "prospect"), ("value_tier", "none")):
        values = (frame[col].astype("object") if col in frame
                  else pd.Series(None, index=frame.index, dtype="object"))
        values = values.where(~prospect | values.notna(), prospect_value)
        out[col] = _labels(values, lang).fillna(value_label(None, lang))
    # WeCom tag names (one tag per name, comma-separated as tag imports take them): the RFM
    # class, stage and tier of a buyer; "prospect" and the grade of a prospect.
    buyer_tags = [",".join(dict.fromkeys(parts)) for parts in zip(
        out["segment"], out["lifecycle_stage"], out["value_tier"], strict=True)]
    prospect_tags = [",".join([value_label("prospect", lang)] + ([g] if isinstance(g, str)
                                                                  else []))
                     for g in grade_words]
    out["wecom_tags"] = np.where(prospect.to_numpy(dtype=bool), prospect_tags, buyer_tags)
    return out


def export_frame(frame: pd.DataFrame, lang: str = "en") -> pd.DataFrame:
    """Rows of a plan (or its holdout) in the dashboard download's columns
    (:data:`EXPORT_COLUMNS`): codes for channel, segment and stage (the download labels them),
    reasons, strategy and WeCom tag names in words of ``lang``, prospects with their own
    strategy and tags, phones masked (:func:`mask_phones`)."""
    words = _described(frame, lang)
    out = frame.assign(wecom_tags=words["wecom_tags"].to_numpy(),
                       reason=words["reason"].to_numpy())
    strategy = (frame["strategy"].astype("object") if "strategy" in frame
                else pd.Series(None, index=frame.index, dtype="object"))
    out["strategy"] = strategy.where(~_is_prospect(frame), PROSPECT_STRATEGY).to_numpy()
    if "phone" in out:
        out["phone"] = mask_phones(out["phone"]).to_numpy()
    return out[[c for c in EXPORT_COLUMNS if c in out]]


def send_schedule(send_date: dt.date, tz: str) -> tuple[str, str]:
    """The send day as ``YYYY-MM-DD`` and the time zone as ``UTC+08:00`` (its offset on that
    day)."""
    stamp = pd.Timestamp(send_date).tz_localize(tz)
    offset = stamp.strftime("%z")
    return stamp.strftime("%Y-%m-%d"), f"UTC{offset[:3]}:{offset[3:]}"


def contact_lookup(contacts: pd.DataFrame | None) -> pd.DataFrame | None:
    """The customers' contact keys indexed by customer id (text), one row per customer (the
    first): what :func:`channel_list` looks keys up in. A table already indexed so (this
    function's result) is returned as it is, so :func:`export_lists` builds it once for
    every channel."""
    if contacts is None:
        return None
    if contacts.index.name == _LOOKUP_INDEX:
        return contacts
    if "customer_id" not in contacts:
        return None
    ids = pd.Index(contacts["customer_id"].astype(str).astype(object))
    first = ~ids.duplicated()
    source = contacts.loc[first].set_axis(ids[first])
    source.index.name = _LOOKUP_INDEX
    return source


_LOOKUP_INDEX = "custops_customer_id"


def channel_list(rows: pd.DataFrame, channel: str, *, lang: str = "en",
                 send_date: dt.date, tz: str, contacts: pd.DataFrame | None = None,
                 key: str | None = None, masked: bool = False) -> pd.DataFrame:
    """One channel's list as its tool imports it: customer id, the contact key the channel
    needs (in full from ``contacts`` — customer_id plus the contact columns of the customers
    table as loaded — unless ``masked``; a key taken from ``rows`` is always masked), send date, time and time zone, strategy, reason,
    segment, stage, tier and expected incremental revenue; headers and values in ``lang``,
    most valuable contact first.

    ``key``: the channel's contact column (default :func:`custops.rules.contact_key`); the
    list carries the columns of :data:`CHANNEL_LIST_COLUMNS` the data has.
    """
    rows = rows.sort_values("expected_incremental_revenue", ascending=False, kind="stable") \
        if "expected_incremental_revenue" in rows else rows
    rows = rows.reset_index(drop=True)
    wanted = list(CHANNEL_LIST_COLUMNS.get(channel, ()))
    key = key or contact_key(channel)
    if key and key not in wanted:
        wanted.insert(0, key)
    keys = pd.DataFrame(index=rows.index)
    source = contact_lookup(contacts)
    for col in wanted:
        if col == "wecom_tags":
            continue
        if source is not None and col in source:  # the data's own keys, in full
            values = source[col].reindex(rows["customer_id"].astype(str)).to_numpy()
            keys[col] = pd.Series(values, index=rows.index, dtype="object")
        elif col in rows:  # a plan's rows hold keys masked, and are never unmasked here
            keys[col] = mask_contacts(rows[[col]])[col].to_numpy()
    if masked:
        keys = mask_contacts(keys)
    day, zone = send_schedule(send_date, tz)
    words = _described(rows, lang)
    out = pd.DataFrame({"customer_id": rows["customer_id"].astype(str)})
    for col in wanted:
        if col == "wecom_tags":
            out[col] = words["wecom_tags"]
        elif col in keys:
            out[col] = keys[col].where(keys[col].notna(), "")
    out["send_date"] = day
    out["send_time"] = rows["send_time"].astype(str) if "send_time" in rows else ""
    out["time_zone"] = zone
    for col in ("strategy", "reason", "segment", "lifecycle_stage", "value_tier"):
        out[col] = words[col]
    if "expected_incremental_revenue" in rows:
        out["expected_incremental_revenue"] = rows["expected_incremental_revenue"].astype(
            float).round(2)
    return out.rename(columns={c: t(f"exports.col_{c}", lang) for c in out.columns})


# A spreadsheet reads a cell starting with one of these as a formula (OWASP "CSV injection").
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


_FORMULA_START = r"^[=+\-@\t\r]"  # FORMULA_STARTS as an RE2 class (Arrow's regex)


def _arrow_strings(values: pd.Series) -> pa.Array | None:
    """``values`` as an Arrow string array when they are text and gaps only (a text column
    pandas keeps in Arrow is taken where it is, without a copy); None for numbers, bytes,
    mixed cells or text Arrow cannot hold (lone surrogates)."""
    try:
        strings = (pa.array(values.array) if isinstance(values.dtype, pd.StringDtype)
                   else pa.array(values.to_numpy(dtype=object), from_pandas=True))
    except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError, UnicodeError):
        return None
    if pa.types.is_string(strings.type) or pa.types.is_large_string(strings.type):
        return strings
    return None


def _formula_starts(text: pd.Series) -> pd.Series:
    """Which cells of an object column are text starting with one of :data:`FORMULA_STARTS`.
    All-text columns (with gaps) are matched by Arrow's compiled regex, ~10x quicker than
    pandas' per-cell ``str.startswith`` on a million rows; a column mixing text with numbers
    or dates goes through ``str.startswith`` (non-text cells are never risky), and one
    without text at all cell by cell."""
    if not len(text):
        return pd.Series(False, index=text.index)
    strings = _arrow_strings(text)
    if strings is not None:
        matched = pc.match_substring_regex(strings, _FORMULA_START)
        return pd.Series(matched.fill_null(False).to_numpy(zero_copy_only=False),
                         index=text.index)
    text = text.astype("object")
    try:  # vectorised: non-text cells (numbers in an object column, None) are never risky
        return text.str.startswith(FORMULA_STARTS, na=False).astype(bool)
    except (AttributeError, TypeError):  # no text at all (dates, numbers as objects)
        return text.map(lambda v: isinstance(v, str) and v.startswith(FORMULA_STARTS))


def neutralize(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with every text cell that a spreadsheet would read as a formula prefixed by an
    apostrophe (``'=HYPERLINK(…)`` shows as text): OWASP's rule for CSV and Excel exports.
    Numbers we wrote (numeric columns) are left as they are."""
    out = frame.copy()
    for col in out.columns:
        values = out[col]
        if isinstance(values.dtype, pd.CategoricalDtype):  # labels: check each one once
            names = pd.Series(values.cat.categories.to_numpy(dtype=object), dtype=object)
            safe = neutralize(pd.DataFrame({0: names}))[0]
            if safe.is_unique:
                out[col] = values.cat.rename_categories(safe.to_numpy(dtype=object))
                continue
            values = values.astype("object")  # two labels alike once prefixed: cell by cell
        elif pd.api.types.is_numeric_dtype(values) or pd.api.types.is_bool_dtype(values):
            continue
        risky = _formula_starts(values)
        if risky.any():
            text = values.astype("object")
            out[col] = text.where(~risky, "'" + text[risky].astype(str))
    return out


def write_csv(frame: pd.DataFrame | Iterable[pd.DataFrame], path: str | Path, *,
              private: bool = False) -> Path:
    """Write ``frame`` as CSV for spreadsheets and tools: UTF-8 with BOM (Excel shows Chinese),
    text neutralized (:func:`neutralize`). Every CSV custops writes goes through here.
    ``frame`` may be an iterable of frames with the same columns (a long list made and written
    a slice at a time): one header, the rows in order, the bytes of the whole frame.
    ``private``: the file holds personal data and is created with mode 0600 (owner only).

    The file appears whole or not at all: it is written under a temporary name next to
    ``path`` and renamed onto it once every row is written (a slice that fails leaves the
    previous file, never a truncated list)."""
    path = Path(path)
    mode = PERSONAL_FILE_MODE if private else None
    if mode is None and path.exists():
        mode = path.stat().st_mode & 0o777  # an existing list keeps its mode, as before
    partial = path.with_name(f".{path.name}.{os.getpid()}.partial")
    descriptor = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC,
                         0o666 if mode is None else mode)
    try:
        if mode is not None:
            os.chmod(partial, mode)  # not narrowed or widened by the umask
        parts = [frame] if isinstance(frame, pd.DataFrame) else frame
        with os.fdopen(descriptor, "w", encoding="utf-8-sig", newline="") as handle:
            for i, part in enumerate(parts):
                neutralize(part).to_csv(handle, index=False, header=i == 0)
        os.replace(partial, path)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    return path


def csv_text(frame: pd.DataFrame) -> str:
    """The CSV text of :func:`write_csv` (with its byte-order mark), for a download."""
    buffer = io.StringIO()
    neutralize(frame).to_csv(buffer, index=False, quoting=csv.QUOTE_MINIMAL)
    return "\ufeff" + buffer.getvalue()


def excel_writer(path: str | Path) -> pd.ExcelWriter:
    """An Excel writer that stores every string as text, never as a formula or a link."""
    return pd.ExcelWriter(path, engine="xlsxwriter", engine_kwargs={
        "options": {"strings_to_formulas": False, "strings_to_urls": False}})


def private_folder(folder: str | Path) -> Path:
    """``folder`` created if needed, readable by its owner only (mode 0700): the run's
    ``exports/`` holds the contact lists with full contact keys."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    folder.chmod(PRIVATE_FOLDER_MODE)
    return folder


def _key_headers() -> set[str]:
    return {t(f"exports.col_{col}", lang) for col in CONTACT_COLUMNS for lang in ("en", "zh")}


def holds_personal_data(path: str | Path) -> bool:
    """Whether an export file carries a contact key column (a channel list): those files
    are the only ones with full phone numbers, e-mails, WeCom ids or push tokens."""
    path = Path(path)
    if path.suffix != ".csv" or not path.exists():
        return False
    with path.open(encoding="utf-8-sig", newline="") as handle:
        header = next(csv.reader(handle), [])
    return bool(set(header) & _key_headers())


def export_lists(plan: pd.DataFrame, control: pd.DataFrame, folder: str | Path,
                 lang: str = "en", *, send_date: dt.date, tz: str,
                 contacts: pd.DataFrame | None = None,
                 keys: dict[str, str | None] | None = None) -> list[Path]:
    """The contact list of each channel (``contacts_<channel>.csv``, :func:`channel_list`)
    and the holdout (``control_list.csv``: customer ids, never contacted, no contact keys).

    ``plan`` and ``control`` are the rows of a :class:`custops.reach.ReachPlan`; ``contacts``
    the customers' full contact keys (customer_id and :data:`CONTACT_COLUMNS`, as loaded from
    the data: they go into the channel lists only, each written mode 0600 in ``folder`` made
    mode 0700); ``keys`` a channel → contact column map for channels of a custom channel
    table. CSVs are UTF-8 with BOM so Excel shows Chinese."""
    folder = private_folder(folder)
    written = []
    for stale in folder.glob("contacts_*.csv"):  # a channel no longer planned leaves no list
        stale.unlink()
    by_channel = list(plan.groupby("channel", sort=True)) if "channel" in plan else []
    contacts = contact_lookup(contacts)  # once for every channel
    for channel, rows in by_channel:
        channel = str(channel)
        listed = channel_list(rows, channel, lang=lang, send_date=send_date, tz=tz,
                              contacts=contacts, key=(keys or {}).get(channel))
        private = bool(set(listed.columns) & _key_headers())
        written.append(write_csv(listed, folder / f"contacts_{channel}.csv", private=private))
    written.append(write_csv(control_list(control, lang), folder / "control_list.csv"))
    return written


def control_list(control: pd.DataFrame, lang: str = "en") -> pd.DataFrame:
    """The holdout as a list: customer id, the channel the plan would have used, segment;
    headers and values in ``lang``. These customers must not be contacted."""
    words = _described(control, lang) if len(control) else pd.DataFrame(
        columns=["segment"], index=control.index)
    out = pd.DataFrame({
        "customer_id": control["customer_id"].astype(str).to_numpy(),
        "channel": _labels(control["channel"], lang).to_numpy() if "channel" in control
        else "",
        "group": value_label("control", lang),
        "segment": words["segment"].to_numpy(),
    })
    return out.rename(columns={c: t(f"exports.col_{c}", lang) for c in out.columns})


# ASCII classes and whitespace only: DuckDB masks extra columns with the same rules
# (custops.io.personal), and its RE2 knows no Unicode \s or \d.
WHITESPACE = " \t\n\r\f\v"
MASKED_PHONE = re.compile(r"^[0-9]{3}[*]{4}[0-9]{4}$")


def _all_masked(values: pd.Series) -> bool:
    """Whether every cell is text already in the masked form ``138****5678`` (no spaces
    around it), which :func:`mask_phones` keeps as it is: matched by Arrow's compiled regex,
    ~10x quicker than masking a million phones of a run's stored table again."""
    strings = _arrow_strings(values)
    if strings is None or strings.null_count:
        return False  # numbers, bytes, mixed cells or gaps: masked cell by cell
    return bool(pc.all(pc.match_substring_regex(strings, MASKED_PHONE.pattern)).as_py())


def mask_phones(phones: pd.Series) -> pd.Series:
    """Phones as ``138****5678``: already masked values stay, 11-digit numbers are masked,
    anything else becomes empty — an unmasked number never reaches a page or a file."""
    values = phones.astype("object")
    if pd.api.types.is_float_dtype(phones.dtype):  # numbers read as floats: 13812345678.0
        numbers = phones.to_numpy(dtype="float64", na_value=np.nan)
        whole = np.isfinite(numbers) & (numbers == np.floor(numbers)) & (np.abs(numbers) < 2**62)
        if whole.any():
            cells = values.to_numpy(dtype=object, copy=True)
            cells[whole] = numbers[whole].astype(np.int64).astype(str)
            values = pd.Series(cells, index=phones.index, dtype="object")
    present = values.notna().to_numpy()
    if not present.any():
        return pd.Series("", index=phones.index, dtype="object")
    out = np.full(len(values), "", dtype=object)
    given = values[present]
    if _all_masked(given):  # a run's stored tables: nothing to do but the gaps
        out[present] = given.to_numpy(dtype=object)
        return pd.Series(out, index=phones.index, dtype="object")
    text = given.astype(str).str.strip(WHITESPACE)
    digits = text.str.replace(r"[^0-9]", "", regex=True)
    last = digits.str[-11:]
    masked = (last.str[:3] + "****" + last.str[-4:]).where(digits.str.len() >= 11, "")
    masked = masked.where(~text.str.match(MASKED_PHONE.pattern), text)  # masked already
    out[present] = masked.to_numpy(dtype=object)
    return pd.Series(out, index=phones.index, dtype="object")


EMAIL_ADDRESS = re.compile(r"^[ \t\n\r\f\v]*([^@ \t\n\r\f\v]+)@"
                    r"([^@ \t\n\r\f\v]+[.][^@ \t\n\r\f\v]+)[ \t\n\r\f\v]*$")


def _missing(value: Any) -> bool:
    return value is None or (not isinstance(value, str) and pd.isna(value))


def mask_emails(emails: pd.Series) -> pd.Series:
    """E-mail addresses as ``z***@example.com`` (first character and domain kept); anything
    that is not an address becomes empty."""
    def one(value: Any) -> str:
        if _missing(value):
            return ""
        match = EMAIL_ADDRESS.match(str(value))
        if not match:
            return ""
        local, domain = match.groups()
        return f"{local[0]}***@{domain}"

    return emails.astype("object").map(one).astype("object")


def mask_ids(ids: pd.Series) -> pd.Series:
    """Contact ids (WeCom external userid, push token) as ``wm****a1b2``: two leading and
    four trailing characters kept when the id is longer than ten, else ``****``; empty stays
    empty. Enough to tell that a customer has one, never enough to reach them."""
    def one(value: Any) -> str:
        if _missing(value) or not str(value).strip(WHITESPACE):
            return ""
        text = str(value).strip(WHITESPACE)
        if "****" in text:
            return text
        return f"{text[:2]}****{text[-4:]}" if len(text) > 10 else "****"

    return ids.astype("object").map(one).astype("object")


_MASKS = {"phone": mask_phones, "email": mask_emails, "wecom_external_id": mask_ids,
          "push_token": mask_ids}


def full_contact_columns(frame: pd.DataFrame) -> list[str]:
    """The contact key columns of ``frame`` holding at least one value in full (not already
    in its masked form): what the channel lists must read again from the data."""
    full = []
    for col in (c for c in CONTACT_COLUMNS if c in frame):
        values = frame[col].astype("object")
        present = values.notna() & values.astype(str).str.strip().ne("")
        shown = values[present].astype(str).str.strip()
        if len(shown) and not shown.eq(_MASKS[col](shown)).all():
            full.append(col)
    return full


def mask_contacts(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with every contact key column (:data:`CONTACT_COLUMNS`) masked: what the run
    folder, pages, dashboards and downloads keep."""
    present = [c for c in CONTACT_COLUMNS if c in frame]
    if not present:
        return frame
    return frame.assign(**{c: _MASKS[c](frame[c]).to_numpy() for c in present})


PHONE_COLUMN = "_phone"  # a priority-list input column: the phone joined already


def _aligned(phones: pd.Series, ids: pd.Series) -> np.ndarray:
    """``phones`` (indexed by customer id) of ``ids``, in their order, missing ones None: one
    hash join in Arrow (a pandas reindex by text ids costs ~3 µs a row)."""
    try:
        keys = pa.array(phones.index.to_numpy(dtype=object), type=pa.string())
        wanted = pa.array(pd.Series(ids).to_numpy(dtype=object), type=pa.string())
    except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError, UnicodeError):
        return phones.reindex(pd.Index(ids)).to_numpy(dtype=object)  # ids that are not text
    if not phones.index.is_unique:
        return phones.reindex(pd.Index(ids)).to_numpy(dtype=object)  # raises as before
    position = pc.index_in(wanted, value_set=keys).to_numpy(zero_copy_only=False)
    found = ~np.isnan(position)
    out = np.full(len(wanted), None, dtype=object)
    out[found] = phones.to_numpy(dtype=object)[position[found].astype(np.int64)]
    return out


def _phones_of(customers: pd.DataFrame | pd.Series | None) -> pd.Series | None:
    """The phone per customer id (a Series indexed by id: taken as is); None without phones."""
    if customers is None:
        return None
    if not isinstance(customers, pd.Series):
        if "phone" not in customers:
            return None
        customers = customers.set_index("customer_id")["phone"]
    # As objects: a missing customer must not turn the phones of one slice into floats.
    return customers.astype("object")


def priority_list(scores: pd.DataFrame, customers: pd.DataFrame | pd.Series | None,
                  lang: str = "en") -> pd.DataFrame:
    """The priority list as users read it: at-risk buyers by priority, labels in ``lang``,
    reasons in words of ``lang`` (the scores hold reason codes), phones masked.

    Required columns: ``scores`` — customer_id, priority_rank, risk_band, churn_probability,
    expected_value, strategy, reason (value_tier, lifecycle_stage, rfm_class optional);
    ``customers`` — customer_id and phone (or None: no phones; or the phones as a Series
    indexed by customer id).
    """
    at_risk = scores[scores["risk_band"] != "low_risk"]
    reason = reason_words(at_risk["reason"], lang).to_numpy()
    if PHONE_COLUMN in at_risk:  # joined already (churn_lists: once for every row)
        phone = at_risk[PHONE_COLUMN].astype("object")
    else:
        phones = _phones_of(customers)
        phone = (pd.Series(pd.NA, index=at_risk.index, dtype="object") if phones is None
                 else pd.Series(_aligned(phones, at_risk["customer_id"]), dtype="object"))

    def labelled(column: str) -> pd.Categorical | list[str]:
        """The column's labels in ``lang``, each distinct value labelled once: a categorical
        (a million rows of a handful of tiers, stages and strategies), or a list when two
        values share a label."""
        values = at_risk[column] if column in at_risk else pd.Series(pd.NA, index=at_risk.index)
        codes, uniques = pd.factorize(values, use_na_sentinel=True)
        names = [*value_labels(pd.Series(uniques, dtype=object), lang), t("unknown", lang)]
        codes = np.where(codes < 0, len(uniques), codes)
        if len(set(names)) == len(names):
            return pd.Categorical.from_codes(codes, categories=pd.Index(names, dtype=object))
        return np.asarray(names, dtype=object)[codes].tolist()

    return pd.DataFrame({
        t("dash.rank", lang): at_risk["priority_rank"].to_numpy(),
        t("churn.customer", lang): at_risk["customer_id"].to_numpy(),
        t("dash.phone", lang): mask_phones(phone).to_numpy(),
        t("churn.tier", lang): labelled("value_tier"),
        t("churn.stage", lang): labelled("lifecycle_stage"),
        t("dash.rfm_class", lang): labelled("rfm_class"),
        t("dash.risk_band", lang): labelled("risk_band"),
        t("churn.probability", lang): at_risk["churn_probability"].round(3).to_numpy(),
        t("churn.expected_value", lang): at_risk["expected_value"].round(2).to_numpy(),
        t("churn.reason", lang): reason,
        t("churn.strategy", lang): labelled("strategy"),
    })


LIST_ROWS = 500_000  # rows of a long list made and written at a time


def churn_lists(scores: pd.DataFrame, customers: pd.DataFrame | None, folder: str | Path,
                lang: str = "en") -> list[Path]:
    """The two churn lists as CSV (UTF-8 with BOM): ``churn_at_risk.csv`` (active buyers at
    high or medium risk, to retain) and ``churn_recall.csv`` (buyers already churned, to
    recall), each in its own priority order, phones masked."""
    folder = private_folder(folder)
    band = scores["risk_band"].to_numpy()
    lists = {"churn_at_risk.csv": band != "already_churned",
             "churn_recall.csv": band == "already_churned"}
    phones = _phones_of(customers)
    # Every buyer's phone in one join, not one per slice.
    phone = None if phones is None else _aligned(phones, scores["customer_id"])
    written = []
    for name, keep in lists.items():
        rows = np.flatnonzero(keep)
        # A slice of LIST_ROWS buyers at a time: at 10M customers a whole list in words
        # (labels, reasons, neutralised copies) would hold several GB.
        parts = (priority_list(_with_phone(scores, rows[start:start + LIST_ROWS], phone),
                               None, lang)
                 for start in range(0, max(len(rows), 1), LIST_ROWS))
        written.append(write_csv(parts, folder / name))
    return written


def _with_phone(scores: pd.DataFrame, rows: np.ndarray, phone: np.ndarray | None
                ) -> pd.DataFrame:
    part = scores.iloc[rows]
    if phone is None:
        return part
    return part.assign(**{PHONE_COLUMN: phone[rows]})
