"""The Voila application behind ``custops dashboard``: kernels under a server-wide cap.

Voila alone starts one kernel per GET of a page, keeps it ~10 minutes when the page never
connects, and refills its preheated pool only after a delay. This application adds:

- a **cap** on the server's kernels (``--CustopsVoila.max_kernels``): pooled, starting and
  in-use kernels all count; beyond it a page gets a small "busy, retrying" page (HTTP 503,
  ``Retry-After``, in English or Chinese) that reloads itself until a kernel is free;
- **pools refilled** without Voila's delay, within the cap (a kernel shut down frees room
  for a pool first), as soon as the pages just served have had the server to themselves for
  :data:`REFILL_PAUSE_SECONDS` (at once when a page waits for that pool), at a **lower CPU
  priority**: every kernel starts at niceness :data:`POOL_NICE` and gets the
  normal priority back when a page takes it (:func:`set_kernel_nice`), so a refill running
  its notebook yields the cores to the pages being drawn and to the server;
- **orphan culling**: a kernel handed to a page that, for ``--CustopsVoila.orphan_seconds``
  after the page was sent, has had neither a websocket connection nor the page's heartbeat
  (``GET /api/kernels/<id>`` every 10 s from the ``custops`` page template) and is not
  executing is shut down — a page that never connected frees its kernel within a minute; a
  page heard from before (a browser short of CPU can fall silent for tens of seconds) keeps
  it through ``HEARD_WINDOWS`` such windows; a closed tab gives it back at once (Voila's
  ``beforeunload`` beacon, which needs the ``_xsrf`` cookie the page now sets); a page that
  finds its kernel gone reloads itself;
- the **first view** of each dashboard (its key numbers and figures, computed once at start
  from the published report, :mod:`custops.app.first_view`) written into the page and into the
  busy page, drawn with plotly.js before the kernel is ready: the cap and a busy server delay
  the filters, not the first figure; the busy page asks ``/custops/room/<notebook>`` and
  reloads only when a kernel is free;
- a token or password read from the environment (never the command line, which ``ps`` shows).

Run as ``python -m custops.app.voila_app NOTEBOOKS [Voila options]``
(:func:`custops.app.server.voila_command` builds the command).
"""

from __future__ import annotations

import asyncio
import contextvars
import gzip
import html
import json
import math
import os
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import plotly
import psutil
import tornado.ioloop
import tornado.web
import voila.app as voila_app
from jupyter_core.utils import ensure_async
from jupyter_server.base.handlers import JupyterHandler
from jupyter_server.utils import url_path_join
from traitlets import Float, Integer, default
from voila.tornado.handler import TornadoVoilaHandler

from custops import kernel_ports
from custops.app.first_view import STATIC_PATH, cached_first_views, first_view_html
from custops.app.server import (
    LANDING,
    ORPHAN_SECONDS,
    PASSWORD_ENV,
    TOKEN_ENV,
    WIDGET_SECONDS,
)
from custops.kernel_logging import kernel_arguments
from custops.labels import t
from custops.run.context import RUN_DIR_ENV
from custops.run.runner import available_notebooks

__all__ = ["BUSY_RETRY_SECONDS", "CustopsVoila", "busy_page", "capped_kernel_manager_factory",
           "main", "page_language", "quiet_kernels"]

BUSY_RETRY_SECONDS = 3
POOL_NICE = 10  # niceness of a kernel no page has taken yet (pooled, preheating)
PROMISE_SECONDS = 10  # a free kernel promised to one busy page waits this long for it
CHECK_SECONDS = 5
# A busy page that asked for room this recently is still waiting (it asks every 2-4 s).
WAITING_SECONDS = 12
QUIET_SECONDS = 10  # a kernel with activity this recent may still be rendering its page
# A page that has been heard from (a heartbeat or a websocket) is a browser's: it keeps its
# kernel through this many orphan windows of silence (a browser short of CPU holds its timers
# and its scripts back for tens of seconds; a closed tab gives its kernel back at once with
# Voila's beforeunload beacon). A page never heard from still goes after one window.
HEARD_WINDOWS = 3
# A pool's refill starts once no page has been handed a kernel or finished being sent for this
# long (at most REFILL_WAIT_SECONDS after it was asked for), or at once when a page waits for
# it: rendering a refill's page template holds the server's loop for 0.5-1 s, and starting it
# right after a page was sent delayed that page's stylesheets and plotly.js by as much (its
# first figure 1.6-1.8x the static page against 1.3-1.4x when the refill came later).
REFILL_PAUSE_SECONDS = 3.0
REFILL_WAIT_SECONDS = 15.0

