"""Running the steps: the run catalogue and context, the report runner, the CLI, Spark."""

from custops.run.context import RunContext, open_run

__all__ = ["RunContext", "open_run"]
