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