_voila_factory = voila_app.voila_kernel_manager_factory
# The page request being served (a dict that receives its kernel id): set by the handler, read
# by the kernel manager in the same asyncio task.
_PAGE: contextvars.ContextVar[dict | None] = contextvars.ContextVar("custops_page", default=None)


def page_language(query_lang: str | None, accept_language: str | None) -> str:
    """``zh`` or ``en`` for the busy page: ``?lang=`` first, then the browser's first
    preference among the two (Accept-Language), else English."""
    if query_lang in ("en", "zh"):
        return query_lang
    for part in (accept_language or "").split(","):
        tag = part.split(";")[0].strip().lower()
        if tag.startswith("zh"):
            return "zh"
        if tag.startswith("en"):
            return "en"
    return "en"


PLOTLY_VERSION = plotly.__version__
PLOTLY_DIR = Path(plotly.__file__).resolve().parent / "package_data"  # plotly.min.js


def busy_page(lang: str, retry_seconds: int = BUSY_RETRY_SECONDS, *, room_url: str = "",
              first_view: str = "") -> str:
    """The page shown beyond the cap: it asks ``room_url`` every ``retry_seconds`` whether a
    kernel is free and reloads then (without ``room_url``, or without scripts, it reloads
    every ``retry_seconds``); ``first_view`` (HTML) shows the dashboard's first view
    meanwhile."""
    title, text = html.escape(t("dash.busy_title", lang)), html.escape(t("dash.busy_text", lang))
    wait = int(retry_seconds) * 1000
    if room_url:
        # Reloading would parse plotly.js again for the first view: ask first.
        # ± a third at random: pages that got busy together do not ask together
        # ``w``: this page's id, so the server counts the pages waiting for each dashboard
        script = ("<script>var custopsWaiter = Math.random().toString(36).slice(2);"
                  "(function check() { setTimeout(function () {"
                  f"fetch({json.dumps(room_url)} + '?w=' + custopsWaiter, "
                  "{credentials: 'same-origin', "
                  "cache: 'no-store'}).then(function (r) { return r.json(); })"
                  ".then(function (d) { if (d.room) { location.reload(); } else { check(); } })"
                  ".catch(function () { location.reload(); });"
                  f"}}, {wait} * (0.67 + 0.66 * Math.random())); }})();</script>")
    else:
        script = f"<script>setTimeout(() => location.reload(), {wait});</script>"
    return (f'<!doctype html><html lang="{lang}"><head><meta charset="utf-8">'
            f'<noscript><meta http-equiv="refresh" content="{int(retry_seconds)}"></noscript>'
            f"<title>{title}</title>{script}</head>"
            '<body style="font-family:sans-serif;margin:2em 3em">'
            f'<div class="custops-busy" data-retry-seconds="{int(retry_seconds)}">'
            f"<h2>{title}</h2><p>{text}</p></div>{first_view}</body></html>")


def set_kernel_nice(pid: int | None, nice: int) -> bool:
    """Set the niceness of every thread of kernel process ``pid`` (on Linux a thread keeps
    the niceness it was created with: the kernel's OpenMP and DuckDB threads are reniced one
    by one). False when it could not be done: no such process, or lowering the niceness is
    not allowed (not root, no ``CAP_SYS_NICE``) — the kernel then keeps its priority."""
    if not pid or not hasattr(os, "setpriority"):
        return False
    try:
        threads = [thread.id for thread in psutil.Process(pid).threads()]
    except psutil.Error:
        return False
    done = False
    for tid in threads:
        try:
            os.setpriority(os.PRIO_PROCESS, tid, nice)
            done = True
        except OSError:  # the thread ended, or not permitted
            continue
    return done


