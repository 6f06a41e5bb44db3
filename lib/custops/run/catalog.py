"""The run catalogue: every artifact declared once, and how the run gets it.

Each :class:`Node` names the artifacts it makes, the artifacts it reads, the run parameters
it depends on and the step call that makes them. :meth:`custops.run.context.RunContext.get`
is the one way to get an artifact: from memory, else from the run folder when it was made
with the same parameters (``artifacts/catalog.json`` records each artifact's fingerprint),
else by running its node with the run's parameters and storing the result. A notebook run on
its own therefore gets exactly what the report runner would have produced.

The steps (:mod:`custops.profile`, :mod:`custops.segment`, :mod:`custops.churn`,
:mod:`custops.reach`) take frames and parameters and return results; only this module and
the run context know file names.
"""

from __future__ import annotations

import dataclasses
import difflib
import hashlib
import json
import math
from collections.abc import Callable
from dataclasses import dataclass, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import pyarrow.parquet as pq

from custops import churn, io, plan_page, profile, reach, segment
from custops.errors import DataError, NotComputable, ParameterError
from custops.exports import CONTACT_COLUMNS, churn_lists, export_lists
from custops.frames import read_parquet_frame
from custops.io import DEFAULT_TZ
from custops.io.checks import normalize_table
from custops.io.duckdb_checks import DUCKDB_MIN_ROWS
from custops.io.mapping import match_columns
from custops.io.parse import parse_as_of
from custops.io.sources import open_source
from custops.labels import check_lang
from custops.rules import ReachParams, contact_key, load_channels
from custops.run import spark as on_spark

if TYPE_CHECKING:  # the context imports this module
    from custops.run.context import RunContext

__all__ = ["ARTIFACTS", "DEFAULTS", "NODES", "Artifact", "Node", "artifact_node", "check_parameters",
           "fingerprint", "snapshot_name", "step_params"]

RECORD = "catalog.json"  # artifact → fingerprint of what it was made from


