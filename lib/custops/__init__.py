"""custops: a Jupyter-first workbench for customer operations (客户运营).

Profiling → segmentation → churn warning → reach planning, on a company's own customers,
orders, events and past campaigns. Import the step modules directly, e.g.
``from custops import features, profile``; the run catalogue is ``custops.run``.

Two estimators are public at the top level, scikit-learn style: ``custops.UpliftModel`` — the
multi-arm uplift model (:class:`custops.models.uplift.MultiArmUpliftModel`: ``fit(X,
treatment, y)`` with arm labels and a ``control=`` label, ``predict(X)`` → one uplift column
per arm) — and ``custops.qini_auc`` (normalised Qini: random 0, best possible order 1). They
load on first use, so ``import custops`` stays light.
"""

import sys as _sys

from custops.errors import CustopsError, DataError, NotComputable, ParameterError, RunError

# jsonschema (under nbformat, papermill, plotly.io and Jupyter's server) imports rfc3987_syntax
# when it is installed (jsonschema[format-nongpl]), and that module builds ~35 Earley parsers
# as it loads: ~1.9 s of CPU in every kernel, report runner and dashboard server here
# (python-jsonschema/jsonschema#1428). It only checks the "iri" and "iri-reference" formats,
# which no schema of nbformat or Jupyter uses; without it jsonschema leaves those two formats
# unchecked, as wherever the package is not installed. Set before anything imports jsonschema
# in our processes: a notebook's first import, the command line, the dashboard server.
_sys.modules.setdefault("rfc3987_syntax", None)

__version__ = "0.1.0"

__all__ = ["CustopsError", "DataError", "NotComputable", "ParameterError", "RunError",
           "UpliftModel", "__version__", "qini_auc"]


def __getattr__(name: str):
    if name in ("UpliftModel", "qini_auc"):
        from custops.models import uplift  # noqa: PLC0415 - heavy (scikit-learn): on first use

        return uplift.MultiArmUpliftModel if name == "UpliftModel" else uplift.qini_auc
    raise AttributeError(f"module 'custops' has no attribute {name!r}")
