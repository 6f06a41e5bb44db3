"""Statistical models and optimizers the steps use (pure computation: no I/O, no plotting).

BTYD (:mod:`.btyd`), the churn classifier (:mod:`.classifier`), uplift (:mod:`.uplift`),
contact assignment (:mod:`.assignment`), experiments (:mod:`.experiment`) and the thread
limits of the compiled libraries (:mod:`.threads`).
"""

__all__: list[str] = []
