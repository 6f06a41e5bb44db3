"""Dashboards: filters, lists and the server set-up (fast), then the real thing in Chromium.

The browser tests make one report of the sample (01–03), serve the notebooks with Voila as a
subprocess on a free port with short culling, and drive Debian chromium with Playwright.
"""

from __future__ import annotations

import contextlib
import csv
import dataclasses
import io
import json
import math
import os
import re
import time
from pathlib import Path
from types import SimpleNamespace
from urllib.parse import urlsplit

import numpy as np
import pandas as pd
import pytest

from custops import exports, reach
from custops.app import downloads, panels, voila_app
from custops.app import server as app_server
from custops.app.first_view import FIRST_FIGURE
from custops.errors import ParameterError
from custops.labels import t
from custops.run import catalog
from custops.tools import browser as browser_tools  # the `browser` fixture is Chromium

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "data" / "sample"
MASKED = re.compile(r"^\d{3}\*{4}\d{4}$")
CULL_SECONDS = 10  # busy-page test server: kernels of closed pages go after 10 idle seconds
# The module's servers: the kernel of a page never heard from goes after 25 s without a
# connection or a heartbeat (two heartbeats of margin), that of a page heard from before (a
# browser that crashed) after HEARD_WINDOWS times that; Jupyter's own idle cull (unconnected
# kernels) only
# after 120 s — under load a browser can take longer than 10 s to connect once the kernel has
# run the notebook, and that cull would take the kernel from a page still loading.
ORPHAN_SECONDS = 25
IDLE_CULL_SECONDS = 120
START_SECONDS = 240  # Voila took over 60 s to listen at a load average of 50


# -- pure pieces -------------------------------------------------------------------------------

def test_filter_mask_combines_values_and_month_range():
    frame = pd.DataFrame({
        "value_tier": ["vip", "vip", "small", None],
        "province": ["北京", "上海", "北京", "北京"],
        "last_order_date": pd.to_datetime(["2025-01-31", "2025-03-01", "2025-02-10", None]),
    })
    assert panels.filter_mask(frame, {"value_tier": "vip", "province": ""}).tolist() == [
        True, True, False, False]
    assert panels.filter_mask(frame, {"province": "北京"}, date_column="last_order_date",
                                 months=("2025-01", "2025-02")).tolist() == [
        True, False, True, False]
    assert panels.month_options("2024-11-15", "2025-02-01") == [
        "2024-11", "2024-12", "2025-01", "2025-02"]


def test_filter_values_follow_the_steps_order_then_frequency():
    frame = pd.DataFrame({"value_tier": ["small", "vip", "small", "large", None],
                          "province": ["上海", "北京", "北京", "广东", "北京"]})
    assert panels.filter_values(frame, "value_tier") == ["vip", "large", "small"]
    assert panels.filter_values(frame, "province")[0] == "北京"


def test_priority_list_is_at_risk_only_masked_and_labelled():
    scores = pd.DataFrame({
        "customer_id": ["A", "B", "C"], "priority_rank": [1, 2, 3],
        "risk_band": ["high_risk", "low_risk", "medium_risk"],
        "churn_probability": [0.9, 0.1, 0.5], "expected_value": [100.0, 50.0, 20.0],
        "strategy": ["service_callback", "monitor", "product_offer"],
        "value_tier": ["vip", "small", "small"], "lifecycle_stage": ["decline", "mature", None],
        "reason": ["complaint:n=1;overdue:days=40,gap=10", "healthy", "single:days=80"],
    })
    customers = pd.DataFrame({"customer_id": ["A", "B", "C"],
                              "phone": ["13812345678", "139****0000", None]})
    table = exports.priority_list(scores, customers, "zh")
    assert table[t("churn.customer", "zh")].tolist() == ["A", "C"]
    assert table[t("dash.phone", "zh")].tolist() == ["138****5678", ""]
    assert table[t("churn.tier", "zh")].tolist() == ["VIP", "小客户"]
    assert "投诉" in table[t("churn.reason", "zh")].iloc[0]
    text = downloads.to_csv(table)
    assert text.startswith("\ufeff") and "13812345678" not in text


def test_panel_shows_nothing_for_the_report_runner(capsys):
    assert panels.panel(SimpleNamespace(), "01_profile", interactive=False) is None
    assert capsys.readouterr().out == ""
    with pytest.raises(ParameterError, match="no dashboard panel"):
        panels.panel(SimpleNamespace(lang="en"), "09_nothing", interactive=True)


def test_a_panel_that_cannot_be_computed_lets_the_reports_figures_draw(monkeypatch):
    """Lazy figures on a dashboard page wait for the panel's figure; a panel that could not be
    computed draws none, so on a dashboard page it opens that gate (nowhere else)."""
    from custops.app.first_view import PANEL_PAGE_ATTR, PLOTLY_ON_PAGE_ENV, plotly_script
    from custops.errors import NotComputable

    class Failing:
        def __init__(self, ctx):
            raise NotComputable("nc.rfm_no_spend")

    shown = []
    monkeypatch.setattr(panels, "display", lambda obj: shown.append(obj))
    monkeypatch.setitem(panels.PANELS, "01_profile", Failing)
    ctx = SimpleNamespace(lang="en")
    monkeypatch.delenv(PLOTLY_ON_PAGE_ENV, raising=False)
    assert panels.panel(ctx, "01_profile") is None
    assert not any(panels.NO_PANEL_JS in getattr(o, "data", "") for o in shown)
    shown.clear()
    monkeypatch.setenv(PLOTLY_ON_PAGE_ENV, "1")
    monkeypatch.setattr(panels.pio.renderers, "default", panels.pio.renderers.default)
    assert panels.panel(ctx, "01_profile") is None
    assert any(panels.NO_PANEL_JS in getattr(o, "data", "") for o in shown)
    # every dashboard page marks that a panel is coming, first view or not
    assert PANEL_PAGE_ATTR in plotly_script("/")
    assert f"script[{PANEL_PAGE_ATTR}]" in panels.LAZY_GATE_JS


def test_dashboard_labels_exist_in_both_languages():
    from custops.labels import LABELS

    keys = [k for k in LABELS if k.startswith("dash.")]
    assert len(keys) >= 20
    for key in keys:
        fields = {"as_of": "", "source": "", "run": "", "data": "", "finished": "", "rows": 0,
                  "total": 0}
        assert t(key, "en", **fields)
        assert t(key, "zh", **fields)


def test_run_folder_must_be_a_finished_report(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ParameterError, match="not a finished report"):
        app_server.resolve_run(str(tmp_path / "missing"))
    failed = tmp_path / "failed"
    failed.mkdir()
    (failed / "manifest.json").write_text(json.dumps({"status": "running"}))
    assert app_server.finished_run(failed) is None
    good = tmp_path / "good"
    good.mkdir()
    (good / "manifest.json").write_text(json.dumps({"status": "ok"}))
    assert app_server.resolve_run(str(good)) == good.resolve()
    assert app_server.resolve_run(None, default="good") == good.resolve()
    assert app_server.resolve_run(None, default="nothing-here") is None


def test_voila_command_keeps_sources_and_tracebacks_hidden_and_culls():
    command = app_server.voila_command("nb", port=8866)
    joined = " ".join(command)
    assert "--Voila.ip=127.0.0.1" in command and "--port=8866" in command
    assert "--Voila.port_retries=0" in command
    assert "--MappingKernelManager.cull_idle_timeout=600" in command
    assert "strip_sources" not in joined and "show_tracebacks" not in joined
    assert "preheat" not in joined
    assert "custops.app.voila_app" in command  # the capped application, not plain Voila
    assert "--CustopsVoila.max_kernels=0" in command  # no cap unless one is given
    # the pages draw with the template's plotly.js, not a second copy in JupyterLab's renderer
    assert "--VoilaConfiguration.extension_denylist=jupyterlab-plotly" in command
    preheated = app_server.voila_command("nb", port=1, preheat=True, max_kernels=9)
    assert "--preheat_kernel=True" in preheated and "--pool_size=2" in preheated
    assert "--CustopsVoila.max_kernels=9" in preheated
    assert "--CustopsVoila.orphan_seconds=50.0" in preheated
    assert "--CustopsVoila.widget_seconds=120.0" in preheated
    with pytest.raises(ParameterError, match="cull_idle_timeout"):
        app_server.voila_command("nb", port=1, preheat=True, cull_idle_timeout=10)
    with pytest.raises(ParameterError, match="max-kernels"):
        app_server.voila_command("nb", port=1, max_kernels=0)


def test_kernel_cap_defaults_from_memory_and_cores(monkeypatch):
    import psutil

    pools = 8
    cap = app_server.default_max_kernels(pools)
    assert cap >= pools + 2
    monkeypatch.setattr(psutil, "virtual_memory",
                        lambda: SimpleNamespace(available=40 * app_server.KERNEL_BYTES))
    monkeypatch.setattr(app_server.os, "cpu_count", lambda: 64)
    assert app_server.default_max_kernels(pools) == 20  # half the memory
    monkeypatch.setattr(app_server.os, "cpu_count", lambda: 2)
    assert app_server.default_max_kernels(pools) == 12  # six per core
    monkeypatch.setattr(psutil, "virtual_memory", lambda: SimpleNamespace(available=0))
    assert app_server.default_max_kernels(pools) == pools + 2  # the pools and two pages


def _capped_manager(tmp_path, monkeypatch, *, cap: int, pool_size: int = 2):
    """The server's kernel manager with a cap, on a folder without notebooks, whose pools
    fill with placeholders instead of kernels (the bookkeeping alone)."""
    from jupyter_server.services.kernels.kernelmanager import AsyncMappingKernelManager
    from traitlets.config import Configurable

    class App(Configurable):
        pass

    app = App()
    app.root_dir, app.notebook_path, app.max_kernels = str(tmp_path), None, cap
    cls = voila_app.capped_kernel_manager_factory(AsyncMappingKernelManager, True, pool_size)

    def fill(self, delay=None, notebook_name=None, **kwargs):
        size = self.kernel_pools_config[notebook_name]["pool_size"]
        pool = self._pools.setdefault(notebook_name, [])
        pool.extend(object() for _ in range(size - len(pool)))

    monkeypatch.setattr(cls.__mro__[1], "fill_if_needed", fill)
    return cls(parent=app)


