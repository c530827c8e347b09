"""Voilà for a whole class: a kernel limit, and a "class is full" page instead of a broken one.

tools/present.py starts Voilà through this file (``python tools/voila_class.py NOTEBOOK --options``), so that
the server finds two things of this repository:

* `ClassKernelManager`, named in ``VoilaConfiguration.multi_kernel_manager_class``: jupyter_server's kernel
  manager with ``max_kernels``, the most kernels the server runs at once, pre-heated ones included (they are
  what memory pays for). Starting one more raises `ClassFullError` (HTTP 503) before any process starts.
* `ClassIdentityProvider`, named in ``Voila.identity_provider_class``: jupyter_server's token login, plus the
  cookie that lets a closing page stop its kernel at once (below).
* the Voilà template ``fusion-edu`` in tools/voila_share: Voilà's ``lab`` template plus ``503.html``, which
  jupyter_server renders for that error: a short page in Chinese and English that asks the visitor to try
  again and reloads itself every 30 s.

Culling idle kernels is jupyter_server's own (``MappingKernelManager.cull_*``), set in tools/present.py.
This runs in the server process only: it imports no torch and nothing of fusion_edu.
"""

from __future__ import annotations

import asyncio
import os
import sys
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from jupyter_server.auth.identity import PasswordIdentityProvider
from jupyter_server.services.kernels.kernelmanager import AsyncMappingKernelManager
from tornado.web import HTTPError
from traitlets import Integer

SHARE = Path(__file__).resolve().parent / "voila_share"
"""A Jupyter data folder that holds the ``fusion-edu`` Voilà template."""

TEMPLATE = "fusion-edu"


class ClassFullError(HTTPError):
    """HTTP 503: every place of the class is taken. The ``503.html`` page says so in zh and en.

    Attributes:
        running: Kernels running or starting when the visitor came.
        limit: The server's ``max_kernels``.
    """

    def __init__(self, running: int, limit: int):
        super().__init__(503, "class is full: %d of %d kernels in use", running, limit, reason="Class Full")
        self.running, self.limit = running, limit


