"""Tests for custops.tools.sample: determinism, agreement with the truth, the data contract."""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from custops.errors import ParameterError
from custops.io.contract import CATEGORIES, EVENT_TYPES, ORDER_CHANNELS
from custops.io.dataset import load_dataset
from custops.run.cli import main as custops_main
from custops.tools.sample import (
    CITIES,
    DEFAULT_CHUNK_CUSTOMERS,
    OCCUPATIONS,
    TOUCH_CHANNELS,
    SampleParameters,
    cli_sample,
    generate_sample,
    iter_sample_chunks,
    write_sample,
    write_sample_in_chunks,
)

AS_OF = "2026-09-30"
AS_OF_END = pd.Timestamp("2026-10-01")  # exclusive end of the as_of day
COMMITTED = Path(__file__).resolve().parents[1] / "data" / "sample"
DATA_FILES = ["orders.csv", "customers.csv", "events.csv", "touches.csv",
              "truth/customers.csv", "truth/campaign_effects.csv"]


@pytest.fixture(scope="module")
def sample():
    """The committed sample's settings: 5,000 customers, seed 42."""
    return generate_sample(5000, seed=42, as_of=AS_OF, years=2.0)


@pytest.fixture(scope="module")
def purchases(sample):
    return sample.orders[~sample.orders["is_refund"]]


def _per_customer(purchases: pd.DataFrame) -> pd.DataFrame:
    day = purchases["order_time"].dt.floor("D")
    grouped = purchases.assign(day=day).groupby("customer_id")
    table = pd.DataFrame({
        "orders": grouped.size(),
        "order_days": grouped["day"].nunique(),
        "first_day": grouped["day"].min(),
        "last_order": grouped["order_time"].max(),
        "spend": grouped["amount"].sum(),
    })
    table["recency_days"] = (AS_OF_END - table["last_order"]).dt.total_seconds() / 86400
    span = (table["last_order"] - table["first_day"]).dt.total_seconds() / 86400
    table["mean_gap_days"] = span / (table["order_days"] - 1).where(table["order_days"] > 1)
    return table


def _lifecycle_stage(table: pd.DataFrame) -> pd.Series:
    first_age = (AS_OF_END - table["first_day"]).dt.days
    stage = np.select(
        [table["recency_days"] > 180,
         (table["order_days"] >= 2) & (table["recency_days"] > 2 * table["mean_gap_days"]),
         (first_age <= 30) | (table["order_days"] == 1),
         table["order_days"] <= 4],
        ["churned", "decline", "newcomer", "growth"], "mature")
    return pd.Series(stage, index=table.index)


def _rfm_class(table: pd.DataFrame) -> pd.Series:
    recent = table["recency_days"] < table["recency_days"].mean()
    frequent = table["orders"] > table["orders"].mean()
    valuable = table["spend"] > table["spend"].mean()
    return (recent.map({True: "R+", False: "R-"}) + frequent.map({True: "F+", False: "F-"})
            + valuable.map({True: "M+", False: "M-"}))


# --- determinism ---------------------------------------------------------------------------


def test_same_seed_gives_identical_frames_and_other_seed_differs():
    first = generate_sample(600, seed=7)
    again = generate_sample(600, seed=7)
    other = generate_sample(600, seed=8)
    for name in ("orders", "customers", "events", "touches", "truth_customers",
                 "truth_campaign_effects"):
        pd.testing.assert_frame_equal(getattr(first, name), getattr(again, name))
    assert not first.orders["order_time"].equals(other.orders["order_time"])
    assert not first.customers["signup_time"].equals(other.customers["signup_time"])


def test_committed_sample_equals_regeneration(sample, tmp_path):
    write_sample(sample, tmp_path)
    for name in DATA_FILES:
        assert (tmp_path / name).read_bytes() == (COMMITTED / name).read_bytes(), name
    readme = (COMMITTED / "README.md").read_text(encoding="utf-8")
    assert "custops sample --customers 5000 --seed 42 --out data/sample" in readme
    assert (COMMITTED / "truth" / "README.md").exists()


def test_committed_sample_is_small():
    sizes = {p.name: p.stat().st_size for p in COMMITTED.rglob("*") if p.is_file()}
    assert sum(sizes.values()) <= 10e6
    assert sizes["events.csv"] <= 4.2e6