def test_freed_kernels_go_first_to_the_dashboards_busy_pages_wait_for(tmp_path, monkeypatch):
    """Pages closing free room under the cap: pools of dashboards with busy pages waiting
    refill first, and room those pages still need is not taken by other dashboards' pools
    (in the 20-manager bench every freed kernel went to the 01-03 pools while a 04 page
    waited on the busy page for 281 s)."""
    manager = _capped_manager(tmp_path, monkeypatch, cap=12)
    names = ["01_profile.ipynb", "02_segment.ipynb", "03_churn.ipynb", "04_reach.ipynb"]
    for name in names:
        manager._pools[name] = []  # every pooled kernel was taken by a page
    manager._in_use = {f"k{i}": 0.0 for i in range(12)}
    assert manager.room() == 0
    for waiter in ("a", "b", "c"):  # three busy pages of 04 ask for room
        manager.note_waiting("04_reach.ipynb", waiter)
    assert not manager.promise_room("04_reach.ipynb")
    assert manager.unmet() == {"04_reach.ipynb": 3}

    for i in range(4):  # four tabs close
        manager._in_use.pop(f"k{i}")
    manager.refill()
    assert len(manager._pools["04_reach.ipynb"]) == 2  # 04 first (it is listed last)
    assert manager.unmet() == {"04_reach.ipynb": 1}
    # one other pool took one kernel, the last free one is kept for the third 04 page
    assert sum(len(manager._pools[n]) for n in names[:3]) == 1
    assert manager.room() == 1
    assert manager.promise_room("04_reach.ipynb")
    manager.served_waiter("04_reach.ipynb", "c")

    # the waiting pages are served (or gone): the pools refill as before
    manager._waiting.clear()
    manager._in_use.pop("k4")
    manager._in_use.pop("k5")
    manager._promises.clear()
    manager.refill()
    assert manager.room() == 0
    assert manager.committed() == 12


def test_a_kernel_shutting_down_counts_against_the_cap_until_it_has_gone(tmp_path,
                                                                          monkeypatch):
    """A dozen tabs closing at once must not let pools and busy pages start a dozen new
    kernels beside the dying ones (the bench saw 20 kernel processes under a cap of 12)."""
    import asyncio

    manager = _capped_manager(tmp_path, monkeypatch, cap=4)
    manager._pools["01_profile.ipynb"] = []
    manager._in_use = {"k1": 0.0, "k2": 0.0, "k3": 0.0, "k4": 0.0}
    gate = asyncio.Event()
    seen = []

    async def slow_shutdown(self, kernel_id, *args, **kwargs):
        seen.append(self.room())  # while its process still exits
        await gate.wait()

    monkeypatch.setattr(type(manager).__mro__[1], "shutdown_kernel", slow_shutdown)

    async def main():
        task = asyncio.ensure_future(manager.shutdown_kernel("k1"))
        await asyncio.sleep(0)
        assert manager.room() == 0 and seen == [0]
        gate.set()
        await task

    asyncio.run(main())
    assert manager.room() == 0  # gone: the pool refilled into its room
    assert len(manager._pools["01_profile.ipynb"]) == 1


def test_a_refill_waits_for_the_page_just_served_unless_a_page_waits_for_it(tmp_path,
                                                                           monkeypatch):
    """A pool's new kernel starts once the page just handed a kernel has had the server to
    itself for REFILL_PAUSE_SECONDS (rendering the refill's page held the loop 0.5-1 s and
    delayed that page's plotly.js); at once with no page lately; as soon as a page comes for
    the pool or a busy page waits for the dashboard during the pause; after
    REFILL_WAIT_SECONDS however busy the server; never once the server closes. The pausing
    refill sits in its pool, as in Voila's ``fill_if_needed``. The pause runs on a virtual
    clock that its sleeps advance, so a loaded machine cannot move the bounds."""
    import asyncio
    import types

    clock = [1000.0]
    due: list[tuple[float, object]] = []  # (virtual time, what happens then)
    real_sleep = asyncio.sleep

    async def sleep(seconds: float) -> None:
        clock[0] += seconds
        for event in [e for e in due if e[0] <= clock[0]]:
            due.remove(event)
            event[1]()
        await real_sleep(0)

    monkeypatch.setattr(voila_app, "time", types.SimpleNamespace(monotonic=lambda: clock[0]))
    monkeypatch.setattr(voila_app, "asyncio", types.SimpleNamespace(
        sleep=sleep, current_task=asyncio.current_task))
    monkeypatch.setattr(voila_app, "REFILL_PAUSE_SECONDS", 3.0)
    monkeypatch.setattr(voila_app, "REFILL_WAIT_SECONDS", 15.0)
    monkeypatch.setattr(voila_app, "_kernel_pid", lambda manager, kernel_id: None)  # no process
    manager = _capped_manager(tmp_path, monkeypatch, cap=8)
    started: list[float] = []

    async def initialize(self, notebook_path, kernel_id=None, **kwargs):
        started.append(clock[0])
        return {"kernel_id": kernel_id}

    monkeypatch.setattr(type(manager).__mro__[1], "_initialize", initialize)
    name = "01_profile.ipynb"

    async def refill(during=None, after: float = 1.0) -> float:
        """Virtual seconds from asking for the refill until its kernel started; ``during``
        happens ``after`` seconds into the pause."""
        t0 = clock[0]
        if during is not None:
            due.append((t0 + after, during))
        task = asyncio.ensure_future(manager._initialize(name))
        manager._pools[name] = [task]  # the pausing refill is in its pool
        await task
        manager._pools[name] = []
        due.clear()
        return started[-1] - t0

    async def main():
        assert await refill() == 0  # no page lately: at once
        manager._hand_out("k1")
        assert 3.0 <= await refill() <= 3.25  # after the served page's pause
        manager._hand_out("k2")
        # a page comes for the pool mid-pause (it takes the pausing entry and waits for it)
        assert 1.0 <= await refill(lambda: manager._awaiting.__setitem__(name, 1)) <= 1.25
        manager._awaiting[name] = 0
        manager._hand_out("k3")
        # a busy page of this dashboard asks for room mid-pause (the pool's entry is there)
        assert 1.0 <= await refill(lambda: manager.note_waiting(name, "busy-page")) <= 1.25
        manager._waiting.clear()
        # another page handed a kernel mid-pause restarts the pause from that page
        manager._hand_out("k4")
        assert 5.0 <= await refill(lambda: manager._hand_out("k5"), after=2.0) <= 5.25
        # a page still being sent (its clock not started) keeps the server busy ...
        manager._hand_out("k6")
        manager._in_use["k6"] = math.inf
        assert 15.0 <= await refill() <= 15.25  # ... until the longest wait
        manager._in_use["k6"] = clock[0]
        # a restart (its own kernel id) never waits
        manager._hand_out("k7")
        t0 = clock[0]
        await manager._initialize(name, "k7")
        assert started[-1] == t0
        # a closing server starts no refill, and takes the refill out of its pool
        manager._closing = True
        task = asyncio.ensure_future(manager._initialize(name))
        manager._pools[name] = [task]
        with pytest.raises(RuntimeError):
            await task
        assert manager._pools[name] == []

    asyncio.run(main())


def test_plotly_js_goes_compressed_only_to_browsers_that_accept_gzip():
    assert voila_app.accepts_gzip("gzip, deflate, br, zstd")
    assert voila_app.accepts_gzip("GZIP;q=0.5")
    assert voila_app.accepts_gzip("br, *")
    assert not voila_app.accepts_gzip("gzip;q=0, *")
    assert not voila_app.accepts_gzip("identity")
    assert not voila_app.accepts_gzip("")
    assert not voila_app.accepts_gzip("*;q=0")


def test_busy_page_speaks_the_pages_language_and_retries_by_itself():
    assert voila_app.page_language(None, "zh-CN,zh;q=0.9,en;q=0.8") == "zh"
    assert voila_app.page_language(None, "en-GB,en;q=0.9,zh;q=0.8") == "en"
    assert voila_app.page_language("zh", "en-US") == "zh"
    assert voila_app.page_language("fr", None) == "en"
    for lang in ("en", "zh"):
        page = voila_app.busy_page(lang)
        assert "location.reload()" in page and 'http-equiv="refresh" content="3"' in page
        assert t("dash.busy_text", lang) in page and f'lang="{lang}"' in page


