"""The Voila server of ``custops dashboard``: start, stop, its kernels, and the report shown.

:func:`cli_dashboard` (``custops dashboard``) serves the notebooks folder with Voila
(:mod:`custops.app.voila_app`: a server-wide kernel cap, preheated pools refilled at once, a
"busy, retrying" page beyond the cap, kernels of unconnected pages shut down within a minute)
on 127.0.0.1 with sources stripped and tracebacks hidden, without JupyterLab's plotly
extension (the pages draw with the template's plotly.js), pointing the notebooks at a finished
report with ``CUSTOPS_RUN_DIR``. Another ``--ip`` needs ``--allow-remote`` and a token or a
password.
"""

from __future__ import annotations

import contextlib
import ipaddress
import json
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import psutil

from custops.app.first_view import PLOTLY_ON_PAGE_ENV
from custops.errors import ParameterError, RunError
from custops.run.context import RUN_DIR_ENV
from custops.run.runner import available_notebooks, kernel_env, notebooks_dir

__all__ = ["CULL_IDLE_SECONDS", "CULL_INTERVAL_SECONDS", "DEFAULT_POOL_SIZE", "DEFAULT_PORT",
           "DENIED_EXTENSIONS",
           "KERNEL_BYTES", "KERNEL_MARKER", "LANDING", "ORPHAN_SECONDS", "PASSWORD_ENV",
           "PLOTLY_ON_PAGE_ENV",
           "TOKEN_ENV", "WIDGET_SECONDS", "Server", "check_exposure", "cli_dashboard",
           "default_max_kernels", "finished_run", "free_port", "kernel_count", "kernel_pids",
           "port_open", "resolve_run", "start_server", "voila_command"]

DEFAULT_PORT = 8866
CULL_IDLE_SECONDS = 600  # backstop: an idle kernel nobody is connected to goes after 10 minutes
CULL_INTERVAL_SECONDS = 60
DEFAULT_POOL_SIZE = 2  # ready kernels per dashboard: a second visitor does not wait for a refill
KERNEL_BYTES = 320 * 2**20  # a dashboard kernel after rendering a page on the sample (measured)
KERNELS_PER_CORE = 6  # rendering is CPU-bound; a rendered page's kernel mostly waits
# + the 5 s check: a never-connected page's kernel goes within a minute. 40 s was too short
# with 20 pages opening at once: the browser ran a page's first script 30-50 s after
# receiving it, and two pages lost their kernels while loading (bench, 2026-12-02).
ORPHAN_SECONDS = 50
# A page whose panel has not drawn this long after Voila's scripts rendered its outputs (its
# widgets' state went missing) reloads itself once for a new kernel (the page template).
WIDGET_SECONDS = 120
TOKEN_ENV = "CUSTOPS_DASHBOARD_TOKEN"  # secrets reach the server by its environment, not argv
PASSWORD_ENV = "CUSTOPS_DASHBOARD_PASSWORD"
# Lab extensions the pages do not load (Voila loads every installed one by default).
DENIED_EXTENSIONS = ("jupyterlab-plotly",)
KERNEL_MARKER = "ipykernel_launcher"  # in the command line of a kernel process
LANDING = "index"  # the landing page's notebook
TEMPLATE = "custops"  # Voila's lab page plus a heartbeat (app/jupyter/voila/templates/custops)
TEMPLATES = Path(__file__).resolve().parent / "jupyter"  # on JUPYTER_PATH for the server


def finished_run(path: str | os.PathLike | None) -> Path | None:
    """``path`` resolved if it is a finished report (manifest.json with status ok), else None."""
    if not path:
        return None
    folder = Path(path).expanduser()
    manifest = folder / "manifest.json"
    if not manifest.is_file():
        return None
    try:
        status = json.loads(manifest.read_text("utf-8")).get("status")
    except (OSError, ValueError):
        return None
    return folder.resolve() if status == "ok" else None


def resolve_run(run: str | None, *, default: str = "reports") -> Path | None:
    """The report folder the dashboards show.

    ``run`` given: it must be a finished report (else :class:`ParameterError`). Not given:
    ``default`` if it is a finished report (looked up in the current folder), else None — the
    notebooks then compute from the sample data.
    """
    if run:
        found = finished_run(run)
        if found is None:
            raise ParameterError(
                f"{run} is not a finished report (no manifest.json with status ok): run "
                f"`custops report --data DATA --out {run}` first, or leave out --run to "
                "explore the sample data")
        return found
    return finished_run(Path(default))