# --- data contract -------------------------------------------------------------------------


def test_tables_follow_the_contract(sample):
    expected = {
        "orders": {"order_id": "string", "customer_id": "string",
                   "order_time": "datetime64[ns]", "channel": "string", "category": "string",
                   "quantity": "Int64", "amount": "float64", "is_refund": "bool"},
        "customers": {"customer_id": "string", "signup_time": "datetime64[ns]",
                      "gender": "string", "birth_year": "Int64", "province": "string",
                      "city": "string", "city_tier": "Int64", "occupation": "string",
                      "acquisition_channel": "string",
                      **{f"consent_{c}": "bool" for c in TOUCH_CHANNELS}, "phone": "string"},
        "events": {"customer_id": "string", "event_time": "datetime64[ns]",
                   "event_type": "string", "referred_customer_id": "string"},
        "touches": {"customer_id": "string", "campaign_id": "string", "channel": "string",
                    "sent_time": "datetime64[ns]", "group": "string", "converted": "bool",
                    "revenue": "float64"},
    }
    for name, columns in expected.items():
        frame = sample.tables()[name]
        assert list(frame.columns) == list(columns), name
        for column, dtype in columns.items():
            actual = frame[column].dtype
            if dtype == "string":
                assert pd.api.types.is_string_dtype(actual), (name, column, actual)
            else:
                assert str(actual) == dtype, (name, column, actual)
    orders, events, touches = sample.orders, sample.events, sample.touches
    assert set(orders["channel"]) <= set(ORDER_CHANNELS)
    assert set(orders["category"]) <= set(CATEGORIES)
    assert set(events["event_type"]) == set(EVENT_TYPES)
    assert set(touches["channel"]) <= set(TOUCH_CHANNELS)
    assert set(touches["group"]) == {"treatment", "control"}
    assert orders["quantity"].min() >= 1


def test_frames_equal_what_the_loader_reads_from_the_files(sample):
    loaded = load_dataset(COMMITTED, as_of=AS_OF)
    for name, frame in sample.tables().items():
        table = getattr(loaded, name)
        pd.testing.assert_frame_equal(table[list(frame.columns)].reset_index(drop=True),
                                      frame.reset_index(drop=True), obj=name)


def test_nothing_after_as_of(sample):
    assert sample.orders["order_time"].max() < AS_OF_END
    assert sample.events["event_time"].max() < AS_OF_END
    assert sample.customers["signup_time"].max() < AS_OF_END
    assert sample.touches["sent_time"].max() < AS_OF_END
    window_start = AS_OF_END - pd.Timedelta(days=730)
    assert sample.orders["order_time"].min() >= window_start


def test_customers_are_plausible(sample):
    customers = sample.customers
    assert customers["customer_id"].is_unique
    assert customers["customer_id"].str.fullmatch(r"C\d{7}").all()
    assert customers["phone"].str.fullmatch(r"1[3-9]\d\*{4}\d{4}").all()
    age = 2026 - customers["birth_year"]
    assert age.between(18, 65).all()
    places = {(city, province, tier) for city, province, tier in CITIES}
    rows = set(zip(customers["city"], customers["province"], customers["city_tier"],
                   strict=True))
    assert rows <= places and len(rows) >= 20
    assert ("上海", "上海", 1) in rows and ("广州", "广东", 1) in rows
    assert ("杭州", "浙江", 2) in rows
    assert set(customers["occupation"]) == set(OCCUPATIONS)
    assert set(customers["gender"].dropna()) == {"F", "M"}
    consent = {c: customers[f"consent_{c}"].mean() for c in TOUCH_CHANNELS}
    assert consent["sms"] == pytest.approx(0.8, abs=0.03)
    assert consent["email"] == pytest.approx(0.3, abs=0.03)
    assert consent["phone"] == pytest.approx(0.6, abs=0.03)
    before_window = customers["signup_time"] < AS_OF_END - pd.Timedelta(days=730)
    assert 0.05 < before_window.mean() < 0.2


