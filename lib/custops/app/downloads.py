"""Downloads of the panels: the download button, and the priority and contact lists as CSV.

The CSV is made in the kernel only when the button is clicked, and phones are always masked.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable

import anywidget
import pandas as pd
import traitlets

from custops.exports import csv_text, export_frame
from custops.labels import t, value_label

__all__ = ["DownloadButton", "contact_list", "kernel_log", "to_csv"]

def kernel_log(name: str) -> logging.Logger:
    """A logger writing to the kernel's own stderr (the Voila server's log): a failed download
    or panel update is logged there, never shown in the page."""
    logger = logging.getLogger(name)
    if not logger.handlers:
        handler = logging.StreamHandler(sys.__stderr__ or sys.stderr)
        handler.setFormatter(logging.Formatter("[%(name)s] %(levelname)s %(message)s"))
        logger.addHandler(handler)
        logger.propagate = False
    return logger


log = kernel_log(__name__)


# -- the download button: the CSV reaches the browser only when clicked ----------------------

class DownloadButton(anywidget.AnyWidget):
    """A button that asks the kernel for a file and saves it (a Blob download).

    ``provider`` gives the file's text when the button is clicked, not before.
    """

    _esm = """
    function render({ model, el }) {
      const button = document.createElement("button");
      button.className = "jupyter-widgets jupyter-button widget-button custops-download-button";
      button.style.width = "auto";
      button.style.padding = "0 12px";
      const label = () => { button.textContent = "\\u2B07 " + model.get("label"); };
      label();
      model.on("change:label", label);
      button.addEventListener("click", () => model.send({ event: "download" }));
      model.on("msg:custom", (msg) => {
        if (msg.event !== "file") { return; }
        const blob = new Blob([msg.content], { type: "text/csv;charset=utf-8" });
        const url = URL.createObjectURL(blob);
        const a = document.createElement("a");
        a.href = url; a.download = msg.filename;
        document.body.appendChild(a); a.click();
        setTimeout(() => { URL.revokeObjectURL(url); a.remove(); }, 2000);
      });
      el.appendChild(button);
    }
    export default { render };
    """
    label = traitlets.Unicode("").tag(sync=True)
    filename = traitlets.Unicode("download.csv").tag(sync=True)

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.provider: Callable[[], str] = lambda: ""
        self.on_msg(self._on_msg)

    def _on_msg(self, _widget, content, _buffers) -> None:
        if not isinstance(content, dict) or content.get("event") != "download":
            return
        try:
            text = self.provider()
        except Exception:  # never a traceback on the page
            log.exception("download %s failed", self.filename)
            return
        self.send({"event": "file", "filename": self.filename, "content": text})


# -- the lists ----------------------------------------------------------------------------------


def to_csv(frame: pd.DataFrame) -> str:
    """A download's CSV text: UTF-8 with BOM, text neutralized as in every export
    (:func:`custops.exports.csv_text`)."""
    return csv_text(frame)


def contact_list(plan: pd.DataFrame, lang: str = "en", *, labelled: bool = False
                 ) -> pd.DataFrame:
    """The contacted customers as the exports write them (:func:`custops.exports.export_frame`:
    operators' tools import these columns; phones masked); ``labelled`` gives headers and
    values in ``lang`` for reading."""
    out = export_frame(plan, lang).reset_index(drop=True)
    if not labelled:
        return out
    headers = {"customer_id": "churn.customer", "channel": "reach.channel",
               "send_time": "dash.send_time", "strategy": "churn.strategy",
               "reason": "churn.reason", "rfm_class": "dash.rfm_class",
               "lifecycle_stage": "churn.stage", "value_tier": "churn.tier",
               "wecom_tags": "dash.wecom_tags", "phone": "dash.phone", "group": "dash.group"}
    for col in ("channel", "strategy", "rfm_class", "lifecycle_stage", "value_tier", "group"):
        if col in out:
            out[col] = [value_label(v, lang) if pd.notna(v) else "" for v in out[col]]
    if "reason" in out:
        out["reason"] = out["reason"].astype("object").where(out["reason"].notna(), "")
    return out.rename(columns={c: t(headers[c], lang) for c in out.columns if c in headers})
