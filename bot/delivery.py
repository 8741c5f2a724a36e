"""The outbox worker: delivers alerts, updates, thread lines and digests through Notifiers.

Rows are delivered in id order per (platform, channel), one at a time per channel, with posts
paced per channel; in-place updates of posted alerts go in a lane of their own. A row is leased
with a conditional UPDATE before it is sent, so several replicas on one database never send the
same row at once; a replica that dies mid-send leaves a lease that expires, and the row is sent
again: only sends in flight at the crash (at most one per channel) can repeat, and only once.
Failures back off exponentially; a 429's Retry-After is honoured; permanent failures are parked
as `dead`. The SQL (heads, leases, settling) is bot.outbox's; how each kind of row is sent is a
table of senders (`CORE_SENDERS` for the chat kinds; e-mail and digests are registered by the
composition root from bot.mail and bot.digest).
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any, Protocol, cast

from bot import metrics, outbox
from bot.outbox import Job
from bot.queries import alert_view
from bot.runtime import Runtime
from bot.storms import StormControl, is_member_ref
from bot.views import AlertView
from storage.db import read_scope

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 40
MAX_BACKOFF = 300.0


class DeliveryError(Exception):
    """A platform refused or failed a delivery.

    Args:
        message: what went wrong (logged; never shown to customers).
        retry_after: seconds the platform asked us to wait (HTTP 429 Retry-After).
        permanent: True when retrying cannot help (channel gone, bot removed, bad request).
        status: the HTTP status or platform error code, for metrics.
    """

    def __init__(self, message: str, *, retry_after: float | None = None, permanent: bool = False,
                 status: str | int | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after
        self.permanent = permanent
        self.status = status


class Notifier(Protocol):
    """What a chat platform provides to the worker. Implementations live in handlers/."""

    platform: str
    post_interval: float  # seconds between posts in one channel

    async def post_alert(self, channel_id: str, alert: AlertView) -> str:
        """Post a new alert; return the message reference (Slack ts, Teams activity id)."""

    async def update_alert(self, channel_id: str, message_ref: str, alert: AlertView) -> None: ...

    async def post_thread(self, channel_id: str, message_ref: str, text: str) -> None: ...

    async def post_text(self, channel_id: str, text: str) -> None:
        """Post our own words to a channel, or to a person when channel_id is a user id."""

    async def post_digest(self, channel_id: str, digest: Any) -> None: ...


# How one kind of outbox row is sent: given the worker (its runtime and helpers), the platform's
# notifier and the row; returns the posted message's reference when there is one to remember.
Sender = Callable[["DeliveryWorker", Notifier, Job], Awaitable[str | None]]

POSTING_KINDS = {outbox.ALERT_POST, outbox.THREAD_NOTE, outbox.TEXT, outbox.DIGEST_POST}

_Job = Job  # the name tests and older code use


class DeliveryWorker:
    """Polls the outbox (and wakes on `rt.wake`) and delivers through the platform notifiers."""

    def __init__(self, rt: Runtime, notifiers: dict[str, Notifier], *,
                 senders: dict[str, Sender] | None = None) -> None:
        self.rt = rt
        self.notifiers = notifiers
        # The table of per-kind senders: the chat kinds below, plus what the composition root
        # registers (bot.mail's e-mail sender, bot.digest's digest sender).
        self.senders: dict[str, Sender] = {**CORE_SENDERS, **(senders or {})}
        self.owner = uuid.uuid4().hex[:12]
        # How long a row stays with a worker that took it: longer than any send can take (the
        # platform clients time out at 30 s), short enough that a crashed replica's row is
        # retried soon.
        self.lease = timedelta(seconds=rt.settings.outbox_lease_seconds)
        self._wake = asyncio.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._busy: set[tuple[str, str, bool]] = set()
        self._next_post: dict[tuple[str, str], float] = {}
        self._tasks: set[asyncio.Task] = set()
        self._stopping = False
        self.storms = StormControl(self)  # NPSBOT_ALERT_BURST: folds alert storms into a summary

    # -- wiring -----------------------------------------------------------------------------
    def register(self, kind: str, sender: Sender) -> None:
        """Send outbox rows of `kind` with `sender`."""
        self.senders[kind] = sender

    def wake(self) -> None:
        """Thread-safe nudge: new rows were committed."""
        loop = self._loop
        if loop is not None and not loop.is_closed():
            loop.call_soon_threadsafe(self._wake.set)

    async def run(self) -> None:
        """Deliver until cancelled."""
        self._loop = asyncio.get_running_loop()
        while not self._stopping:
            try:
                delay = await self.tick()
            except Exception:  # a bad tick (DB down) must not kill the worker
                log.exception("outbox.tick_failed")
                delay = 2.0
            self._wake.clear()
            try:
                await asyncio.wait_for(self._wake.wait(), timeout=min(delay, self.rt.settings.outbox_poll_seconds))
            except TimeoutError:
                pass

    async def stop(self) -> None:
        self._stopping = True
        self._wake.set()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)

    async def drain(self, *, timeout: float = 30.0, ignore_pacing: bool = True) -> None:
        """Deliver everything that is due now, waiting for in-flight sends (shell, CLI, tests).

        Returns when no channel's head row is due: rows waiting for a retry time (or, without
        `ignore_pacing`, for their channel's pacing) are left for later.
        """
        self._loop = asyncio.get_running_loop()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if ignore_pacing:
                self._next_post.clear()
            await self.tick()
            if not self._tasks:
                return
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    # -- one pass ---------------------------------------------------------------------------
    async def tick(self) -> float:
        """Start a delivery for every channel whose head row is due; return seconds to next due."""
        if not self.notifiers:
            return 1e9
        heads = await asyncio.to_thread(self._heads)
        now = self.rt.clock.now()
        mono = time.monotonic()
        soonest = 1e9
        for job, due_at, leased in heads:
            key = (job.platform, job.channel_id, job.kind == outbox.ALERT_UPDATE)
            if key in self._busy or leased:
                continue
            wait = max((due_at - now).total_seconds(), 0.0)
            if job.kind in POSTING_KINDS:
                wait = max(wait, self._next_post.get(key[:2], 0.0) - mono)
            if wait > 0:
                soonest = min(soonest, wait)
                continue
            self._busy.add(key)
            task = asyncio.create_task(self._deliver(job))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        return soonest

    def _heads(self) -> list[tuple[Job, datetime, bool]]:
        return outbox.heads(self.rt.engine, list(self.notifiers), now=self.rt.clock.now(), owner=self.owner)

    def _lease(self, job: Job) -> bool:
        now = self.rt.clock.now()
        return outbox.lease(self.rt.engine, job, owner=self.owner, now=now, until=now + self.lease)

    async def _deliver(self, job: Job) -> None:
        key = (job.platform, job.channel_id, job.kind == outbox.ALERT_UPDATE)
        try:
            if not await asyncio.to_thread(self._lease, job):
                return
            notifier = self.notifiers[job.platform]
            started = time.monotonic()
            renewal = asyncio.create_task(self._keep_lease(job))
            try:
                posted_ref = await self._send(notifier, job)
            except DeliveryError as exc:
                metrics.PLATFORM_ERRORS.labels(job.platform, str(exc.status or "error")).inc()
                await asyncio.to_thread(self._failed, job, exc)
                return
            except Exception as exc:  # network errors, SDK errors: retry later
                log.warning("outbox.send_error", extra={"outbox_id": job.id, "followup": job.followup_id,
                                                        "error": type(exc).__name__})
                metrics.PLATFORM_ERRORS.labels(job.platform, type(exc).__name__).inc()
                await asyncio.to_thread(self._failed, job, DeliveryError(type(exc).__name__))
                return
            finally:
                renewal.cancel()
            if job.kind in POSTING_KINDS:
                self._next_post[key[:2]] = time.monotonic() + notifier.post_interval
            await asyncio.to_thread(self._done, job, posted_ref)
            metrics.DELIVERED.labels(job.platform, job.kind).inc()
            metrics.DELIVERY_SECONDS.labels(job.platform, job.kind).observe(time.monotonic() - started)
        finally:
            self._busy.discard(key)
            self._wake.set()

    async def _keep_lease(self, job: Job) -> None:
        """Extend the lease while a slow send (a digest with its chart) is still running."""
        while True:
            await asyncio.sleep(self.lease.total_seconds() / 3)
            try:
                await asyncio.to_thread(self._renew, job)
            except Exception:  # the lease then simply runs its course
                log.warning("outbox.lease_not_renewed", extra={"outbox_id": job.id})

    def _renew(self, job: Job) -> None:
        outbox.renew(self.rt.engine, job, owner=self.owner, until=self.rt.clock.now() + self.lease)

    async def _send(self, notifier: Notifier, job: Job) -> str | None:
        sender = self.senders.get(job.kind)
        if sender is None:
            raise DeliveryError(f"unknown outbox kind {job.kind!r}", permanent=True)
        return await sender(self, notifier, job)

    def refs(self, job: Job) -> list[str]:
        """Where the job's follow-up alert is posted in the job's channel (message refs, oldest first)."""
        # A storm summary's line is no message of its own (bot/storms.py).
        return [ref for ref in outbox.posted_refs(self.rt.engine, job) if not is_member_ref(ref)]

    def alert(self, followup_id: int | None) -> AlertView | None:
        """The alert of a follow-up as it stands now (None without a follow-up)."""
        if followup_id is None:
            return None
        with read_scope(self.rt.engine) as s:
            return alert_view(s, followup_id, settings=self.rt.settings, now=self.rt.clock.now())

    def _done(self, job: Job, posted_ref: str | None) -> None:
        outbox.mark_sent(self.rt.engine, job, posted_ref, now=self.rt.clock.now())
        log.info("outbox.sent", extra={"outbox_id": job.id, "kind": job.kind, "followup": job.followup_id,
                                       "platform": job.platform})

    def _failed(self, job: Job, exc: DeliveryError) -> None:
        now = self.rt.clock.now()
        if exc.retry_after is not None:
            # A rate limit is the platform pacing us, not a failure: wait as asked, count nothing.
            attempts, delay = job.attempts, exc.retry_after
        else:
            attempts = job.attempts + 1
            # Exponential backoff (0.5 s, 1 s, 2 s … 5 min) with jitter, so a recovering API is
            # not hit by every waiting row at once.
            delay = min(MAX_BACKOFF, 0.5 * 2 ** min(attempts - 1, 12)) * random.uniform(0.75, 1.25)
        dead = exc.permanent or attempts >= MAX_ATTEMPTS
        outbox.mark_failed(self.rt.engine, job, owner=self.owner, dead=dead, attempts=attempts,
                           retry_at=now + timedelta(seconds=delay), error=str(exc))
        if dead:
            metrics.FAILED.labels(job.platform, job.kind).inc()
        log.warning("outbox.failed", extra={"outbox_id": job.id, "kind": job.kind, "followup": job.followup_id,
                                            "attempts": attempts, "dead": dead, "retry_in": round(delay, 2),
                                            "reason": str(exc)[:200]})


# -- the chat kinds' senders ----------------------------------------------------------------------
async def _send_alert(worker: DeliveryWorker, notifier: Notifier, job: Job) -> str | None:
    if await worker.storms.fold(notifier, job):
        return None  # listed in the channel-minute's summary instead (bot/storms.py)
    view = await asyncio.to_thread(worker.alert, job.followup_id)
    if view is None:
        return None
    return await notifier.post_alert(job.channel_id, view)


async def _send_update(worker: DeliveryWorker, notifier: Notifier, job: Job) -> str | None:
    engine = worker.rt.engine
    # A newer update of the same alert is queued: it renders the same current state,
    # so this one is skipped rather than spending a rate-limited API call.
    if await asyncio.to_thread(outbox.superseded, engine, job):
        return None
    refs = await asyncio.to_thread(worker.refs, job)
    if not refs and await asyncio.to_thread(outbox.post_pending, engine, job):
        # The alert is being posted in the other lane, rendered before this change:
        # update it once it is there, or it would show the old state.
        raise DeliveryError("alert not posted yet", retry_after=1)
    if refs:
        # The follow-up exists (its alert was posted): the view is there.
        view = cast(AlertView, await asyncio.to_thread(worker.alert, job.followup_id))
        for ref in refs:
            await notifier.update_alert(job.channel_id, ref, view)
    await worker.storms.refresh(notifier, job)
    return None


async def _send_thread_note(worker: DeliveryWorker, notifier: Notifier, job: Job) -> str | None:
    refs = await asyncio.to_thread(worker.refs, job)
    if refs:
        await notifier.post_thread(job.channel_id, refs[0], (job.payload or {}).get("text", ""))
    return None


async def _send_text(worker: DeliveryWorker, notifier: Notifier, job: Job) -> str | None:
    payload = job.payload or {}
    if payload.get("thread") and job.followup_id:
        refs = await asyncio.to_thread(worker.refs, job)
        if refs:
            await notifier.post_thread(job.channel_id, refs[0], payload.get("text", ""))
            return None
    await notifier.post_text(job.channel_id, payload.get("text", ""))
    return None


CORE_SENDERS: dict[str, Sender] = {
    outbox.ALERT_POST: _send_alert,
    outbox.ALERT_UPDATE: _send_update,
    outbox.THREAD_NOTE: _send_thread_note,
    outbox.TEXT: _send_text,
}