def test_orders_and_refunds(sample, purchases):
    orders = sample.orders
    assert purchases["order_id"].is_unique
    assert purchases["order_id"].str.fullmatch(r"O\d{8}").all()
    assert not orders.duplicated(["order_id", "is_refund"]).any()
    assert (purchases["amount"] > 0).all()
    refunds = orders[orders["is_refund"]]
    assert (refunds["amount"] < 0).all()
    assert 0.02 < len(refunds) / len(purchases) < 0.04
    matched = refunds.merge(purchases, on="order_id", suffixes=("", "_purchase"))
    assert len(matched) == len(refunds)
    assert (matched["customer_id"] == matched["customer_id_purchase"]).all()
    assert (matched["order_time"] > matched["order_time_purchase"]).all()
    assert (-matched["amount"] <= matched["amount_purchase"] + 1e-9).all()
    median_amount = purchases["amount"].median()
    assert 20 < median_amount < 2000
    assert 30_000 <= len(purchases) <= 60_000


# --- agreement with the ground truth -------------------------------------------------------


def test_no_purchase_after_death_and_truth_is_consistent(sample, purchases):
    truth = sample.truth_customers.set_index("customer_id")
    assert (truth["true_orders_next_90d"] >= 0).all()
    assert (truth["true_orders_next_180d"] >= truth["true_orders_next_90d"]).all()
    assert (truth["true_spend_next_180d"] >= 0).all()
    assert ((truth["true_orders_next_180d"] > 0) == (truth["true_spend_next_180d"] > 0)).all()
    death = truth["death_time"].reindex(purchases["customer_id"]).to_numpy()
    assert not (purchases["order_time"].to_numpy() > death).any()
    dead = truth["death_time"] < AS_OF_END
    assert not truth.loc[dead, "alive_at_as_of"].any()
    assert not (truth.loc[dead, "true_orders_next_180d"] > 0).any()
    # A customer alive at as_of has bought before it; one who never bought is not alive.
    first = truth["first_purchase_time"]
    assert (first[truth["alive_at_as_of"]] < AS_OF_END).all()
    never = first.isna()
    assert not truth.loc[never, "alive_at_as_of"].any()
    assert not truth.loc[never].index.isin(purchases["customer_id"]).any()
    # The rates are the model's: spend and frequency of survivors follow them.
    buyers = _per_customer(purchases)
    mean_spend = buyers["spend"] / buyers["orders"]
    frequent = buyers["orders"] >= 10
    ratio = mean_spend[frequent] / truth.loc[mean_spend[frequent].index, "mean_spend_per_order"]
    assert ratio.median() == pytest.approx(1.0, abs=0.15)
    assert 0.2 < truth["alive_at_as_of"].mean() < 0.6


def test_churn_wave_is_visible(sample):
    truth = sample.truth_customers
    wave = truth[truth["churned_in_wave"]]
    assert len(wave) >= 200
    deaths_by_month = truth["death_time"].dt.to_period("M").value_counts()
    wave_months = [pd.Period("2026-01", "M"), pd.Period("2026-02", "M"),
                   pd.Period("2026-03", "M")]
    others = deaths_by_month.drop(wave_months, errors="ignore")
    others = others[(others.index >= pd.Period("2025-06", "M"))
                    & (others.index <= pd.Period("2026-09", "M"))]
    assert deaths_by_month[wave_months].max() > 1.5 * others.median()


def test_touches_agree_with_orders(sample, purchases):
    touches = sample.touches.reset_index(drop=True)
    joined = touches.merge(purchases[["customer_id", "order_time", "amount"]],
                           on="customer_id", how="left")
    in_window = ((joined["order_time"] >= joined["sent_time"])
                 & (joined["order_time"] < joined["sent_time"] + pd.Timedelta(days=14)))
    joined["amount_in_window"] = joined["amount"].where(in_window, 0.0)
    joined["in_window"] = in_window
    key = ["customer_id", "campaign_id"]
    summary = joined.groupby(key).agg(any_order=("in_window", "any"),
                                      revenue=("amount_in_window", "sum"))
    summary = summary.reindex(pd.MultiIndex.from_frame(touches[key]))
    assert (summary["any_order"].to_numpy() == touches["converted"].to_numpy()).all()
    np.testing.assert_allclose(summary["revenue"].to_numpy(), touches["revenue"].to_numpy(),
                               atol=0.011)
    assert (touches.loc[~touches["converted"], "revenue"] == 0).all()
    assert not touches.duplicated(key).any()