@dataclass(frozen=True)
class Artifact:
    """One artifact: its name, the files it is stored in, and how to write and read them."""

    name: str
    format: str  # "parquet", "json", or "bundle" (several files; save/load given)
    save: Callable[[Any, Path], list[Path]] | None = None
    load: Callable[[Path], Any] | None = None

    def files(self, folder: Path) -> list[Path]:
        if self.format == "parquet":
            return [folder / f"{self.name}.parquet"]
        if self.format == "json":
            return [folder / f"{self.name}.json"]
        return [folder / name for name in BUNDLE_FILES[self.name]]

    def write(self, obj: Any, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        if self.save is not None:
            self.save(obj, folder)
        elif self.format == "parquet":
            obj.to_parquet(self.files(folder)[0], index=False)
        else:
            self.files(folder)[0].write_text(
                json.dumps(obj, ensure_ascii=False, indent=2, default=str), encoding="utf-8")

    def read(self, folder: Path) -> Any:
        if self.load is not None:
            return self.load(folder)
        if self.format == "parquet":  # one column at a time: half the peak of a whole read
            return read_parquet_frame(self.files(folder)[0])
        return json.loads(self.files(folder)[0].read_text(encoding="utf-8"))


@dataclass(frozen=True)
class Node:
    """A step call: what it makes, what it reads, which run parameters it depends on."""

    outputs: tuple[str, ...]
    inputs: tuple[str, ...]
    params: tuple[str, ...]
    step: str  # the notebook that shows the result
    run: Callable[[RunContext], dict[str, Any]]


# -- run parameters ----------------------------------------------------------------------------

def _defaults(cls) -> dict[str, Any]:
    return {f.name: f.default for f in fields(cls)}


#: Every run parameter and its default: the notebooks' common parameters, each step's
#: parameter dataclass, and the few that only steer a notebook.
DEFAULTS: dict[str, Any] = {
    "data_dir": "data/sample", "as_of": "", "lang": "en", "seed": 42, "mapping": "",
    "preset": "", "tz": DEFAULT_TZ,
    # where the heavy steps run (custops.run.spark); results do not depend on it
    "engine": "duckdb", "spark_master": "",
    # Parquet tables this long are checked in DuckDB, same rejects (0 every one, -1 none)
    "duckdb_min_rows": DUCKDB_MIN_ROWS,
    **_defaults(segment.SegmentParams), "compare_days": 90, "n_clusters": 5,
    **_defaults(churn.ChurnParams),
    **_defaults(ReachParams), "channels_file": "",
}
DATA = ("data_dir", "mapping", "preset", "tz", "as_of")
SEGMENT = tuple(f.name for f in fields(segment.SegmentParams))
CHURN = tuple(f.name for f in fields(churn.ChurnParams))
# The plan's rules; budget, campaign id and holdout only steer the optimizer.
REACH_RULES = tuple(f.name for f in fields(ReachParams)
                    if f.name not in ("budget", "campaign_id", "holdout_share", "target_lift",
                                      "send_date"))
REACH_PLAN = ("budget", "campaign_id", "holdout_share", "target_lift")
REACH_EXPORTS = ("lang", "send_date", "margin", "tz")  # the lists and the plan page


def check_parameters(given: dict[str, Any], *, extra: tuple[str, ...] = ("interactive",)
                     ) -> dict[str, Any]:
    """The run parameters ``given`` (e.g. the runner's ``-p NAME VALUE``), checked before
    anything runs: known names (with a "did you mean"), values of the default's type
    (``"5000"`` → 5000.0 for a float), each step's ranges, and ``as_of`` as a date. Returns
    them converted; raises :class:`ParameterError` with one line naming the parameter."""
    out: dict[str, Any] = {}
    for name, value in given.items():
        if name in extra:
            out[name] = value
            continue
        if name not in DEFAULTS:
            close = difflib.get_close_matches(name, DEFAULTS, n=1)
            hint = f"; did you mean {close[0]!r}?" if close else \
                f"; known: {', '.join(sorted(DEFAULTS))}"
            raise ParameterError(f"unknown parameter {name!r}{hint}")
        out[name] = _converted(name, value, DEFAULTS[name])
    if out.get("as_of"):
        parse_as_of(out["as_of"])
    if "lang" in out:
        check_lang(out["lang"])
    merged = {**DEFAULTS, **out}
    for cls in (segment.SegmentParams, churn.ChurnParams, ReachParams):
        step_params(cls, merged)  # each step's own range checks
    on_spark.check_engine(merged["engine"], merged["spark_master"])
    for name in ("compare_days", "n_clusters"):
        if int(merged[name]) < 1:
            raise ParameterError(f"{name}={merged[name]}: must be at least 1")
    if int(merged["duckdb_min_rows"]) < -1:
        raise ParameterError(f"duckdb_min_rows={merged['duckdb_min_rows']}: must be a row "
                             f"count, 0 (every Parquet table) or -1 (none)")
    return out


def _converted(name: str, value: Any, default: Any) -> Any:
    try:
        if isinstance(default, bool):
            if isinstance(value, str) and value.lower() in ("true", "false", "1", "0"):
                return value.lower() in ("true", "1")
            if isinstance(value, bool):
                return value
            raise ValueError
        if isinstance(default, int):
            number = float(value)
            if not number.is_integer():
                raise ValueError
            return int(number)
        if isinstance(default, float):
            return float(value)
        if isinstance(default, tuple):
            values = tuple(float(v) for v in value)
            if len(values) != len(default):
                raise ValueError
            return values
        return "" if value is None else str(value)
    except (TypeError, ValueError):
        kind = {bool: "true or false", int: "a whole number", float: "a number",
                tuple: f"a list of {len(default) if isinstance(default, tuple) else 0} numbers"}
        raise ParameterError(f"parameter {name}={value!r}: expected "
                             f"{kind.get(type(default), 'text')}") from None


def step_params(cls, params: dict[str, Any]):
    """A step's parameter dataclass from the run's parameters."""
    return cls(**{f.name: _as_field(f, params[f.name]) for f in fields(cls) if f.name in params})


def _as_field(field, value):
    if isinstance(field.default, tuple) and isinstance(value, list):
        return tuple(value)
    return value


# -- the nodes ---------------------------------------------------------------------------------

def _features(ctx: RunContext) -> dict[str, Any]:
    return {"features": ctx.build_features(ctx.as_of)}


def _profile_summary(ctx: RunContext) -> dict[str, Any]:
    """01's numbers for later steps and the dashboards: the numbers of the sections 01's page
    drew (``ctx.show(..., keep=name)``), else computed without drawing them
    (:func:`custops.profile.profile_numbers`: the same numbers)."""
    drawn = ctx.drawn_numbers(profile.SUMMARY_SECTIONS)
    if drawn is not None:  # at 10M customers computing them again took 77 s
        return {"profile_summary": profile.profile_summary(ctx.as_of, drawn)}
    return {"profile_summary": profile.profile_numbers(
        ctx.quality(), ctx.get("features"), ctx.order_aggregate("customer_months"),
        ctx.order_aggregate("order_time_counts"), ctx.order_aggregate("repeat_order_curve"),
        ctx.as_of)}


def _segments(ctx: RunContext) -> dict[str, Any]:
    feats, params = ctx.get("features"), ctx.segment_params
    segments = segment.segment_customers(feats, params)
    segments["cluster"], _ = segment.behaviour_clusters(
        feats, n_clusters=int(ctx.params["n_clusters"]), seed=ctx.seed)
    return {"segments": segments, "segment_params": segment.params_dict(params)}


def _churn_dates(ctx: RunContext):
    horizon = int(ctx.params["horizon_days"])
    return ctx.days_before(horizon), ctx.days_before(2 * horizon)


def _backtest(ctx: RunContext) -> dict[str, Any]:
    test_date, train_date = _churn_dates(ctx)
    sample = ctx.sampled_customers(ctx.as_of)  # None up to churn.BACKTEST_CUSTOMERS
    result = churn.backtest(ctx.features_at(train_date, customers=sample),
                            ctx.features_at(test_date, customers=sample),
                            ctx.get("features"), ctx.churn_params, seed=ctx.seed,
                            dates={"train": str(train_date), "test": str(test_date),
                                   "as_of": str(ctx.as_of)})
    return {"churn_backtest": result}


def _churn_scores(ctx: RunContext) -> dict[str, Any]:
    test_date, _ = _churn_dates(ctx)
    training = ctx.features_at(test_date, customers=ctx.sampled_customers(test_date))
    scores, fit = churn.score_customers(training, ctx.get("features"),
                                        ctx.get("segments"), ctx.get("churn_backtest").winner,
                                        ctx.churn_params, seed=ctx.seed,
                                        predict=on_spark.executor_predict(ctx)
                                        if ctx.params.get("engine") == "spark" else None,
                                        btyd_model=ctx.get("churn_backtest").btyd_model)
    for finding in fit.health:  # every finding of the fits reaches the run's health box
        ctx.warn("03_churn", **finding)
    return {"churn_scores": scores, "btyd_params": churn.btyd_params(fit)}


def _stored_paths(ctx: RunContext, paths) -> list[str]:
    """Export files as the run records them: relative to the run folder (``exports/x.csv``;
    the folder is a build folder until the run is published under its final name), absolute
    only for a notebook run alone (exports in a temporary folder)."""
    root = None if ctx.run_dir is None else Path(ctx.run_dir).resolve()
    out = []
    for path in paths:
        path = Path(path).resolve()
        inside = root is not None and path.is_relative_to(root)
        out.append(path.relative_to(root).as_posix() if inside else str(path))
    return out


def _churn_exports(ctx: RunContext) -> dict[str, Any]:
    if ctx.read_only and ctx.run_dir is not None:  # a published report: its own files
        folder = ctx.run_dir / "exports"
        return {"churn_exports": _stored_paths(ctx, sorted(folder.glob("churn_*.csv")))}
    # The phones of the feature table (masked at load, as in the clean customers table): the
    # customers table itself is not read again (at 10M customers, ~3 GiB of text).
    feats = ctx.get("features")
    phones = feats[["customer_id", "phone"]] if "phone" in feats else None
    return {"churn_exports": _stored_paths(ctx, churn_lists(
        ctx.get("churn_scores"), phones, ctx.exports_dir(), ctx.lang))}


def _reach_inputs(ctx: RunContext) -> dict[str, Any]:
    data = ctx.dataset()
    # Each table as DuckDB should read it: in memory if this process holds it, else the run's
    # validated Parquet file (event rows never come into pandas).
    tables = {name: ctx.table_source(name) for name in ("orders", "customers", "events")}

    def scores() -> pd.DataFrame | None:  # asked for last: 03 may be making them meanwhile
        try:
            return ctx.get("churn_scores")
        except NotComputable:  # plan on uplift and value alone; the 03 page says why
            return None

    inputs = reach.prepare(ctx.get("features"), ctx.get("segments"), scores,
                           load_channels(ctx.params["channels_file"] or None), ctx.reach_params,
                           tables=tables, touches=data.touches, as_of=ctx.as_of, seed=ctx.seed)
    return {"reach_inputs": inputs}


def _reach_plan(ctx: RunContext) -> dict[str, Any]:
    inputs, params = ctx.get("reach_inputs"), ctx.reach_params
    plan = reach.build_plan(inputs.candidates, inputs.channels, inputs.eligible, params,
                            seed=ctx.seed, excluded=inputs.excluded,
                            uplift_source=inputs.uplift.source)
    return {"reach_plan": plan}


CONTACT_RECORD = "contact_columns.json"  # which contact columns the data hold in full (names)
_PLAIN_READ = {"columns", "file", "sheet", "table", "encoding", "separator", "header", "names",
               "skip_lines", "skip_footer", "date_format", "decimal"}


def contact_keys(ctx: RunContext) -> pd.DataFrame | None:
    """customer_id and the customers' contact keys (phone, e-mail, WeCom external id and
    owner, push token) for the channel lists: the table in memory when this process loaded
    the data; else the run's validated table (keys masked), with the columns the data hold in
    full (``artifacts/contact_columns.json``, written when the run first loaded the data) read
    again from the data source, so full keys never pass through the run folder. None when
    the data have no customers table."""
    wanted = [*CONTACT_COLUMNS, "wecom_owner"]
    dataset = ctx.dataset()
    stored = None if isinstance(dataset, io.Dataset) or dataset.in_memory("customers") \
        else dataset.parquet_path("customers")
    if stored is not None:  # only the key columns of the run's table, not all of it
        names = pq.read_schema(stored).names
        keys = pd.read_parquet(stored, columns=[c for c in ("customer_id", *wanted)
                                                if c in names])
    else:
        customers = dataset.customers
        if customers is None:
            return None
        keys = customers[["customer_id", *[c for c in wanted if c in customers]]]
    if isinstance(dataset, io.Dataset):
        return keys
    record = None if ctx.artifacts_dir is None else ctx.artifacts_dir / CONTACT_RECORD
    full = (json.loads(record.read_text("utf-8")).get("full", []) if record is not None
            and record.exists() else [c for c in CONTACT_COLUMNS if c in keys])
    full = [c for c in full if c in keys]
    if not full:
        return keys
    source = _source_contacts(ctx, full)
    if source is None:
        return keys
    return keys.drop(columns=full).merge(source, on="customer_id", how="left")


def _source_contacts(ctx: RunContext, columns: list[str]) -> pd.DataFrame | None:
    """customer_id and ``columns`` of the customers table read again from the data source
    (only those columns are checked when the mapping does nothing but name columns)."""
    preset = {"preset": ctx.params["preset"]} if ctx.params.get("preset") else {}
    mappings = io.read_mapping(ctx.mapping or None, **preset)
    settings = mappings.get("customers", {})
    if "from_orders" in settings:  # customers made from the order rows (a preset's)
        customers = io.load_dataset(ctx.data_dir, as_of=ctx.as_of, mapping=ctx.mapping or None,
                                    tz=ctx.tz, **preset).customers
    else:
        reader = open_source(ctx.data_dir, mappings)
        reader.duckdb_min_rows = 0  # a Parquet file is left on disk: read its columns below
        try:
            raw = reader.read("customers")
        finally:
            reader.close()
        if raw is None:
            return None
        headers = None
        if set(settings) <= _PLAIN_READ:  # check the key columns only: much quicker
            chosen, _ = match_columns([str(h) for h in raw.frame.columns], "customers",
                                      settings.get("columns", {}), raw.file_label)
            headers = [chosen[c] for c in ("customer_id", *columns) if c in chosen]
            settings = {**settings, "columns": {c: chosen[c] for c in ("customer_id", *columns)
                                                if c in chosen}}
        if raw.parquet_path is not None:  # only the key columns come off the disk (at 10M
            # customers the whole table is ~3 GiB of text in pandas)
            frame = pd.read_parquet(raw.parquet_path, columns=headers)
            frame.columns = [str(c) for c in frame.columns]
            raw = dataclasses.replace(raw, frame=frame, rows=np.arange(1, len(frame) + 1),
                                      parquet_path=None, lazy_rows=0)
        elif headers is not None:
            raw = dataclasses.replace(raw, frame=raw.frame[headers])
        customers = normalize_table(raw, "customers", settings.get("columns", {}), ctx.tz,
                                    None, settings).frame
    if customers is None:
        return None
    return customers[["customer_id", *[c for c in columns if c in customers]]]


def _exports(ctx: RunContext) -> dict[str, Any]:
    if ctx.read_only and ctx.run_dir is not None:  # a published report: its own files
        folder = ctx.run_dir / "exports"
        return {"reach_exports": _stored_paths(ctx, [p for p in sorted(folder.glob("*"))
                                                     if not p.name.startswith("churn_")])}
    plan, params = ctx.get("reach_plan"), ctx.reach_params
    grades = ctx.get("segments")[["customer_id", "prospect_grade"]]
    send_day = params.send_day(ctx.as_of)
    folder = ctx.exports_dir()
    rows = plan.plan.merge(grades, on="customer_id", how="left") if len(plan.plan) \
        else plan.plan
    channels = load_channels(ctx.params["channels_file"] or None)
    keys = {str(c): contact_key(str(c), channels) for c in channels["channel"]}
    written = export_lists(rows, plan.control, folder, ctx.lang, send_date=send_day,
                           tz=ctx.tz, contacts=contact_keys(ctx), keys=keys)
    page = plan_page.plan_page(plan, params, as_of=ctx.as_of, tz=ctx.tz, lang=ctx.lang,
                               files=[p.name for p in written])
    lists, control = plan_page.masked_lists(plan, lang=ctx.lang, send_date=send_day, tz=ctx.tz,
                                            extra=grades)
    written.append(plan_page.write_plan_xlsx(page, folder / "plan.xlsx", lists=lists,
                                             control=control))
    written.append(plan_page.write_plan_html(page, folder / "plan.html"))
    return {"reach_exports": _stored_paths(ctx, written)}


NODES: tuple[Node, ...] = (
    Node(("features",), (), DATA, "01_profile", _features),
    Node(("profile_summary",), ("features",), DATA, "01_profile", _profile_summary),
    Node(("segments", "segment_params"), ("features",), (*SEGMENT, "n_clusters", "seed"),
         "02_segment", _segments),
    Node(("churn_backtest",), ("features",), (*CHURN, "seed"), "03_churn", _backtest),
    Node(("churn_scores", "btyd_params"), ("features", "segments", "churn_backtest"),
         (*CHURN, "seed"), "03_churn", _churn_scores),
    Node(("churn_exports",), ("features", "churn_scores"), ("lang",), "03_churn",
         _churn_exports),
    Node(("reach_inputs",), ("features", "segments", "churn_scores"),
         (*REACH_RULES, "channels_file", "seed"), "04_reach", _reach_inputs),
    Node(("reach_plan",), ("reach_inputs",), (*REACH_PLAN, "seed"), "04_reach", _reach_plan),
    Node(("reach_exports",), ("reach_plan", "segments"), REACH_EXPORTS, "04_reach", _exports),
)


# -- how the artifacts are stored --------------------------------------------------------------

BUNDLE_FILES = {
    "reach_inputs": ("reach_candidates.parquet", "reach_eligible.parquet",
                     "reach_channels.parquet", "reach_inputs.json"),
    "reach_plan": ("reach_plan.parquet", "reach_control.parquet", "reach_summary.json"),
}


def _json(path: Path, obj: Any) -> None:
    path.write_text(json.dumps(obj, ensure_ascii=False, indent=2, default=str), encoding="utf-8")


def _save_backtest(result: churn.Backtest, folder: Path) -> None:
    _json(folder / "churn_backtest.json", result.to_dict())


def _load_backtest(folder: Path) -> churn.Backtest:
    return churn.Backtest.from_dict(
        json.loads((folder / "churn_backtest.json").read_text(encoding="utf-8")))


def _save_inputs(inputs: reach.ReachInputs, folder: Path) -> None:
    names = [str(c) for c in inputs.channels["channel"]]
    inputs.candidates.to_parquet(folder / "reach_candidates.parquet", index=False)
    pd.concat([inputs.candidates[["customer_id"]].reset_index(drop=True),
               pd.DataFrame(inputs.eligible, columns=names)], axis=1).to_parquet(
        folder / "reach_eligible.parquet", index=False)
    inputs.channels.reset_index(drop=True).to_parquet(folder / "reach_channels.parquet",
                                                      index=False)
    evaluation = inputs.uplift.evaluation or {}
    curve = evaluation.get("curve")
    _json(folder / "reach_inputs.json", {
        "source": inputs.uplift.source, "excluded": inputs.excluded,
        "qini": evaluation.get("qini"), "rows": evaluation.get("rows"),
        "params": reach.params_dict(inputs.params),
        "curve": curve.to_dict("records") if curve is not None else []})


def _load_inputs(folder: Path) -> reach.ReachInputs:
    meta = json.loads((folder / "reach_inputs.json").read_text(encoding="utf-8"))
    candidates = read_parquet_frame(folder / "reach_candidates.parquet")
    eligible = read_parquet_frame(folder / "reach_eligible.parquet")
    channels = read_parquet_frame(folder / "reach_channels.parquet")
    channels["daily_capacity"] = pd.to_numeric(channels["daily_capacity"]).fillna(math.inf)
    names = [str(c) for c in channels["channel"]]
    if list(eligible.columns[1:]) != names or not eligible["customer_id"].equals(
            candidates["customer_id"]):
        raise DataError(f"{folder}: reach_eligible does not match reach_candidates and "
                        "reach_channels; run the report again")
    evaluation = None
    if meta.get("qini") is not None:
        evaluation = {"qini": meta["qini"], "curve": pd.DataFrame(meta.get("curve", [])),
                      "rows": meta.get("rows")}
    uplift = reach.UpliftResult(meta.get("source", "model"),
                                candidates["uplift"].to_numpy(float),
                                candidates["baseline_rate"].to_numpy(float), evaluation)
    params = ReachParams(**meta["params"]) if meta.get("params") else ReachParams()
    return reach.ReachInputs(uplift, candidates, eligible[names].to_numpy(bool),
                             {str(k): int(v) for k, v in meta.get("excluded", {}).items()},
                             channels, params)


def _save_plan(plan: reach.ReachPlan, folder: Path) -> None:
    plan.plan.to_parquet(folder / "reach_plan.parquet", index=False)
    plan.control.to_parquet(folder / "reach_control.parquet", index=False)
    _json(folder / "reach_summary.json", reach.plan_record(plan))


def _load_plan(folder: Path) -> reach.ReachPlan:
    record = json.loads((folder / "reach_summary.json").read_text(encoding="utf-8"))
    return reach.plan_from_record(read_parquet_frame(folder / "reach_plan.parquet"),
                                  read_parquet_frame(folder / "reach_control.parquet"), record)


def _save_list(name: str) -> Callable[[list[str], Path], None]:
    """Saves the list of files an export node wrote (``<name>.json``)."""
    return lambda paths, folder: _json(folder / f"{name}.json", paths)


ARTIFACTS: dict[str, Artifact] = {a.name: a for a in (
    Artifact("features", "parquet"),
    Artifact("profile_summary", "json"),
    Artifact("segments", "parquet"),
    Artifact("segment_params", "json"),
    Artifact("churn_backtest", "json", _save_backtest, _load_backtest),
    Artifact("churn_scores", "parquet"),
    Artifact("btyd_params", "json"),
    Artifact("churn_exports", "json", _save_list("churn_exports")),
    Artifact("reach_inputs", "bundle", _save_inputs, _load_inputs),
    Artifact("reach_plan", "bundle", _save_plan, _load_plan),
    Artifact("reach_exports", "json", _save_list("reach_exports")),
)}


def snapshot_name(day) -> str:
    """The artifact holding the feature table as of ``day`` (a date other than ``as_of``;
    Parquet, made by :meth:`custops.run.context.RunContext.features_at`)."""
    return f"features_{day:%Y-%m-%d}"


def artifact_node(name: str) -> Node:
    """The node that makes artifact ``name``."""
    for node in NODES:
        if name in node.outputs:
            return node
    raise KeyError(f"no artifact named {name!r} in the run catalogue; known: "
                   f"{', '.join(ARTIFACTS)}")


def _plain(value: Any) -> Any:
    if isinstance(value, tuple):
        return list(value)
    if isinstance(value, np.generic):
        return value.item()
    return value


def fingerprint(name: str, params: dict[str, Any], as_of: Any) -> str:
    """What artifact ``name`` was made from: its node's parameters (with the run's as-of date
    and data source) and, recursively, its inputs' fingerprints."""
    node = artifact_node(name)
    own = {key: _plain(params.get(key)) for key in node.params if key != "as_of"}
    own["as_of"] = str(as_of)
    for key in DATA:
        own[key] = str(params.get(key)) if key != "as_of" else str(as_of)
    inputs = {source: fingerprint(source, params, as_of) for source in node.inputs}
    blob = json.dumps({"node": node.outputs, "params": own, "inputs": inputs},
                      sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]