def test_a_remote_address_needs_allow_remote_and_a_secret(capsys, monkeypatch):
    from custops.run import cli

    monkeypatch.delenv(app_server.TOKEN_ENV, raising=False)
    monkeypatch.delenv(app_server.PASSWORD_ENV, raising=False)
    assert cli.main(["dashboard", "--ip", "0.0.0.0"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "--allow-remote" in err and "token" in err
    assert cli.main(["dashboard", "--ip", "192.168.1.20", "--allow-remote"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "needs a token" in err
    with pytest.raises(ParameterError, match="allow-remote"):
        app_server.start_server(None, ip="0.0.0.0", token="secret")
    for loopback in ("127.0.0.1", "::1", "localhost"):
        app_server.check_exposure(loopback, allow_remote=False, token=None, password=None)
    app_server.check_exposure("0.0.0.0", allow_remote=True, token="secret", password=None)
    app_server.check_exposure("0.0.0.0", allow_remote=True, token=None, password="pw")


def test_a_token_guards_the_pages(tmp_path):
    """With a token (given through the environment, not the command line), a page without it
    is sent to the login page and a page with it is served."""
    import urllib.request

    import psutil

    with app_server.start_server(None, token="s3cret-token",
                                 log_path=tmp_path / "voila.log") as served:
        assert not any("s3cret" in part for part in psutil.Process(served.pid).cmdline())
        tree = f"{served.base_url}/voila/tree"
        for url in (tree, served.url("01_profile")):
            with urllib.request.urlopen(url, timeout=30) as response:  # sent to log in
                assert "/login?next=" in response.geturl()
                assert "Voil" not in response.read().decode("utf-8", "replace")[:300]
        with urllib.request.urlopen(f"{tree}?token=s3cret-token", timeout=30) as response:
            assert response.status == 200 and "/login" not in response.geturl()
            assert "Voil" in response.read().decode("utf-8", "replace")[:300]


def test_reach_panel_replans_for_filters_budget_and_channel_limits(tmp_path, monkeypatch):
    """The 04 panel re-runs the optimizer on the run's stored inputs: the same plan as the
    notebook's at the run's budget, cheaper under a lower budget, no contacts on a switched-off
    channel, only selected customers, and a masked contact list matching the plan."""
    from custops.run import context

    run = tmp_path / "run"
    ctx = context.open_run(data_dir=str(SAMPLE), run_dir=str(run), budget=300.0)
    params = ctx.reach_params
    inputs = ctx.get("reach_inputs")
    (run / "manifest.json").write_text(json.dumps({"parameters": {
        "data_dir": str(SAMPLE), "as_of": str(ctx.as_of), "budget": 300.0}}), encoding="utf-8")
    # a dashboard opening that run reads the stored inputs back, with the run's parameters
    monkeypatch.setenv(context.RUN_DIR_ENV, str(run))
    reader = context.open_run(data_dir=str(SAMPLE))
    assert reader.read_only
    stored = reader.get("reach_inputs")
    assert stored is not inputs and stored.params.budget == 300.0
    np.testing.assert_array_equal(stored.eligible, inputs.eligible)
    assert stored.candidates["customer_id"].equals(inputs.candidates["customer_id"])
    assert stored.excluded == inputs.excluded

    board = panels.ReachPanel(reader)
    expected = reach.build_plan(inputs.candidates, inputs.channels, inputs.eligible, params,
                                seed=ctx.seed, method="lagrangian")
    everyone = np.ones(len(board.candidates), bool)
    plan, used, _ = board.plan(everyone)
    assert len(plan.plan) == len(expected.plan) > 0
    assert plan.plan["cost"].sum() + plan.control["cost"].sum() <= 300.0 + 1e-6

    def numbers():
        return dict(re.findall(r'data-kpi="(\w+)".*?custops-kpi-value[^>]*>([^<]*)<',
                               board.kpis.value))

    assert numbers()["contacts"] == f"{len(expected.plan):,}"
    board.budget.value = 60.0
    cheap, _, _ = board.plan(everyone)
    assert cheap.plan["cost"].sum() + cheap.control["cost"].sum() <= 60.0 + 1e-6
    assert numbers()["contacts"] == f"{len(cheap.plan):,}"
    assert len(cheap.plan) + len(cheap.control) < len(plan.plan) + len(plan.control)
    busiest = cheap.plan["channel"].value_counts().index[0]
    board.capacity[busiest].value = 0
    off, _, _ = board.plan(everyone)
    assert busiest not in set(off.plan["channel"]) and len(off.plan) > 0

    tier = board.values["value_tier"][0]
    board.dropdowns["value_tier"].value = tier
    selected = board.customers.loc[board.customer_mask(), "customer_id"]
    chosen, _, _ = board.plan(board.customer_mask())
    assert set(chosen.plan["customer_id"]) <= set(selected) and len(chosen.plan) > 0
    rows = list(csv.DictReader(io.StringIO(board._csv().lstrip("\ufeff"))))
    assert [r["customer_id"] for r in rows] == chosen.plan["customer_id"].tolist()
    assert all(MASKED.match(r["phone"]) for r in rows if r["phone"])
    assert sum(bool(r["phone"]) for r in rows) > 0.9 * len(rows)
    assert not re.search(r"(?<!\d)1\d{10}(?!\d)", board._csv())

    board.view.value = "budget"
    assert any("plotly" in json.dumps(o["data"])[:200] for o in board.output.outputs)
    board.language.value = "zh"
    board.view.value = "contacts"
    assert t("dash.phone", "zh") in json.dumps(board.output.outputs, ensure_ascii=False)
    board.reset.click()
    assert board.budget.value == 300.0 and board.capacity[busiest].value > 0
    assert board.dropdowns["value_tier"].value == panels.ALL


def test_a_dashboard_takes_the_published_runs_parameters(tmp_path, monkeypatch):
    """Under a dashboard (the report is read, not written) the parameters the run was given
    replace the notebook's defaults, except the page's folders and ``interactive``; the page
    speaks the run's language unless its address asks for another; a notebook writing its
    own run keeps what it was given."""
    from custops.run import context

    run = tmp_path / "run"
    (run / "artifacts").mkdir(parents=True)
    (run / "artifacts" / "data_quality.json").write_text('{"as_of": "2026-09-30"}')
    (run / "manifest.json").write_text(json.dumps({"status": "ok", "parameters": {
        "data_dir": "/elsewhere", "as_of": "2026-09-30", "lang": "zh", "seed": 7,
        "interactive": False, "rfm_cut": "median", "compare_days": 30, "budget": 5000.0}}))
    defaults = {"data_dir": str(SAMPLE), "lang": "en", "seed": 42, "interactive": True,
                "rfm_cut": "mean", "compare_days": 90, "n_clusters": 5}
    monkeypatch.setenv(context.RUN_DIR_ENV, str(run))
    page = dict(defaults)
    ctx = context.open_run(page)
    assert ctx.read_only and ctx.seed == 7 and ctx.lang == "zh"  # a zh run opens in Chinese
    assert page == {**defaults, "data_dir": "/elsewhere", "seed": 7, "rfm_cut": "median",
                    "compare_days": 30, "lang": "zh"}
    monkeypatch.setenv("QUERY_STRING", "lang=en")  # the landing page's English link
    assert context.open_run(dict(defaults)).lang == "en"
    monkeypatch.delenv("QUERY_STRING")
    assert ctx.reach_params.budget == 5000.0  # the run's, though the page does not name it
    assert "budget" not in page  # only the notebook's own variables change

    writer = dict(defaults)
    ctx = context.open_run(writer, run_dir=str(run))
    assert not ctx.read_only and ctx.seed == 42 and writer == defaults
    monkeypatch.delenv(context.RUN_DIR_ENV)
    alone = dict(defaults)
    assert context.open_run(alone).seed == 42 and alone == defaults


def test_first_view_and_panel_figures_cannot_close_their_script():
    """Text from the data inside a first view or a panel figure (a category named
    ``</script><script>…``) stays data: no tag starts inside the page's scripts."""
    import plotly.graph_objects as go

    from custops.app.first_view import first_view_html, plotly_script
    from custops.sections import Section

    hostile = "</script><script>alert(1)</script>"
    fig = go.Figure(go.Bar(x=[hostile], y=[1]), layout={"title": hostile})
    html_ = panels.figure_html(fig)
    assert html_.count("<script") == 1 and html_.count("</script>") == 1
    assert "\\u003c/script>" in html_ and "window.Plotly.newPlot" in html_
    # a view's first figure is drawn at once, the next after the browser painted the first
    section = Section("t", figures=[fig, fig])
    merged = panels.section_outputs([section], html_figures=True)[0]["data"]["text/html"]
    assert merged.count("if (node) { draw(); }") == 1
    assert merged.count("if (node) { requestAnimationFrame(") == 1
    # lazy and after the paint: when near the window, then after the next paint
    both = panels.figure_html(fig, lazy=True, after_paint=True)
    assert "seen.disconnect(); requestAnimationFrame(function () { setTimeout(draw, 0); });" \
        in both
    assert "seen.disconnect(); draw();" in panels.figure_html(fig, lazy=True)
    views = {"run_lang": "zh", "views": {"03_churn": {lang: {
        "intro": "", "kpis": "", "outputs": [{"html": "<h4>t</h4>"}, {"figure": 0}],
        "figures": [fig.to_plotly_json()]} for lang in ("en", "zh")}}}
    page = first_view_html(views, "03_churn", "/base/", plotly_version="9.9")
    assert page.count("<script") == 3 and page.count("</script>") == 3  # data, plotly, draw
    assert plotly_script("/base/", "9.9") in page
    assert 'src="/base/custops/static/plotly.min.js?v=9.9"' in page
    assert '<script async ' in page  # never holds the page's parsing
    data = json.loads(re.search(r'id="custops-first-data">(.*?)</script>', page, re.S).group(1))
    assert data["run_lang"] == "zh" and data["views"]["en"]["outputs"][0]["html"] == "<h4>t</h4>"
    # a dashboard without a first view still gets plotly.js (its panel draws with it)
    assert first_view_html(views, "01_profile") == plotly_script()


def test_dashboard_pages_draw_figures_with_the_pages_plotly(monkeypatch):
    """On a custops dashboard page (``CUSTOPS_PLOTLY_ON_PAGE``) a panel's view is one HTML
    output whose figures draw with the page's plotly.js; elsewhere (JupyterLab) figures stay
    plotly's MIME type."""
    import plotly.graph_objects as go

    from custops.sections import Section

    section = Section("Title", figures=[go.Figure(go.Bar(x=["a"], y=[1]))],
                      tables=[pd.DataFrame({"a": [1]})], text="Some **text**.")
    monkeypatch.delenv(panels.PLOTLY_ON_PAGE_ENV, raising=False)
    mime = panels.section_outputs([section])
    assert any("application/vnd.plotly.v1+json" in o["data"] for o in mime)
    monkeypatch.setenv(panels.PLOTLY_ON_PAGE_ENV, "1")
    page = panels.section_outputs([section])
    assert len(page) == 1 and list(page[0]["data"]) == ["text/html"]
    body = page[0]["data"]["text/html"]
    assert "<h4>Title</h4>" in body and "<strong>text</strong>" in body
    assert "custops-table" in body and "window.Plotly.newPlot" in body
    # the figure first: a view's first figure is on screen when the page opens
    assert body.index("window.Plotly.newPlot") < body.index("custops-table")
    # the report below the panel, drawn again in the other language: figures for the page too
    redrawn = [panels.drawn_by_page(o) for o in section.outputs("zh")]
    assert not any("application/vnd.plotly.v1+json" in o["data"] for o in redrawn)
    assert sum("window.Plotly.newPlot" in o["data"].get("text/html", "") for o in redrawn) == 1
    assert redrawn[0] == section.outputs("zh")[0]  # the heading, unchanged


def test_a_dashboard_kernel_imports_no_server_and_no_steps_it_does_not_show():
    """Importing the panels (every dashboard kernel does, before its page can be served) must
    not import the server's modules (nbformat and jsonschema: ~2.5 s of each kernel's start,
    most of a kernel's CPU under load) nor the churn step's scikit-learn ensembles."""
    import subprocess
    import sys

    panels_only = ("import custops.app.panels as p",
                   ('nbformat', 'jsonschema', 'custops.app.server', 'custops.run.runner',
                    'custops.churn', 'sklearn.ensemble'), "p.PANELS['03_churn']", "ChurnPanel")
    # what the notebooks import first (the run catalogue and the step modules) loads no model
    # library: scikit-learn and scipy's stats and optimize come with a fit, which a dashboard
    # kernel never makes (~1.5-2 s of CPU at each kernel's start, 40 % of a pool refill)
    notebooks = ("from custops import churn, profile, reach, segment, plan_page, plots; "
                 "from custops.run import open_run, catalog",
                 ('sklearn', 'scipy.stats', 'scipy.optimize'), "churn.SupervisedChurnModel",
                 "SupervisedChurnModel")
    for imports, absent, name, expected in (panels_only, notebooks):
        code = (f"import sys; {imports}; "
                f"print(sorted(m for m in {absent!r} if m in sys.modules)); "
                f"print({name}.__name__)")
        done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                              check=True)
        assert done.stdout.split("\n")[:2] == ["[]", expected], imports


def test_exclusion_rules_read_in_both_languages():
    from custops.reach import rule_label

    assert rule_label("no consent: sms", "zh") == "未授权：短信"
    assert rule_label("no consent list: email", "en").startswith("No opt-out list")
    assert rule_label("fatigue cap (7 days)", "zh") == "疲劳度上限（7 天）"
    assert rule_label("something new", "zh") == "something new"


# -- in the browser ----------------------------------------------------------------------------

@pytest.fixture(scope="module")
def chromium() -> str:
    if not Path(browser_tools.CHROMIUM).exists():
        pytest.skip(f"{browser_tools.CHROMIUM} is missing: `make system-deps` installs Debian "
                    "chromium for the dashboard browser tests")
    return browser_tools.CHROMIUM


@pytest.fixture(scope="module")
def run_dir(chromium, tmp_path_factory) -> Path:
    from custops.run import runner as report

    out = tmp_path_factory.mktemp("dash") / "report"
    # Not the notebooks' default cut: the 02 page must show the run's own segmentation.
    report.run_report(SAMPLE, out, extra_parameters={"rfm_cut": "median"},
                      log=lambda line: None)
    return out


def _module_server(run_dir: Path, tmp_path_factory, name: str):
    """A module's Voila server on ``run_dir`` (no pools, the module's culling), stopped at
    the end of the module; no kernel may outlive it."""
    import psutil

    log_path = tmp_path_factory.mktemp(name) / "voila.log"
    started = app_server.start_server(run_dir, cull_idle_timeout=IDLE_CULL_SECONDS,
                                      cull_interval=1, orphan_seconds=ORPHAN_SECONDS,
                                      log_path=log_path, timeout=START_SECONDS)
    kernels: list[int] = []
    try:
        assert started.process.poll() is None and started.pid > 0
        yield started
        kernels = app_server.kernel_pids(started.pid)
    finally:
        started.stop()
    assert not [pid for pid in kernels if psutil.pid_exists(pid)], "kernels outlived Voila"


@pytest.fixture(scope="module")
def server(run_dir, tmp_path_factory):
    yield from _module_server(run_dir, tmp_path_factory, "voila")


@pytest.fixture(scope="module")
def browser(server, chromium):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        launched = p.chromium.launch(executable_path=chromium, args=browser_tools.CHROMIUM_ARGS)
        try:
            yield launched
        finally:
            launched.close()


def _change_filter(page, column: str, index: int, attempts: int = 3) -> tuple[str, str]:
    """Select a filter value and wait until numbers and figure change; on a loaded 2-core
    machine the widgets may attach a moment after the first figure, so retry by toggling."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    select = page.locator(browser_tools.filter_selector(column))
    for attempt in range(attempts):
        before = page.evaluate(browser_tools.panel_state_js())
        select.select_option(index=index if attempt % 2 == 0 else 0)
        try:
            return before, browser_tools.wait_for_change(page, before, timeout_ms=20_000)
        except PlaywrightTimeout:
            if attempt == attempts - 1:
                raise
    raise AssertionError("unreachable")


# Keeps what the page's first view (drawn before the kernel is ready) showed: its text, its key
# numbers and whether its figure was drawn (the interactive panel removes it later).
FIRST_VIEW_JS = """(() => {
  const observer = new MutationObserver(() => {
    const box = document.querySelector('.custops-first');
    if (box && box.querySelector('.js-plotly-plot .main-svg')) {
      const words = box.cloneNode(true);  // folder names (<code>) are names, not words
      words.querySelectorAll('code').forEach(e => e.remove());
      window.__custopsFirstView = {
        text: words.textContent, lang: box.getAttribute('lang'),
        spinner: (s => s ? getComputedStyle(s).animationName : null)(
          document.querySelector('#loading .spinner')),
        kpis: [...box.querySelectorAll('.custops-kpi-value')].map(e => e.textContent),
        title: (t => (t && (t.text || (typeof t === 'string' ? t : ''))) || '')(
          (box.querySelector('.js-plotly-plot').layout || {}).title)};
      observer.disconnect();
    }
  });
  observer.observe(document, {childList: true, subtree: true});
  // The page's figures in the order they were drawn (DRAW_ORDER_JS names them).
  window.__custopsDrawn = [];
  new MutationObserver(() => {
    for (const svg of document.querySelectorAll('.js-plotly-plot .main-svg')) {
      const plot = svg.closest('.js-plotly-plot');
      if (!window.__custopsDrawn.some(d => d[0] === plot)) {
        window.__custopsDrawn.push([plot, plot.closest('.custops-first') ? 'first'
          : plot.closest('.custops-lazy-figure') ? 'lazy' : null]);
      }
    }
  }).observe(document, {childList: true, subtree: true});
})();"""
# Each drawn figure, in drawing order, as "first" (the first view; removed once the panel drew)
# or "lazy" (the report below the panel), both known when drawn, else "panel" (the kernel's
# panel) or "other" (no longer on the page, or elsewhere).
DRAW_ORDER_JS = """() => window.__custopsDrawn.map(([p, kind]) => kind
    || (p.closest('.custops-dashboard .custops-output') ? 'panel' : 'other'))"""


def _open(browser, url: str, selector: str, *, attempts: int = 2):
    """A new browser context on ``url``, once ``selector`` shows.

    A page whose widgets reach the browser while its kernel is still executing the cells
    below the panel can miss the widget model ("widget model not found", a Voila /
    ipywidgets race: README traps); a reload draws it. That failure alone is retried once.
    Any other failure, or the race twice, fails with what the page and the console said, and
    the context is closed (its kernel must not outlive the test).
    """
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    for attempt in range(attempts):
        context = browser.new_context(accept_downloads=True)
        context.add_init_script(FIRST_VIEW_JS)
        page = context.new_page()
        console: list[str] = []
        page.on("console", lambda m, log=console: log.append(f"{m.type}: {m.text[:300]}"))
        page.offsite = []  # requests beyond the server (the pages are served offline)
        page.on("request", lambda r, log=page.offsite: log.append(r.url) if urlsplit(
            r.url).hostname not in (None, "127.0.0.1", "localhost") else None)
        try:
            page.goto(url, wait_until="domcontentloaded", timeout=90_000)
            deadline = time.monotonic() + 90
            while True:
                try:
                    page.wait_for_selector(selector, timeout=5_000)
                    return context, page
                except PlaywrightTimeout:
                    race = any("widget model not found" in line for line in console)
                    if race or time.monotonic() > deadline:
                        raise
        except PlaywrightTimeout as exc:
            text = page.inner_text("body")[-1500:] if not page.is_closed() else ""
            context.close()
            race = any("widget model not found" in line for line in console)
            if race and attempt < attempts - 1:
                continue
            raise AssertionError(f"{url}: {selector} never showed.\nPage: {text}\n"
                                 "Console:\n" + "\n".join(console[-30:])) from exc
    raise AssertionError("unreachable")


def _assert_voila_after_first_figure(page) -> None:
    """Voila's script is on the page once (the template's own tag removed) and was fetched
    after the first view drew its first figure (the page marks that moment in the figure's
    own task, before Voila's script is added in the same event)."""
    assert page.locator('script[src*="/voila.js"]').count() == 1
    voila = page.evaluate("""() => performance.getEntriesByType('resource')
        .filter(e => /\\/voila\\.js(\\?|$)/.test(e.name)).map(e => e.startTime)""")
    drawn = page.evaluate("() => window.custopsFirstDrawnAt")
    assert len(voila) == 1 and drawn is not None and voila[0] >= drawn, (voila, drawn)


def _kernels_report(served, log_path: Path) -> str:
    """For a failed kernel count: each kernel process (its kernel id, age, state) and the
    server's last custops lines, so a count that did not settle says which kernel stayed."""
    import psutil

    lines = []
    for pid in app_server.kernel_pids(served.pid):
        with contextlib.suppress(psutil.Error):
            process = psutil.Process(pid)
            ids = [part for part in process.cmdline() if part.endswith(".json")]
            lines.append(f"pid {pid} {process.status()} age {time.time() - process.create_time():.0f} s"
                         f" nice {process.nice()} {ids}")
    log = log_path.read_text("utf-8", "replace").splitlines() if log_path.exists() else []
    return "\n".join(lines + [line for line in log if "custops:" in line][-30:])


def _assert_clean(page) -> None:
    """No traceback, error output or stderr anywhere on the page."""
    text = page.inner_text("body")
    for marker in ("Traceback", "Error:", "There was an error", "ExecutionError",
                   "An exception occurred"):
        assert marker not in text, marker
    assert page.locator("[data-mime-type='application/vnd.jupyter.stderr']").count() == 0
    assert page.locator(".jp-OutputArea-output[data-mime-type*='error']").count() == 0


def _figure_title(page) -> str:
    return page.evaluate("""() => {
        const plot = document.querySelector('.custops-output .js-plotly-plot');
        const title = plot && plot.layout && plot.layout.title;
        return title ? (title.text || String(title)) : '';
    }""")


@pytest.mark.parametrize(("name", "zh_title"), [
    ("01_profile", "monthly.title"), ("02_segment", "seg.rfm_title"),
    ("03_churn", "churn.risk_title"), ("04_reach", "reach.plan_title")])
@pytest.mark.browser
@pytest.mark.slow
def test_dashboard_filters_translates_and_stays_clean(server, browser, run_dir, name, zh_title,
                                                       tmp_path):
    context, page = _open(browser, server.url(name), browser_tools.PANEL_FIGURE)
    try:
        # The first view came before the kernel, with the numbers the panel then showed.
        first = page.evaluate("() => window.__custopsFirstView")
        live = json.loads(page.evaluate(browser_tools.panel_state_js()))["kpis"]
        assert first is not None and first["lang"] == "en" and first["kpis"] == live
        _assert_voila_after_first_figure(page)
        assert first["spinner"] == "none"  # Voila's spinner (still there) not a CSS animation
        assert not page.locator(".custops-first").count()  # gone once the panel drew
        # the report below the panel waited for the panel's figure (Voila rendered it first,
        # near the top of a page not laid out yet, and it drew before the panel's)
        order = page.evaluate(DRAW_ORDER_JS)
        assert "panel" in order and "lazy" not in order[:order.index("panel")], order
        gate = page.evaluate("() => [window.custopsGateOpenedBy, window.custopsGateHeld]")
        assert gate[0] == "panel", gate  # not a timer, nor a page taken for one without panel
        assert page.offsite == []  # no fontawesome from a CDN (a failed request offline)
        column, index = browser_tools.FILTER_STEPS[name][0]
        page.evaluate(browser_tools.CHANGE_CLOCK_JS)  # the bench's in-page clock
        started = time.perf_counter()
        before, after = _change_filter(page, column, index)  # numbers and figure both change
        outside = time.perf_counter() - started
        assert json.loads(after)["kpis"] != json.loads(before)["kpis"]
        in_page = page.evaluate(browser_tools.CHANGE_WAIT_JS) / 1000
        assert 0 < in_page < outside  # from the pick to the frame showing it, inside the wait
        # every figure of the view is drawn: the first at once, the others after that paint
        page.wait_for_function("""drawn => {
            const all = document.querySelectorAll('.custops-output .custops-figure');
            return all.length > 0 && [...all].every(f => f.querySelector(drawn));
        }""", arg=browser_tools.DRAWN_TRACE, timeout=30_000)

        page.locator(".custops-lang button", has_text="中文").click()
        expected = t(zh_title, "zh", cut=t("seg.cut_median", "zh"))  # the run's, not 02's
        page.wait_for_function(
            """t => { const p = document.querySelector('.custops-output .js-plotly-plot');
                      return p && p.layout && JSON.stringify(p.layout.title).includes(t); }""",
            arg=expected, timeout=30_000)
        panel_text = page.inner_text(".custops-dashboard")
        assert t("dash.all", "zh") in panel_text and t("dash.reset", "zh") in panel_text
        assert expected in _figure_title(page)
        _assert_clean(page)

        if name == "03_churn":
            with page.expect_download(timeout=30_000) as download:
                page.locator(".custops-download-button").click()
            path = tmp_path / "priority.csv"
            download.value.save_as(path)
            rows = list(csv.DictReader(io.StringIO(path.read_text("utf-8-sig"))))
            scores = pd.read_parquet(run_dir / "artifacts" / "churn_scores.parquet")
            tier = panels.filter_values(scores, column)[index - 1]
            at_risk = scores[(scores[column] == tier) & (scores["risk_band"] != "low_risk")]
            assert len(rows) == len(at_risk) > 0
            phones = [row[t("dash.phone", "zh")] for row in rows]
            assert all(MASKED.match(phone) for phone in phones if phone)
            assert sum(bool(phone) for phone in phones) > 0.9 * len(phones)
            assert not re.search(r"(?<!\d)1\d{10}(?!\d)", path.read_text("utf-8-sig"))
            assert {row[t("churn.customer", "zh")] for row in rows} == set(at_risk["customer_id"])
    finally:
        context.close()


@pytest.mark.browser
@pytest.mark.slow
def test_a_page_whose_plotly_js_fails_still_gets_its_panel(server, browser):
    """Voila's scripts wait for the first view's first figure, which waits for plotly.js: a
    page whose plotly.js failed to load still starts them and shows the interactive panel."""
    context = browser.new_context()
    context.route(re.compile(r".*/plotly\.min\.js.*"), lambda route: route.abort())
    page = context.new_page()
    try:
        page.goto(server.url("02_segment"), wait_until="domcontentloaded", timeout=90_000)
        page.wait_for_selector(".custops-dashboard", timeout=90_000)
        assert page.evaluate("() => window.custopsPlotlyFailed") is True
        assert not page.locator(browser_tools.PANEL_FIGURE).count()  # no plotly, no figure
    finally:
        with contextlib.suppress(Exception):
            page.close(run_before_unload=True)
        context.close()


@pytest.mark.browser
@pytest.mark.slow
def test_landing_page_links_every_dashboard(server, browser):
    context, page = _open(browser, server.url(), ".custops-landing")
    try:
        hrefs = page.eval_on_selector_all(".custops-landing a", "els => els.map(e => e.href)")
        for name in panels.PANELS:
            for lang in ("en", "zh"):  # each link opens the page in its own language
                assert any(href.endswith(f"/voila/render/{name}.ipynb?lang={lang}")
                           for href in hrefs), (name, lang)
        text = page.inner_text(".custops-landing")
        assert "03 · Churn warning" in text and "03 · 流失预警" in text
        assert "as of 2026-09-30" in text
        _assert_clean(page)
    finally:
        context.close()


@pytest.mark.slow
def test_plotly_js_is_served_whole_compressed_and_cached(server):
    """The first views' plotly.js: the plotly package's file, gzip-compressed for a browser
    that accepts it, as is for one that does not, kept a year (versioned URL) and answered
    304 when the browser has it."""
    import gzip
    import urllib.error
    import urllib.request

    import plotly

    url = f"{server.base_url}/custops/static/plotly.min.js?v={plotly.__version__}"
    expected = (Path(plotly.__file__).resolve().parent / "package_data"
                / "plotly.min.js").read_bytes()
    tags = set()
    for coding in ("gzip, deflate, br", ""):
        request = urllib.request.Request(url, headers={"Accept-Encoding": coding})
        with urllib.request.urlopen(request, timeout=30) as response:
            body = response.read()
            headers = response.headers
        assert headers["Content-Type"].startswith("text/javascript")
        assert "max-age=31536000" in headers["Cache-Control"]
        assert "Accept-Encoding" in headers["Vary"]
        if coding:
            assert headers["Content-Encoding"] == "gzip" and len(body) < len(expected) / 2
            body = gzip.decompress(body)
        else:
            assert headers.get("Content-Encoding") is None
        assert body == expected
        tags.add(headers["Etag"])
        again = urllib.request.Request(url, headers={"Accept-Encoding": coding,
                                                     "If-None-Match": headers["Etag"]})
        with pytest.raises(urllib.error.HTTPError) as not_modified:
            urllib.request.urlopen(again, timeout=30)
        assert not_modified.value.code == 304
        head = urllib.request.Request(url, method="HEAD", headers={"Accept-Encoding": coding})
        with urllib.request.urlopen(head, timeout=30) as response:  # headers, no body
            assert response.read() == b"" and response.headers["Etag"] == headers["Etag"]
            assert int(response.headers["Content-Length"]) == int(headers["Content-Length"])
    assert len(tags) == 2  # one tag per coding


@pytest.mark.browser
@pytest.mark.slow
def test_kernels_stay_while_a_page_is_open_and_are_culled_after(server, browser):
    context, page = _open(browser, server.url("02_segment"), browser_tools.PANEL_FIGURE)
    try:
        time.sleep(ORPHAN_SECONDS + 8)  # longer than the orphan cull, but still connected
        assert server.kernel_count() >= 1
        _change_filter(page, "value_tier", 1)  # the kernel still answers
    finally:
        context.close()  # closes without beforeunload: as if the browser crashed
    # the page was heard from: its kernel goes after HEARD_WINDOWS orphan windows of silence
    deadline = time.monotonic() + ORPHAN_SECONDS * voila_app.HEARD_WINDOWS + 35
    while server.kernel_count() > 0 and time.monotonic() < deadline:
        time.sleep(0.5)
    assert server.kernel_count() == 0


@pytest.mark.browser
@pytest.mark.slow
def test_a_page_sent_with_its_cells_resets_the_tabs_reload_count(server, browser):
    """A page sent without its cells (its kernel failed) reloads itself, twice in a row at
    most per tab; a page that arrived whole starts that count again, so a tab that already
    used its two reloads still retries a later failure."""
    url = server.url("03_churn")
    key = "custops-reloads:/voila/render/03_churn.ipynb"
    context = browser.new_context()
    # this tab used both its reloads earlier (set once, before the first page's scripts run)
    context.add_init_script(f"""if (!sessionStorage.getItem('test-seeded')) {{
        sessionStorage.setItem('test-seeded', '1');
        sessionStorage.setItem({json.dumps(key)}, '2'); }}""")
    requests: list[str] = []
    failed_page: list[str] = []

    def serve(route):
        requests.append(route.request.url)
        if not failed_page:  # the first load: the real page, with its cells and kernel
            response = route.fetch(timeout=300_000)
            body = response.text()
            footer = re.search(r"<script[^>]*>\s*\(function \(\) \{\s*var key = "
                               r"'custops-reloads:'.*?</script>", body, re.S)
            assert footer, "the template's reload script is missing"
            # what the server sends when the page's kernel failed: no cells, no heartbeat
            failed_page.append(f"<!doctype html><html><body>{footer.group(0)}</body></html>")
            route.fulfill(response=response, body=body)
        else:
            route.fulfill(status=200, content_type="text/html", body=failed_page[0])

    context.route("**/voila/render/03_churn.ipynb*", serve)
    page = context.new_page()
    try:
        page.goto(url, wait_until="domcontentloaded", timeout=300_000)
        page.wait_for_function("() => window.custopsBeating === true", timeout=120_000)
        assert page.evaluate(f"sessionStorage.getItem({json.dumps(key)})") is None
        page.goto(url, wait_until="domcontentloaded")  # now the kernel fails: no cells
        # the failed page reloads twice (5 s apart), then stops: four requests in all
        deadline = time.monotonic() + 60
        while len(requests) < 4 and time.monotonic() < deadline:
            page.wait_for_timeout(500)
        assert len(requests) >= 3, "the failed page did not reload itself"
        assert len(requests) == 4, f"the failed page reloaded {len(requests) - 2} times"
        page.wait_for_load_state("domcontentloaded")
        page.wait_for_timeout(7_000)  # longer than the page's reload delay: none comes
        assert len(requests) == 4, "the failed page reloaded more than twice"
        assert page.evaluate(f"sessionStorage.getItem({json.dumps(key)})") == "2"
    finally:
        with contextlib.suppress(Exception):
            page.close(run_before_unload=True)
        context.close()


def _thread_nices(pid: int) -> set[int]:
    import psutil  # noqa: PLC0415

    nices = set()
    for thread in psutil.Process(pid).threads():
        with contextlib.suppress(OSError):
            nices.add(os.getpriority(os.PRIO_PROCESS, thread.id))
    return nices


def _kernel_process(server_pid: int, kernel_id: str) -> int:
    import psutil  # noqa: PLC0415

    for pid in app_server.kernel_pids(server_pid):
        if any(kernel_id in part for part in psutil.Process(pid).cmdline()):
            return pid
    raise AssertionError(f"no process for kernel {kernel_id}")


@pytest.mark.browser
@pytest.mark.slow
def test_pooled_kernels_yield_the_cpu_until_a_page_takes_one(run_dir, browser, tmp_path):
    """A refill runs its notebook at a lower priority (every thread at POOL_NICE) so it does
    not slow the pages being drawn; the kernel a page takes runs at normal priority again
    (lowering the niceness needs root or CAP_SYS_NICE: without it the kernel stays low)."""
    pools = len(panels.PANELS)
    with app_server.start_server(run_dir, preheat=True, pool_size=1, max_kernels=pools + 2,
                                 log_path=tmp_path / "voila.log",
                                 timeout=START_SECONDS) as served:
        deadline = time.monotonic() + 240  # the pools start with the server
        while time.monotonic() < deadline:
            pooled = app_server.kernel_pids(served.pid)
            low = [pid for pid in pooled if _thread_nices(pid) == {voila_app.POOL_NICE}]
            if len(low) == pools:
                break
            time.sleep(1)
        assert len(low) == len(pooled) == pools, "the pools do not run at the pool's priority"
        context, page = _open(browser, served.url("02_segment"), browser_tools.PANEL_FIGURE)
        try:
            kernel_id = page.evaluate("() => JSON.parse(document.getElementById("
                                      "'jupyter-config-data').textContent).kernelId")
            taken = _kernel_process(served.pid, kernel_id)
            assert taken in pooled  # the page took a ready kernel
            # a ready kernel's page arrives whole at once: Voila's script waited for plotly.js
            _assert_voila_after_first_figure(page)
            can_lower = os.geteuid() == 0
            assert _thread_nices(taken) == ({0} if can_lower else {voila_app.POOL_NICE})
            # its refill starts at the pool's priority too
            deadline = time.monotonic() + 60
            fresh: list[int] = []
            while time.monotonic() < deadline:
                fresh = [pid for pid in app_server.kernel_pids(served.pid) if pid not in pooled]
                if fresh and all(_thread_nices(pid) == {voila_app.POOL_NICE} for pid in fresh):
                    break
                time.sleep(1)
            assert fresh and all(_thread_nices(pid) == {voila_app.POOL_NICE} for pid in fresh)
        finally:
            with contextlib.suppress(Exception):
                page.close(run_before_unload=True)
            context.close()


def _set_slider(page, selector: str, value: str) -> None:
    """Type a value into an ipywidgets slider's editable readout, as a user can."""
    readout = page.locator(f"{selector} .widget-readout")
    readout.click()
    page.keyboard.press("Control+A")
    page.keyboard.type(value)
    page.keyboard.press("Enter")


@pytest.mark.browser
@pytest.mark.slow
def test_reach_dashboard_sliders_replan_and_download_the_contact_list(server, browser, run_dir,
                                                                       tmp_path):
    """Budget and channel sliders re-run the optimizer on the stored inputs: the numbers on
    the page are those of the plan at the new settings, and the download is that plan."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout


    context_, page = _open(browser, server.url("04_reach"), browser_tools.PANEL_FIGURE)
    try:
        for attempt in range(3):  # the widgets may attach a moment after the first figure
            before = page.evaluate(browser_tools.panel_state_js())
            _set_slider(page, ".custops-budget", "100" if attempt % 2 == 0 else "150")
            try:
                after = browser_tools.wait_for_change(page, before, timeout_ms=20_000)
                break
            except PlaywrightTimeout:
                if attempt == 2:
                    raise
        budget = 100.0 if attempt % 2 == 0 else 150.0
        kpis = json.loads(after)["kpis"]
        _set_slider(page, ".custops-capacity-push", "0")
        after_push = browser_tools.wait_for_change(page, after, timeout_ms=20_000)

        inputs = catalog.ARTIFACTS["reach_inputs"].read(run_dir / "artifacts")
        seed = json.loads((run_dir / "manifest.json").read_text("utf-8"))["parameters"]["seed"]
        channels = inputs.channels.assign(daily_capacity=[
            0.0 if c == "push" else min(float(v) * inputs.params.campaign_days,
                                        len(inputs.candidates))
            for c, v in zip(inputs.channels["channel"], inputs.channels["daily_capacity"],
                            strict=True)])
        params = dataclasses.replace(inputs.params, budget=budget, campaign_days=1)
        expected = reach.build_plan(inputs.candidates, channels, inputs.eligible, params,
                                    seed=seed, method="lagrangian")
        assert json.loads(after_push)["kpis"][0] == f"{len(expected.plan):,}"
        assert float(kpis[2].replace(",", "")) <= budget
        assert json.loads(after_push)["kpis"] != kpis

        with page.expect_download(timeout=30_000) as download:
            page.locator(".custops-download-button").click()
        path = tmp_path / "contacts.csv"
        download.value.save_as(path)
        rows = list(csv.DictReader(io.StringIO(path.read_text("utf-8-sig"))))
        assert [r["customer_id"] for r in rows] == expected.plan["customer_id"].tolist()
        assert "push" not in {r["channel"] for r in rows}
        assert all(MASKED.match(r["phone"]) for r in rows if r["phone"])
        assert not re.search(r"(?<!\d)1\d{10}(?!\d)", path.read_text("utf-8-sig"))
        _assert_clean(page)
    finally:
        context_.close()


@pytest.mark.slow
def test_a_page_that_never_connects_loses_its_kernel_and_a_heartbeat_keeps_it(run_dir,
                                                                            tmp_path):
    """A page fetched but never opened in a browser (no websocket) has its kernel shut down
    soon after; while the page's heartbeat (``GET /api/kernels/<id>``, sent by the page
    template) comes, the kernel stays even without a websocket."""
    import urllib.request

    with app_server.start_server(run_dir, orphan_seconds=6,
                                 log_path=tmp_path / "voila.log") as served:
        with urllib.request.urlopen(served.url("02_segment"), timeout=300) as response:
            page = response.read().decode("utf-8")
        assert "function beat()" in page  # the custops template, with its heartbeat
        kernel_id = json.loads(re.search(
            r'<script id="jupyter-config-data" type="application/json">(.*?)</script>', page,
            re.S).group(1))["kernelId"]
        assert served.kernel_count() == 1
        beat = f"{served.base_url}/api/kernels/{kernel_id}"
        for _ in range(8):  # 24 s of heartbeats: longer than orphan_seconds + the check
            with urllib.request.urlopen(beat, timeout=30) as response:
                assert json.loads(response.read())["id"] == kernel_id
            time.sleep(3)
        assert served.kernel_count() == 1
        deadline = time.monotonic() + 60
        while served.kernel_count() > 0 and time.monotonic() < deadline:
            time.sleep(1)
        assert served.kernel_count() == 0


@pytest.mark.slow
def test_the_servers_kernels_are_quiet_and_listen_below_the_ephemeral_range(run_dir, tmp_path):
    """Voila's kernels, pooled and started for a page alike, start as the report runner's do
    (``custops.kernel_logging``): the server's log (its stdout and stderr, which the kernels
    inherit) has no "running over TCP without encryption" line per kernel. And they listen on
    ports below the ephemeral range (``custops.kernel_ports``), which the pages' own
    connections cannot take before the kernel binds them."""
    import urllib.request

    import psutil

    from custops import kernel_ports
    from custops.kernel_logging import TCP_WARNING

    log_path = tmp_path / "voila.log"
    pools = len(panels.PANELS)
    with app_server.start_server(run_dir, preheat=True, pool_size=1, max_kernels=pools + 2,
                                 log_path=log_path, timeout=START_SECONDS) as served:
        # a pooled kernel's page, and the landing page (never pooled: a kernel of its own);
        # a page arrives once its kernel has started and run the notebook
        for url in (served.url("02_segment"), served.url()):
            with urllib.request.urlopen(url, timeout=300) as response:
                assert response.status == 200
        # each kernel's five ports, from its connection file (``-f``; a refill may still be
        # starting, its ports not bound yet: the runner's test checks the binding)
        ports, kernels = set(), 0
        for kernel in app_server.kernel_pids(served.pid):
            with contextlib.suppress(psutil.Error, OSError):  # culled or replaced meanwhile
                command = psutil.Process(kernel).cmdline()
                info = json.loads(Path(command[command.index("-f") + 1]).read_text("utf-8"))
                ports |= {info[f"{channel}_port"]
                          for channel in ("shell", "iopub", "stdin", "hb", "control")}
                kernels += 1
        time.sleep(2)  # the kernels' own log lines reach the file
    log = log_path.read_text("utf-8", "replace")
    assert log.count("Kernel started:") >= pools + 1
    assert kernels >= pools + 1 and len(ports) == 5 * kernels
    span = kernel_ports.OffRangePortCache().span
    if span is not None:  # room below this machine's ephemeral range
        assert all(span[0] <= port <= span[1] for port in ports), sorted(ports)
    assert TCP_WARNING not in log


@pytest.mark.browser
@pytest.mark.slow
def test_beyond_the_kernel_cap_a_busy_page_retries_until_served(run_dir, browser, tmp_path):
    """One ready kernel per dashboard and a cap of five: two pages take two ready kernels
    (one pool refills, the cap stops the other), a third page gets the busy page in the
    browser's language instead of a kernel; once a page closes the busy page is served by
    itself, and once every page is closed the server is back to its pools."""
    # The module's browser (a second sync Playwright inside the first one's asyncio loop is
    # refused), with a server of its own: a small cap.
    pools = len(panels.PANELS)
    served = app_server.start_server(run_dir, preheat=True, pool_size=1, max_kernels=pools + 1,
                                     orphan_seconds=CULL_SECONDS,
                                     log_path=tmp_path / "voila.log")
    try:
        deadline = time.monotonic() + 180
        while served.kernel_count() < pools and time.monotonic() < deadline:
            time.sleep(1)
        assert served.kernel_count() == pools
        chrome = browser  # the contexts below are this test's; the browser is the module's
        first, _ = _open(chrome, served.url("02_segment"), browser_tools.PANEL_FIGURE)
        second, second_page = _open(chrome, served.url("03_churn"),
                                    browser_tools.PANEL_FIGURE)
        assert served.kernel_count() <= pools + 1

        waiting = chrome.new_context(locale="zh-CN")
        page = waiting.new_page()
        statuses: list[int] = []
        rooms: list[bool] = []
        page.on("response", lambda r: statuses.append(r.status)
                if "/voila/render/" in r.url else None)

        def room_answer(response) -> None:
            if "/custops/room/" in response.url:
                # the page may reload on that very answer: its body is then gone (Playwright
                # raises); an answer that said "room" is the one the page reloaded on
                try:
                    rooms.append(response.json()["room"])
                except Exception:  # noqa: BLE001 - Playwright's Error, the page navigated
                    rooms.append(True)

        page.on("response", room_answer)
        page.goto(served.url("03_churn"), wait_until="domcontentloaded")
        assert statuses and statuses[0] == 503
        busy = page.inner_text(".custops-busy")
        assert t("dash.busy_text", "zh") in busy
        # the dashboard's first view (the run's numbers and figure) while the page waits
        page.wait_for_selector(FIRST_FIGURE, timeout=60_000)
        kpis = page.locator(".custops-first .custops-kpi-value").all_inner_texts()
        assert kpis and all(re.fullmatch(r"[\d,.]+", k) for k in kpis)
        page.wait_for_timeout(4_500)  # it asked at least once, still busy: no reload
        assert rooms and not any(rooms) and statuses == [503]
        assert served.kernel_count() <= pools + 1

        first.close()  # as a crashed browser: no beforeunload, the kernel is culled (after
        # HEARD_WINDOWS orphan windows: the page had been heard from)
        page.wait_for_selector(browser_tools.PANEL_FIGURE, timeout=180_000)
        assert statuses[-1] == 200
        _assert_clean(page)
        assert served.kernel_count() <= pools + 1
        second_page.close(run_before_unload=True)  # a closed tab: shut down at once
        second.close()
        waiting.close()
        # the waiting page's kernel goes after HEARD_WINDOWS orphan windows, counted from its
        # websocket's close (a socket the server notices late: up to a ping interval and a
        # ping timeout of Jupyter's, 30 s each, on a loaded machine)
        # The count must hold, not just touch, the pools: a pool refilling after the closed
        # tab's kernel has gone starts its process a few seconds later (its pause, then its
        # page's render), while the waiting page's kernel still lives — for that moment the
        # count reads 4 with one kernel too many to come.
        deadline = time.monotonic() + 180
        settled = 0
        while settled < 12 and time.monotonic() < deadline:
            settled = settled + 1 if served.kernel_count() == pools else 0
            time.sleep(1)
        # the pools, refilled; nothing else
        assert served.kernel_count() == pools, _kernels_report(served, tmp_path / "voila.log")
    finally:
        served.stop()


@pytest.mark.browser
@pytest.mark.slow
def test_a_page_served_after_the_busy_page_keeps_its_kernel_while_slow_to_connect(
        run_dir, browser, tmp_path):
    """A page that went through the busy page, then took longer than ``orphan_seconds`` to
    connect to its kernel (a browser short of CPU: here Voila's script is held back), keeps
    its kernel on its heartbeat alone — even with beats further apart than ``orphan_seconds``
    (every 10 s, the window here 8 s: as a starved browser's late timers) — then connects and
    works; the tab it waited for, closed (``beforeunload``), gave its kernel back at once."""
    orphan = 8.0
    pools = len(panels.PANELS)
    served = app_server.start_server(run_dir, preheat=True, pool_size=1, max_kernels=pools + 1,
                                     orphan_seconds=orphan, log_path=tmp_path / "voila.log")
    contexts = []
    try:
        deadline = time.monotonic() + 180
        while served.kernel_count() < pools and time.monotonic() < deadline:
            time.sleep(1)
        assert served.kernel_count() == pools
        first, first_page = _open(browser, served.url("02_segment"), browser_tools.PANEL_FIGURE)
        contexts.append(first)
        second, _ = _open(browser, served.url("03_churn"), browser_tools.PANEL_FIGURE)
        contexts.append(second)

        waiting = browser.new_context()
        contexts.append(waiting)
        held = []  # Voila's script for the page, held back: the page cannot connect
        waiting.route("**/voila/static/voila.js", lambda route: held.append(route))
        page = waiting.new_page()
        statuses: list[int] = []
        beats: list[float] = []
        page.on("response", lambda r: statuses.append(r.status)
                if "/voila/render/" in r.url else None)
        page.on("request", lambda r: beats.append(time.monotonic())
                if re.search(r"/api/kernels/[0-9a-f-]+$", r.url) else None)
        page.goto(served.url("03_churn"), wait_until="domcontentloaded")
        assert statuses == [503]

        first_page.close(run_before_unload=True)  # a closed tab: its kernel back at once
        first.close()
        page.wait_for_selector("#jupyter-config-data", state="attached", timeout=120_000)
        assert statuses == [503, 200]
        kernel_id = page.evaluate("() => JSON.parse(document.getElementById("
                                  "'jupyter-config-data').textContent).kernelId")
        log = (tmp_path / "voila.log").read_text("utf-8", "replace")
        assert "'_xsrf' argument missing" not in log  # the beacon was accepted

        deadline = time.monotonic() + 60
        while not held and time.monotonic() < deadline:  # the page reached Voila's script
            page.wait_for_timeout(200)
        assert held
        # longer than a page never heard from keeps its kernel (the window and the check)
        page.wait_for_timeout((orphan + voila_app.CHECK_SECONDS + 7) * 1000)
        assert beats, "the page's heartbeat never reached the server"
        log = (tmp_path / "voila.log").read_text("utf-8", "replace")
        assert f"shutting down kernel {kernel_id}" not in log
        assert f"first heartbeat of kernel {kernel_id}" in log
        assert statuses == [503, 200]  # never reloaded: its kernel was there all along

        for route in held:
            route.continue_()
        page.wait_for_selector(browser_tools.PANEL_FIGURE, timeout=120_000)
        _change_filter(page, "value_tier", 1)  # its own kernel answers
        _assert_clean(page)
        assert statuses == [503, 200]
    finally:
        for context in contexts:
            with contextlib.suppress(Exception):
                context.close()
        served.stop()


def _draw_every_figure(page, timeout_ms: int = 300_000) -> None:
    """Scroll through the report below the panel as a reader does: its figures draw once
    they come near the window (``figure_html(lazy=True)``); wait until each is drawn."""
    # Voila shows the cells (and drops its spinner) once every output has been rendered
    page.wait_for_function("() => !document.getElementById('loading') && "
                           "document.querySelectorAll('.custops-lazy-figure').length > 0",
                           timeout=timeout_ms)
    count = page.locator(".custops-lazy-figure").count()
    for index in range(count):
        figure = page.locator(".custops-lazy-figure").nth(index)
        if not figure.is_visible():  # the page's own sections, hidden by the panel's language
            continue
        figure.scroll_into_view_if_needed()
        figure.locator(".main-svg").first.wait_for(state="attached", timeout=timeout_ms)
    page.evaluate("window.scrollTo(0, 0)")


def _page_texts(page) -> list[str]:
    """The text nodes a reader sees: not scripts, styles or ``<code>`` (folder names)."""
    return page.evaluate("""() => {
        const out = [];
        const walk = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
        for (let n = walk.nextNode(); n; n = walk.nextNode()) {
            const text = n.textContent.trim();
            if (text && !n.parentElement.closest('script,style,code,title')) out.push(text);
        }
        return out;
    }""")


@pytest.mark.parametrize("name", ["01_profile", "02_segment", "03_churn", "04_reach"])
@pytest.mark.browser
@pytest.mark.slow
def test_the_chinese_link_opens_a_page_that_is_chinese_throughout(server, browser, name):
    """The landing page's Chinese link (``?lang=zh``) opens the dashboard in Chinese — the panel
    and the whole report below it: no Latin-alphabet word in the page's text outside the
    allow-list of ``latin_words`` (the test the zh reports pass)."""
    from latin_words import findings

    context, page = _open(browser, f"{server.url(name)}?lang=zh", browser_tools.PANEL_FIGURE)
    try:
        # the report below the panel is drawn while the kernel runs the notebook
        page.wait_for_selector(".jp-Cell .jp-RenderedMarkdown h1", state="attached",
                               timeout=300_000)
        _draw_every_figure(page)
        heading = page.inner_text(".jp-RenderedMarkdown h1")
        assert heading.strip() == t(f"notebook.{name}", "zh")
        found = findings((name, text) for text in _page_texts(page))
        assert not found, "\n".join(found)
        _assert_clean(page)
    finally:
        context.close()


@pytest.mark.browser
@pytest.mark.slow
def test_the_language_switch_translates_the_report_below_the_panel(server, browser):
    from latin_words import latin_words

    context, page = _open(browser, f"{server.url('02_segment')}?lang=en",
                          browser_tools.PANEL_FIGURE)
    try:
        _draw_every_figure(page)
        english = page.locator(".jp-RenderedMarkdown h3").all_inner_texts()
        assert t("seg.tier_title", "en") in english
        page.locator(".custops-lang button", has_text="中文").click()
        translated = ".custops-page-report .jp-RenderedMarkdown h3"
        page.wait_for_function(
            """t => [...document.querySelectorAll('.custops-page-report h3')]
                       .some(h => h.innerText.includes(t))""",
            arg=t("seg.tier_title", "zh"), timeout=60_000)
        chinese = page.locator(translated).all_inner_texts()
        assert len(chinese) == len(english)  # every section of the page, translated
        assert not [h for h in chinese if latin_words(h)], chinese
        visible = [h for h in page.locator(".jp-RenderedMarkdown h3").all()
                   if h.is_visible()]
        assert not [h for h in visible if latin_words(h.inner_text())]  # English ones hidden
        page.locator(".custops-lang button", has_text="English").click()
        page.wait_for_function(
            "() => !document.querySelector('.custops-page-report .jp-RenderedMarkdown')",
            timeout=60_000)
        assert t("seg.tier_title", "en") in [h.inner_text() for h in page.locator(
            ".jp-RenderedMarkdown h3").all() if h.is_visible()]
        _assert_clean(page)
    finally:
        context.close()


# -- a Chinese run's dashboards ------------------------------------------------------------------

@pytest.fixture(scope="module")
def zh_run_dir(chromium, tmp_path_factory) -> Path:
    from custops.run import runner as report

    out = tmp_path_factory.mktemp("dash-zh") / "report"
    report.run_report(SAMPLE, out, lang="zh", log=lambda line: None)
    return out


@pytest.fixture(scope="module")
def zh_server(zh_run_dir, tmp_path_factory):
    yield from _module_server(zh_run_dir, tmp_path_factory, "voila-zh")


def _assert_chinese(page, name: str) -> None:
    """The whole page in Chinese: its heading, the panel, the report below it; no
    Latin-alphabet word outside the allow-list."""
    from latin_words import findings

    page.wait_for_selector(".jp-Cell .jp-RenderedMarkdown h1", state="attached",
                           timeout=300_000)
    _draw_every_figure(page)
    assert page.inner_text(".jp-RenderedMarkdown h1").strip() == t(f"notebook.{name}", "zh")
    panel = page.inner_text(".custops-dashboard")
    assert t("dash.reset", "zh") in panel and t("dash.view", "zh") in panel
    found = findings((name, text) for text in _page_texts(page))
    assert not found, "\n".join(found)
    _assert_clean(page)


@pytest.mark.parametrize("name", ["01_profile", "02_segment", "03_churn", "04_reach"])
@pytest.mark.browser
@pytest.mark.slow
def test_a_chinese_runs_dashboard_opens_in_chinese_and_switches_back(zh_server, browser, name):
    """A zh run's dashboard, opened without ``?lang=``, is Chinese throughout — its first view
    (drawn before the kernel), the panel and the report below — and is Chinese throughout
    again after switching to English and back."""
    from latin_words import latin_words

    context, page = _open(browser, zh_server.url(name), browser_tools.PANEL_FIGURE)
    try:
        first = page.evaluate("() => window.__custopsFirstView")
        assert first is not None and first["lang"] == "zh"
        assert not latin_words(first["text"]) and not latin_words(first["title"])
        _assert_chinese(page, name)

        page.locator(".custops-lang button", has_text="English").click()
        page.wait_for_function(  # the report below the panel, drawn again in English
            """t => [...document.querySelectorAll('.custops-page-report h1, .custops-page-report h2')]
                       .some(h => h.innerText.includes(t))""",
            arg=t(f"notebook.{name}", "en"), timeout=120_000)
        assert t("dash.reset", "en") in page.inner_text(".custops-dashboard")
        page.locator(".custops-lang button", has_text="中文").click()
        page.wait_for_function(
            "() => !document.querySelector('.custops-page-report .jp-RenderedMarkdown')",
            timeout=60_000)
        page.wait_for_function(
            "t => document.querySelector('.custops-dashboard').innerText.includes(t)",
            arg=t("dash.reset", "zh"), timeout=60_000)
        _assert_chinese(page, name)
    finally:
        context.close()


@pytest.mark.browser
@pytest.mark.slow
def test_a_chinese_runs_landing_page_opens_chinese_pages(zh_server, browser):
    """On a zh run's landing page every Chinese link opens its dashboard in Chinese (the
    English link of the same page in English)."""
    context, page = _open(browser, zh_server.url(), ".custops-landing")
    try:
        for name in panels.PANELS:
            link = page.locator(f'.custops-landing a[lang="zh"][href*="{name}.ipynb"]')
            assert link.inner_text() == t(f"notebook.{name}", "zh")
            # the link's own address (a click opens a new tab: JupyterLab's HTML renderer
            # gives links target=_blank)
            page.goto(link.evaluate("a => a.href"), wait_until="domcontentloaded")
            # the page's first view and its report, in Chinese (the panel is the other
            # tests'; here only the language the link opens)
            page.wait_for_selector('.custops-first[lang="zh"], .custops-dashboard',
                                   timeout=300_000)
            page.wait_for_selector(".jp-RenderedMarkdown h1", timeout=300_000)
            assert page.inner_text(".jp-RenderedMarkdown h1").strip() == t(
                f"notebook.{name}", "zh")
            _assert_clean(page)
            page.goto(zh_server.url(), wait_until="domcontentloaded")
            page.wait_for_selector(".custops-landing", timeout=120_000)
        english = page.locator('.custops-landing a[lang="en"][href*="03_churn.ipynb"]')
        page.goto(english.evaluate("a => a.href"), wait_until="domcontentloaded")
        page.wait_for_selector(".jp-RenderedMarkdown h1", timeout=300_000)
        assert page.inner_text(".jp-RenderedMarkdown h1").strip() == t(
            "notebook.03_churn", "en")
    finally:
        context.close()


@pytest.mark.browser
@pytest.mark.slow
def test_a_password_guards_the_pages_in_the_browser(run_dir, browser, tmp_path):
    """With a password (given through the environment, held by the server only as a hash) a
    dashboard sends the browser to the login page: a wrong password is refused there, the
    right one opens the dashboard."""
    import psutil

    secret = "correct horse battery"
    served = app_server.start_server(run_dir, password=secret,
                                     log_path=tmp_path / "voila.log", timeout=START_SECONDS)
    context = browser.new_context()
    try:
        assert not any(secret in part for part in psutil.Process(served.pid).cmdline())
        page = context.new_page()
        page.goto(served.url("03_churn"), wait_until="domcontentloaded")
        assert "/login?next=" in page.url
        assert not page.locator(".custops-dashboard, .custops-first").count()
        page.fill("#password_input", "wrong horse")
        page.locator("form button[type=submit], form input[type=submit]").first.click()
        page.wait_for_load_state("domcontentloaded")
        assert "/login" in page.url and page.locator("#password_input").count() == 1
        assert served.kernel_count() == 0  # refused before any page was rendered

        page.fill("#password_input", secret)
        page.locator("form button[type=submit], form input[type=submit]").first.click()
        page.wait_for_selector(browser_tools.PANEL_FIGURE, timeout=300_000)
        assert "/voila/render/03_churn.ipynb" in page.url
        _assert_clean(page)
        for kernel in app_server.kernel_pids(served.pid):  # kernels never see the secret
            assert secret not in "\0".join(psutil.Process(kernel).environ().values())
    finally:
        context.close()
        served.stop()


# -- a page whose widgets never draw recovers by itself ----------------------------------------

RECOVERY_SECONDS = 20  # the recovery test server's `widget_seconds`
KERNEL_CHANNELS = re.compile(r".*/api/kernels/[^/]+/channels.*")
VOILA_OUTPUTS = "#rendered_cells .jp-OutputArea-output"
WIDGET_WAIT_MASKED_JS = """() => {
  const waiting = [...document.querySelectorAll('#rendered_cells .jp-OutputArea-output')]
    .filter(o => o.textContent.trim() === 'Loading widget...');
  return waiting.length > 0 && waiting.every(
    o => getComputedStyle(o).color === 'rgba(0, 0, 0, 0)');
}"""
INJECT_WIDGET_ERROR_JS = """(() => {
  // What Voila's widget renderer writes where a widget model went missing (the widget race)
  const observer = new MutationObserver(() => {
    const cells = document.getElementById('rendered_cells');
    const output = cells && cells.querySelector('.jp-OutputArea-output');
    if (output && !document.getElementById('test-widget-error')) {
      const node = document.createElement('div');
      node.id = 'test-widget-error';
      node.className = 'jp-OutputArea-output';
      node.textContent = 'Error displaying widget: model not found';
      output.parentElement.appendChild(node);
      observer.disconnect();
    }
  });
  observer.observe(document, {childList: true, subtree: true});
})();"""


@pytest.fixture(scope="module")
def recovery_server(run_dir, tmp_path_factory):
    """A server whose pages give up on their widgets after ``RECOVERY_SECONDS``."""
    import psutil

    log_path = tmp_path_factory.mktemp("recovery") / "voila.log"
    started = app_server.start_server(run_dir, cull_idle_timeout=IDLE_CULL_SECONDS,
                                      cull_interval=1, orphan_seconds=ORPHAN_SECONDS,
                                      widget_seconds=RECOVERY_SECONDS, log_path=log_path,
                                      timeout=START_SECONDS)
    kernels: list[int] = []
    try:
        yield started
        kernels = app_server.kernel_pids(started.pid)
    finally:
        started.stop()
    assert not [pid for pid in kernels if psutil.pid_exists(pid)], "kernels outlived Voila"


# A waiting page's motion: running CSS animations (each makes the browser draw 60 frames a
# second for as long as it runs), where the first view's wait bar stands, how Voila's spinner
# turns (None once Voila's scripts have removed it).
WAITING_MOTION_JS = """() => ({
  running: document.getAnimations().filter(a => a.playState === 'running')
    .map(a => a.animationName || a.transitionProperty || 'animation'),
  bar: (b => b ? b.style.marginLeft : null)(document.querySelector('.custops-first-wait i')),
  spinner: (s => s ? getComputedStyle(s).animationName : null)(
    document.querySelector('#loading .spinner'))})"""


def _first_load_without_widgets(context, *, inject_error: bool = False) -> dict:
    """The first page of ``context`` gets a kernel channel that never answers (its widgets'
    state never arrives: the panel cannot draw; with ``inject_error`` the page also shows
    the widget renderer's "model not found" text); later pages connect to their kernel."""
    seen = {"channels": 0, "pages": 0}

    def channel(ws) -> None:
        seen["channels"] += 1
        if seen["channels"] > 1:
            ws.connect_to_server()  # later loads: the real kernel (messages pass through)
        # first load: a socket that opens and then says nothing, as a lost widget state

    context.route_web_socket(KERNEL_CHANNELS, channel)
    context.on("request", lambda r: seen.__setitem__("pages", seen["pages"] + 1)
               if "/voila/render/" in r.url and r.resource_type == "document" else None)
    if inject_error:
        context.add_init_script("if (!sessionStorage.getItem('test-injected')) {"
                                "sessionStorage.setItem('test-injected', '1');"
                                + INJECT_WIDGET_ERROR_JS + "}")
    return seen


def _wait_kernels(server, count: int, seconds: float = 120) -> None:
    deadline = time.monotonic() + seconds
    while server.kernel_count() > count and time.monotonic() < deadline:
        time.sleep(1)
    assert server.kernel_count() <= count


@pytest.mark.browser
@pytest.mark.slow
def test_a_page_whose_widgets_never_draw_reloads_once_and_is_served(recovery_server, browser):
    """A page sent whole, with a live kernel, whose widgets' state never reaches it (the
    kernel channel stays silent) shows its first view, and ``widget_seconds`` after Voila's
    scripts rendered its outputs reloads itself once: its kernel is given back, the new page
    draws the panel and the tab's reload count starts again."""
    context = browser.new_context(locale="zh-CN")
    seen = _first_load_without_widgets(context)
    console: list[str] = []
    page = context.new_page()
    page.on("console", lambda m: console.append(m.text))
    url = recovery_server.url("02_segment") + "?lang=zh"
    key = "custops-widget-reloads:/voila/render/02_segment.ipynb"
    try:
        page.goto(url, wait_until="domcontentloaded", timeout=300_000)
        page.wait_for_selector(FIRST_FIGURE, timeout=120_000)
        # Voila's scripts have rendered the outputs (the widgets' place): the clock starts
        page.wait_for_selector(VOILA_OUTPUTS, state="attached", timeout=180_000)
        started = time.monotonic()
        # meanwhile Voila's English "Loading widget..." does not show on this Chinese page
        page.wait_for_function(WIDGET_WAIT_MASKED_JS, timeout=30_000)
        # the page waits without a CSS animation (a frame 60 times a second): the first
        # view's bar moves a step a second from a timer, Voila's spinner does not spin
        motion = page.evaluate(WAITING_MOTION_JS)
        assert motion["running"] == [] and motion["spinner"] in (None, "none"), motion
        assert motion["bar"] is not None, motion
        page.wait_for_function(f"""() => document.querySelector('.custops-first-wait i')
                                 .style.marginLeft !== {json.dumps(motion['bar'])}""",
                               timeout=5_000)
        # the page recovers by itself: the panel of a second page load
        page.wait_for_selector(browser_tools.PANEL_FIGURE, timeout=300_000)
        assert seen["pages"] == 2 and seen["channels"] >= 2
        assert time.monotonic() - started >= RECOVERY_SECONDS - 3  # not before its time
        assert any(f"no panel after {RECOVERY_SECONDS} s): reloading" in line
                   for line in console), console[-20:]
        page.wait_for_function("() => window.custopsRecovery.state === 'drawn'",
                               timeout=10_000)
        assert page.evaluate(f"sessionStorage.getItem({json.dumps(key)})") is None
        _assert_clean(page)
        _assert_chinese(page, "02_segment")
        assert recovery_server.kernel_count() <= 1  # the first load's kernel was given back
    finally:
        with contextlib.suppress(Exception):
            page.close(run_before_unload=True)
        context.close()
    _wait_kernels(recovery_server, 0)


@pytest.mark.browser
@pytest.mark.slow
def test_a_page_showing_a_missing_widget_model_reloads_at_once_and_gives_up_after_one(
        recovery_server, browser):
    """A page whose widget renderer says "Error displaying widget: model not found" hides
    that English text and reloads at once (not after ``widget_seconds``); a tab that already
    reloaded for its widgets does not loop: it keeps its first view and says why in the
    console."""
    context = browser.new_context()
    seen = _first_load_without_widgets(context, inject_error=True)
    console: list[str] = []
    page = context.new_page()
    page.on("console", lambda m: console.append(m.text))
    try:
        page.goto(recovery_server.url("03_churn"), wait_until="domcontentloaded",
                  timeout=300_000)
        # Voila's scripts have rendered the outputs (the widgets' place): the clock starts
        page.wait_for_selector(VOILA_OUTPUTS, state="attached", timeout=180_000)
        started = time.monotonic()
        page.wait_for_selector(browser_tools.PANEL_FIGURE, timeout=300_000)
        assert seen["pages"] == 2
        assert any("(widget model missing): reloading" in line for line in console)
        assert time.monotonic() - started < 120  # at once, then a page load
        _assert_clean(page)
    finally:
        with contextlib.suppress(Exception):
            page.close(run_before_unload=True)
        context.close()
    _wait_kernels(recovery_server, 0)

    # a second failure in a tab that has just reloaded for its widgets: no second reload
    context = browser.new_context()
    context.add_init_script("sessionStorage.setItem("
                            "'custops-widget-reloads:/voila/render/03_churn.ipynb', '1');")
    seen = _first_load_without_widgets(context, inject_error=True)
    page = context.new_page()
    console.clear()
    page.on("console", lambda m: console.append(m.text))
    try:
        page.goto(recovery_server.url("03_churn"), wait_until="domcontentloaded",
                  timeout=300_000)
        page.wait_for_function("() => window.custopsRecovery.state === 'gave up'",
                               timeout=300_000)
        page.wait_for_timeout(3000)
        assert seen["pages"] == 1
        assert any("already reloaded" in line for line in console)
        assert page.locator(FIRST_FIGURE).count() > 0  # the first view stays
        assert not page.locator("#test-widget-error").is_visible()
    finally:
        with contextlib.suppress(Exception):
            page.close(run_before_unload=True)
        context.close()
    _wait_kernels(recovery_server, 0)