def test_campaigns_are_randomized_and_work(sample):
    touches = sample.touches
    effects = sample.truth_campaign_effects
    assert list(touches["customer_id"]) == list(effects["customer_id"])
    for campaign, rows in touches.groupby("campaign_id"):
        assert len(rows) >= 1500, campaign
        assert (rows["group"] == "treatment").mean() == pytest.approx(0.5, abs=0.01)
    conversion = touches.groupby("group")["converted"].mean()
    assert conversion["treatment"] - conversion["control"] > 0.01
    treated = effects[touches["group"].to_numpy() == "treatment"]
    assert treated["true_uplift"].mean() > 0.02
    by_segment = effects.groupby("segment")["true_uplift"].mean()
    assert 0.15 <= by_segment["persuadable"] <= 0.3
    assert by_segment["sure_thing"] == pytest.approx(0.0, abs=0.01)
    assert by_segment["sleeping_dog"] < -0.02
    assert 0 < by_segment["other"] < 0.1
    np.testing.assert_allclose(effects["true_uplift"],
                               effects["p_convert_treated"] - effects["p_convert_control"],
                               atol=2e-6)
    assert effects[["p_convert_control", "p_convert_treated"]].stack().between(0, 1).all()
    # Persuadables really converted more when treated (the effect is in the order log).
    persuadable = touches[effects["segment"].to_numpy() == "persuadable"]
    lift = persuadable.groupby("group")["converted"].mean()
    assert lift["treatment"] - lift["control"] > 0.1


def test_segments_and_stages_are_all_populated(sample, purchases):
    table = _per_customer(purchases)
    stages = _lifecycle_stage(table).value_counts()
    assert set(stages.index) == {"newcomer", "growth", "mature", "decline", "churned"}
    assert stages.min() >= 150
    classes = _rfm_class(table).value_counts()
    assert len(classes) == 8
    assert classes.min() >= 50
    prospects = 1 - len(table) / len(sample.customers)
    assert 0.2 <= prospects <= 0.35
    assert (table["order_days"] == 1).mean() >= 0.12


def test_seasonality_and_habits(purchases):
    daily = purchases.groupby(purchases["order_time"].dt.floor("D")).size()
    median_day = daily.median()
    for day in ("2024-11-11", "2025-06-18", "2025-11-11", "2026-06-18"):
        assert daily[pd.Timestamp(day)] > 1.5 * median_day, day
    weekday = purchases["order_time"].dt.day_of_week
    per_day = purchases.groupby(weekday).size() / daily.groupby(daily.index.day_of_week).size()
    assert per_day[[5, 6]].mean() > per_day[[0, 1, 2, 3, 4]].mean()
    hours = purchases["order_time"].dt.hour.value_counts()
    assert hours[12] > hours[16] and hours[20] > hours[16]


def test_channel_quality_differs(sample, purchases):
    customers = sample.customers.set_index("customer_id")
    bought = customers.index.isin(purchases["customer_id"])
    share = pd.Series(bought, index=customers.index).groupby(
        customers["acquisition_channel"]).mean()
    assert min(share["wechat_referral"], share["organic"]) > max(share["douyin"], share["kol"])


def test_events_are_consistent(sample, purchases):
    events = sample.events
    customers = sample.customers.set_index("customer_id")
    signup = customers["signup_time"].reindex(events["customer_id"]).to_numpy()
    assert (events["event_time"].to_numpy() >= signup).all()
    referral = events["event_type"] == "referral"
    assert events.loc[~referral, "referred_customer_id"].isna().all()
    referred = events.loc[referral, "referred_customer_id"]
    assert referred.notna().all() and referred.is_unique
    assert (customers.loc[referred, "acquisition_channel"] == "wechat_referral").all()
    referrer_signup = customers["signup_time"].reindex(events.loc[referral, "customer_id"])
    assert (customers.loc[referred, "signup_time"].to_numpy()
            > referrer_signup.to_numpy()).all()
    # Engaged prospects exist, and complaints go with leaving.
    prospects = ~customers.index.isin(purchases["customer_id"])
    engaged = events[events["event_type"].isin(["visit", "cart_add"])]["customer_id"]
    assert customers.index[prospects].isin(engaged).mean() > 0.5
    truth = sample.truth_customers.set_index("customer_id")
    complainers = events.loc[events["event_type"] == "complaint", "customer_id"].unique()
    buyers = truth.index.isin(purchases["customer_id"])
    alive_rate = truth.loc[buyers, "alive_at_as_of"].mean()
    assert truth.loc[complainers, "alive_at_as_of"].mean() < alive_rate


