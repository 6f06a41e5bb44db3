"""User profiling (用户画像): who the customers are, how value is spread, how they come back.

Pure functions on the feature table and on the order-level aggregates of
:mod:`custops.features`; each ``*_section`` function returns a :class:`custops.sections.Section`
with figures, tables and an interpretation generated from the numbers in ``lang``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from custops import plots
from custops.features import numeric
from custops.labels import LABELS, WEEKDAYS, reject_reason_words, t, value_label, value_labels
from custops.sections import Section, pct

__all__ = [
    "AGE_BANDS",
    "ATTRIBUTES",
    "MIN_ELIGIBLE",
    "TOP_SHARES",
    "age_band",
    "attribute_profiles",
    "attributes_section",
    "buyer_concentration",
    "channel_quality",
    "channel_section",
    "cohort_retention",
    "cohort_section",
    "concentration_section",
    "customer_base",
    "customer_base_section",
    "data_quality_section",
    "high_value_flag",
    "mean_retention",
    "monthly_buyers",
    "order_time_peak",
    "order_time_section",
    "profile_numbers",
    "profile_summary",
    "SUMMARY_SECTIONS",
    "repeat_numbers",
    "repurchase_section",
    "value_concentration",
]

TOP_SHARES = (0.01, 0.05, 0.20)
MIN_ELIGIBLE = 20  # buyers with k order days a repurchase rate needs to be shown
ATTRIBUTES = ("gender", "age_band", "city_tier", "province", "occupation",
              "acquisition_channel", "favourite_category", "favourite_channel")
AGE_BANDS = [(0, 24, "18-24"), (25, 34, "25-34"), (35, 44, "35-44"), (45, 54, "45-54"),
             (55, 200, "55+")]


# -- data quality ------------------------------------------------------------------------------

def data_quality_section(summary: dict[str, Any], lang: str = "en") -> Section:
    """Rows read / kept / rejected per table, from the loader's summary."""
    rows = []
    for name, info in summary.get("tables", {}).items():
        if info is None:
            continue
        rows.append({
            t("dq.table", lang): t(f"table.{name}", lang) if f"table.{name}" in LABELS else name,
            t("dq.rows_read", lang): info.get("rows_read", 0),
            t("dq.rows_kept", lang): info.get("rows_kept", 0),
            t("dq.rows_rejected", lang): info.get("rows_rejected", 0),
            t("dq.date_min", lang): info.get("date_min") or "",
            t("dq.date_max", lang): info.get("date_max") or "",
            t("dq.customers", lang): info.get("customers", 0),
        })
    orders = summary.get("tables", {}).get("orders", {}) or {}
    reasons = orders.get("rejected_by_reason") or {}
    reason_text = ""
    if reasons:
        top = sorted(reasons.items(), key=lambda kv: -kv[1])[:3]
        sep = ", " if lang == "en" else "，"
        reason_text = (": " if lang == "en" else "：") + sep.join(
            t("dq.reason_count", lang, reason=reject_reason_words(k, lang), count=v)
            for k, v in top)
    text = t("dq.text", lang, kept=orders.get("rows_kept", 0), read=orders.get("rows_read", 0),
             rejected=orders.get("rows_rejected", 0), reasons=reason_text)
    return Section(t("dq.title", lang), text=text, tables=[pd.DataFrame(rows)],
                   data={"tables": summary.get("tables", {})})


# -- customer base -----------------------------------------------------------------------------

def customer_base(features: pd.DataFrame, *, active_days: int = 90) -> dict[str, Any]:
    """Counts by class: known, prospects, buyers, repeat buyers, active buyers, zombie share.

    A *zombie* is a known customer with neither an order nor an event in the last
    ``active_days`` days.
    """
    buyers = features["is_buyer"].astype(bool)
    active = numeric(features["days_since_last_order"], np.inf) < active_days
    alive_by_event = (numeric(features["days_since_last_event"], np.inf) < active_days
                      if "days_since_last_event" in features else pd.Series(False, features.index))
    known = len(features)
    return {
        "known": int(known),
        "prospects": int((~buyers).sum()),
        "buyers": int(buyers.sum()),
        "repeat": int((features["order_days"].fillna(0) >= 2).sum()),
        "active": int(active.sum()),
        "zombie": float((~(active | alive_by_event)).mean()) if known else 0.0,
        "days": int(active_days),
    }