class ClassKernelManager(AsyncMappingKernelManager):
    """jupyter_server's kernel manager with a cap on the number of kernels.

    Voilà builds its pre-heating manager on top of this class, so every start passes here: a visitor's kernel
    and a refill of the pre-heated pool alike. A refused refill takes itself out of Voilà's pool before it fails:
    Voilà reads every pool entry's result when it stops any kernel, and a failed entry would fail that stop.
    With the pool empty, the next visitor asks for a kernel of their own and gets the full page. When a kernel
    stops (closed page, culled), the pool is topped up again, so a freed place is pre-heated for the next visitor.

    Culling stops a kernel that has no page connected and was idle for ``cull_idle_timeout``. Two kinds of
    kernel look like that but have a visitor on the way, and each cull pass first marks them active:

    * kernels waiting in Voilà's pool: never culled there, but idle since they rendered. Handed to a visitor
      after a long wait, one would be stopped before the visitor's page connects;
    * kernels whose page has not connected yet (a slow page or network), for ``page_load_grace`` seconds
      after the culler first sees them outside the pool. A page that never connects is culled after that.
    """

    max_kernels = Integer(0, config=True, help="The most kernels running at once, pre-heated ones included; "
                                                "0 means no limit.")
    page_load_grace = Integer(300, config=True, help="Seconds a visitor's page may take to connect to its kernel "
                                                     "before the culler may stop that kernel.")

    def __init__(self, **kwargs: Any):
        super().__init__(**kwargs)
        self._starting: set[str] = set()  # reserved ids: starts in flight count against the limit
        self._closing = False
        self._connected: set[str] = set()  # kernels whose page has connected at least once
        self._waiting_since: dict[str, datetime] = {}  # kernels out of the pool whose page has not connected yet
        fill = getattr(self, "fill_if_needed", None)  # Voilà's pre-heating manager (a subclass) has one
        if fill is not None:
            self.fill_if_needed = self._refill_later(fill)

    def _refill_later(self, fill: Any) -> Any:
        """Voilà's `fill_if_needed`, with a delayed refill that waits outside the pool.

        Voilà puts a delayed refill into the pool at once, and the next visitor takes it and waits out the delay
        (57 s for the second visitor of `make latency` with ``fill_delay`` 60). Here the refill joins the pool
        only when it starts; until then a visitor who finds the pool empty gets a kernel of their own at once.
        """

        def refill(delay: float | None = None, notebook_name: str | None = None, **kwargs: Any) -> None:
            delay = self.fill_delay if delay is None else delay
            if delay <= 0:
                fill(delay=0, notebook_name=notebook_name, **kwargs)
            elif not self._closing:
                asyncio.get_event_loop().call_later(
                    delay, lambda: self._closing or fill(delay=0, notebook_name=notebook_name, **kwargs))

        return refill

    def in_use(self) -> int:
        """Kernels running or starting."""
        return len(set(self.list_kernel_ids()) | self._starting)

    async def start_kernel(self, *, kernel_id: str | None = None, **kwargs: Any) -> str:
        """Starts a kernel, or raises `ClassFullError` when ``max_kernels`` are already running or starting."""
        if kernel_id is not None and kernel_id in self:
            return await super().start_kernel(kernel_id=kernel_id, **kwargs)
        in_use = self.in_use()
        if 0 < self.max_kernels <= in_use:
            refill = self._leave_pool(asyncio.current_task())
            self.log.warning("Class is full: %d of %d kernels in use; %s.", in_use, self.max_kernels,
                             "the pre-heated pool is not refilled" if refill else "the visitor gets the full page")
            raise ClassFullError(in_use, self.max_kernels)
        kernel_id = kernel_id or str(uuid.uuid4())
        self._starting.add(kernel_id)
        try:
            return await super().start_kernel(kernel_id=kernel_id, **kwargs)
        finally:
            self._starting.discard(kernel_id)

    async def shutdown_kernel(self, kernel_id: str, now: bool = False, restart: bool = False) -> None:
        await super().shutdown_kernel(kernel_id, now=now, restart=restart)
        if not restart:
            self._connected.discard(kernel_id)
            self._waiting_since.pop(kernel_id, None)
            if not self._closing:
                self._top_up_pools()

    async def shutdown_all(self, now: bool = False) -> None:
        self._closing = True
        await super().shutdown_all(now=now)

    def notify_connect(self, kernel_id: str) -> None:
        self._connected.add(kernel_id)  # a page reached this kernel: from now on, plain culling applies
        super().notify_connect(kernel_id)

    async def cull_kernels(self) -> None:
        now = datetime.now(timezone.utc)  # jupyter_server's clock: aware UTC
        pooled = self._pooled()
        for kernel_id in self.list_kernel_ids():
            if kernel_id in pooled:
                self.get_kernel(kernel_id).last_activity = now
            elif kernel_id not in self._connected:
                since = self._waiting_since.setdefault(kernel_id, now)
                if now - since < timedelta(seconds=self.page_load_grace):
                    self.get_kernel(kernel_id).last_activity = now
        await super().cull_kernels()

    def _pooled(self) -> set[str]:
        """Ids of the kernels waiting in Voilà's pre-heated pools (none without pre-heating)."""
        ids = set()
        for pool in getattr(self, "_pools", {}).values():
            for task in pool:
                if task.done() and not task.cancelled() and task.exception() is None:
                    ids.add(task.result()["kernel_id"])
        return ids

    def _leave_pool(self, task: asyncio.Task | None) -> bool:
        """Takes `task` (a refill) out of Voilà's pools; its failure is then nobody's business. False: not a refill."""
        for pool in getattr(self, "_pools", {}).values():
            if task is not None and task in pool:
                pool.remove(task)
                task.add_done_callback(lambda t: t.cancelled() or t.exception())  # retrieved: no asyncio warning
                return True
        return False

    def _top_up_pools(self) -> None:
        """Drops refused entries from Voilà's pre-heated pools and refills them (Voilà 0.5's pool, when pre-heating)."""
        pools = getattr(self, "_pools", None)
        fill = getattr(self, "fill_if_needed", None)
        if not pools or fill is None:
            return
        for name, pool in pools.items():
            pool[:] = [task for task in pool if not (task.done() and (task.cancelled() or task.exception()))]
            fill(notebook_name=name)


class ClassIdentityProvider(PasswordIdentityProvider):
    """jupyter_server's token login (Voilà's default), which also sets the ``_xsrf`` cookie with the login cookie.

    When a tab closes, Voilà's page asks the server to stop its kernel with a POST that carries the ``_xsrf``
    cookie's value. Voilà 0.5.13 never sets that cookie, so the POST got 403 and the kernel of every closed page
    ran on until culled (voila-dashboards/voila#1458). The check itself stays on.
    """

    def set_login_cookie(self, handler: Any, user: Any) -> None:
        super().set_login_cookie(handler, user)
        handler.current_user = user  # as prepare() sets it next; tornado's xsrf_token reads it
        _ = handler.xsrf_token  # tornado sets the cookie on first use


def main() -> int:
    """Runs Voilà with this folder's template on Jupyter's data path (the kernels inherit it; it is harmless there)."""
    os.environ["JUPYTER_PATH"] = os.pathsep.join(p for p in (str(SHARE), os.environ.get("JUPYTER_PATH", "")) if p)
    from voila.app import main as voila_main

    return voila_main()


if __name__ == "__main__":
    sys.exit(main())