# --- writing and the command line ----------------------------------------------------------


def test_write_parquet_round_trip(tmp_path):
    small = generate_sample(300, seed=3)
    write_sample(small, tmp_path, fmt="parquet")
    orders = pd.read_parquet(tmp_path / "orders.parquet")
    assert list(orders.columns) == list(small.orders.columns)
    assert set(orders["is_refund"].unique()) <= {0, 1}
    assert (orders["order_time"].to_numpy() == small.orders["order_time"].to_numpy()).all()
    assert (tmp_path / "truth" / "customers.parquet").exists()


def test_csv_uses_contract_formats(tmp_path):
    small = generate_sample(300, seed=3)
    write_sample(small, tmp_path)
    lines = (tmp_path / "orders.csv").read_text(encoding="utf-8").splitlines()
    assert lines[0] == "order_id,customer_id,order_time,channel,category,quantity,amount,is_refund"
    assert re.fullmatch(r"O\d{8},C\d{7},\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,[a-z_]+,[a-z]+,\d+,"
                        r"-?[\d.]+,[01]", lines[1])
    customers = pd.read_csv(tmp_path / "customers.csv", dtype=str, keep_default_na=False)
    assert set(customers["consent_sms"]) <= {"0", "1"}


def test_cli_sample_writes_and_reports(tmp_path, capsys):
    args = argparse.Namespace(customers=200, seed=5, out=str(tmp_path / "s"), as_of=AS_OF,
                              years=1.0, format="csv")
    assert cli_sample(args) == 0
    output = capsys.readouterr().out
    assert "orders.csv" in output and "truth" in output
    assert (tmp_path / "s" / "truth" / "campaign_effects.csv").exists()
    assert "--years 1" in (tmp_path / "s" / "README.md").read_text(encoding="utf-8")


def test_bad_parameters_are_reported():
    with pytest.raises(ParameterError, match="n_customers"):
        generate_sample(0)
    with pytest.raises(ParameterError, match="as_of"):
        generate_sample(10, as_of="yesterday")
    with pytest.raises(ParameterError, match="format"):
        write_sample(generate_sample(50), "unused", fmt="xlsx")


def test_other_snapshots_and_sizes_work():
    early = generate_sample(400, seed=1, as_of="2025-07-15", years=1.5)
    assert set(early.touches["campaign_id"]) == {"C2025_618", "C2024_AUG"}
    assert early.orders["order_time"].max() < pd.Timestamp("2025-07-16")
    short = generate_sample(50, seed=1, years=0.1)  # both campaigns precede the window
    assert short.touches.empty and list(short.touches.columns)[0] == "customer_id"
    assert len(generate_sample(1, seed=1).customers) == 1
    params = SampleParameters().to_dict()
    assert params["campaigns"][0]["campaign_id"] == "C{year}_618"


# --- chunks (data beyond memory) -----------------------------------------------------------

CHUNKED_CUSTOMERS, TINY_CHUNK = 20_000, 2_000


@pytest.fixture(scope="module")
def chunked(tmp_path_factory):
    """20,000 customers written in ten chunks of 2,000, as Parquet."""
    folder = tmp_path_factory.mktemp("chunked")
    files = write_sample_in_chunks(CHUNKED_CUSTOMERS, folder, seed=11, fmt="parquet",
                                   chunk_customers=TINY_CHUNK)
    return folder, files


