"""A Chinese run speaks Chinese: every report of ``custops report --lang zh`` on the sample is
searched for Latin-alphabet words (``latin_words``: text nodes, figure titles, axes, ticks,
legends, hover, tables, ``index.html``); runs are quiet; notebooks run alone keep their files
out of the checkout; the numbers the 03 lists show read without gaps."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from custops import churn, segment
from custops.kernel_logging import TCP_WARNING
from custops.run import context
from custops.run import runner as report
from latin_words import (
    ALLOWED,
    export_texts,
    figure_texts,
    findings,
    html_text,
    latin_words,
    notebook_texts,
)

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "data" / "sample"


# -- the checker itself ------------------------------------------------------------------------

def test_latin_words_are_found_and_the_allow_list_is_not():
    assert latin_words("下单高峰在 Oct 2024，P(alive) ≥ 0.5") == ["Oct", "alive"]
    assert latin_words("BG/NBD 与 RFM 规则（AUC 0.90），ROI 3.2 倍，VIP 客户") == []
    # ids, file names and single letters (R/F/M scores, A–D grades) are not words
    assert latin_words("客户 C000123 见 exports/churn_at_risk.csv；R 评分 5，A级") == []
    assert latin_words("n (control)") == ["control"]
    assert latin_words("见 artifacts/ 文件夹") == []  # a folder's name
    assert all(reason for reason in ALLOWED.values())


def test_figures_are_read_everywhere_text_shows():
    fig = {"layout": {"title": {"text": "留存 retention"}, "xaxis": {"title": {"text": "月"}},
                      "annotations": [{"text": "top 1%"}]},
           "data": [{"type": "bar", "name": "p_repeat", "x": ["unknown", "男"], "y": [1, 2],
                     "hovertemplate": "%{x}: %{y} orders<extra></extra>"},
                    {"type": "scatter", "x": ["2024-10-01", "2024-11-01"], "y": [1, 2]}]}
    words = sorted(w for _, text in figure_texts(fig) for w in latin_words(text))
    assert {"retention", "top", "repeat", "unknown", "orders"} <= set(words)
    # a date axis without a Chinese tick format draws "Oct 2024"
    assert any("month names" in text for _, text in figure_texts(fig))
    fig["layout"]["xaxis"]["tickformat"] = "%Y年%-m月"
    assert not any("month names" in text for _, text in figure_texts(fig))


def test_html_text_skips_scripts_and_code():
    page = ("<html><head><style>body{color:red}</style></head><body><h1>报告</h1>"
            "<script>Plotly.newPlot()</script><p>数据 <code>sample</code> finished</p>")
    assert html_text(page) == ["报告", "数据", "finished"]


# -- a full Chinese run ------------------------------------------------------------------------

@pytest.fixture(scope="module")
def zh_run(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("zh") / "run"
    result = subprocess.run(
        [str(Path(sys.executable).parent / "custops"), "report", "--data", str(SAMPLE), "--out",
         str(out), "--lang", "zh"], capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, result.stderr[-2000:]
    out.joinpath("stderr.txt").write_text(result.stderr, encoding="utf-8")
    return out


@pytest.mark.slow
def test_a_chinese_run_has_no_english_word_in_any_report(zh_run):
    found = []
    for notebook in sorted(zh_run.glob("0*.ipynb")):
        found += findings(notebook_texts(notebook))
        page = (zh_run / f"{notebook.stem}.html").read_text("utf-8")
        found += findings((f"{notebook.stem}.html", text) for text in html_text(page))
    assert not found, "\n".join(found)


@pytest.mark.slow
def test_a_chinese_runs_index_page_has_no_english_word(zh_run):
    page = (zh_run / "index.html").read_text("utf-8")
    found = findings(("index.html", text) for text in html_text(page))
    assert not found, "\n".join(found)


@pytest.mark.slow
def test_a_chinese_run_opens_each_report_with_its_chinese_heading(zh_run):
    for name in report.available_notebooks():
        nb = json.loads((zh_run / f"{name}.ipynb").read_text("utf-8"))
        shown = [o for c in nb["cells"] for o in c.get("outputs", [])
                 if "text/markdown" in o.get("data", {})]
        first = "".join(shown[0]["data"]["text/markdown"])
        assert first.startswith(f"# {report.notebook_title(name, 'zh')}")


@pytest.mark.slow
def test_runs_are_quiet_on_stderr(zh_run):
    assert TCP_WARNING not in (zh_run / "stderr.txt").read_text("utf-8")


def _kernel_stderr(arguments: str) -> str:
    code = ("import asyncio\n"
            "from jupyter_client.manager import AsyncKernelManager\n"
            "from custops.kernel_logging import kernel_arguments\n"
            "async def main():\n"
            "    km = AsyncKernelManager(kernel_name='python3')\n"
            f"    await km.start_kernel(extra_arguments={arguments})\n"
            "    client = km.client(); client.start_channels()\n"
            "    await client.wait_for_ready(timeout=60)\n"
            "    await client.execute_interactive(\"import logging; logging.getLogger("
            "'IPKernelApp').warning('another warning')\", timeout=30)\n"
            "    client.stop_channels(); await km.shutdown_kernel(now=True)\n"
            "asyncio.run(main())\n")
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120).stderr


def test_kernels_drop_only_the_tcp_warning():
    quiet = _kernel_stderr("kernel_arguments()")
    assert TCP_WARNING not in quiet and "another warning" in quiet
    assert TCP_WARNING in _kernel_stderr("[]")  # what a kernel says without them


def test_a_notebook_run_alone_writes_its_files_to_a_temporary_folder(capsys):
    ctx = context.open_run(data_dir=str(SAMPLE), lang="zh")
    folder = ctx.exports_dir()
    assert folder.is_dir() and not folder.resolve().is_relative_to(ROOT)
    assert str(folder) in capsys.readouterr().out
    assert ctx.exports_dir() == folder and capsys.readouterr().out == ""  # said once
    run = context.open_run(data_dir=str(SAMPLE), run_dir=str(folder / "run"))
    assert run.exports_dir() == folder / "run" / "exports"


# -- numbers that read right -------------------------------------------------------------------

def _scores(bands: list[str]) -> pd.DataFrame:
    n = len(bands)
    frame = pd.DataFrame({
        "customer_id": [f"c{i}" for i in range(n)],
        "risk_band": bands,
        "status": ["churned" if b == "already_churned" else "active" for b in bands],
        "churn_probability": np.linspace(0.9, 0.1, n),
        "value_at_stake": np.linspace(900, 100, n),
        "expected_value": np.linspace(900, 100, n),
        "reason": "overdue:days=45,gap=30",
        "strategy": "recall_low_cost",
        "value_tier": "small",
        "lifecycle_stage": "decline",
    })
    frame.insert(1, "priority_rank", frame.groupby("status").cumcount().to_numpy() + 1)
    return frame


def test_the_priority_and_recall_lists_rank_without_gaps():
    # Low-risk buyers rank between the at-risk ones in the scores: the list leaves them out.
    bands = ["low_risk", "high_risk", "low_risk", "medium_risk", "high_risk", "already_churned",
             "already_churned"]
    scores = _scores(bands)
    listed = churn.priority_section(scores, "zh").tables[0]
    assert listed["#"].tolist() == [1, 2, 3]
    assert listed.iloc[:, 1].tolist() == ["c1", "c3", "c4"]
    recall = churn.recall_section(scores, "zh").tables[0]
    assert recall["#"].tolist() == [1, 2]


@pytest.mark.slow
def test_exports_of_a_chinese_run_have_no_english_word(zh_run):
    found = findings(export_texts(zh_run / "exports"))
    assert not found, "\n".join(found)


def test_the_language_switch_draws_the_whole_page_again():
    """An interactive page remembers every section shown with ``ctx.show`` and draws them
    all again in the page's new language; listeners (the panel's switch) follow; a static
    report remembers nothing."""
    from custops import profile, sections

    ctx = context.open_run({"interactive": True}, data_dir=str(SAMPLE))
    assert ctx.lang == "en" and ctx.interactive
    summary = {"tables": {"orders": {"rows_read": 3, "rows_kept": 2, "rows_rejected": 1}}}
    ctx.show(lambda: sections.intro("01_profile", ctx.lang))
    ctx.show(lambda: profile.data_quality_section(summary, ctx.lang))
    heard = []
    ctx.on_language(heard.append)

    def text(outputs):
        return json.dumps(outputs, ensure_ascii=False)

    english = ctx.page_outputs()
    assert "Customer profile" in text(english) and "orders" in text(english)
    ctx.relabel("zh")
    assert heard == ["zh"] and ctx.lang == "zh"
    chinese = ctx.page_outputs()
    assert len(chinese) == len(english)
    assert "用户画像" in text(chinese) and "Customer profile" not in text(chinese)
    assert "订单" in text(chinese)
    assert not [o for o in chinese if latin_words(o["data"].get("text/markdown", ""))]
    ctx.relabel("zh")
    assert heard == ["zh"]  # no change, nothing to tell
    static = context.open_run({"interactive": False}, data_dir=str(SAMPLE))
    static.show(lambda: sections.intro("01_profile", static.lang))
    assert static.page_outputs() == []


def test_a_page_opens_in_the_language_its_address_asks_for(monkeypatch):
    monkeypatch.setenv("QUERY_STRING", "lang=zh&x=1")
    assert context.requested_lang() == "zh"
    assert context.open_run({"lang": "en"}, data_dir=str(SAMPLE)).lang == "zh"
    monkeypatch.setenv("QUERY_STRING", "lang=fr")
    assert context.requested_lang() is None


_MONTH = re.compile(r"^(\d{4})(?:-|年)(\d{1,2})(?:月)?(?:-(\d{2}))?")


@pytest.mark.slow
def test_time_axes_run_in_time_order(zh_run):
    """Every figure whose axis holds dates or months (``2024-10``, ``2024年10月``) draws them
    in time order."""
    checked = 0
    for notebook in sorted(zh_run.glob("0*.ipynb")):
        nb = json.loads(notebook.read_text("utf-8"))
        for cell in nb["cells"]:
            for output in cell.get("outputs", []):
                fig = output.get("data", {}).get("application/vnd.plotly.v1+json")
                for trace in (fig or {}).get("data", []):
                    for axis in ("x", "y"):
                        values = trace.get(axis)
                        if not isinstance(values, list) or len(values) < 2:
                            continue
                        keys = [_MONTH.match(v) if isinstance(v, str) else None for v in values]
                        if not all(keys):
                            continue
                        stamps = [tuple(int(g or 0) for g in k.groups()) for k in keys]
                        checked += 1
                        assert stamps == sorted(stamps), (notebook.name, trace.get("name"))
    assert checked >= 3  # monthly buyers, cohorts, churn trend


# -- why a step could not run, in the run's language --------------------------------------------

def _reason_in_zh(case: str, orders, customers, make, tmp_path) -> tuple[str, str]:
    """Open a zh run on a degenerate shape (test_degenerate's builders), show one section that
    cannot be computed there, and return the page's words and the health box's words for it."""
    from custops.run.runner import health_box
    from test_degenerate import _write

    folder = _write(tmp_path / case, orders, customers)
    ctx = context.open_run({"interactive": True}, data_dir=str(folder), lang="zh")
    ctx.show(lambda: make(ctx), step="step")
    page = " ".join(text for output in ctx.page_outputs()
                    for text in ([output["data"]["text/markdown"]]
                                 if "text/markdown" in output["data"]
                                 else html_text(output["data"].get("text/html", ""))))
    [entry] = [e for e in ctx.health() if e["code"] == "not_computed"]
    entry = json.loads(json.dumps(entry))  # as health.json and the manifest store it
    assert not re.search(r"[\u4e00-\u9fff]", entry["reason"])  # logs keep the English words
    box = " ".join(html_text(health_box([entry], "zh")))
    return page, box


def _weekly_buyers(n: int = 40):
    """Every buyer orders every week for a year and a half: nobody churns."""
    from test_degenerate import _orders

    start = pd.Timestamp("2024-01-01 10:00")
    return _orders([[f"c{c}", f"o{c}_{w}", start + pd.Timedelta(days=7 * w + c % 5), 50.0]
                    for c in range(n) for w in range(75)]), None


NOT_COMPUTABLE = {  # shape → (data, the section that cannot run there, words it must say)
    "all_refunds_rfm": ("all_refunds", lambda ctx: segment.rfm_section(
        ctx.get("features"), ctx.get("segments"), ctx.segment_params, ctx.lang), "RFM 分类"),
    "all_refunds_clusters": ("all_refunds", lambda ctx: segment.clusters_section(ctx.get("features"),
                                               ctx.get("segments")["cluster"], ctx.lang),
                             "行为聚类"),
    "all_refunds_churn": ("all_refunds", lambda ctx: churn.backtest_section(
        ctx.get("churn_backtest"), ctx.churn_params, ctx.lang), "较早的快照"),
    "one_row_churn": ("one_row", lambda ctx: churn.risk_section(ctx.get("churn_scores"),
                                                                lang=ctx.lang), "较早的快照"),
    "no_repeat_buyers_churn": ("no_repeat_buyers", lambda ctx: churn.backtest_section(
        ctx.get("churn_backtest"), ctx.churn_params, ctx.lang), "历史数据比预测期短"),
    "one_day_churn": ("one_day", lambda ctx: churn.backtest_section(
        ctx.get("churn_backtest"), ctx.churn_params, ctx.lang), "流失预警"),
    "nobody_churns_backtest": (_weekly_buyers, lambda ctx: churn.backtest_section(
        ctx.get("churn_backtest"), ctx.churn_params, ctx.lang), "回测的训练快照"),
    "nobody_churns_scores": (_weekly_buyers, lambda ctx: churn.score_customers(
        ctx.features_at(ctx.days_before(ctx.churn_params.horizon_days)),
        ctx.get("features"), None, "supervised", ctx.churn_params)[0], "训练快照"),
}


@pytest.mark.parametrize("shape", sorted(NOT_COMPUTABLE))
def test_a_step_that_cannot_run_says_why_in_chinese(shape, tmp_path):
    from test_degenerate import CASES

    data, make, expected = NOT_COMPUTABLE[shape]
    orders, customers = CASES[data]() if isinstance(data, str) else data()
    page, box = _reason_in_zh(shape, orders, customers, make, tmp_path)
    assert "本数据无法计算此项" in page and expected in page and expected in box
    assert latin_words(page) == [] and latin_words(box) == [], (page, box)


def test_a_later_snapshot_with_too_few_buyers_says_why_in_chinese():
    from custops.errors import NotComputable
    from custops.labels import health_words
    from custops.sections import not_computed

    many = pd.DataFrame({"customer_id": [f"c{i}" for i in range(30)], "is_buyer": True})
    with pytest.raises(NotComputable) as raised:
        churn.backtest(many, many.head(3), many, dates={"train": "2025-01-01",
                                                        "test": "2025-03-01"})
    exc = raised.value
    assert str(exc).startswith("churn: only 3 buyer(s) at the later snapshot (2025-03-01)")
    words = not_computed(exc, "zh").text
    assert "较晚的快照（2025-03-01）只有 3 位" in words and latin_words(words) == []
    entry = {"step": "03_churn", "code": "not_computed", **exc.record()}
    assert health_words(entry, "zh") == words and health_words(entry, "en") == str(exc)


# -- time zones on index.html ----------------------------------------------------------------

def test_the_run_time_names_its_zone_in_the_runs_language():
    from zoneinfo import ZoneInfo

    from custops.labels import ZONES
    from custops.run.runner import _local_time

    stamp = "2026-07-01T02:30:00+0000"
    assert _local_time(stamp, "Asia/Shanghai", "zh") == "2026-07-01 10:30 (北京时间)"
    assert _local_time(stamp, "Asia/Shanghai", "en") == "2026-07-01 10:30 (China time, UTC+08:00)"
    assert _local_time(stamp, "Asia/Tokyo", "zh") == "2026-07-01 11:30 (东京时间)"
    assert _local_time(stamp, "Asia/Hong_Kong", "zh") == "2026-07-01 10:30 (香港时间)"
    # summer time moves the offset, not the name
    assert _local_time(stamp, "America/New_York", "en") == \
        "2026-06-30 22:30 (US Eastern time, UTC-04:00)"
    assert _local_time("2026-01-01T02:30:00+0000", "America/New_York", "zh") == \
        "2025-12-31 21:30 (美国东部时间)"
    # any other zone: its offset, the same in both languages (Urumqi is not on Beijing time)
    assert _local_time(stamp, "Asia/Kathmandu", "zh") == "2026-07-01 08:15 (UTC+05:45)"
    assert _local_time(stamp, "Asia/Urumqi", "zh") == "2026-07-01 08:30 (UTC+06:00)"
    for zone, names in ZONES.items():
        ZoneInfo(zone)  # every named zone exists
        assert set(names) == {"en", "zh"} and latin_words(names["zh"]) == [], zone


@pytest.mark.slow
def test_a_finished_run_folder_names_its_files_relative_to_itself(zh_run, monkeypatch):
    """No JSON of a finished run points into the build folder it was made in (renamed when
    the run was swapped in), and the export lists are relative to the run folder."""
    for path in [*zh_run.glob("*.json"), *zh_run.glob("artifacts/*.json"),
                 *zh_run.glob("*.ipynb"), *zh_run.glob("*.html")]:
        assert ".build-" not in path.read_text("utf-8"), path.name
    executed = json.loads((zh_run / "03_churn.ipynb").read_text("utf-8"))
    assert executed["metadata"]["papermill"]["parameters"]["run_dir"] == str(zh_run.resolve())
    for name in ("churn_exports", "reach_exports"):
        listed = json.loads((zh_run / "artifacts" / f"{name}.json").read_text("utf-8"))
        assert listed and all(not Path(p).is_absolute() and p.startswith("exports/")
                              for p in listed), listed
        assert all((zh_run / p).is_file() for p in listed)
    # a dashboard reading the published run gets the same lists
    monkeypatch.setenv(context.RUN_DIR_ENV, str(zh_run))
    published = context.open_run(data_dir=str(SAMPLE))
    assert published.read_only
    assert published.get("churn_exports") == json.loads(
        (zh_run / "artifacts" / "churn_exports.json").read_text("utf-8"))


# -- the labels' modules ---------------------------------------------------------------------

def test_every_label_key_is_defined_once_across_the_labels_modules():
    """The words live in one module per step, merged into ``custops.labels.LABELS``: a key
    written twice (in two modules, or twice in one dict literal, where Python keeps the last
    silently) fails here, and a module left out of the merge too."""
    import ast
    import collections

    import custops.labels as labels

    folder = Path(labels.__file__).parent
    written: dict[str, list[str]] = collections.defaultdict(list)
    modules_with_labels = set()
    for path in sorted(folder.glob("*.py")):
        for node in ast.parse(path.read_text("utf-8")).body:
            target = getattr(node, "target", None) or (node.targets[0] if isinstance(
                node, ast.Assign) else None)
            if getattr(target, "id", None) == "LABELS" and isinstance(node.value, ast.Dict):
                modules_with_labels.add(path.stem)
                for key in node.value.keys:
                    written[key.value].append(path.stem)
    twice = {key: where for key, where in written.items() if len(where) > 1}
    assert not twice, twice
    assert modules_with_labels == {m.__name__.rsplit(".", 1)[1] for m in labels.LABEL_MODULES}
    assert set(labels.LABELS) == set(written)
    assert all(set(v) == set(labels.LANGS) for v in labels.LABELS.values())
    with pytest.raises(ValueError, match="churn.title"):
        labels.merge_labels({"churn.title": {"en": "a", "zh": "甲"}},
                            {"churn.title": {"en": "b", "zh": "乙"}})


def test_a_long_table_says_how_many_rows_it_shows_in_the_pages_language():
    from custops import sections

    ctx = context.open_run({"interactive": True}, data_dir=str(SAMPLE), lang="zh")
    long = pd.DataFrame({"客户ID": [f"C{i:04d}" for i in range(45)], "订单数": range(45)})
    ctx.show(lambda: sections.Section("名单", tables=[long]))
    page = " ".join(text for output in ctx.page_outputs()
                    for text in html_text(output["data"].get("text/html", "")))
    assert "共 45 行，显示前 30 行" in page and latin_words(page) == [], page
    assert "45 rows; first 30 shown" in sections.table_html(long)


@pytest.mark.slow
def test_a_chinese_run_on_all_refunds_says_in_chinese_what_it_could_not_compute(tmp_path):
    """The whole run on refunds only: index.html and every page's health box say why each
    step could not run in Chinese; the manifest keeps the English words for logs."""
    from test_degenerate import CASES, _write

    folder = _write(tmp_path / "data", *CASES["all_refunds"]())
    manifest = report.run_report(folder, tmp_path / "run", lang="zh", log=lambda line: None)
    codes = [entry.get("reason_key") for entry in manifest["health"]]
    assert {"nc.rfm_no_spend", "nc.clusters_no_buyers", "nc.churn_few_buyers_on"} <= set(codes)
    pages = ["index.html", *(f"{item['name']}.html" for item in manifest["notebooks"])]
    for name in pages:
        page = (tmp_path / "run" / name).read_text("utf-8")
        box = page[page.index('<div class="custops-health"'):]
        box = " ".join(html_text(box[:box.index("</div>")]))
        assert "RFM 分类：没有净消费为正的客户" in box and "流失预警" in box, (name, box)
        assert latin_words(box) == [], (name, box)


def test_a_dashboard_panel_that_cannot_be_built_says_why_in_the_pages_language(monkeypatch):
    """A panel whose step cannot run on the data says so in the page's language (the reason
    is the NotComputable's label, not its English text)."""
    from custops.app import panels
    from custops.errors import NotComputable
    from latin_words import latin_words

    shown = []
    monkeypatch.setattr(panels, "display", lambda obj: shown.append(getattr(obj, "data", obj)))
    monkeypatch.setattr(panels, "use_page_plotly", lambda: None)

    def cannot(ctx):
        raise NotComputable("nc.btyd_no_repeat_buyers")

    monkeypatch.setitem(panels.PANELS, "03_churn", cannot)

    class Page:
        lang = "zh"

    assert panels.panel(Page(), "03_churn", True) is None
    assert len(shown) == 1 and "复购" in shown[0] and latin_words(shown[0]) == [], shown