def _kernel_pid(manager, kernel_id: str) -> int | None:
    try:
        return getattr(manager.get_kernel(kernel_id).provisioner, "pid", None)
    except (KeyError, AttributeError):
        return None


def quiet_kernels(base_class):
    """``base_class`` (a multi-kernel manager) whose kernels start with
    :func:`custops.kernel_logging.kernel_arguments`, as the report runner's: no "running over
    TCP without encryption" warning per kernel in the server's log.

    Below Voila's pooled manager, whose pool refills call the base class's ``start_kernel``
    directly: pooled kernels and kernels started for a page alike."""

    class QuietKernelManager(base_class):
        async def start_kernel(self, *args, **kwargs):
            kwargs["extra_arguments"] = [*(kwargs.get("extra_arguments") or []),
                                         *kernel_arguments()]
            kernel_id = await ensure_async(super().start_kernel(*args, **kwargs))
            # low priority until a page takes it (CappedKernelManager._hand_out)
            set_kernel_nice(_kernel_pid(self, kernel_id), POOL_NICE)
            return kernel_id

    return QuietKernelManager


def capped_kernel_manager_factory(base_class, preheat_kernel, default_pool_size,
                                  page_config_hook=None):
    """Voila's kernel manager (pooled or not) with the cap, immediate refills and orphan
    culling on top; its kernels are quiet (:func:`quiet_kernels`)."""
    manager = _voila_factory(quiet_kernels(base_class), preheat_kernel, default_pool_size,
                             page_config_hook=page_config_hook)

    class CappedKernelManager(manager):
        def __init__(self, **kwargs):
            app = kwargs.get("parent")
            self.max_kernels = int(getattr(app, "max_kernels", 0) or 0) or None
            self.orphan_seconds = float(getattr(app, "orphan_seconds", ORPHAN_SECONDS))
            self._in_use: dict[str, float] = {}  # kernel id → last time a page was connected
            self._handed: dict[str, float] = {}  # kernel id → when it was handed to a page
            self._heard: set[str] = set()  # kernels whose page sent a heartbeat or connected
            self._reserved = 0  # pages admitted whose kernel is not counted elsewhere yet
            self._stopping: set[str] = set()  # kernels shutting down: their process still runs
            self._closing = False
            self._last_page = -math.inf  # when a page was last handed a kernel or sent
            self._awaiting: dict[str, int] = {}  # notebook → pages waiting for a pooled kernel
            self._promises: list[float] = []  # when a free kernel was promised to a busy page
            # notebook → {busy page's id: when it last asked for room}
            self._waiting: dict[str, dict[str, float]] = {}
            super().__init__(**kwargs)

        # -- counting ----------------------------------------------------------------------
        def _pooled(self) -> int:
            return sum(len(pool) for pool in getattr(self, "_pools", {}).values())

        def committed(self) -> int:
            """Kernels counted against the cap: pooled (ready or starting), in use by a
            page, about to start for an admitted page, or shutting down (until its process
            has gone: when a dozen tabs closed at once, the refills and the busy pages' new
            kernels started beside the dying ones and the server ran 20 kernel processes
            under a cap of 12)."""
            return (self._pooled() + len(self._in_use) + self._reserved
                    + len(self._stopping))

        def room(self) -> int | None:
            return None if self.max_kernels is None else self.max_kernels - self.committed()

        def admit(self, notebook: str) -> bool:
            """May a page of ``notebook`` be served now? True reserves a kernel (released
            with :meth:`release`) unless the page takes a pooled one."""
            if self.get_pool_size(notebook) > 0 and self.notebook_data.get(notebook):
                return True
            room = self.room()
            if room is not None and room <= 0:
                return False
            self._reserved += 1
            return True

        def promise_room(self, notebook: str) -> bool:
            """May a waiting (busy) page of ``notebook`` reload now? Each free kernel is
            promised to one waiting page for ``PROMISE_SECONDS`` (until its page arrives):
            when a kernel frees, one page reloads, not every waiting one (each reload costs
            the browser a parse of plotly.js and the server a busy page)."""
            now = time.monotonic()
            self._promises = [at for at in self._promises if now - at < PROMISE_SECONDS]
            room = self.room()
            free = 10**6 if room is None else max(room, 0)
            if self.get_pool_size(notebook) > 0 and self.notebook_data.get(notebook):
                free += len(getattr(self, "_pools", {}).get(notebook, []))
            if free - len(self._promises) <= 0:
                return False
            self._promises.append(now)
            return True

        def note_waiting(self, notebook: str, waiter: str) -> None:
            """A busy page of ``notebook`` (``waiter``: its own random id) asked for room."""
            if waiter:
                self._waiting.setdefault(notebook, {})[waiter[:40]] = time.monotonic()

        def served_waiter(self, notebook: str, waiter: str) -> None:
            """``waiter`` was promised a kernel and reloads: it no longer waits."""
            self._waiting.get(notebook, {}).pop(waiter[:40], None)

        def unmet(self) -> dict[str, int]:
            """Busy pages per notebook still waiting beyond what its pool holds."""
            self._forget_quiet_waiters()
            out = {}
            for notebook, waiters in self._waiting.items():
                pooled = len(getattr(self, "_pools", {}).get(notebook, []))
                if len(waiters) > pooled:
                    out[notebook] = len(waiters) - pooled
            return out

        def _forget_quiet_waiters(self) -> None:
            """Forget the busy pages that stopped asking for room (closed, or served)."""
            now = time.monotonic()
            for waiters in self._waiting.values():
                for waiter, at in list(waiters.items()):
                    if now - at > WAITING_SECONDS:
                        del waiters[waiter]

        def keep_promise(self) -> None:
            """A page arrived and was admitted: one promise is kept."""
            if self._promises:
                self._promises.pop(0)

        def release(self) -> None:
            self._reserved = max(self._reserved - 1, 0)

        # -- handing kernels to pages ------------------------------------------------------
        async def get_rendered_notebook(self, notebook_name, *args, **kwargs):
            self._reserved += 1  # the pooled kernel leaves the pool before it is in use
            self._awaiting[notebook_name] = self._awaiting.get(notebook_name, 0) + 1
            try:
                result = await super().get_rendered_notebook(notebook_name, *args, **kwargs)
            finally:
                self._reserved -= 1
                self._awaiting[notebook_name] -= 1
            self._hand_out(result[2])
            return result

        async def start_kernel(self, *args, **kwargs):
            kernel_id = await ensure_async(super().start_kernel(*args, **kwargs))
            self._hand_out(kernel_id)
            return kernel_id

        async def _initialize(self, notebook_path, kernel_id=None, **kwargs):
            if kernel_id is None:  # a pool's new kernel (not a restart)
                await self._refill_pause(notebook_path)
            return await super()._initialize(notebook_path, kernel_id, **kwargs)

        async def _refill_pause(self, notebook: str) -> None:
            """Wait until the pages just served have had the server to themselves for
            :data:`REFILL_PAUSE_SECONDS` (their stylesheets, plotly.js and first figure come
            first), at most :data:`REFILL_WAIT_SECONDS`; not at all when a page waits for
            this pool, or busy pages for this dashboard. Raises when the server closes."""
            deadline = time.monotonic() + REFILL_WAIT_SECONDS
            while True:
                if self._closing:
                    # out of its pool: Voila's shutdown_kernel reads every finished entry's
                    # result, and a failed one would stop it shutting a kernel down
                    pool = self._pools.get(notebook, [])
                    task = asyncio.current_task()
                    if task in pool:
                        pool.remove(task)
                    raise RuntimeError("the server is shutting down: no refill")
                now = time.monotonic()
                quiet_at = self._last_page + REFILL_PAUSE_SECONDS
                # a page still being sent (its orphan clock not started) is still served
                sending = any(at == math.inf for at in self._in_use.values())
                if (now >= deadline or (now >= quiet_at and not sending)
                        or self._awaiting.get(notebook) or self._busy_pages(notebook)):
                    return
                await asyncio.sleep(min(max(quiet_at - now, 0.05), 0.25))

        def _busy_pages(self, notebook: str) -> int:
            """Busy pages of ``notebook`` that asked for room lately (a refill pausing in the
            pool would hide them from :meth:`unmet`, which counts pool entries as kernels)."""
            self._forget_quiet_waiters()
            return len(self._waiting.get(notebook, {}))

        def _hand_out(self, kernel_id: str) -> None:
            """A kernel now belongs to a page. Its orphan clock starts once the page has been
            sent (:meth:`page_sent`): a page still rendering, or a browser still receiving
            it, is not an orphan. From here the kernel counts against the cap as in use, so
            the page's reservation (:meth:`admit`) is given back now, not once the page has
            been sent (a page streamed while its cells execute would count twice)."""
            page = _PAGE.get()
            now = time.monotonic()
            self._handed[kernel_id] = self._last_page = now
            set_kernel_nice(_kernel_pid(self, kernel_id), 0)  # a page's kernel: normal priority
            if page is None:
                self._in_use[kernel_id] = now
            else:
                page["kernel_id"] = kernel_id
                self._in_use[kernel_id] = math.inf
                if page.pop("reserved", False):
                    self.release()
            self.log.info("custops: kernel %s handed to a page (%d in use, %d pooled)",
                          kernel_id, len(self._in_use), self._pooled())

        def page_alive(self, kernel_id: str) -> None:
            """The page of ``kernel_id`` said it is open (its heartbeat)."""
            if kernel_id not in self._in_use:
                return
            now = time.monotonic()
            if self._in_use[kernel_id] < now:  # a page still being sent keeps math.inf
                self._in_use[kernel_id] = now
            if kernel_id not in self._heard:
                self._heard.add(kernel_id)
                self.log.info("custops: first heartbeat of kernel %s's page, %.1f s after "
                              "the kernel was handed to it", kernel_id,
                              now - self._handed.get(kernel_id, now))

        def page_sent(self, kernel_id: str | None) -> None:
            """The whole page of ``kernel_id`` has been sent: its orphan clock starts now.

            Not earlier: a heartbeat that came while a streamed page was still being sent
            (its first cell carries the heartbeat, the cells below take their time to
            execute) says the page was open then, not that it has been silent since — taking
            that time would leave the page less than ``orphan_seconds`` to be heard from
            again, and under load it was culled while loading."""
            if kernel_id in self._in_use:
                now = time.monotonic()
                self._in_use[kernel_id] = self._last_page = now
                self.log.info("custops: page of kernel %s sent, %.1f s after the kernel was "
                              "handed to it", kernel_id, now - self._handed.get(kernel_id, now))

        def fill_if_needed(self, delay=None, notebook_name=None, extra_kernel_env_variables=None,
                           **kwargs):
            """Refill the pool of ``notebook_name`` at once, as far as the cap allows."""
            if self._closing:
                return
            default = self.kernel_pools_config.get("default", {})
            config = self.kernel_pools_config.get(notebook_name, default)
            size = int(config.get("pool_size", default.get("pool_size", 1)))
            pool = self._pools.setdefault(notebook_name, [])
            room = self.room()
            if room is not None:
                # Room wanted by busy pages of other dashboards is theirs, not this pool's:
                # when a dozen tabs closed at once the pools of the other dashboards took every
                # freed kernel and a 04 page waited on the busy page for 281 s.
                room -= sum(n for name, n in self.unmet().items() if name != notebook_name)
            target = size if room is None else min(size, len(pool) + max(room, 0))
            if target <= len(pool):
                return
            saved = self.kernel_pools_config
            self.kernel_pools_config = {**saved, notebook_name: {**config, "pool_size": target}}
            try:
                super().fill_if_needed(delay=0, notebook_name=notebook_name,
                                       extra_kernel_env_variables=extra_kernel_env_variables or {},
                                       **kwargs)
            finally:
                self.kernel_pools_config = saved

        def refill(self) -> None:
            """Refill the emptiest pools first, within the cap."""
            pools = getattr(self, "_pools", None)
            if pools is None or self._closing:
                return
            unmet = self.unmet()  # pools with busy pages waiting for them first
            for name in sorted(pools, key=lambda n: (-unmet.get(n, 0), len(pools[n]))):
                self.fill_if_needed(notebook_name=name)

        # -- giving kernels back -----------------------------------------------------------
        async def shutdown_kernel(self, kernel_id, *args, **kwargs):
            self._stopping.add(kernel_id)
            self._in_use.pop(kernel_id, None)
            self._handed.pop(kernel_id, None)
            self._heard.discard(kernel_id)
            try:
                return await ensure_async(super().shutdown_kernel(kernel_id, *args, **kwargs))
            finally:
                self._stopping.discard(kernel_id)
                self.refill()

        async def shutdown_all(self, *args, **kwargs):
            self._closing = True
            return await ensure_async(super().shutdown_all(*args, **kwargs))

        async def cull_orphans(self) -> None:
            """Shut down in-use kernels no page has been connected to for
            ``orphan_seconds`` (``HEARD_WINDOWS`` times that once the page has been heard
            from) and that are quiet (not executing, no message for ``QUIET_SECONDS``: a page
            still rendering is left alone)."""
            now = time.monotonic()
            for kernel_id, seen in list(self._in_use.items()):
                if self._kernel_connections.get(kernel_id, 0) > 0:
                    self._in_use[kernel_id] = now
                    self._heard.add(kernel_id)
                    continue
                window = self.orphan_seconds * (HEARD_WINDOWS if kernel_id in self._heard
                                                else 1)
                if now - seen < window or kernel_id not in self:
                    continue
                kernel = self.get_kernel(kernel_id)
                last = getattr(kernel, "last_activity", None)
                quiet = (getattr(kernel, "execution_state", "") != "busy"
                         and (last is None
                              or (datetime.now(UTC) - last).total_seconds() >= QUIET_SECONDS))
                if quiet:
                    self.log.info("custops: shutting down kernel %s (no page connected for "
                                  "%.0f s, %s)", kernel_id, now - seen,
                                  "page heard from before" if kernel_id in self._heard
                                  else "page never heard from")
                    try:
                        await self.shutdown_kernel(kernel_id)
                    except Exception as exc:  # noqa: BLE001 - a dead kernel is gone anyway
                        self.log.warning("custops: could not shut down %s: %s", kernel_id, exc)
                        self._in_use.pop(kernel_id, None)
                        self._handed.pop(kernel_id, None)
                        self._heard.discard(kernel_id)

    return CappedKernelManager


