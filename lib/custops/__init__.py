"""custops: a Jupyter-first workbench for customer operations (客户运营).

Profiling → segmentation → churn warning → reach planning, on a company's own customers,
orders, events and past campaigns. Import the step modules directly, e.g.
``from custops import data, features, profile``.
"""

from custops.errors import CustopsError, DataError, ParameterError, RunError

__version__ = "0.1.0"

__all__ = ["CustopsError", "DataError", "ParameterError", "RunError", "__version__"]
