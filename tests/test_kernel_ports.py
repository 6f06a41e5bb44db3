"""Kernel ports below the ephemeral range (custops.kernel_ports): an outgoing connection can
never take a port a kernel is about to bind."""

from __future__ import annotations

import itertools
import socket

import psutil
import pytest
from jupyter_client.connect import LocalPortCache

from custops import kernel_ports
from custops.run import runner

RANGE = kernel_ports.ephemeral_range()
needs_range = pytest.mark.skipif(
    RANGE is None or RANGE[0] - kernel_ports.LOWEST_PORT < kernel_ports.MIN_PORTS,
    reason="no room below this machine's ephemeral port range")


def test_the_ephemeral_range_is_read_from_the_system_file(tmp_path):
    path = tmp_path / "range"
    path.write_text("32768\t60999\n", "ascii")
    assert kernel_ports.ephemeral_range(str(path)) == (32768, 60999)
    path.write_text("garbage\n", "ascii")
    assert kernel_ports.ephemeral_range(str(path)) is None
    assert kernel_ports.ephemeral_range(str(tmp_path / "missing")) is None


@needs_range
def test_ports_lie_below_the_range_skip_held_ones_and_are_not_handed_out_twice(monkeypatch):
    cache = kernel_ports.install()
    assert LocalPortCache.instance() is cache  # what jupyter_client's provisioner asks
    assert cache.span == (kernel_ports.LOWEST_PORT, RANGE[0] - 1)
    with socket.socket() as held:  # a port some other program listens on
        held.bind(("127.0.0.1", 0))
        held.listen()
        taken = held.getsockname()[1]
        free, other = itertools.islice(
            (port for port in range(*cache.span) if kernel_ports._bindable("127.0.0.1", port)
             and port not in cache.currently_used_ports), 2)
        proposals = [taken, free, free, other]

        def propose(low, high):
            assert proposals, "asked for more ports than the test proposes"
            return proposals.pop(0)

        monkeypatch.setattr(kernel_ports._RANDOM, "randint", propose)
        assert cache.find_available_port("127.0.0.1") == free
        # the next kernel does not get the port the first one has not bound yet
        assert cache.find_available_port("127.0.0.1") == other
    cache.return_port(free)
    cache.return_port(other)
    assert {free, other}.isdisjoint(cache.currently_used_ports)


def test_without_room_below_the_range_jupyter_clients_way_is_kept(monkeypatch):
    monkeypatch.setattr(kernel_ports, "ephemeral_range", lambda path="": (1024, 65535))
    cache = kernel_ports.OffRangePortCache()
    assert cache.span is None
    port = cache.find_available_port("127.0.0.1")
    assert 1024 <= port <= 65535 and port in cache.currently_used_ports


def test_install_keeps_the_ports_the_previous_cache_handed_out():
    # a stale cache of ours (traitlets keeps a singleton on each class of the chain) and, as
    # jupyter_client's own, a plain cache that has handed out a port
    LocalPortCache.clear_instance()
    kernel_ports.OffRangePortCache.clear_instance()
    stale = kernel_ports.OffRangePortCache.instance()
    LocalPortCache.clear_instance()  # clears LocalPortCache's only: ours stays stale
    plain = LocalPortCache.instance()
    assert type(plain) is LocalPortCache
    plain.currently_used_ports.add(54321)
    cache = kernel_ports.install()
    assert isinstance(cache, kernel_ports.OffRangePortCache) and cache is not stale
    assert 54321 in cache.currently_used_ports
    assert kernel_ports.install() is cache and LocalPortCache.instance() is cache
    cache.return_port(54321)


def _listening_ports(pid: int) -> set[int]:
    return {conn.laddr.port for conn in psutil.Process(pid).net_connections("tcp")
            if conn.status == psutil.CONN_LISTEN}


@needs_range
def test_the_report_runners_kernel_listens_below_the_range():
    manager = runner._start_kernel(runner.notebooks_dir(), runner._new_manager())
    assert manager is not None, "the kernel did not start"
    try:
        info = manager.get_connection_info()
        ports = {info[name] for name in ("shell_port", "iopub_port", "stdin_port", "hb_port",
                                         "control_port")}
        assert all(kernel_ports.LOWEST_PORT <= port < RANGE[0] for port in ports), ports
        assert _listening_ports(manager.provisioner.pid) >= ports  # bound, heartbeat too
    finally:
        runner._stop_kernel(manager)