class GatedVoilaHandler(TornadoVoilaHandler):
    """A dashboard page: served when the cap has room (or a pooled kernel waits), else the
    busy page."""

    @tornado.web.authenticated
    async def get(self, path=None):
        manager = self.kernel_manager
        notebook = self.notebook_path or path
        if not manager.admit(notebook):
            lang = page_language(self.get_argument("lang", None),
                                 self.request.headers.get("Accept-Language"))
            self.set_status(503)
            self.set_header("Retry-After", str(BUSY_RETRY_SECONDS))
            self.set_header("Cache-Control", "no-store")
            self.set_header("Content-Type", "text/html; charset=utf-8")
            app = self.settings.get("custops_app")
            name = Path(str(notebook)).stem
            room_url = url_path_join(self.base_url, "custops/room", str(notebook))
            self.finish(busy_page(lang, room_url=room_url,
                                  first_view=app.first_view(name) if app else ""))
            return
        manager.keep_promise()
        pooled = manager.get_pool_size(notebook) > 0 and manager.notebook_data.get(notebook)
        # The _xsrf cookie, before the first byte of the page: Voila's ``beforeunload``
        # beacon (POST voila/api/shutdown/<kernel>) sends it; without it the server refused
        # the beacon (403) and a closed tab's kernel waited for the orphan cull.
        self.xsrf_token  # noqa: B018 - setting the cookie is the property's side effect
        # "reserved": the admitted page's reservation, given back once its kernel is in use
        page: dict = {"reserved": not pooled}
        token = _PAGE.set(page)
        try:
            await super().get(path)
        finally:
            _PAGE.reset(token)
            if page.pop("reserved", False):
                manager.release()
            manager.page_sent(page.get("kernel_id"))