def _customer_key(months: pd.DataFrame) -> str:
    """The column telling customers apart in a months table: ``customer`` (the numbers
    :func:`custops.aggregates.customer_months` gives) or ``customer_id``."""
    return "customer" if "customer" in months else "customer_id"


def _customers_per_group(rows: pd.DataFrame, by, key: str) -> pd.Series:
    """Distinct customers per group of ``rows``. The numbered months of
    :func:`custops.aggregates.customer_months` hold one row per customer and month, so there
    rows are counted (a distinct count hashes tens of millions of pairs at 10M customers)."""
    if key == "customer":
        return rows.groupby(by).size()
    return rows.groupby(by)[key].nunique()


def monthly_buyers(months: pd.DataFrame) -> pd.DataFrame:
    """New buyers (first order that month), active buyers and net revenue per month.
    ``months``: :func:`custops.aggregates.customer_months` (customer or customer_id, month,
    orders, net_spend)."""
    key = _customer_key(months)
    buying = months[months["orders"] > 0]
    first = buying.groupby(key)["month"].min().value_counts().rename("new_buyers")
    active = _customers_per_group(buying, "month", key).rename("active_buyers")
    revenue = months.groupby("month")["net_spend"].sum().rename("net_revenue")
    out = pd.concat([first, active, revenue], axis=1).fillna(0).sort_index()
    out.index.name = "month"
    return out.reset_index().astype({"new_buyers": "int64", "active_buyers": "int64"})


def customer_base_section(features: pd.DataFrame, months: pd.DataFrame, lang: str = "en", *,
                          active_days: int = 90) -> Section:
    """Known customers, prospects, buyers, repeat, active and zombie share, and new and
    active buyers per month."""
    base = customer_base(features, active_days=active_days)
    table = pd.DataFrame({
        t("customers", lang): [t("base.known", lang), t("base.prospects", lang),
                               t("base.buyers", lang), t("base.repeat", lang),
                               t("base.active", lang, days=active_days), t("base.zombie", lang)],
        t("count", lang): [f"{base['known']:,}", f"{base['prospects']:,}", f"{base['buyers']:,}",
                           f"{base['repeat']:,}", f"{base['active']:,}", pct(base["zombie"])],
    })
    monthly = monthly_buyers(months)
    fig = plots.line_figure(
        monthly.assign(month=monthly["month"].astype(str)), "month",
        ["new_buyers", "active_buyers"], title=t("monthly.title", lang),
        names=[t("monthly.new", lang), t("monthly.active", lang)],
        yaxis_title=t("customers", lang),
    )
    plots.date_axis(fig, lang)
    return Section(t("base.title", lang), text=t("base.text", lang, **base), tables=[table],
                   figures=[fig], data={"base": base, "monthly": monthly})


# -- 2/8 concentration -------------------------------------------------------------------------

def value_concentration(values: pd.Series | np.ndarray, tops=TOP_SHARES) -> dict[str, Any]:
    """Share of total value from the top x% of customers, the Pareto curve, and the Gini.

    Negative values (net refunders) count as zero. The Gini coefficient uses the standard
    formula on sorted values: G = Σ(2i − n − 1)·x_i / (n·Σx).
    """
    x = np.clip(np.asarray(values, dtype=float), 0, None)
    x = x[~np.isnan(x)]
    n, total = len(x), x.sum()
    if n == 0 or total <= 0:
        return {"n": n, "total": float(total), "gini": float("nan"),
                "top_shares": {f"{s:g}": float("nan") for s in tops},
                "curve_x": [0.0, 1.0], "curve_y": [0.0, 1.0]}
    desc = np.sort(x)[::-1]
    cum = np.cumsum(desc) / total
    asc = desc[::-1]
    i = np.arange(1, n + 1)
    gini = float(((2 * i - n - 1) * asc).sum() / (n * total))
    top_shares = {f"{s:g}": float(cum[max(int(np.ceil(s * n)) - 1, 0)]) for s in tops}
    points = np.unique(np.linspace(0, n - 1, min(n, 400)).astype(int))
    return {
        "n": int(n), "total": float(total), "gini": gini, "top_shares": top_shares,
        "curve_x": [0.0, *((points + 1) / n).tolist()], "curve_y": [0.0, *cum[points].tolist()],
    }