def default_max_kernels(pools: int = 0) -> int:
    """The server-wide kernel cap from this machine: what half the available memory holds
    (``KERNEL_BYTES`` each) and ``KERNELS_PER_CORE`` per core, whichever is smaller, but room
    for the preheated ``pools`` plus two pages."""
    by_memory = int(psutil.virtual_memory().available * 0.5 // KERNEL_BYTES)
    by_cores = KERNELS_PER_CORE * (os.cpu_count() or 1)
    return max(min(by_memory, by_cores), pools + 2)


def is_loopback(ip: str) -> bool:
    if ip == "localhost":
        return True
    try:
        return ipaddress.ip_address(ip).is_loopback
    except ValueError:
        return False


def check_exposure(ip: str, *, allow_remote: bool, token: str | None,
                   password: str | None) -> None:
    """Refuse (one line) an address other than loopback without ``--allow-remote`` and a
    token or a password."""
    if is_loopback(ip):
        return
    if not allow_remote:
        raise ParameterError(
            f"--ip {ip} would serve the dashboards beyond this machine: add --allow-remote and "
            f"a token (--token or {TOKEN_ENV}) or a password ({PASSWORD_ENV}), or better, keep "
            "127.0.0.1 behind a reverse proxy with authentication (docs/security.md)")
    if not (token or password):
        raise ParameterError(
            f"--ip {ip} --allow-remote needs a token (--token or {TOKEN_ENV}) or a password "
            f"({PASSWORD_ENV}): without one anybody who reaches the port sees the reports")


def voila_command(notebooks: str | os.PathLike, *, port: int, ip: str = "127.0.0.1",
                  cull_idle_timeout: int = CULL_IDLE_SECONDS,
                  cull_interval: int = CULL_INTERVAL_SECONDS, preheat: bool = False,
                  pool_size: int = DEFAULT_POOL_SIZE, max_kernels: int | None = None,
                  orphan_seconds: float = ORPHAN_SECONDS,
                  widget_seconds: float = WIDGET_SECONDS) -> list[str]:
    """The command line of :mod:`custops.app.voila_app`: sources stripped and tracebacks
    hidden (Voila's defaults, not overridden), at most ``max_kernels`` kernels (None: no cap),
    ``pool_size`` ready kernels per dashboard when ``preheat``, idle kernels culled, no
    browser, the port exactly as given."""
    if preheat and cull_idle_timeout < 120:
        # A short cull can kill the kernel waiting in the pool (the page then has no widgets).
        raise ParameterError("preheated kernels need cull_idle_timeout >= 120 s")
    if preheat and pool_size < 1:
        raise ParameterError("--pool-size must be at least 1 (or pass --no-preheat)")
    if max_kernels is not None and max_kernels < 1:
        raise ParameterError("--max-kernels must be at least 1")
    command = [
        sys.executable, "-m", "custops.app.voila_app", str(notebooks), "--no-browser",
        f"--port={int(port)}", f"--Voila.ip={ip}", "--Voila.port_retries=0",
        f"--MappingKernelManager.cull_idle_timeout={int(cull_idle_timeout)}",
        f"--MappingKernelManager.cull_interval={int(cull_interval)}",
        f"--CustopsVoila.max_kernels={int(max_kernels or 0)}",
        f"--CustopsVoila.orphan_seconds={float(orphan_seconds)}",
        f"--CustopsVoila.widget_seconds={float(widget_seconds)}", f"--template={TEMPLATE}",
        # The pages draw figures with the template's plotly.js (figure_html): JupyterLab's
        # plotly renderer would make every page fetch and compile a second 4.8 MB copy.
        *(f"--VoilaConfiguration.extension_denylist={name}" for name in DENIED_EXTENSIONS),
    ]
    if preheat:
        command += ["--preheat_kernel=True", f"--pool_size={int(pool_size)}",
                    f"--VoilaKernelManager.preheat_denylist=['{LANDING}.ipynb']"]
    return command


def free_port(ip: str = "127.0.0.1") -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind((ip, 0))
        return int(sock.getsockname()[1])


def port_open(ip: str, port: int) -> bool:
    with contextlib.suppress(OSError), socket.create_connection((ip, port), timeout=0.3):
        return True
    return False


@dataclass
class Server:
    """A running Voila server (its process, address and the run it shows)."""

    process: subprocess.Popen
    ip: str
    port: int
    run_dir: Path | None
    log_path: Path | None = None
    notebooks: list[str] = field(default_factory=list)

    @property
    def pid(self) -> int:
        return self.process.pid

    @property
    def base_url(self) -> str:
        return f"http://{self.ip}:{self.port}"

    def url(self, notebook: str | None = None) -> str:
        """The page of ``notebook`` ("01_profile"), or the landing page / tree."""
        if notebook is None:
            if (notebooks_dir() / f"{LANDING}.ipynb").exists():
                notebook = LANDING
            else:
                return f"{self.base_url}/"
        return f"{self.base_url}/voila/render/{notebook}.ipynb"

    def kernel_count(self) -> int:
        """Kernels running under this server (child processes running ipykernel).

        Voila does not list kernels over HTTP, so this counts processes.
        """
        return kernel_count(self.pid)

    def stop(self, timeout: float = 15.0) -> None:
        """Stop the server (SIGTERM: Voila shuts its kernels down), then kill whatever is
        left of it and of its kernels."""
        try:
            kernels = psutil.Process(self.pid).children(recursive=True)
        except psutil.NoSuchProcess:
            kernels = []
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout)
        for child in kernels:
            with contextlib.suppress(psutil.Error):
                child.kill()

    def __enter__(self) -> Server:
        return self

    def __exit__(self, *exc) -> None:
        self.stop()


