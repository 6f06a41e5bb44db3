"""Segmentation on small frames whose segments are known by hand."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from custops import segment
from custops.errors import ParameterError
from custops.run import context
from custops.segment import SegmentParams


def frame(rows):
    cols = ["customer_id", "order_days", "order_count", "days_since_last_order", "net_spend",
            "mean_gap_days", "T_days", "events_referral", "events_review", "events_visit",
            "events_cart_add", "days_since_last_event"]
    f = pd.DataFrame(rows, columns=cols)
    for c in cols[1:]:
        f[c] = f[c].astype("Float64")
    f["avg_order_value"] = f["net_spend"] / f["order_count"]
    f["is_buyer"] = f["order_days"].fillna(0) > 0  # as build_features sets it
    f["events_total"] = f["events_visit"] + f["events_cart_add"]
    return f


@pytest.fixture
def eight():
    """One customer per RFM class around clear means, plus a prospect."""
    rows = []
    for i, (r, f, m) in enumerate([(1, 1, 1), (1, 0, 1), (0, 1, 1), (0, 0, 1),
                                   (1, 1, 0), (1, 0, 0), (0, 1, 0), (0, 0, 0)]):
        rows.append([f"c{i}", 10 if f else 1, 10 if f else 1, 5 if r else 300,
                     1000.0 if m else 10.0, 20.0 if f else None, 400, 0, 0, 0, 0, None])
    rows.append(["p", 0, 0, None, 0.0, None, None, 0, 0, 3, 1, 5])
    return frame(rows)


def test_eight_rfm_classes(eight):
    table = segment.rfm_table(eight)
    assert list(table["rfm_class"].iloc[:8]) == list(segment.RFM_CLASS_ORDER)
    assert pd.isna(table["rfm_class"].iloc[8])
    median = segment.rfm_table(eight, SegmentParams(rfm_cut="median"))
    assert median["rfm_class"].notna().sum() == 8


def test_quintile_scores_ties_share_a_score():
    values = pd.Series([1, 1, 1, 1, 2, 3, 4, 5, 6, 7])
    scores = segment.quintile_scores(values)
    assert scores.iloc[:4].nunique() == 1 and scores.iloc[0] == 1
    assert scores.iloc[-1] == 5 and scores.is_monotonic_increasing
    recency = segment.quintile_scores(pd.Series([1, 50, 100, 200, 400]), higher_is_better=False)
    assert list(recency) == [5, 4, 3, 2, 1]


def test_value_tiers_by_rank_share():
    f = frame([[f"c{i}", 1, 1, 10, float(100 - i), None, 10, 0, 0, 0, 0, None]
               for i in range(100)])
    tiers = segment.value_tiers(f)
    assert (tiers.value_counts().to_dict()
            == {"small": 50, "medium": 30, "large": 15, "vip": 5})
    assert tiers.iloc[0] == "vip" and tiers.iloc[-1] == "small"


def test_lifecycle_stages_by_hand():
    f = frame([
        ["new", 1, 1, 10, 50.0, None, 10, 0, 0, 0, 0, None],       # first order 10 days ago
        ["grow", 3, 3, 5, 50.0, 20.0, 60, 0, 0, 0, 0, None],       # 3 order days, recent
        ["mature", 6, 6, 5, 50.0, 15.0, 100, 0, 0, 0, 0, None],
        ["decl", 6, 6, 50, 50.0, 10.0, 100, 0, 0, 0, 0, None],     # silent 50 > 2 × 10
        ["churn", 6, 6, 200, 50.0, 10.0, 400, 0, 0, 0, 0, None],   # silent > 180
        ["one_old", 1, 1, 100, 50.0, None, 100, 0, 0, 0, 0, None],  # > 2 × median gap (15)
        ["pros", 0, 0, None, 0.0, None, None, 0, 0, 1, 0, 3],
    ])
    stages = segment.lifecycle_stages(f)
    assert list(stages.iloc[:6]) == ["newcomer", "growth", "mature", "decline", "churned",
                                     "decline"]
    assert pd.isna(stages.iloc[6])
    classes = segment.customer_classes(f, stages)
    assert list(classes) == ["ordinary", "ordinary", "loyal", "ordinary", "lost", "ordinary",
                             "prospect"]


def test_prospect_grades_and_fans():
    rows = [[f"p{i}", 0, 0, None, 0.0, None, None, 0, 0, i, 0, 1] for i in range(10)]
    rows.append(["fan", 3, 3, 5, 100.0, 10.0, 50, 2, 1, 0, 0, 1])
    rows.append(["nofan", 3, 3, 5, 100.0, 10.0, 50, 2, 0, 0, 0, 1])
    f = frame(rows)
    grades = segment.prospect_grades(f)
    assert grades.iloc[9] == "A" and grades.iloc[0] == "D"  # p0 has no engagement at all
    assert pd.isna(grades.iloc[10])
    stages = segment.lifecycle_stages(f)
    fans = segment.true_fans(f, stages)
    assert list(fans.iloc[10:]) == [True, False] and not fans.iloc[:10].any()


def test_migration_matrix_and_moves():
    before = pd.Series(["a", "a", "b", "b"], index=["1", "2", "3", "4"])
    after = pd.Series(["a", "b", "b", "b", "a"], index=["1", "2", "3", "4", "5"])
    m = segment.migration_matrix(before, after, categories=["a", "b"])
    assert m.loc["a", "a"] == 1 and m.loc["a", "b"] == 1 and m.loc["b", "b"] == 2
    assert m.loc["new", "a"] == 1
    moves = segment.top_moves(m)
    assert moves.to_dict("records") == [{"from": "a", "to": "b", "customers": 1}]


def test_clusters_are_seeded_and_described(eight):
    labels1, profile1 = segment.behaviour_clusters(eight, n_clusters=3, seed=1)
    labels2, _ = segment.behaviour_clusters(eight, n_clusters=3, seed=1)
    pd.testing.assert_series_equal(labels1, labels2)
    assert profile1["customers"].sum() == 8 and pd.isna(labels1.iloc[8])
    assert isinstance(segment.describe_cluster(profile1.iloc[0], "zh"), str)


def test_bad_parameters_are_clear():
    with pytest.raises(ParameterError, match="rfm_cut"):
        SegmentParams(rfm_cut="mode")
    with pytest.raises(ParameterError, match="tier_shares"):
        SegmentParams(tier_shares=(0.5, 0.5, 0.5))


def test_segment_customers_one_row_each(eight):
    seg = segment.segment_customers(eight)
    assert len(seg) == len(eight) and seg["customer_id"].is_unique
    assert set(seg.columns) >= {"rfm_class", "value_tier", "prospect_grade", "lifecycle_stage",
                                "customer_class", "true_fan", "r_score", "f_score", "m_score"}
    assert np.isin(seg["customer_class"], segment.CUSTOMER_CLASSES).all()


def test_stored_cluster_labels_describe_the_same_clusters_without_a_fit():
    """The section describes the run's stored labels: the same sizes and profiles as the fit
    that made them (k-means is not run again); a label per customer is required."""
    ctx = context.open_run(data_dir=str(Path(__file__).resolve().parents[1] / "data" / "sample"))
    feats = ctx.get("features")
    labels, profile = segment.behaviour_clusters(feats, n_clusters=4, seed=3)
    stored = pd.Series(labels.astype("Int64").to_numpy())  # as the segments artifact holds them
    section = segment.clusters_section(feats, stored, "en")
    assert section.data == {"profiles": profile.reset_index().to_dict("records"),
                            "names": segment.cluster_names(profile, "en")}
    assert section.tables[0].iloc[:, 1].tolist() == profile["customers"].tolist()
    with pytest.raises(ParameterError, match="labels"):
        segment.clusters_section(feats, stored[:-1], "en")


def test_migration_matrix_with_number_labels():
    """Labels that are not text (cluster numbers) sit beside "new" and "none" too."""
    before = pd.Series([0, 1, 1], index=["a", "b", "c"])
    after = pd.Series([0, 0, 2], index=["a", "b", "d"])
    m = segment.migration_matrix(before, after)
    assert m.loc[0, 0] == 1 and m.loc[1, 0] == 1 and m.loc["new", 2] == 1
    assert m.loc[1, "none"] == 1 and int(m.to_numpy().sum()) == 4


def test_clusters_are_named_by_what_sets_them_apart():
    profile = pd.DataFrame({
        "customers": [40, 30, 20, 10],
        "days_since_last_order": [0.9, 2.5, 1.0, 1.0],
        "order_days": [2.4, 0.5, 1.0, 1.0],
        "net_spend": [1.1, 0.9, 1.0, 1.05],
        "avg_order_value": [0.5, 2.2, 1.0, 1.0],
        "mean_gap_days": [1.0, 1.1, 1.0, 1.0],
        "events_total": [1.0, 1.0, 1.0, 1.0],
    }, index=pd.Index([0, 1, 2, 3], name="cluster"))
    assert segment.cluster_names(profile, "zh") == ["高频低客单", "沉睡高客单", "普通客户 (2)",
                                                    "普通客户 (3)"]
    assert segment.cluster_names(profile, "en")[:2] == ["frequent, small basket",
                                                        "dormant, big basket"]


def test_cluster_section_names_rows_in_the_table_and_the_heatmap(eight):
    labels, profile = segment.behaviour_clusters(eight, n_clusters=3, seed=1)
    section = segment.clusters_section(eight, labels, "zh")
    names = section.tables[0].iloc[:, 0].tolist()
    assert names == segment.cluster_names(profile, "zh") and len(set(names)) == len(names)
    assert list(section.figures[0].data[0].y) == names
    assert not any(name.isdigit() for name in names)


def test_rfm_score_grid_is_titled_by_what_its_colour_shows(eight):
    segs = segment.segment_customers(eight)
    section = segment.rfm_section(eight, segs, SegmentParams(), "zh")
    heat = section.figures[1]
    grid = segs.dropna(subset=["r_score"]).groupby(["f_score", "r_score"]).size()
    z = np.asarray(heat.data[0].z, dtype=float)
    for (f, r), n in grid.items():  # rows: F 5..1, columns: R 1..5; colour = customer count
        assert z[5 - int(f), int(r) - 1] == n
    title = heat.layout.title.text
    assert "客户数" in title and "M" not in title.replace("RFM", "")
    assert heat.data[0].colorbar.title.text == "客户数"