def concentration_section(features: pd.DataFrame, lang: str = "en",
                          value: str = "net_spend") -> Section:
    """The 2/8 rule: the Lorenz curve of ``value`` over buyers, top shares and the Gini."""
    conc = buyer_concentration(features, value)
    shares = conc["top_shares"]
    marks = [(float(k), v, t("conc.mark", lang, pct=float(k), value=v))
             for k, v in shares.items() if not np.isnan(v)]
    fig = plots.lorenz_figure(
        np.array(conc["curve_x"]), np.array(conc["curve_y"]), title=t("conc.title", lang),
        x_title=t("conc.x", lang), y_title=t("conc.y", lang), curve_name=t("conc.curve", lang),
        equality_name=t("conc.equality", lang), marks=marks,
    )
    top20 = shares.get("0.2", float("nan"))
    verdict = t("conc.verdict_strong" if top20 >= 0.8 else "conc.verdict_weak", lang)
    text = t("conc.text", lang, top1=shares.get("0.01", 0), top5=shares.get("0.05", 0),
             top20=top20, gini=conc["gini"], verdict=verdict)
    table = pd.DataFrame({
        t("customers", lang): [t("conc.top", lang, pct=float(k) * 100) for k in shares],
        t("revenue_share", lang): [pct(v) for v in shares.values()],
    })
    return Section(t("conc.title", lang), text=text, figures=[fig], tables=[table],
                   data=_without_curve(conc))


def buyer_concentration(features: pd.DataFrame, value: str = "net_spend") -> dict[str, Any]:
    """:func:`value_concentration` of ``value`` over the buyers."""
    return value_concentration(features.loc[features["is_buyer"].to_numpy(dtype=bool), value])


def _without_curve(conc: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in conc.items() if not k.startswith("curve")}


# -- attributes and behaviour ------------------------------------------------------------------

def high_value_flag(features: pd.DataFrame, *, top_share: float = 0.2,
                    value: str = "net_spend") -> pd.Series:
    """True for the top ``top_share`` of buyers by ``value`` (ties at the cut included)."""
    buyers = features["is_buyer"].astype(bool)
    if not buyers.any():
        return pd.Series(False, index=features.index)
    cut = features.loc[buyers, value].quantile(1 - top_share)
    return buyers & (features[value] >= cut)


def age_band(age: pd.Series) -> pd.Series:
    """Age in years → band label ("25-34"); missing stays missing."""
    out = pd.Series(pd.NA, index=age.index, dtype="object")
    values = age.astype("Float64")
    for low, high, label in AGE_BANDS:
        out[(values >= low) & (values <= high)] = label
    return out


def _attribute_profile(features: pd.DataFrame, attribute: str, high_value: pd.Series,
                       *, top_n: int = 12) -> pd.DataFrame:
    """Distribution of ``attribute`` among high-value buyers vs the other buyers.

    ``index`` = share among high-value / share among the rest (1 = no difference).
    """
    buyers = features["is_buyer"].astype(bool).to_numpy()
    high_value = high_value.to_numpy(dtype=bool)
    column = age_band(features["age"]) if attribute == "age_band" else features[attribute]
    codes, names = _coded(column)
    high = _shares(codes[buyers & high_value], names)
    rest = _shares(codes[buyers & ~high_value], names)
    out = pd.concat([high.rename("share_high"), rest.rename("share_rest")], axis=1).fillna(0.0)
    out["index"] = out["share_high"] / out["share_rest"].where(out["share_rest"] > 0)
    out.index.name = "value"
    out = out.sort_values("share_high", ascending=False).head(top_n).reset_index()
    if attribute == "age_band" or attribute == "city_tier":
        out = out.sort_values("value", key=lambda s: s.astype(str)).reset_index(drop=True)
    return out


