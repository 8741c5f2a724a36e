"""The background loops of one process, started and stopped in one place.

`npsbot serve` (bot.app, and handlers/slack for its inbox recovery), `npsbot socket`
(handlers/slack/socket.py) and the shell (handlers/shell.py) each run some of: the outbox
delivery worker, the digest/reminder scheduler, pollers such as the IMAP inbox (started by a
function the composition root passes, since bot/ does not import handlers/), and plain tasks such
as Slack's inbox recovery. Stopping goes in reverse: pollers, the scheduler, the worker (letting
in-flight sends finish), then the tasks are cancelled.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine, Iterable
from typing import Any, Protocol

from bot.runtime import Services


class Stoppable(Protocol):
    async def stop(self) -> None: ...


# Starts a poller for these services; None when it is not configured.
PollerStart = Callable[[Services], Stoppable | None]


class Background:
    """The loops one process runs beside its front door."""

    def __init__(self, services: Services, *, deliver: bool = True, schedule: bool = True,
                 pollers: Iterable[PollerStart] = (),
                 tasks: dict[str, Coroutine[Any, Any, Any]] | None = None) -> None:
        self.services = services
        self.deliver = deliver
        self.schedule = schedule
        self._poller_starts = list(pollers)
        self._pending_tasks = dict(tasks or {})
        self._tasks: list[asyncio.Task] = []
        self._scheduler: Stoppable | None = None
        self._pollers: list[Stoppable] = []
        self._worker_running = False

    async def start(self) -> None:
        """Start the tasks, the delivery worker, the scheduler and the pollers, in that order."""
        for name, coro in self._pending_tasks.items():
            self._tasks.append(asyncio.create_task(coro, name=name))
        self._pending_tasks = {}
        if self.deliver:
            self._tasks.append(asyncio.create_task(self.services.worker.run(), name="outbox-worker"))
            self._worker_running = True
        if self.schedule:
            from bot.scheduler import start_scheduler

            self._scheduler = await start_scheduler(self.services)
        for start in self._poller_starts:
            poller = start(self.services)
            if poller is not None:
                self._pollers.append(poller)

    async def stop(self) -> None:
        """Stop whatever was started (also after a partial start), newest first."""
        for coro in self._pending_tasks.values():
            coro.close()  # never started: nothing to stop, but do not leave it un-awaited
        self._pending_tasks = {}
        while self._pollers:
            await self._pollers.pop().stop()
        if self._scheduler is not None:
            scheduler, self._scheduler = self._scheduler, None
            await scheduler.stop()
        if self._worker_running:
            self._worker_running = False
            await self.services.worker.stop()
        tasks, self._tasks = self._tasks, []
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