def _per_customer_statistics(customers, orders, events, touches, truth) -> pd.DataFrame:
    """One row per customer: what the chunked and the unchunked generator must agree on."""
    ids = customers["customer_id"]
    purchases = orders[~orders["is_refund"].astype(bool)]
    table = pd.DataFrame(index=pd.Index(ids, name="customer_id"))
    table["orders"] = purchases.groupby("customer_id").size().reindex(ids).fillna(0).to_numpy()
    table["spend"] = purchases.groupby("customer_id")["amount"].sum().reindex(ids).fillna(0)\
        .to_numpy()
    table["bought"] = table["orders"] > 0
    table["refunds"] = (orders[orders["is_refund"].astype(bool)].groupby("customer_id").size()
                        .reindex(ids).fillna(0).to_numpy())
    counts = events.groupby(["customer_id", "event_type"]).size().unstack(fill_value=0)
    for kind in EVENT_TYPES:
        column = counts[kind] if kind in counts else pd.Series(dtype=float)
        table[f"events_{kind}"] = column.reindex(ids).fillna(0).to_numpy()
    table["touches"] = touches.groupby("customer_id").size().reindex(ids).fillna(0).to_numpy()
    converted = touches[touches["converted"].astype(bool)]
    table["conversions"] = converted.groupby("customer_id").size().reindex(ids).fillna(0)\
        .to_numpy()
    truth = truth.set_index("customer_id").reindex(ids)
    for column in ("alive_at_as_of", "churned_in_wave"):
        table[column] = truth[column].astype(bool).to_numpy()
    table["true_orders_next_180d"] = truth["true_orders_next_180d"].to_numpy()
    table["consent_sms"] = customers["consent_sms"].astype(bool).to_numpy()
    table["referral_channel"] = (customers["acquisition_channel"] == "wechat_referral").to_numpy()
    return table.astype(float)


def test_up_to_one_chunk_the_chunked_writer_writes_the_unchunked_files(tmp_path):
    whole = write_sample(generate_sample(300, seed=3), tmp_path / "whole")
    chunked = write_sample_in_chunks(300, tmp_path / "chunked", seed=3, fmt="csv",
                                     chunk_customers=300)
    assert chunked.chunks == 1
    assert [p.relative_to(tmp_path / "chunked") for p in chunked.paths] == [
        p.relative_to(tmp_path / "whole") for p in whole]
    for left, right in zip(whole, chunked.paths, strict=True):
        if left.name == "README.md" and left.parent.name == "whole":
            assert (left.read_text(encoding="utf-8").replace("whole", "chunked")
                    == right.read_text(encoding="utf-8"))
        else:
            assert left.read_bytes() == right.read_bytes(), left.name
    # The command line chunks only above its chunk size: the sample is made in one piece.
    assert DEFAULT_CHUNK_CUSTOMERS > 5000


def test_chunks_are_independent_reproducible_and_numbered_on():
    first = list(iter_sample_chunks(1_000, seed=4, chunk_customers=400))
    again = list(iter_sample_chunks(1_000, seed=4, chunk_customers=400))
    assert [len(c.customers) for c in first] == [400, 400, 200]
    for one, other in zip(first, again, strict=True):
        for name in ("orders", "customers", "events", "touches", "truth_customers",
                     "truth_campaign_effects"):
            pd.testing.assert_frame_equal(getattr(one, name), getattr(other, name))
    # Each chunk draws from its own generator: no two chunks repeat each other's draws.
    signup = [c.customers["signup_time"].to_numpy()[:200] for c in first]
    assert not (signup[0] == signup[1]).any() and not (signup[1] == signup[2]).any()
    assert first[0].customers["customer_id"].iloc[-1] == "C0000400"
    assert first[1].customers["customer_id"].iloc[0] == "C0000401"
    numbers = [c.orders.loc[~c.orders["is_refund"], "order_id"].str[1:].astype(int)
               for c in first]
    assert numbers[0].min() == 1
    for earlier, later in zip(numbers, numbers[1:], strict=False):
        assert later.min() == earlier.max() + 1
    with pytest.raises(ParameterError, match="chunk_customers"):
        next(iter_sample_chunks(10, chunk_customers=0))