class RoomHandler(JupyterHandler):
    """``GET /custops/room/<notebook>``: ``{"room": true}`` when a page of that notebook would
    get a kernel now (the busy page asks before reloading)."""

    @tornado.web.authenticated
    def get(self, notebook):
        manager = self.kernel_manager
        waiter = self.get_argument("w", "")
        manager.note_waiting(notebook, waiter)
        room = bool(manager.promise_room(notebook))
        if room:
            manager.served_waiter(notebook, waiter)
        else:
            manager.refill()  # a pool this page can take, if the cap has room for one
        self.set_header("Cache-Control", "no-store")
        self.set_header("Content-Type", "application/json")
        self.finish(json.dumps({"room": room}))


def accepts_gzip(accept_encoding: str) -> bool:
    """Whether an ``Accept-Encoding`` header accepts gzip (``gzip`` or ``*``, not at
    ``q=0``; names are case-insensitive)."""
    quality = {}
    for part in accept_encoding.split(","):
        name, _, params = part.strip().partition(";")
        q = 1.0
        for param in params.split(";"):
            key, _, value = param.strip().partition("=")
            if key.strip().lower() == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        quality[name.strip().lower()] = q
    return quality.get("gzip", quality.get("*", 0.0)) > 0


class PlotlyJsHandler(tornado.web.RequestHandler):
    """plotly.min.js for the first views (the plotly package's own copy; no network), from
    memory and gzip-compressed for browsers that accept it (every browser does): one write
    of 1.4 MB instead of 4.8 MB read from disk in 64 KB chunks, each waiting for the loop —
    the page's first figure waited 0.4-0.5 s for it on loopback. Compressed once, when the
    server starts (:meth:`load`), not on a visitor's request. The URL carries plotly's
    version (``?v=``): browsers keep it for a year."""

    _bodies: dict[str, bytes] = {}

    @classmethod
    def load(cls) -> None:
        if not cls._bodies:
            raw = (PLOTLY_DIR / "plotly.min.js").read_bytes()
            cls._bodies = {"identity": raw, "gzip": gzip.compress(raw, 6, mtime=0)}

    def get(self, _name: str) -> None:
        self.load()
        coding = "gzip" if accepts_gzip(self.request.headers.get("Accept-Encoding", "")) \
            else "identity"
        self.set_header("Content-Type", "text/javascript; charset=utf-8")
        self.set_header("Cache-Control", "public, max-age=31536000, immutable")
        self.set_header("Vary", "Accept-Encoding")
        self.set_header("Etag", f'"{PLOTLY_VERSION}-{coding}"')
        if self.check_etag_header():  # the browser has it
            self.set_status(304)
            self.finish()
            return
        if coding == "gzip":
            self.set_header("Content-Encoding", "gzip")
        self.finish(self._bodies[coding])

    head = get  # the same headers and length; tornado sends no body for HEAD


