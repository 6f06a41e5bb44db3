"""Quiet kernels: the one start-up warning every local Jupyter kernel prints, silenced at its
source.

ipykernel warns on stderr that a kernel "is running over TCP without encryption" whenever it
listens on TCP — always, for the runner's kernels on 127.0.0.1. A scheduled run's log would get
one such line per notebook. IPC transport would avoid it but made kernels wait 60 s for
readiness; so the kernel keeps TCP and its log handler drops exactly that record (every other
message, warnings included, still reaches stderr). The handler filter is passed as a kernel
argument (``--IPKernelApp.logging_config``: traitlets merges it into the kernel's logging
configuration before the sockets are opened). This module must stay light: the kernel imports
it before anything else.
"""

from __future__ import annotations

import json
import logging

__all__ = ["TCP_WARNING", "DropTcpWarning", "LOGGING_CONFIG", "kernel_arguments"]

TCP_WARNING = "Kernel is running over TCP without encryption"
LOGGING_CONFIG = {
    "filters": {"custops_no_tcp_warning": {"()": "custops.kernel_logging.DropTcpWarning"}},
    "handlers": {"console": {"filters": ["custops_no_tcp_warning"]}},
}


class DropTcpWarning(logging.Filter):
    """Drops the kernel's TCP-without-encryption warning, passes every other record."""

    def filter(self, record: logging.LogRecord) -> bool:
        return TCP_WARNING not in record.getMessage()


def kernel_arguments() -> list[str]:
    """Extra command-line arguments for an ipykernel that silence :data:`TCP_WARNING`."""
    return [f"--IPKernelApp.logging_config={json.dumps(LOGGING_CONFIG)}"]
