"""Kernel ports that no outgoing connection can take.

A local Jupyter kernel listens on five TCP ports that the process starting it picks
(jupyter_client's ``LocalPortCache``): it binds a socket to port 0, reads the port the system
gave, closes the socket and writes the port into the kernel's connection file. The kernel
binds it a second or more later (tens of seconds on a loaded machine). In between the port is
free, and the system hands free ports from the same *ephemeral* range
(``/proc/sys/net/ipv4/ip_local_port_range``) to every outgoing TCP connection: the server's
own connections to other kernels, a browser's connections to the server. When one of them
gets the port first, the kernel's bind fails with ``ZMQError: Address already in use``
(jupyter/jupyter_client#487). With twenty dashboard pages opening at once the 20-manager bench
saw it on a kernel's heartbeat port.

:class:`OffRangePortCache` picks kernel ports *below* the ephemeral range instead: the system
never gives those to a connection, only to a program that asks for that port by number. It
checks each port with a bind before handing it out, keeps the ports of running kernels out
(as jupyter_client's cache does) and falls back to jupyter_client's way when the machine has
no room below the range. :func:`install` makes it the cache jupyter_client uses in this
process: the dashboard server and the report runner call it before they start kernels.

Two processes (a dashboard server and a report run on one machine) keep separate caches and
could still pick the same free port for kernels starting in the same second, as with
jupyter_client's own picking; at five random ports out of ~12,000 per kernel that is rare,
and no browser or server connection can take part in it any more.
"""

from __future__ import annotations

import random
import socket
import threading

from jupyter_client.connect import LocalPortCache

__all__ = ["EPHEMERAL_RANGE_FILE", "LOWEST_PORT", "MIN_PORTS", "OffRangePortCache",
           "ephemeral_range", "install"]

EPHEMERAL_RANGE_FILE = "/proc/sys/net/ipv4/ip_local_port_range"
LOWEST_PORT = 20000  # below: well-known and commonly configured service ports (5432, 8888...)
MIN_PORTS = 1000  # fewer ports than this below the ephemeral range: jupyter_client's way
ATTEMPTS = 200
_RANDOM = random.SystemRandom()  # not the global generator, which a notebook may seed


def ephemeral_range(path: str = EPHEMERAL_RANGE_FILE) -> tuple[int, int] | None:
    """The (first, last) port the system gives outgoing connections; None when unknown
    (not Linux, or the file is unreadable)."""
    try:
        with open(path, encoding="ascii") as handle:
            first, last = (int(part) for part in handle.read().split()[:2])
    except (OSError, ValueError):
        return None
    return first, last


class OffRangePortCache(LocalPortCache):
    """jupyter_client's port cache, picking ports between :data:`LOWEST_PORT` and the first
    ephemeral port; thread-safe (the report runner starts kernels ahead from threads)."""

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self._lock = threading.Lock()
        found = ephemeral_range()
        self.span: tuple[int, int] | None = (
            (LOWEST_PORT, found[0] - 1) if found and found[0] - LOWEST_PORT >= MIN_PORTS
            else None)

    def find_available_port(self, ip: str) -> int:
        with self._lock:
            if self.span is not None:
                for _ in range(ATTEMPTS):
                    port = _RANDOM.randint(*self.span)
                    if port not in self.currently_used_ports and _bindable(ip, port):
                        self.currently_used_ports.add(port)
                        return port
            return super().find_available_port(ip)

    def return_port(self, port: int) -> None:
        with self._lock:
            super().return_port(port)


def _bindable(ip: str, port: int) -> bool:
    """Whether a listening socket could bind ``port`` on ``ip`` now (no other socket, in any
    state, holds it: the same test the kernel's own bind makes)."""
    with socket.socket() as probe:
        try:
            probe.bind((ip, port))
        except OSError:
            return False
    return True


def install() -> OffRangePortCache:
    """Make :class:`OffRangePortCache` the port cache of every kernel this process starts
    (idempotent; ports already handed out by another cache stay reserved)."""
    current = LocalPortCache._instance if LocalPortCache.initialized() else None
    if isinstance(current, OffRangePortCache):
        return current
    # both: traitlets keeps the singleton on each class of the chain
    LocalPortCache.clear_instance()
    OffRangePortCache.clear_instance()
    cache = OffRangePortCache.instance()
    if current is not None:
        cache.currently_used_ports |= set(current.currently_used_ports)
    return cache
