"""Segmentation (分级、分类、分阶段): RFM scores and classes, value tiers, prospect grades,
customer classes, lifecycle stages, true fans, behavioural clusters and segment migration.

Every threshold is a parameter with the default of ``shared/DOMAIN.md``; everything works on the
per-customer feature table of :mod:`custops.features` (one row per customer).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd

from custops import plots
from custops.errors import NotComputable, ParameterError
from custops.io.duckdb_checks import FEATURE_MEMORY_SHARE, bounded_connection
from custops.labels import LABELS, focus, t, value_label
from custops.models.threads import openmp_threads
from custops.sections import Section

__all__ = [
    "CLUSTER_FEATURES",
    "CUSTOMER_CLASSES",
    "GRADES",
    "RFM_CLASSES",
    "RFM_CLASS_ORDER",
    "STAGES",
    "TIERS",
    "SegmentParams",
    "behaviour_clusters",
    "cluster_name",
    "cluster_names",
    "clusters_section",
    "customer_classes",
    "describe_cluster",
    "lifecycle_stages",
    "migration_matrix",
    "migration_section",
    "params_dict",
    "prospect_grades",
    "pyramid_section",
    "quintile_scores",
    "rfm_section",
    "rfm_table",
    "segment_customers",
    "stages_section",
    "tiers_section",
    "top_moves",
    "true_fans",
    "value_tiers",
]

RFM_CLASSES = (  # (R high, F high, M high) → class key, in the order DOMAIN.md lists them
    ((True, True, True), "important_value"),
    ((True, False, True), "important_development"),
    ((False, True, True), "important_retention"),
    ((False, False, True), "important_winback"),
    ((True, True, False), "general_value"),
    ((True, False, False), "general_development"),
    ((False, True, False), "general_retention"),
    ((False, False, False), "general_winback"),
)
RFM_CLASS_ORDER = tuple(key for _, key in RFM_CLASSES)
TIERS = ("vip", "large", "medium", "small")
GRADES = ("A", "B", "C", "D")
STAGES = ("newcomer", "growth", "mature", "decline", "churned")
CUSTOMER_CLASSES = ("prospect", "ordinary", "loyal", "lost")
CLUSTER_FEATURES = ("days_since_last_order", "order_days", "net_spend", "avg_order_value",
                    "mean_gap_days", "events_total")


@dataclass(frozen=True)
class SegmentParams:
    """All segmentation thresholds (defaults from DOMAIN.md)."""
    rfm_cut: str = "mean"  # "mean" or "median": where a letter turns from low to high
    tier_shares: tuple[float, float, float] = (0.05, 0.15, 0.30)  # VIP, large, medium
    grade_shares: tuple[float, float, float] = (0.10, 0.20, 0.30)  # A, B, C of prospects
    newcomer_days: int = 30  # first order within this many days → newcomer
    growth_min_order_days: int = 2
    mature_min_order_days: int = 5
    decline_gap_multiple: float = 2.0  # silent > multiple × own usual gap → decline
    churn_days: int = 180  # silent longer → churned
    loyal_min_order_days: int = 5
    fan_min_order_days: int = 2  # true fans: repeat buyers who refer and give feedback
    fan_min_referrals: int = 1
    fan_min_reviews: int = 1

    def __post_init__(self):
        if self.rfm_cut not in ("mean", "median"):
            raise ParameterError(f"rfm_cut={self.rfm_cut!r}: use 'mean' or 'median'")
        for name in ("tier_shares", "grade_shares"):
            shares = getattr(self, name)
            if len(shares) != 3 or min(shares) < 0 or sum(shares) > 1:
                raise ParameterError(f"{name}={shares}: three shares ≥ 0 that sum to ≤ 1")
        if self.churn_days <= 0 or self.decline_gap_multiple <= 0:
            raise ParameterError("churn_days and decline_gap_multiple must be positive")


def _buyers(features: pd.DataFrame) -> pd.Series:
    return features["is_buyer"].astype(bool)


def quintile_scores(values: pd.Series, *, higher_is_better: bool = True) -> pd.Series:
    """Scores 1–5 by rank quintile; equal values always share a score.

    score = 1 + floor(5 · (rank_min − 1) / n), ranking so that better values rank higher.
    """
    x = values.astype("float64")
    ranks = (x if higher_is_better else -x).rank(method="min")
    n = x.notna().sum()
    scores = 1 + np.floor(5 * (ranks - 1) / max(n, 1))
    return scores.clip(1, 5).astype("Int64")


def rfm_table(features: pd.DataFrame, params: SegmentParams = SegmentParams()) -> pd.DataFrame:
    """R/F/M values, 1–5 scores, high/low flags and the eight classic classes for buyers.

    R = days since the last order (fewer is better), F = orders, M = net spend. A letter is
    "high" when better than the cut (the buyers' mean or median). Non-buyers get NA.
    """
    buyers = _buyers(features)
    # Only the three columns: a whole-table row filter copies every column (~3 GiB at 10M).
    b = features.loc[buyers, ["days_since_last_order", "order_count", "net_spend"]]
    recency = b["days_since_last_order"].astype("float64")
    frequency = b["order_count"].astype("float64")
    monetary = b["net_spend"].astype("float64")
    agg = "mean" if params.rfm_cut == "mean" else "median"
    r_high = recency < getattr(recency, agg)()
    f_high = frequency > getattr(frequency, agg)()
    m_high = monetary > getattr(monetary, agg)()
    # The class of each buyer by its three letters as a number (R·4 + F·2 + M): no Python
    # loop over millions of buyers.
    names = np.empty(8, dtype=object)
    for (r, f, m), key in RFM_CLASSES:
        names[4 * r + 2 * f + m] = key
    classes = names[4 * r_high.to_numpy(dtype=np.int8) + 2 * f_high.to_numpy(dtype=np.int8)
                    + m_high.to_numpy(dtype=np.int8)]
    out = pd.DataFrame(index=features.index)
    out["r_score"] = quintile_scores(recency, higher_is_better=False).reindex(features.index)
    out["f_score"] = quintile_scores(frequency).reindex(features.index)
    out["m_score"] = quintile_scores(monetary).reindex(features.index)
    out["rfm_class"] = pd.Series(classes, index=b.index, dtype="object").reindex(features.index)
    out["r_high"] = r_high.reindex(features.index).astype("boolean")
    out["f_high"] = f_high.reindex(features.index).astype("boolean")
    out["m_high"] = m_high.reindex(features.index).astype("boolean")
    return out


def _rank_share(values: pd.Series) -> pd.Series:
    """Share of customers strictly ahead, in [0, 1): the best value gets 0; ties share the
    best position of their group."""
    n = values.notna().sum()
    return (values.rank(method="min", ascending=False) - 1) / max(n, 1)


def value_tiers(features: pd.DataFrame, params: SegmentParams = SegmentParams(), *,
                value: str = "net_spend") -> pd.Series:
    """small / medium / large / vip for buyers by their rank share of ``value``."""
    buyers = _buyers(features)
    share = _rank_share(features.loc[buyers, value].astype("float64"))
    vip, large, medium = np.cumsum(params.tier_shares)
    tier = np.select([share < vip, share < large, share < medium],
                     ["vip", "large", "medium"], default="small")
    return pd.Series(tier, index=share.index, dtype="object").reindex(features.index)


def _engagement_score(features: pd.DataFrame, *, half_life_days: float = 30.0) -> pd.Series:
    """Likelihood-to-buy signal for non-buyers: weighted event counts (cart adds weigh most),
    decayed by the days since the last event."""
    weights = {"events_visit": 1.0, "events_check_in": 1.0, "events_cart_add": 3.0,
               "events_share": 2.0, "events_referral": 2.0, "events_review": 1.0}
    score = pd.Series(0.0, index=features.index)
    for column, weight in weights.items():
        if column in features:
            score += weight * features[column].fillna(0).astype("float64")
    if "days_since_last_event" in features:
        days = features["days_since_last_event"].astype("Float64").fillna(np.inf).astype(float)
        score *= np.power(0.5, days / half_life_days)
    return score


def prospect_grades(features: pd.DataFrame, params: SegmentParams = SegmentParams()
                    ) -> pd.Series:
    """A / B / C / D for customers who never bought, by engagement rank; no engagement → D."""
    prospects = ~_buyers(features)
    score = _engagement_score(features)[prospects]
    engaged = score > 0
    share = _rank_share(score[engaged])
    a, b, c = np.cumsum(params.grade_shares)
    grade = pd.Series("D", index=score.index, dtype="object")
    grade[engaged] = np.select([share < a, share < b, share < c], ["A", "B", "C"], default="D")
    return grade.reindex(features.index)


def lifecycle_stages(features: pd.DataFrame, params: SegmentParams = SegmentParams()
                     ) -> pd.Series:
    """新手期 / 成长期 / 成熟期 / 衰退期 / 流失期 for buyers (NA for prospects).

    Order of the rules: churned (silent > ``churn_days``), decline (silent > multiple × the
    customer's own usual gap; one-time buyers use the median gap of repeat buyers), newcomer
    (first order within ``newcomer_days`` or a single order day), growth (2–4 order days),
    mature (≥ 5 order days).
    """
    buyers = _buyers(features)
    f = features.loc[buyers, ["days_since_last_order", "order_days", "mean_gap_days", "T_days"]]
    silent = f["days_since_last_order"].astype("float64")
    order_days = f["order_days"].astype("int64")
    own_gap = f["mean_gap_days"].astype("float64")
    typical_gap = own_gap[order_days >= 2].median()
    typical_gap = 30.0 if np.isnan(typical_gap) else typical_gap
    usual_gap = own_gap.fillna(typical_gap)
    since_first = f["T_days"].astype("float64")
    stage = np.select(
        [silent > params.churn_days,
         silent > params.decline_gap_multiple * usual_gap,
         (since_first < params.newcomer_days) | (order_days < params.growth_min_order_days),
         order_days < params.mature_min_order_days],
        ["churned", "decline", "newcomer", "growth"], default="mature",
    )
    return pd.Series(stage, index=f.index, dtype="object").reindex(features.index)


def customer_classes(features: pd.DataFrame, stages: pd.Series,
                     params: SegmentParams = SegmentParams()) -> pd.Series:
    """prospect (never bought) → ordinary → loyal (≥ ``loyal_min_order_days`` order days and
    not lapsing), plus lost (churned stage)."""
    buyers = _buyers(features)
    order_days = features["order_days"].fillna(0).astype("int64")
    return pd.Series(np.select(
        [~buyers, stages.eq("churned").fillna(False),
         (order_days >= params.loyal_min_order_days) & ~stages.isin(["decline", "churned"])],
        ["prospect", "lost", "loyal"], default="ordinary"), index=features.index, dtype="object")


def true_fans(features: pd.DataFrame, stages: pd.Series,
              params: SegmentParams = SegmentParams()) -> pd.Series:
    """铁杆粉丝: repeat buyers who refer others and give feedback, and have not churned."""
    def count(column: str) -> pd.Series:
        return (features[column].fillna(0).astype("int64") if column in features
                else pd.Series(0, index=features.index))

    return ((features["order_days"].fillna(0) >= params.fan_min_order_days)
            & (count("events_referral") >= params.fan_min_referrals)
            & (count("events_review") >= params.fan_min_reviews)
            & ~stages.eq("churned").fillna(False)).astype(bool)


def segment_customers(features: pd.DataFrame, params: SegmentParams = SegmentParams()
                      ) -> pd.DataFrame:
    """The ``segments`` artifact: one row per customer with every segmentation."""
    stages = lifecycle_stages(features, params)
    out = pd.concat([features[["customer_id"]], rfm_table(features, params)], axis=1)
    out["value_tier"] = value_tiers(features, params)
    out["prospect_grade"] = prospect_grades(features, params)
    out["lifecycle_stage"] = stages
    out["customer_class"] = customer_classes(features, stages, params)
    out["true_fan"] = true_fans(features, stages, params)
    return out


# -- summaries ---------------------------------------------------------------------------------

def _segment_summary(features: pd.DataFrame, labels: pd.Series,
                     order: tuple[str, ...] | None = None) -> pd.DataFrame:
    """Customers, customer share, net revenue share and mean R/F/M per segment label."""
    frame = pd.DataFrame({
        "segment": labels, "net_spend": features["net_spend"].astype("float64"),
        "recency": features["days_since_last_order"].astype("Float64"),
        "orders": features["order_count"].astype("Float64"),
    }).dropna(subset=["segment"])
    total_rev = frame["net_spend"].clip(lower=0).sum()
    out = frame.groupby("segment").agg(
        customers=("segment", "size"), revenue=("net_spend", "sum"),
        mean_recency=("recency", "mean"), mean_orders=("orders", "mean"),
        mean_spend=("net_spend", "mean"))
    out["customer_share"] = out["customers"] / out["customers"].sum()
    out["revenue_share"] = out["revenue"].clip(lower=0) / total_rev if total_rev > 0 else np.nan
    if order is not None:
        out = out.reindex([o for o in order if o in out.index] +
                          [i for i in out.index if i not in order])
    out.index.name = "segment"
    return out.reset_index()


def _pyramid_counts(segments: pd.DataFrame, features: pd.DataFrame) -> pd.DataFrame:
    """The customer-pool → true-fan pyramid: known, buyers, repeat, loyal, true fans."""
    levels = [
        ("pool", len(segments)),
        ("buyers", int(_buyers(features).sum())),
        ("repeat", int((features["order_days"].fillna(0) >= 2).sum())),
        ("loyal", int((segments["customer_class"] == "loyal").sum())),
        ("true_fans", int(segments["true_fan"].sum())),
    ]
    return pd.DataFrame(levels, columns=["level", "customers"])


def migration_matrix(before: pd.Series, after: pd.Series, *, categories=None) -> pd.DataFrame:
    """Counts of customers moving from segment ``before`` (rows) to ``after`` (columns).

    Both series are indexed by customer_id; customers missing at the earlier date appear as
    "new" and missing labels (e.g. prospects) as "none".
    """
    # A full join on the text ids: DuckDB hashes them much faster than pandas' index
    # alignment. Labels travel as codes, so they keep their type.

    b_codes, b_labels = pd.factorize(before)
    a_codes, a_labels = pd.factorize(after)
    con = bounded_connection(FEATURE_MEMORY_SHARE)  # spill, not 80 % of RAM (10M customers)
    try:
        con.register("b", pd.DataFrame({"id": pd.Series(before.index, dtype="string"),
                                        "code": b_codes}))
        con.register("a", pd.DataFrame({"id": pd.Series(after.index, dtype="string"),
                                        "code": a_codes}))
        moves = con.execute(
            "select case when b.id is null then -2 else b.code end as before, "
            "coalesce(a.code, -1) as after, count(*) as n "
            "from b full join a on b.id = a.id group by all").df()
    finally:
        con.close()

    def label(codes: pd.Series, labels) -> list:
        names = {-2: "new", -1: "none", **dict(enumerate(labels))}
        return [names[int(c)] for c in codes]

    moves["before"], moves["after"] = label(moves["before"], b_labels), \
        label(moves["after"], a_labels)
    matrix = moves.pivot_table(index="before", columns="after", values="n", aggfunc="sum",
                               fill_value=0)
    try:
        matrix = matrix.sort_index().sort_index(axis=1)
    except TypeError:  # labels that are not text (e.g. numbers) beside "new" / "none"
        matrix = matrix.sort_index(key=lambda i: i.map(str)).sort_index(
            axis=1, key=lambda i: i.map(str))
    matrix.index.name, matrix.columns.name = "before", "after"
    if categories is not None:
        rows = [c for c in ("new", *categories, "none") if c in matrix.index]
        cols = [c for c in (*categories, "none") if c in matrix.columns]
        matrix = matrix.reindex(index=rows, columns=cols, fill_value=0)
    return matrix


def top_moves(matrix: pd.DataFrame, n: int = 5) -> pd.DataFrame:
    """The largest off-diagonal moves (from, to, customers), excluding new customers."""
    moves = matrix.stack().rename("customers").reset_index()
    moves.columns = ["from", "to", "customers"]
    moves = moves[(moves["from"] != moves["to"]) & (moves["from"] != "new")
                  & (moves["customers"] > 0)]
    return moves.sort_values("customers", ascending=False).head(n).reset_index(drop=True)


# -- behavioural clusters ----------------------------------------------------------------------

def behaviour_clusters(features: pd.DataFrame, *, n_clusters: int = 5, seed: int = 42,
                       columns=CLUSTER_FEATURES, fit_rows: int = 100_000,
                       labels: pd.Series | None = None) -> tuple[pd.Series, pd.DataFrame]:
    """K-means on standardized log features of buyers; returns labels and cluster profiles.

    Profiles hold each cluster's size and the mean of every feature relative to all buyers
    (1.0 = average), which :func:`describe_cluster` turns into words. ``labels`` (one per row
    of ``features``, e.g. the ``cluster`` column a finished run stored) skips the fit: a
    dashboard describes the run's own clusters instead of fitting k-means again.
    """
    buyers = _buyers(features)
    cols = [c for c in columns if c in features]
    x = features.loc[buyers, cols].astype("float64")
    x = x.fillna(x.median())
    if labels is not None:
        if len(labels) != len(features):
            raise ParameterError(f"labels: {len(labels)} values for {len(features)} customers")
        labels = pd.Series(pd.array(labels, dtype="Int64"), index=features.index)
        means = x.groupby(labels[buyers]).mean()
        profile = means / x.mean()
        profile.insert(0, "customers", labels[buyers].value_counts().sort_index())
        return labels, profile

    if x.empty:  # no buyers: nothing to cluster
        labels = pd.Series(pd.array([pd.NA] * len(features), dtype="Int64"),
                           index=features.index)
        return labels, pd.DataFrame({"customers": pd.Series(dtype="int64")})
    x = x.fillna(0.0)  # a column with no value at all (e.g. no repeat gaps)
    z = np.log1p(x.clip(lower=0))
    z = (z - z.mean()) / z.std(ddof=0).replace(0, 1)
    k = int(min(n_clusters, max(len(z), 1)))
    # Fit on at most fit_rows customers (the centres settle long before every customer is
    # seen), then assign everyone.
    fit_on = z.sample(n=min(len(z), fit_rows), random_state=seed) if len(z) > fit_rows else z
    # scikit-learn loads here, not with the module: a dashboard kernel imports this module
    # for its labels and tables and never clusters (~1-2 s of CPU at each kernel's start)
    from sklearn.cluster import KMeans  # noqa: PLC0415

    with openmp_threads(len(fit_on)):
        model = KMeans(n_clusters=k, n_init=10, random_state=seed).fit(fit_on.to_numpy())
        raw = pd.Series(model.predict(z.to_numpy()), index=z.index)
    # Number clusters by size (0 = largest) so labels are stable and readable.
    order = raw.value_counts().index
    relabel = {old: new for new, old in enumerate(order)}
    labels = raw.map(relabel).reindex(features.index).astype("Int64")
    means = x.groupby(labels[buyers]).mean()
    profile = means / x.mean()
    profile.insert(0, "customers", labels[buyers].value_counts().sort_index())
    return labels, profile


def params_dict(params: SegmentParams) -> dict:
    """Parameters as JSON-friendly dict (for the artifact)."""
    return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(params).items()}


# -- report sections ---------------------------------------------------------------------------

def _labelled_summary(features, labels, order, lang, *, with_focus=True):
    summary = _segment_summary(features, labels, order)
    table = pd.DataFrame({
        t("seg.segment", lang): [value_label(s, lang) for s in summary["segment"]],
        t("customers", lang): summary["customers"].astype("int64"),
        t("customer_share", lang): summary["customer_share"].map(lambda v: f"{v:.1%}"),
        t("revenue_share", lang): summary["revenue_share"].map(lambda v: f"{v:.1%}"),
        t("seg.mean_recency", lang): summary["mean_recency"].astype("float64").round(1),
        t("seg.mean_orders", lang): summary["mean_orders"].astype("float64").round(2),
        t("seg.mean_spend", lang): summary["mean_spend"].round().astype("Int64"),  # whole ¥
    })
    if with_focus:
        table[t("seg.focus", lang)] = [focus(s, lang) for s in summary["segment"]]
    return summary, table


def rfm_section(features: pd.DataFrame, segments: pd.DataFrame,
                params: SegmentParams = SegmentParams(), lang: str = "en"):
    """The eight RFM classes: table with operating focus, treemap, and the R × F score grid."""
    if not segments["rfm_class"].notna().any():
        raise NotComputable("nc.rfm_no_spend")
    summary, table = _labelled_summary(features, segments["rfm_class"], RFM_CLASS_ORDER, lang)
    names = [value_label(s, lang) for s in summary["segment"]]
    title = t("seg.rfm_title", lang, cut=t(f"seg.cut_{params.rfm_cut}", lang))
    treemap = plots.treemap_figure(
        names, summary["customers"], summary["revenue_share"].fillna(0), title=title,
        color_title=t("revenue_share", lang),
        hover=[f"{t('revenue_share', lang)} {v:.0%}" for v in summary["revenue_share"]])
    grid = segments.dropna(subset=["r_score"]).groupby(["r_score", "f_score"]).agg(
        customers=("customer_id", "size"), m=("m_score", "mean")).reset_index()
    counts = grid.pivot(index="f_score", columns="r_score", values="customers").reindex(
        index=range(5, 0, -1), columns=range(1, 6))
    heat = plots.heatmap_figure(counts, title=t("seg.scores_title", lang),
                                xaxis_title=t("seg.r_score", lang),
                                yaxis_title=t("seg.f_score", lang),
                                color_title=t("customers", lang))
    by = summary.set_index("segment")
    top = by["customers"].idxmax()
    iv = by.loc["important_value"] if "important_value" in by.index else None
    text = t("seg.rfm_text", lang, top=value_label(top, lang), top_n=int(by.loc[top, "customers"]),
             iv_share=float(iv["customer_share"]) if iv is not None else 0.0,
             iv_rev=float(iv["revenue_share"]) if iv is not None else 0.0)
    return Section(title, text=text, tables=[table], figures=[treemap, heat],
                   data={"classes": summary.to_dict("records")})


def tiers_section(features: pd.DataFrame, segments: pd.DataFrame, lang: str = "en"):
    """Value tiers (customer share vs revenue share) and prospect grades."""
    summary, table = _labelled_summary(features, segments["value_tier"], TIERS, lang,
                                       with_focus=False)
    fig = plots.share_bars_figure([value_label(s, lang) for s in summary["segment"]],
                                  summary["customer_share"], summary["revenue_share"].fillna(0),
                                  title=t("seg.tier_title", lang),
                                  customer_name=t("customer_share", lang),
                                  revenue_name=t("revenue_share", lang))
    top = summary[summary["segment"].isin(["vip", "large"])]
    grades = segments["prospect_grade"].value_counts().reindex(list(GRADES), fill_value=0)
    grade_fig = plots.bar_figure(
        pd.DataFrame({"grade": [value_label(g, lang) for g in GRADES], "n": grades.values}),
        "grade", "n", title=t("seg.grade_title", lang), yaxis_title=t("customers", lang),
        text="n")
    text = (t("seg.tier_text", lang, top_share=top["customer_share"].sum(),
              top_rev=top["revenue_share"].sum()) + " "
            + t("seg.grade_text", lang, a=int(grades.get("A", 0))))
    return Section(t("seg.tier_title", lang), text=text, tables=[table], figures=[fig, grade_fig],
                   data={"tiers": summary.to_dict("records"), "grades": grades.to_dict()})


def stages_section(features: pd.DataFrame, segments: pd.DataFrame,
                   params: SegmentParams = SegmentParams(), lang: str = "en"):
    """Lifecycle stages with their focus, and customer classes."""
    summary, table = _labelled_summary(features, segments["lifecycle_stage"], STAGES, lang)
    fig = plots.share_bars_figure([value_label(s, lang) for s in summary["segment"]],
                                  summary["customer_share"], summary["revenue_share"].fillna(0),
                                  title=t("seg.stage_title", lang),
                                  customer_name=t("customer_share", lang),
                                  revenue_name=t("revenue_share", lang))
    classes = segments["customer_class"].value_counts().reindex(list(CUSTOMER_CLASSES),
                                                                fill_value=0)
    class_fig = plots.bar_figure(
        pd.DataFrame({"c": [value_label(c, lang) for c in CUSTOMER_CLASSES], "n": classes.values}),
        "c", "n", title=t("seg.class_title", lang), yaxis_title=t("customers", lang), text="n")
    counts = segments["lifecycle_stage"].value_counts()
    text = t("seg.stage_text", lang, decline=int(counts.get("decline", 0)),
             churned=int(counts.get("churned", 0)), multiple=params.decline_gap_multiple,
             churn_days=params.churn_days)
    return Section(t("seg.stage_title", lang), text=text, tables=[table],
                   figures=[fig, class_fig],
                   data={"stages": summary.to_dict("records"), "classes": classes.to_dict()})


def pyramid_section(features: pd.DataFrame, segments: pd.DataFrame, lang: str = "en"):
    """The customer-pool → true-fan pyramid and the share of buyers who are true fans."""
    pyramid = _pyramid_counts(segments, features)
    fig = plots.funnel_figure([value_label(x, lang) for x in pyramid["level"]],
                              pyramid["customers"], title=t("seg.pyramid_title", lang))
    levels = pyramid.set_index("level")["customers"]
    text = t("seg.pyramid_text", lang, fans=int(levels["true_fans"]),
             fan_share=levels["true_fans"] / max(levels["buyers"], 1))
    return Section(t("seg.pyramid_title", lang), text=text, figures=[fig],
                   data={"pyramid": levels.to_dict()})


def describe_cluster(profile_row: pd.Series, lang: str = "en", *, high: float = 1.3,
                     low: float = 0.7) -> str:
    """Plain words for one cluster from its feature means relative to all buyers."""
    words = []
    ratios = profile_row.drop(labels=["customers"], errors="ignore").astype(float)
    for feature, ratio in ratios.sort_values(key=lambda s: -abs(np.log(s.clip(lower=1e-6))))\
            .items():
        name = t(f"feat.{feature}", lang)
        if ratio >= high:
            words.append(t("cluster.high", lang, feature=name) + f" (×{ratio:.1f})")
        elif ratio <= low:
            words.append(t("cluster.low", lang, feature=name) + f" (×{ratio:.1f})")
    return ", ".join(words[:3]) if words else t("cluster.average", lang)


def cluster_name(profile_row: pd.Series, lang: str = "en", *, high: float = 1.3,
                 low: float = 0.7, parts: int = 2) -> str:
    """A short name for one cluster from what sets it apart most (e.g. "高频低客单",
    "frequent, small basket"): its ``parts`` strongest departures from the average buyer."""
    ratios = profile_row.drop(labels=["customers"], errors="ignore").astype(float).dropna()
    strength = ratios.map(lambda r: abs(np.log(max(r, 1e-6))))
    words = []
    for feature in strength.sort_values(ascending=False).index:
        ratio = ratios[feature]
        key = f"cname.{feature}.{'high' if ratio >= high else 'low'}"
        if (ratio >= high or ratio <= low) and key in LABELS:
            words.append(t(key, lang))
        if len(words) == parts:
            break
    return ("" if lang == "zh" else ", ").join(words) if words else t("cname.average", lang)


def cluster_names(profile: pd.DataFrame, lang: str = "en") -> list[str]:
    """:func:`cluster_name` for each cluster of a profile, made unique with the cluster's
    number where two would read the same."""
    names = [cluster_name(row, lang) for _, row in profile.iterrows()]
    return [f"{n} ({int(i)})" if names.count(n) > 1 else n
            for n, i in zip(names, profile.index, strict=True)]


def clusters_section(features: pd.DataFrame, labels: pd.Series, lang: str = "en"):
    """Behavioural clusters (``labels``, one per customer: the ``cluster`` column of the
    segments, from :func:`behaviour_clusters`) with sizes, descriptions and a profile heat map."""
    _, profile = behaviour_clusters(features, labels=labels)
    if profile.empty:
        raise NotComputable("nc.clusters_no_buyers")
    names = cluster_names(profile, lang)
    table = pd.DataFrame({
        t("seg.cluster", lang): names,
        t("customers", lang): profile["customers"].astype("int64"),
        t("seg.description", lang): [describe_cluster(row, lang) for _, row in profile.iterrows()],
    })
    rel = profile.drop(columns="customers")
    rel.columns = [t(f"feat.{c}", lang) for c in rel.columns]
    rel.index = names
    fig = plots.heatmap_figure(rel, title=t("seg.cluster_profile", lang), text_format=".2f",
                               colorscale="RdBu_r", color_title=t("seg.cluster_ratio", lang))
    return Section(t("seg.cluster_title", lang), tables=[table], figures=[fig],
                   data={"profiles": profile.reset_index().to_dict("records"),
                         "names": names})


def migration_section(before: pd.DataFrame, after: pd.DataFrame, *, column: str,
                      categories, before_date, after_date, lang: str = "en", n_moves: int = 5):
    """Who moved where between two dates (both frames: ``segments`` with customer_id)."""
    b = before.set_index("customer_id")[column]
    a = after.set_index("customer_id")[column]
    matrix = migration_matrix(b, a, categories=categories)
    moves = top_moves(matrix, n_moves)
    title = t("seg.migration_title", lang, before=str(before_date), after=str(after_date))
    fig = plots.sankey_figure(matrix, title=title,
                              row_labels=[value_label(x, lang) for x in matrix.index],
                              col_labels=[value_label(x, lang) for x in matrix.columns],
                              before=str(before_date), after=str(after_date))
    shown = matrix.copy()
    shown.index = [value_label(x, lang) for x in shown.index]
    shown.columns = [value_label(x, lang) for x in shown.columns]
    shown.index.name = f"{t('seg.from', lang)} \\ {t('seg.to', lang)}"
    move_text = "; ".join(t("seg.move", lang, n=int(r.customers), src=value_label(r["from"], lang),
                            dst=value_label(r["to"], lang)) for _, r in moves.iterrows())
    return Section(title, text=t("seg.migration_text", lang, moves=move_text),
                   tables=[shown.reset_index()], figures=[fig],
                   data={"matrix": matrix.to_dict(), "top_moves": moves.to_dict("records")})