class HeartbeatKernelHandler(voila_app.KernelHandler):
    """``GET /api/kernels/<id>``: the page template's heartbeat counts as the page being
    open (a slow browser may connect to its kernel a minute after receiving the page)."""

    async def get(self, kernel_id):
        await super().get(kernel_id)
        if self.get_status() == 200:
            self.kernel_manager.page_alive(kernel_id)


class CustopsVoila(voila_app.Voila):
    """Voila with a kernel cap, immediate pool refills, orphan culling and a secret from the
    environment."""

    max_kernels = Integer(0, config=True,
                          help="Most kernels at once (pooled, starting, in use); 0: no cap")
    orphan_seconds = Float(ORPHAN_SECONDS, config=True,
                           help="Shut down a page's kernel after this long with no connection")
    widget_seconds = Float(WIDGET_SECONDS, config=True,
                           help="A page whose panel has not drawn this long after its outputs "
                                "reloads itself once (the page template)")

    _first_views: dict = {}

    @default("log_format")
    def _log_format_default(self) -> str:
        # the time of each line: kernels handed out, heartbeats, culls can be read in order
        return "[%(name)s %(asctime)s.%(msecs)03d]%(highlevel)s %(message)s"

    @default("log_datefmt")
    def _log_datefmt_default(self) -> str:
        return "%H:%M:%S"

    def first_view(self, notebook: str) -> str:
        """The first-view HTML of ``notebook`` ("" when there is none)."""
        return first_view_html(self._first_views, notebook, self.base_url,
                               plotly_version=PLOTLY_VERSION)

    def initialize(self, argv=None):
        token = os.environ.pop(TOKEN_ENV, "")  # kernels inherit the environment: drop it
        password = os.environ.pop(PASSWORD_ENV, "")
        kernel_ports.install()  # kernel ports that the pages' connections cannot take
        super().initialize(argv)
        run = os.environ.get(RUN_DIR_ENV, "")
        if run:
            self._first_views = cached_first_views(run) or {}
        # The page template writes ``resources.custops_first[<notebook>]``: plotly.js and
        # the first view, on every dashboard's page.
        self.config.VoilaConfiguration.resources = {
            "custops_first": {name: self.first_view(name) for name in available_notebooks()
                              if name != LANDING},
            "custops_widget_seconds": int(math.ceil(self.widget_seconds))}
        if token:
            self.token = token
        if password:
            from jupyter_server.auth import passwd
            from jupyter_server.auth.identity import PasswordIdentityProvider

            self.identity_provider_class = PasswordIdentityProvider
            self.config.PasswordIdentityProvider.hashed_password = passwd(password)
            self.config.PasswordIdentityProvider.token = token or ""

    def init_settings(self):
        voila_app.voila_kernel_manager_factory = capped_kernel_manager_factory
        try:
            settings = super().init_settings()
            settings["custops_app"] = self  # the busy page's first view
            return settings
        finally:
            voila_app.voila_kernel_manager_factory = _voila_factory

    def init_handlers(self):
        handlers = super().init_handlers()
        PlotlyJsHandler.load()  # compressed now, before the first visitor asks
        # custops's own, first: Voila's handlers end with catch-all patterns
        gated = [
            (url_path_join(self.server_url, r"/custops/room/(.*)"), RoomHandler),
            (url_path_join(self.server_url, rf"/{STATIC_PATH}(plotly\.min\.js)"),
             PlotlyJsHandler),
        ]
        for spec in handlers:
            if len(spec) >= 2 and spec[1] is voila_app.TornadoVoilaHandler:
                spec = (spec[0], GatedVoilaHandler, *spec[2:])
            elif len(spec) >= 2 and spec[1] is voila_app.KernelHandler:
                spec = (spec[0], HeartbeatKernelHandler, *spec[2:])
            gated.append(spec)
        tornado.ioloop.PeriodicCallback(self.kernel_manager.cull_orphans,
                                        CHECK_SECONDS * 1000).start()
        return gated


main = CustopsVoila.launch_instance

if __name__ == "__main__":
    sys.exit(main())
