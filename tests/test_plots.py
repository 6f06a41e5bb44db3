"""Figures: text from the data never becomes markup or a link inside a chart."""

from __future__ import annotations

import pandas as pd

from custops import plots

LINK = '<a href="http://evil.example">click</a>'


def test_labels_from_data_are_escaped_in_every_figure_that_shows_them():
    frame = pd.DataFrame({"province": [LINK, "浙江"], "customers": [3, 5]})
    figures = [
        plots.bar_figure(frame, "province", "customers", title="t"),
        plots.heatmap_figure(frame.set_index("province"), title="t"),
        plots.share_bars_figure([LINK], [0.5], [0.7], title="t", customer_name="c",
                                revenue_name="r"),
        plots.treemap_figure([LINK], [1], [0.5], title="t", color_title="c"),
        plots.funnel_figure([LINK], [1], title="t"),
    ]
    for fig in figures:
        text = fig.to_json()
        assert "<a href" not in text and "&lt;a href" in text, fig.data[0].type
    assert plots.plain_text([1.5, None, "a<b"]) == [1.5, None, "a&lt;b"]


def test_date_axes_speak_the_runs_language():
    frame = pd.DataFrame({"month": ["2024-10", "2024-11"], "n": [1, 2]})
    fig = plots.date_axis(plots.line_figure(frame, "month", ["n"], title="t"), "zh")
    assert fig.layout.xaxis.tickformat == "%Y年%-m月"
    assert "%b" not in fig.layout.xaxis.hoverformat
    assert plots.date_axis(plots.line_figure(frame, "month", ["n"], title="t"),
                           "en").layout.xaxis.tickformat == "%b %Y"
    assert plots.month_labels(["2024-10", pd.Period("2025-01", "M")], "zh") == [
        "2024年10月", "2025年1月"]


def test_sankey_colours_are_stable_per_segment_on_both_sides():
    # The after side lists the same segments in another order, plus one that is new.
    matrix = pd.DataFrame([[5, 1, 0], [2, 3, 1]], index=["vip", "small"],
                          columns=["small", "vip", "none"])
    fig = plots.sankey_figure(matrix, title="t", row_labels=["V", "S"],
                              col_labels=["S", "V", "N"], before="b", after="a")
    colours = list(fig.data[0].node.color)
    before = dict(zip(matrix.index, colours[:2], strict=True))
    after = dict(zip(matrix.columns, colours[2:], strict=True))
    assert before["vip"] == after["vip"] and before["small"] == after["small"]
    assert len({before["vip"], before["small"], after["none"]}) == 3


def test_small_multiples_share_one_legend_and_one_scale():
    panels = [("性别", ["男", "女"], [0.6, 0.4], [0.5, 0.5]),
              ("城市等级", ["T1", "T2", "T3"], [0.5, 0.3, 0.2], [0.3, 0.3, 0.4]),
              ("职业", ["学生"], [1.0], [1.0])]
    fig = plots.small_multiples_figure(panels, title="t", names=("高价值", "其他"),
                                       yaxis_title="占比")
    assert len(fig.data) == 6
    assert [tr.name for tr in fig.data if tr.showlegend] == ["高价值", "其他"]
    assert [a.text for a in fig.layout.annotations] == ["性别", "城市等级", "职业"]
    assert fig.layout.yaxis.tickformat == ".0%"