def kernel_pids(pid: int) -> list[int]:
    """Kernel processes (``ipykernel_launcher``) among the descendants of ``pid``."""
    try:
        children = psutil.Process(pid).children(recursive=True)
    except psutil.NoSuchProcess:
        return []
    found = []
    for child in children:
        with contextlib.suppress(psutil.Error):
            if any(KERNEL_MARKER in part for part in child.cmdline()):
                found.append(child.pid)
    return found


def kernel_count(pid: int) -> int:
    """How many kernels run under the server ``pid``."""
    return len(kernel_pids(pid))


def start_server(run_dir: str | os.PathLike | None, *, port: int | None = None,
                 ip: str = "127.0.0.1", cull_idle_timeout: int = CULL_IDLE_SECONDS,
                 cull_interval: int = CULL_INTERVAL_SECONDS, preheat: bool = False,
                 pool_size: int = DEFAULT_POOL_SIZE, max_kernels: int | None = None,
                 orphan_seconds: float = ORPHAN_SECONDS,
                 widget_seconds: float = WIDGET_SECONDS, allow_remote: bool = False,
                 token: str | None = None, password: str | None = None,
                 log_path: str | os.PathLike | None = None, quiet: bool = True,
                 timeout: float = 60.0) -> Server:
    """Start Voila on the notebooks folder with ``CUSTOPS_RUN_DIR`` set to ``run_dir`` (None:
    unset, the notebooks compute from their data) and wait until it listens.

    ``max_kernels`` caps the server's kernels (None: no cap); ``token`` / ``password`` reach
    the server through its environment, never its command line. Voila's log goes to
    ``log_path``, else nowhere (``quiet``) or to this terminal.
    """
    check_exposure(ip, allow_remote=allow_remote, token=token, password=password)
    port = int(port) if port else free_port(ip)
    if port_open(ip, port):
        raise ParameterError(f"port {port} on {ip} is already in use: pass another --port")
    if run_dir is not None:
        # Each dashboard's first view, computed (or found in the cache) before Voila starts:
        # Voila reads it from the cache when it starts (custops.app.first_view).
        from custops.app.first_view import cached_first_views  # noqa: PLC0415

        cached_first_views(run_dir)
    env = kernel_env()  # Voila's kernels: OpenMP workers sleep when idle, as in reports
    env.pop(RUN_DIR_ENV, None)
    if run_dir is not None:
        env[RUN_DIR_ENV] = str(Path(run_dir).resolve())
    env.setdefault("PYTHONUNBUFFERED", "1")
    env[PLOTLY_ON_PAGE_ENV] = "1"  # the custops template loads plotly.js
    # the page template with the heartbeat (``--template=custops``)
    env["JUPYTER_PATH"] = os.pathsep.join(
        [str(TEMPLATES), *filter(None, [env.get("JUPYTER_PATH")])])
    env.pop(TOKEN_ENV, None)
    env.pop(PASSWORD_ENV, None)
    if token:
        env[TOKEN_ENV] = token
    if password:
        env[PASSWORD_ENV] = password
    command = voila_command(notebooks_dir(), port=port, ip=ip,
                            cull_idle_timeout=cull_idle_timeout, cull_interval=cull_interval,
                            preheat=preheat, pool_size=pool_size, max_kernels=max_kernels,
                            orphan_seconds=orphan_seconds, widget_seconds=widget_seconds)
    output = open(log_path, "ab") if log_path else (subprocess.DEVNULL if quiet else None)
    try:
        process = subprocess.Popen(command, env=env, cwd=str(notebooks_dir()), stdout=output,
                                   stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    finally:
        if log_path:
            output.close()
    server = Server(process, ip, port, Path(run_dir).resolve() if run_dir else None,
                    Path(log_path) if log_path else None, available_notebooks())
    deadline = time.monotonic() + timeout
    while not port_open(ip, port):
        if process.poll() is not None:
            raise RunError(f"Voila exited with code {process.returncode} before listening on "
                           f"{ip}:{port}" + (f"; see {log_path}" if log_path else ""))
        if time.monotonic() > deadline:
            server.stop()
            raise RunError(f"Voila did not listen on {ip}:{port} within {timeout:.0f} s")
        time.sleep(0.2)
    return server


def cli_dashboard(args) -> int:
    """``custops dashboard``: serve the dashboards until Ctrl-C.

    ``pool_size`` kernels per dashboard are preheated (they have already run their notebook
    when a manager opens the page) and refilled at once; at most ``max_kernels`` kernels run
    (default :func:`default_max_kernels`), beyond that pages show "busy, retrying";
    ``args.preheat = False`` turns the pools off.
    """
    ip, port = args.ip or "127.0.0.1", int(args.port or DEFAULT_PORT)
    token = getattr(args, "token", None) or os.environ.get(TOKEN_ENV) or None
    password = os.environ.get(PASSWORD_ENV) or None
    check_exposure(ip, allow_remote=bool(getattr(args, "allow_remote", False)), token=token,
                   password=password)
    run = resolve_run(args.run)
    preheat = bool(getattr(args, "preheat", True))
    pool_size = int(getattr(args, "pool_size", None) or DEFAULT_POOL_SIZE)
    dashboards = len([n for n in available_notebooks() if n != LANDING])
    max_kernels = getattr(args, "max_kernels", None)
    if max_kernels is None:
        max_kernels = default_max_kernels(dashboards * pool_size if preheat else 0)
    elif preheat and max_kernels < dashboards * pool_size:
        raise ParameterError(f"--max-kernels {max_kernels} is below the {dashboards} × "
                             f"{pool_size} preheated kernels: raise it, lower --pool-size or "
                             "pass --no-preheat")
    server = start_server(run, port=port, ip=ip, preheat=preheat, pool_size=pool_size,
                          max_kernels=max_kernels, allow_remote=True, token=token,
                          password=password, quiet=False, timeout=120)
    # A service manager stops us with SIGTERM: exit through ``finally`` so Voila and its
    # kernels do not outlive us.
    previous = signal.signal(signal.SIGTERM, lambda *_: sys.exit(128 + signal.SIGTERM))
    try:
        source = (f"report {run}" if run is not None
                  else "no finished report (run `custops report` first): computing from "
                       "the sample data")
        print(f"custops dashboards ({source})", flush=True)
        print(f"open {server.url()}" + (" (with the token or password)" if token or password
                                        else ""), flush=True)
        for name in server.notebooks:
            print(f"  {name}: {server.url(name)}", flush=True)
        if preheat:
            print(f"{pool_size} ready kernel(s) per dashboard (~300 MB each), refilled at once; "
                  "restart the server after a new report so no ready kernel shows the "
                  "previous one", flush=True)
        print(f"at most {max_kernels} kernels at once: beyond that a page shows 'busy, "
              "retrying' until one is free; a closed tab gives its kernel back at once, a page "
              f"that never connects after {ORPHAN_SECONDS:.0f} s; Ctrl-C stops the server",
              flush=True)
        return int(server.process.wait() or 0)
    finally:
        server.stop()
        signal.signal(signal.SIGTERM, previous)