def _coded(column: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """The column's values as integer codes and the values they stand for (as objects), a
    missing value counted as ``"unknown"`` (with the value ``"unknown"`` if there is one):
    the rows are read once, never copied to Python objects (at 10M customers the object copy
    and hashing of each attribute took seconds)."""
    codes, uniques = pd.factorize(column, use_na_sentinel=True)
    names = np.asarray(uniques, dtype=object)
    if (codes < 0).any():
        unknown = np.flatnonzero([isinstance(v, str) and v == "unknown" for v in names])
        if len(unknown):
            at = int(unknown[0])
        else:
            names, at = np.append(names, "unknown"), len(names)
        codes = np.where(codes < 0, at, codes)
    return codes, names


def _shares(codes: np.ndarray, names: np.ndarray) -> pd.Series:
    """``value_counts(normalize=True)`` of the values ``codes`` stand for: shares, largest
    first, equal shares in the order the values first appear (as pandas orders them)."""
    counts = np.bincount(codes, minlength=len(names))
    present = np.flatnonzero(counts)
    first = np.full(len(names), len(codes))
    np.minimum.at(first, codes, np.arange(len(codes)))
    order = present[np.argsort(first[present], kind="stable")]
    result = pd.Series(counts[order], index=pd.Index(names[order], dtype=object))
    result = result.sort_values(ascending=False, kind="stable")
    return result / result.sum()


def attribute_profiles(features: pd.DataFrame, *, top_share: float = 0.2,
                       attributes=ATTRIBUTES) -> dict[str, pd.DataFrame]:
    """:func:`_attribute_profile` of each attribute the data hold (high-value buyers: the top
    ``top_share`` by net spend)."""
    high = high_value_flag(features, top_share=top_share)
    profiles = {}
    for attribute in attributes:
        source = "age" if attribute == "age_band" else attribute
        if source in features and not features[source].isna().all():
            profiles[attribute] = _attribute_profile(features, attribute, high)
    return profiles


def attributes_section(features: pd.DataFrame, lang: str = "en", *, top_share: float = 0.2,
                       attributes=ATTRIBUTES) -> Section:
    """High-value buyers vs the rest across attributes and behaviour ("learn needs from
    behaviour")."""
    profiles = attribute_profiles(features, top_share=top_share, attributes=attributes)
    panels, standouts = [], []
    for attribute, prof in profiles.items():
        name = t(f"attr.{attribute}", lang)
        labels = value_labels(prof["value"], lang)
        if attribute == "city_tier":
            labels = [f"T{v}" if v != "unknown" else t("unknown", lang) for v in prof["value"]]
        panels.append((name, labels, prof["share_high"], prof["share_rest"]))
        notable = prof[(prof["index"] >= 1.2) & (prof["share_high"] >= 0.05)
                       & (prof["value"] != "unknown")]
        for _, row in notable.iterrows():
            label = f"T{row['value']}" if attribute == "city_tier" else value_label(row["value"],
                                                                                    lang)
            standouts.append((row["index"], f"{name} {label} (×{row['index']:.1f})"))
    standouts.sort(key=lambda item: -item[0])
    text = (t("attr.text", lang, items=", ".join(s for _, s in standouts[:5])) if standouts
            else t("attr.none", lang))
    # One attribute (a dashboard view) is one chart titled by it; several are small multiples.
    title = (t("attr.title", lang, attribute=panels[0][0]) if len(panels) == 1
             else t("attr.figure_title", lang))
    figures = [plots.small_multiples_figure(
        panels, title=title, names=(t("high_value", lang), t("rest", lang)),
        yaxis_title=t("customer_share", lang), columns=1 if len(panels) == 1 else 2)
    ] if panels else []
    return Section(t("attr.section_title", lang), text=text, figures=figures,
                   data={"profiles": {k: v.to_dict("records") for k, v in profiles.items()}})


def order_time_section(counts: pd.DataFrame, lang: str = "en") -> Section:
    """Hour × weekday heatmap of purchases and the peak moment."""
    matrix = counts.pivot_table(index="weekday", columns="hour", values="orders",
                                aggfunc="sum").reindex(index=range(7), columns=range(24))
    matrix.index = WEEKDAYS[lang]
    fig = plots.heatmap_figure(matrix, title=t("heat.title", lang), xaxis_title=t("hour", lang),
                               yaxis_title=t("weekday", lang))
    peak = order_time_peak(counts)
    if not peak:
        return Section(t("heat.title", lang), figures=[fig])
    text = t("heat.text", lang, day=WEEKDAYS[lang][peak["peak_weekday"]], hour=peak["peak_hour"])
    return Section(t("heat.title", lang), text=text, figures=[fig], data=peak)


def order_time_peak(counts: pd.DataFrame) -> dict[str, Any]:
    """The weekday and hour with most purchases and the purchases per hour (empty when there
    are none): ``counts`` from :func:`custops.aggregates.order_time_counts`."""
    if counts.empty:
        return {}
    peak = counts.loc[counts["orders"].idxmax()]
    by_hour = counts.groupby("hour")["orders"].sum()
    return {"peak_weekday": int(peak["weekday"]), "peak_hour": int(peak["hour"]),
            "orders_by_hour": by_hour.to_dict()}


# -- cohorts and repurchase --------------------------------------------------------------------

def cohort_retention(months: pd.DataFrame, as_of: dt.date, *, max_months: int = 12
                     ) -> pd.DataFrame:
    """Share of each first-order-month cohort buying again in month k (k = 0 … max_months).

    Cells a cohort has not fully lived through yet (month k not finished at ``as_of``) are NaN;
    a month it lived through without a purchase is 0 (before, a k in which no cohort bought
    was NaN throughout, and left out of the mean curve as if nobody had lived through it).

    Months are counted as integers (months since 1970-01, the ordinals of monthly periods)
    and the (cohort, k) cells by one ``bincount``: at 1M customers (3M customer-months)
    that is a fraction of a second where group-bys over periods took 8 s.
    """
    key = _customer_key(months)
    buying = months["orders"].to_numpy(dtype=float, na_value=0.0) > 0
    if not buying.any():
        return pd.DataFrame()
    month = (pd.to_datetime(months["month"]).to_numpy()[buying]
             .astype("datetime64[M]").astype(np.int64))
    if key == "customer":  # numbered customers, one row per customer and month
        customer = months["customer"].to_numpy()[buying].astype(np.int64)
    else:  # text ids: number them, and count each customer once per month
        customer = pd.factorize(months[key].to_numpy()[buying])[0].astype(np.int64)
        pairs = np.unique(customer * (month.max() - month.min() + 1) + (month - month.min()))
        span = month.max() - month.min() + 1
        customer, month = pairs // span, pairs % span + month.min()
    first = np.full(int(customer.max()) + 1, np.iinfo(np.int64).max)
    np.minimum.at(first, customer, month)
    cohort = first[customer]
    k = month - cohort
    kept = k <= max_months
    cohort, k = cohort[kept], k[kept]
    low = int(cohort.min())
    width = max_months + 1
    cells = np.bincount((cohort - low) * width + k,
                        minlength=(int(cohort.max()) - low + 1) * width).reshape(-1, width)
    present = cells[:, 0] > 0  # every cohort has its first month
    cells = cells[present]
    periods = pd.PeriodIndex.from_ordinals(np.flatnonzero(present) + low, freq="M")
    sizes = pd.Series(cells[:, 0], index=periods)
    matrix = pd.DataFrame(cells / cells[:, :1], index=periods, columns=range(width))
    last_complete = pd.Period(as_of, "M") - (0 if (pd.Timestamp(as_of) + pd.Timedelta(days=1)
                                                   ).day == 1 else 1)
    lived = (last_complete.ordinal - (np.flatnonzero(present) + low))[:, None]
    matrix = matrix.where(np.arange(width)[None, :] <= lived)
    matrix.insert(0, "size", sizes)
    matrix.index = matrix.index.astype(str)
    matrix.index.name, matrix.columns.name = "cohort", "k"
    return matrix


def mean_retention(matrix: pd.DataFrame) -> dict[int, float]:
    """The cohorts' retention in month k, weighted by cohort size (cohorts that have not lived
    through month k left out): ``matrix`` from :func:`cohort_retention`."""
    if matrix.empty:
        return {}
    rates, weights = matrix.drop(columns="size"), matrix["size"]
    return {int(k): float(np.nansum(rates[k] * weights) / weights[rates[k].notna()].sum())
            for k in rates.columns if rates[k].notna().any()}


def cohort_section(months: pd.DataFrame, as_of: dt.date, lang: str = "en", *,
                   max_months: int = 12) -> Section:
    """Monthly cohorts: the retention heat map, recent cohorts' curves and their average."""
    matrix = cohort_retention(months, as_of, max_months=max_months)
    if matrix.empty:
        return Section(t("cohort.title", lang))
    rates = matrix.drop(columns="size")
    rates.index = plots.month_labels(rates.index, lang)
    heat = plots.heatmap_figure(rates.drop(columns=0), title=t("cohort.title", lang),
                                xaxis_title=t("cohort.x", lang), yaxis_title=t("cohort.y", lang),
                                percent=True)
    mean_curve = mean_retention(matrix)
    curve = pd.DataFrame({"k": list(mean_curve), "retention": list(mean_curve.values())})
    recent = rates.tail(6)
    lines = plots.line_figure(
        pd.DataFrame({"k": rates.columns, **{c: recent.loc[c].values for c in recent.index}}),
        "k", list(recent.index), title=t("cohort.curve_title", lang), percent=True,
        yaxis_title=t("share", lang),
    )
    lines.add_scatter(x=curve["k"], y=curve["retention"], name=t("cohort.average", lang),
                      mode="lines",
                      line={"color": "#222", "width": 4, "dash": "dot"})
    text = t("cohort.text", lang, m1=mean_curve.get(1, np.nan), m3=mean_curve.get(3, np.nan),
             m6=mean_curve.get(6, np.nan))
    return Section(t("cohort.title", lang), text=text, figures=[heat, lines],
                   data={"mean_retention_by_month": mean_curve})


def repurchase_section(curve: pd.DataFrame, lang: str = "en", *, window_days: int = 90,
                       loyal_threshold: float = 0.6) -> Section:
    """The repurchase magic numbers, measured: P(next order | k order days so far)."""
    curve = curve[curve["eligible"] >= MIN_ELIGIBLE].copy()
    x_labels = [f"{k}" if k < curve["order_days"].max() else f"{k}+"
                for k in curve["order_days"]]
    fig = plots.bar_figure(curve.assign(label=x_labels, text=curve["p_repeat"].map(pct)),
                           "label", "p_repeat", text="text", title=t("repurchase.title", lang),
                           name=t("repurchase.y", lang, days=window_days),
                           xaxis_title=t("repurchase.x", lang),
                           yaxis_title=t("repurchase.y", lang, days=window_days))
    fig.update_yaxes(tickformat=".0%")
    if len(curve) < 2:
        return Section(t("repurchase.title", lang), figures=[fig])
    numbers = repeat_numbers(curve)
    p = curve.set_index("order_days")["p_repeat"]
    jumps = p.diff().iloc[1:]
    jump_at = int(jumps.idxmax())  # jumps[k] = p(k) - p(k-1): the jump comes after order k
    lift2 = numbers["lift_after_first_repurchase"]
    loyal = p[p >= loyal_threshold]
    seed_check = t("repurchase.seed_yes" if lift2 >= 0.3 else "repurchase.seed_no", lang,
                   lift2=lift2)
    text = t("repurchase.text", lang, p1=p.iloc[0], p2=p.iloc[1], lift2=lift2, days=window_days,
             jump_at=jump_at, jump=float(jumps.max()),
             loyal_at=int(loyal.index[0]) if len(loyal) else t("repurchase.no_loyal", lang),
             loyal_p=loyal_threshold, seed_check=seed_check)
    return Section(t("repurchase.title", lang), text=text, figures=[fig], data=numbers)


def repeat_numbers(curve: pd.DataFrame) -> dict[str, Any]:
    """P(next order | k order days so far) for each k with at least :data:`MIN_ELIGIBLE`
    buyers, and the lift after the first repurchase (empty below two such k): ``curve`` from
    :func:`custops.aggregates.repeat_order_curve`."""
    p = curve[curve["eligible"] >= MIN_ELIGIBLE].set_index("order_days")["p_repeat"]
    if len(p) < 2:
        return {}
    return {"p_repeat": {int(k): float(v) for k, v in p.items()},
            "lift_after_first_repurchase": float(p.iloc[1] / p.iloc[0] - 1)}


# -- acquisition channels ----------------------------------------------------------------------

def channel_quality(features: pd.DataFrame, *, active_days: int = 90) -> pd.DataFrame:
    """Users, buyers, conversion, retention (share of users active in the last
    ``active_days``), retained users (= users × retention) and net revenue per user."""
    if "acquisition_channel" not in features:
        return pd.DataFrame()
    frame = pd.DataFrame({  # only the columns counted (not a copy of every feature)
        "customer_id": features["customer_id"],
        "channel": features["acquisition_channel"].astype("object").fillna("unknown"),
        "buyer": features["is_buyer"].astype(bool),
        "active": numeric(features["days_since_last_order"], np.inf) < active_days,
        "net_spend": features["net_spend"],
    })
    out = frame.groupby("channel").agg(users=("customer_id", "size"), buyers=("buyer", "sum"),
                                       active=("active", "sum"), revenue=("net_spend", "sum"))
    out["conversion"] = out["buyers"] / out["users"]
    out["retention"] = out["active"] / out["users"]
    out["retained_users"] = out["users"] * out["retention"]
    out["revenue_per_user"] = out["revenue"] / out["users"]
    return out.sort_values("retained_users", ascending=False).reset_index()


def channel_section(features: pd.DataFrame, lang: str = "en", *, active_days: int = 90
                    ) -> Section:
    """Acquisition channels by retained users, with conversion, retention and value per user."""
    quality = channel_quality(features, active_days=active_days)
    if quality.empty:
        return Section(t("chan.title", lang))
    names = value_labels(quality["channel"], lang)
    table = pd.DataFrame({
        t("chan.title", lang): names,
        t("chan.users", lang): quality["users"].astype("int64"),
        t("chan.buyers", lang): quality["buyers"].astype("int64"),
        t("chan.conversion", lang): quality["conversion"].map(pct),
        t("chan.retention", lang): quality["retention"].map(pct),
        t("chan.retained", lang): quality["retained_users"].round().astype("int64"),
        t("chan.value", lang): quality["revenue_per_user"].round(1),
    })
    fig = plots.bar_figure(quality.assign(name=names), "name", "retained_users",
                           title=t("chan.title", lang), yaxis_title=t("chan.retained", lang),
                           name=t("chan.retained", lang))
    best, worst = quality.loc[quality["retention"].idxmax()], quality.loc[
        quality["retention"].idxmin()]
    text = t("chan.text", lang, retained=quality["retained_users"].sum(),
             best=value_label(best["channel"], lang), best_ret=best["retention"],
             worst=value_label(worst["channel"], lang), worst_ret=worst["retention"])
    return Section(t("chan.title", lang), text=text, tables=[table], figures=[fig],
                   data=_channel_numbers(quality))


def _channel_numbers(quality: pd.DataFrame) -> dict[str, Any]:
    return {"channels": quality.to_dict("records")} if not quality.empty else {}


#: The sections of 01 whose numbers make the ``profile_summary`` artifact, in its order.
SUMMARY_SECTIONS = ("quality", "base", "concentration", "attributes", "timing", "cohorts",
                    "repurchase", "channels")


def profile_summary(as_of: dt.date, numbers: Mapping[str, dict[str, Any]]) -> dict[str, Any]:
    """The JSON artifact later steps and dashboards read (numbers only, no figures), from the
    numbers (``Section.data``) of the sections a page drew, by :data:`SUMMARY_SECTIONS` name:
    the same numbers as :func:`profile_numbers`, which computes them without a page."""
    return {"as_of": str(as_of), **{name: numbers[name] for name in SUMMARY_SECTIONS}}


def profile_numbers(quality: dict[str, Any], features: pd.DataFrame, months: pd.DataFrame,
                    order_times: pd.DataFrame, repeat_curve: pd.DataFrame, as_of: dt.date, *,
                    active_days: int = 90, top_share: float = 0.2) -> dict[str, Any]:
    """The ``profile_summary`` artifact computed directly: the numbers of every section of
    01 with the sections' defaults, without building their figures, tables and words (which
    do not change a number, in any language). ``quality``: the loader's summary; ``months``,
    ``order_times``, ``repeat_curve``: :func:`custops.aggregates.customer_months`,
    :func:`~custops.aggregates.order_time_counts`, :func:`~custops.aggregates.repeat_order_curve`."""
    return {
        "as_of": str(as_of),
        "quality": {"tables": quality.get("tables", {})},
        "base": {"base": customer_base(features, active_days=active_days),
                 "monthly": monthly_buyers(months)},
        "concentration": _without_curve(buyer_concentration(features)),
        "attributes": {"profiles": {k: v.to_dict("records") for k, v in attribute_profiles(
            features, top_share=top_share).items()}},
        "timing": order_time_peak(order_times),
        "cohorts": ({"mean_retention_by_month": mean_retention(matrix)}
                    if not (matrix := cohort_retention(months, as_of)).empty else {}),
        "repurchase": repeat_numbers(repeat_curve),
        "channels": _channel_numbers(channel_quality(features, active_days=active_days)),
    }
