"""The outbox worker: delivers alerts, updates, thread lines and digests through Notifiers.

Rows are delivered in id order per (platform, channel), one at a time per channel, with posts
paced per channel; in-place updates of posted alerts go in a lane of their own. A row is leased
with a conditional UPDATE before it is sent, so several replicas on one database never send the
same row at once; a replica that dies mid-send leaves a lease that expires, and the row is sent
again: only sends in flight at the crash (at most one per channel) can repeat, and only once.
Failures back off exponentially; a 429's Retry-After is honoured; permanent failures are parked
as `dead`.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

from sqlalchemy import and_, case, func, or_, select, update

from bot import metrics, outbox
from bot.clock import as_utc
from bot.mail.outgoing import EMAIL_KIND
from bot.queries import alert_view
from bot.runtime import Runtime
from bot.storms import StormControl, is_member_ref
from bot.views import AlertView
from storage.db import read_scope, session_scope
from storage.models import Outbox, OutboxStatus, PostedMessage

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


# Builds a digest view from an outbox payload; supplied by bot.digest when it is wired in.
DigestBuilder = Callable[[Runtime, str, str, dict], Any]

POSTING_KINDS = {outbox.ALERT_POST, outbox.THREAD_NOTE, outbox.TEXT, outbox.DIGEST_POST}


@dataclass
class _Job:
    id: int
    platform: str
    channel_id: str
    kind: str
    followup_id: int | None
    payload: dict | None
    attempts: int


class DeliveryWorker:
    """Polls the outbox (and wakes on `rt.wake`) and delivers through the platform notifiers."""

    def __init__(self, rt: Runtime, notifiers: dict[str, Notifier], *,
                 digest_builder: DigestBuilder | None = None) -> None:
        self.rt = rt
        self.notifiers = notifiers
        self.digest_builder = digest_builder
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
            except Exception:  # noqa: BLE001 - a bad tick (DB down) must not kill the worker
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

    def _heads(self) -> list[tuple[_Job, datetime, bool]]:
        """The oldest pending row of every channel: later rows wait for it (order per channel)."""
        now = self.rt.clock.now()
        with read_scope(self.rt.engine) as s:
            # Two lanes per channel: posts (alerts, thread lines, texts, digests) keep their order
            # and pacing; in-place updates of alerts already posted need neither, so a burst of
            # new alerts never delays the "claimed by" on an older one.
            lane = case((Outbox.kind == outbox.ALERT_UPDATE, "update"), else_="post")
            first = (
                select(func.min(Outbox.id))
                .where(Outbox.status == OutboxStatus.PENDING, Outbox.platform.in_(list(self.notifiers)))
                .group_by(Outbox.platform, Outbox.channel_id, lane)
            )
            rows = s.execute(select(Outbox).where(Outbox.id.in_(first))).scalars().all()
            return [
                (_Job(r.id, r.platform, r.channel_id, r.kind, r.followup_id, r.payload, r.attempts),
                 as_utc(r.next_attempt_at),
                 r.lease_until is not None and as_utc(r.lease_until) > now and r.lease_owner != self.owner)
                for r in rows
            ]

    def _lease(self, job: _Job) -> bool:
        now = self.rt.clock.now()
        with session_scope(self.rt.engine) as s:
            return s.execute(
                update(Outbox)
                .where(Outbox.id == job.id, Outbox.status == OutboxStatus.PENDING,
                       or_(Outbox.lease_until.is_(None), Outbox.lease_until < now,
                           and_(Outbox.lease_owner == self.owner)))
                .values(lease_owner=self.owner, lease_until=now + self.lease)
            ).rowcount == 1

    async def _deliver(self, job: _Job) -> None:
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
            except Exception as exc:  # noqa: BLE001 - network errors, SDK errors: retry later
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

    async def _keep_lease(self, job: _Job) -> None:
        """Extend the lease while a slow send (a digest with its chart) is still running."""
        while True:
            await asyncio.sleep(self.lease.total_seconds() / 3)
            try:
                await asyncio.to_thread(self._renew, job)
            except Exception:  # noqa: BLE001 - the lease then simply runs its course
                log.warning("outbox.lease_not_renewed", extra={"outbox_id": job.id})

    def _renew(self, job: _Job) -> None:
        with session_scope(self.rt.engine) as s:
            s.execute(update(Outbox).where(Outbox.id == job.id, Outbox.lease_owner == self.owner)
                      .values(lease_until=self.rt.clock.now() + self.lease))

    async def _send(self, notifier: Notifier, job: _Job) -> str | None:
        if job.kind == outbox.ALERT_POST:
            if await self.storms.fold(notifier, job):
                return None  # listed in the channel-minute's summary instead (bot/storms.py)
            view = await asyncio.to_thread(self._alert, job.followup_id)
            if view is None:
                return None
            return await notifier.post_alert(job.channel_id, view)
        if job.kind == outbox.ALERT_UPDATE:
            # A newer update of the same alert is queued: it renders the same current state,
            # so this one is skipped rather than spending a rate-limited API call.
            if await asyncio.to_thread(self._superseded, job):
                return None
            refs = await asyncio.to_thread(self._refs, job)
            if not refs and await asyncio.to_thread(self._post_pending, job):
                # The alert is being posted in the other lane, rendered before this change:
                # update it once it is there, or it would show the old state.
                raise DeliveryError("alert not posted yet", retry_after=1)
            if refs:
                view = await asyncio.to_thread(self._alert, job.followup_id)
                for ref in refs:
                    await notifier.update_alert(job.channel_id, ref, view)
            await self.storms.refresh(notifier, job)
            return None
        if job.kind == outbox.THREAD_NOTE:
            refs = await asyncio.to_thread(self._refs, job)
            if refs:
                await notifier.post_thread(job.channel_id, refs[0], (job.payload or {}).get("text", ""))
            return None
        if job.kind == outbox.TEXT:
            payload = job.payload or {}
            if payload.get("thread") and job.followup_id:
                refs = await asyncio.to_thread(self._refs, job)
                if refs:
                    await notifier.post_thread(job.channel_id, refs[0], payload.get("text", ""))
                    return None
            await notifier.post_text(job.channel_id, payload.get("text", ""))
            return None
        if job.kind == EMAIL_KIND:
            # E-mail (bot/mail): the notifier is the SMTP sender; the payload is the whole message.
            await notifier.send_email(job.payload or {})
            return None
        if job.kind == outbox.DIGEST_POST:
            if self.digest_builder is None:
                raise DeliveryError("no digest builder is configured", permanent=True)
            digest = await asyncio.to_thread(self.digest_builder, self.rt, job.platform, job.channel_id,
                                             job.payload or {})
            await notifier.post_digest(job.channel_id, digest)
            return None
        raise DeliveryError(f"unknown outbox kind {job.kind!r}", permanent=True)

    def _alert(self, followup_id: int | None) -> AlertView | None:
        if followup_id is None:
            return None
        with read_scope(self.rt.engine) as s:
            return alert_view(s, followup_id, settings=self.rt.settings, now=self.rt.clock.now())

    def _superseded(self, job: _Job) -> bool:
        with read_scope(self.rt.engine) as s:
            return s.execute(select(Outbox.id).where(
                Outbox.status == OutboxStatus.PENDING, Outbox.kind == outbox.ALERT_UPDATE,
                Outbox.followup_id == job.followup_id, Outbox.platform == job.platform,
                Outbox.channel_id == job.channel_id, Outbox.id > job.id,
            ).limit(1)).first() is not None

    def _post_pending(self, job: _Job) -> bool:
        with read_scope(self.rt.engine) as s:
            return s.execute(select(Outbox.id).where(
                Outbox.status == OutboxStatus.PENDING, Outbox.kind == outbox.ALERT_POST,
                Outbox.followup_id == job.followup_id, Outbox.platform == job.platform,
                Outbox.channel_id == job.channel_id,
            ).limit(1)).first() is not None

    def _refs(self, job: _Job) -> list[str]:
        with read_scope(self.rt.engine) as s:
            return [ref for ref in s.execute(
                select(PostedMessage.message_ref).where(
                    PostedMessage.followup_id == job.followup_id, PostedMessage.platform == job.platform,
                    PostedMessage.channel_id == job.channel_id,
                ).order_by(PostedMessage.id)
            ).scalars() if not is_member_ref(ref)]  # a storm summary's line is no message of its own

    def _done(self, job: _Job, posted_ref: str | None) -> None:
        now = self.rt.clock.now()
        with session_scope(self.rt.engine) as s:
            if job.kind == outbox.ALERT_POST and posted_ref:
                s.add(PostedMessage(followup_id=job.followup_id, platform=job.platform,
                                    channel_id=job.channel_id, message_ref=str(posted_ref), posted_at=now))
            s.execute(update(Outbox).where(Outbox.id == job.id).values(
                status=OutboxStatus.SENT, sent_at=now, lease_owner=None, lease_until=None,
                attempts=Outbox.attempts + 1))
        log.info("outbox.sent", extra={"outbox_id": job.id, "kind": job.kind, "followup": job.followup_id,
                                       "platform": job.platform})

    def _failed(self, job: _Job, exc: DeliveryError) -> None:
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
        with session_scope(self.rt.engine) as s:
            s.execute(update(Outbox).where(Outbox.id == job.id, Outbox.lease_owner == self.owner).values(
                status=OutboxStatus.DEAD if dead else OutboxStatus.PENDING, attempts=attempts,
                next_attempt_at=now + timedelta(seconds=delay), lease_owner=None, lease_until=None,
                last_error=str(exc)[:500]))
        if dead:
            metrics.FAILED.labels(job.platform, job.kind).inc()
        log.warning("outbox.failed", extra={"outbox_id": job.id, "kind": job.kind, "followup": job.followup_id,
                                            "attempts": attempts, "dead": dead, "retry_in": round(delay, 2),
                                            "reason": str(exc)[:200]})