def test_a_tiny_chunk_size_gives_a_dataset_that_validate_accepts(chunked, capsys):
    folder, files = chunked
    assert files.chunks == CHUNKED_CUSTOMERS // TINY_CHUNK
    assert custops_main(["validate", "--data", str(folder), "--as-of", AS_OF, "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    for name in ("orders", "customers", "events", "touches"):
        table = summary["tables"][name]
        assert table["rows_read"] == files.rows[f"{name}.parquet"] > 0, name
        assert table["rows_rejected"] == 0 and table["rows_kept"] == table["rows_read"], name
    assert summary["tables"]["customers"]["customers"] == CHUNKED_CUSTOMERS
    data = load_dataset(folder, as_of=AS_OF)
    assert data.customers["customer_id"].is_unique
    purchases = data.orders[~data.orders["is_refund"]]
    assert purchases["order_id"].is_unique
    # Referrals stay within a chunk and point at an earlier signup.
    events = data.events[data.events["event_type"] == "referral"]
    customers = data.customers.set_index("customer_id")
    chunk_of = customers.index.str[1:].astype(int).to_series(index=customers.index) \
        .sub(1).floordiv(TINY_CHUNK)
    referrer, referred = events["customer_id"], events["referred_customer_id"]
    assert len(events) > 1000 and referred.is_unique
    assert (chunk_of[referrer].to_numpy() == chunk_of[referred].to_numpy()).all()
    assert (customers.loc[referred, "signup_time"].to_numpy()
            > customers.loc[referrer, "signup_time"].to_numpy()).all()
    readme = (folder / "README.md").read_text(encoding="utf-8")
    assert f"chunks of {TINY_CHUNK:,} customers" in readme
    assert f"{files.rows['orders.parquet']:,}" in readme


def test_chunked_statistics_match_the_unchunked_generator(chunked):
    folder, _ = chunked
    truth = pd.read_parquet(folder / "truth" / "customers.parquet")
    chunked_stats = _per_customer_statistics(
        *(pd.read_parquet(folder / f"{name}.parquet")
          for name in ("customers", "orders", "events", "touches")), truth)
    whole = generate_sample(CHUNKED_CUSTOMERS, seed=12)
    whole_stats = _per_customer_statistics(whole.customers, whole.orders, whole.events,
                                           whole.touches, whole.truth_customers)
    # Means per customer agree within 4.5 standard errors of their difference (two
    # independent samples of 20,000 customers), for every statistic.
    left, right = chunked_stats.mean(), whole_stats.mean()
    error = np.sqrt(chunked_stats.var() / len(chunked_stats) + whole_stats.var() / len(whole_stats))
    z = (left - right).abs() / error
    assert (z < 4.5).all(), pd.DataFrame({"chunked": left, "whole": right, "z": z})
    assert left["orders"] == pytest.approx(right["orders"], rel=0.06)
    assert left["events_visit"] == pytest.approx(right["events_visit"], rel=0.06)
    # Campaigns are randomised within each chunk: half treated, as in one piece.
    touches = pd.read_parquet(folder / "touches.parquet")
    chunk = touches["customer_id"].str[1:].astype(int).sub(1).floordiv(TINY_CHUNK)
    treated = (touches["group"] == "treatment").groupby([chunk, touches["campaign_id"]]).mean()
    assert treated.between(0.45, 0.55).all()


def test_cli_chunks_above_its_chunk_size_and_its_readme_command_rebuilds_the_files(tmp_path,
                                                                                   capsys):
    out = tmp_path / "s"
    args = argparse.Namespace(customers=600, seed=5, out=str(out), as_of=AS_OF, years=1.0,
                              format="parquet", chunk_customers=250)
    assert cli_sample(args) == 0
    output = capsys.readouterr().out
    assert "chunk 3: 600 of 600 customers written" in output
    assert len(pd.read_parquet(out / "customers.parquet")) == 600
    command = (out / "README.md").read_text(encoding="utf-8").split("```")[1].strip()
    assert command.startswith('python -c "') and "chunk_customers=250" in command
    again = tmp_path / "again"
    code = command[len('python -c "'):-1].replace(repr(str(out)), repr(str(again)))
    subprocess.run([sys.executable, "-c", code], check=True)
    for name in ("orders", "customers", "events", "touches"):
        assert (out / f"{name}.parquet").read_bytes() == (again / f"{name}.parquet").read_bytes()
