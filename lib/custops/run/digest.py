"""What a run says to do tomorrow: key numbers (with their change since the previous run in the
same output folder) and the top actions, each pointing at the export that carries it.

Everything is read from the finished build folder's artifacts (``churn_scores.parquet``,
``features.parquet``, ``reach_summary.json``) so the numbers on ``index.html`` are the ones the
reports and exports hold. A number whose artifact is missing (a step that could not run on this
data) is left out, never shown as 0.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow.parquet as pq

from custops.labels import t, value_label

__all__ = ["KEY_NUMBERS", "actions", "changes", "key_numbers", "money", "number"]

# name → (label key, kind): kind "count" or "money". The order is the order on the page.
KEY_NUMBERS: dict[str, tuple[str, str]] = {
    "customers": ("digest.customers", "count"),
    "active_buyers": ("digest.active_buyers", "count"),
    "revenue_365d": ("digest.revenue_365d", "money"),
    "at_risk_value": ("digest.at_risk_value", "money"),
    "churned_value": ("digest.churned_value", "money"),
    "contacts_planned": ("digest.contacts_planned", "count"),
    "plan_cost": ("digest.plan_cost", "money"),
    "expected_incremental_revenue": ("digest.expected_incremental_revenue", "money"),
}

AT_RISK_BANDS = ("high_risk", "medium_risk")


def _read_json(path: Path) -> Any:
    return json.loads(path.read_text("utf-8")) if path.exists() else None


def _total(summary: dict[str, Any] | None) -> dict[str, Any] | None:
    if not summary:
        return None
    rows = summary.get("summary") or []
    return next((row for row in rows if row.get("channel") == "total"), None)


def key_numbers(build: Path) -> dict[str, float]:
    """The run's key numbers from its artifacts; a number whose artifact is missing is absent."""
    artifacts = Path(build) / "artifacts"
    out: dict[str, float] = {}
    features_path = artifacts / "features.parquet"
    if features_path.exists():
        names = pq.read_schema(features_path).names
        features = pd.read_parquet(features_path,
                                   columns=[c for c in ("customer_id", "spend_365d") if c in names])
        out["customers"] = len(features)
        if "spend_365d" in features:
            out["revenue_365d"] = float(features["spend_365d"].sum())
    scores_path = artifacts / "churn_scores.parquet"
    if scores_path.exists():
        scores = pd.read_parquet(scores_path, columns=["status", "risk_band", "value_at_stake"])
        out["active_buyers"] = int((scores["status"] == "active").sum())
        at_risk = scores["risk_band"].isin(AT_RISK_BANDS)
        churned = scores["risk_band"] == "already_churned"
        out["at_risk_buyers"] = int(at_risk.sum())
        out["churned_buyers"] = int(churned.sum())
        value = pd.to_numeric(scores["value_at_stake"], errors="coerce")
        if value[at_risk].notna().any():
            out["at_risk_value"] = float(value[at_risk].sum())
        if value[churned].notna().any():
            out["churned_value"] = float(value[churned].sum())
    total = _total(_read_json(artifacts / "reach_summary.json"))
    if total:
        out["contacts_planned"] = int(total["contacts"])
        out["plan_cost"] = float(total["cost"])
        revenue = total.get("expected_incremental_revenue")
        if revenue is not None and math.isfinite(float(revenue)):
            out["expected_incremental_revenue"] = float(revenue)
    return out


def changes(now: dict[str, float], before: dict[str, float] | None) -> dict[str, float]:
    """``now - before`` for every key number both runs have."""
    if not before:
        return {}
    return {name: now[name] - before[name] for name in now
            if name in before and before[name] is not None}


def money(value: float, lang: str) -> str:
    """Money as a manager reads it: ¥, thousands separators, cents only below ¥100."""
    sign = "-" if value < 0 else ""
    value = abs(value)
    body = f"{value:,.2f}" if value < 100 else f"{value:,.0f}"
    return f"{sign}¥{body}"


def number(value: float, kind: str, lang: str) -> str:
    return money(value, lang) if kind == "money" else f"{int(round(value)):,}"


def _change_text(delta: float, before: float, kind: str, lang: str) -> str:
    if delta == 0:
        return t("digest.unchanged", lang)
    sign = "+" if delta > 0 else "−"
    shown = number(abs(delta), kind, lang)
    share = f" ({sign}{abs(delta) / abs(before):.1%})" if before else ""
    return f"{sign}{shown}{share}"


def key_number_rows(now: dict[str, float], before: dict[str, float] | None, lang: str
                    ) -> list[tuple[str, str, str]]:
    """(label, value, change since the previous run) for each key number the run has."""
    delta = changes(now, before)
    rows = []
    for name, (label, kind) in KEY_NUMBERS.items():
        if name not in now:
            continue
        change = (_change_text(delta[name], before[name], kind, lang) if name in delta
                  else t("digest.no_previous", lang))
        rows.append((t(label, lang), number(now[name], kind, lang), change))
    return rows


def actions(build: Path, numbers: dict[str, float], exports: list[str], lang: str
            ) -> list[tuple[str, str | None]]:
    """The top actions, one sentence each, with the export file that carries it (or None)."""
    artifacts = Path(build) / "artifacts"
    out: list[tuple[str, str | None]] = []
    have = set(exports)

    def link(name: str) -> str | None:
        return name if name in have else None

    for plan_file in ("plan.html", "plan.xlsx", "reach_plan.xlsx"):
        if plan_file in have:
            if "contacts_planned" in numbers:
                out.append((t("digest.action_plan", lang,
                              n=int(numbers["contacts_planned"]),
                              cost=money(numbers.get("plan_cost", 0.0), lang),
                              revenue=money(numbers.get("expected_incremental_revenue",
                                                        float("nan")), lang)
                              if "expected_incremental_revenue" in numbers
                              else t("not_available", lang)), plan_file))
            break
    if numbers.get("at_risk_buyers"):
        out.append((t("digest.action_retain", lang, n=int(numbers["at_risk_buyers"]),
                      value=money(numbers.get("at_risk_value", 0.0), lang)),
                    link("churn_at_risk.csv")))
    if numbers.get("churned_buyers"):
        out.append((t("digest.action_recall", lang, n=int(numbers["churned_buyers"]),
                      value=money(numbers.get("churned_value", 0.0), lang)),
                    link("churn_recall.csv")))
    summary = _read_json(artifacts / "reach_summary.json") or {}
    channels = sorted((row for row in summary.get("summary", [])
                       if row.get("channel") != "total" and row.get("contacts")),
                      key=lambda row: -(row.get("expected_incremental_revenue") or 0))
    for row in channels[:3]:
        channel = str(row["channel"])
        out.append((t("digest.action_channel", lang, channel=value_label(channel, lang),
                      n=int(row["contacts"]), cost=money(float(row["cost"]), lang)),
                    link(f"contacts_{channel}.csv")))
    holdout = summary.get("holdout") or {}
    if holdout.get("n_control"):
        out.append((t("digest.action_control", lang, n=int(holdout["n_control"])),
                    link("control_list.csv")))
    return out
