"""Scheduled work: weekly digests and SLA reminders (APScheduler 3.11, in-process).

How a digest is posted once per channel and period:

- Schedules live in the `Subscription` table. Every `SYNC_SECONDS` the leader re-reads them and
  keeps one `CronTrigger` job per scheduled channel (weekday by *name*, explicit `ZoneInfo`,
  `misfire_grace_time` of 6 hours, `coalesce`, `max_instances=1`, in-memory job store,
  `replace_existing`), so `digest schedule` / `digest off` on any replica takes effect within a
  minute and survives restarts.
- A due period is claimed by inserting `DigestRun(subscription_id, period_start)` (unique) in the
  same transaction as the outbox `digest.post` row; a conflict means another replica or an earlier
  run already did it, and nothing is queued. The outbox worker then delivers it.
- Each sync also catches up: a scheduled time that passed less than 6 hours ago with no
  `DigestRun` is queued now (a restart around 09:00 still posts the 09:00 digest). A scheduled time
  earlier than the subscription's last change is not caught up, so setting "mon 09:00" at 09:30
  does not post at once.
- On PostgreSQL one replica leads: it holds `pg_try_advisory_lock` on a dedicated connection for
  its lifetime; the others retry every sync and take over when the leader's session ends. On
  SQLite the single process leads.

Time comes from `rt.clock`, so tests move it instead of sleeping; APScheduler's own timers only
decide when to look.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger
from sqlalchemy import Connection, Engine, create_engine, func, select, text
from sqlalchemy.pool import NullPool
from sqlmodel import Session

from bot import outbox
from bot.clock import as_utc
from bot.digest import period_start_for
from bot.runtime import Runtime
from storage.db import read_scope, session_scope
from storage.models import DigestRun, Subscription

log = logging.getLogger(__name__)

GRACE = timedelta(hours=6)
SYNC_SECONDS = 60.0
REMINDER_SECONDS = 60.0
# pg_try_advisory_lock key: "npsbot" as a big-endian integer, shared by every replica.
LOCK_KEY = int.from_bytes(b"npsbot", "big")
JOB_PREFIX = "digest:"


# -- schedule maths ------------------------------------------------------------------------------
@dataclass(frozen=True)
class Schedule:
    """One channel's digest schedule as stored: weekday name, local HH:MM, IANA time zone."""

    subscription_id: int
    platform: str
    channel_id: str
    weekday: str
    time: str
    timezone: str
    segment: str | None
    updated_at: datetime

    @property
    def spec(self) -> tuple[str, str, str]:
        return (self.weekday, self.time, self.timezone)


def trigger_for(weekday: str, hhmm: str, timezone: str) -> CronTrigger:
    """A weekly cron trigger: day by name (3.x numbers Monday as 0), explicit time zone."""
    hour, minute = (int(x) for x in hhmm.split(":"))
    return CronTrigger(day_of_week=weekday, hour=hour, minute=minute, second=0, timezone=ZoneInfo(timezone))


def last_fire_time(trigger: CronTrigger, now: datetime) -> datetime | None:
    """The latest time at or before `now` the trigger fires (UTC), looking back up to 8 days."""
    fire = trigger.get_next_fire_time(None, now - timedelta(days=8))
    last = None
    while fire is not None and fire <= now:
        last = fire
        # Step in UTC: adding a second to a local time in the repeated hour of an autumn clock
        # change drops its `fold` and lands an hour earlier, so the trigger would hand back the
        # same time for ever.
        nxt = trigger.get_next_fire_time(fire, fire.astimezone(UTC) + timedelta(seconds=1))
        if nxt is None or nxt <= fire:
            break
        fire = nxt
    return None if last is None else last.astimezone(UTC)


def next_fire_time(trigger: CronTrigger, now: datetime) -> datetime | None:
    fire = trigger.get_next_fire_time(None, now)
    return None if fire is None else fire.astimezone(UTC)


def due_fire_time(schedule: Schedule, now: datetime, grace: timedelta = GRACE) -> datetime | None:
    """The scheduled time whose digest is owed now, if any."""
    fire = last_fire_time(trigger_for(schedule.weekday, schedule.time, schedule.timezone), now)
    if fire is None or now - fire > grace:
        return None
    if fire < as_utc(schedule.updated_at):
        return None
    return fire


# -- the database side ---------------------------------------------------------------------------
def load_schedules(rt: Runtime, subscription_id: int | None = None) -> list[Schedule]:
    q = select(Subscription).where(Subscription.digest_weekday.is_not(None),
                                   Subscription.digest_time.is_not(None))
    if subscription_id is not None:
        q = q.where(Subscription.id == subscription_id)
    out = []
    with read_scope(rt.engine) as s:
        for sub in s.execute(q.order_by(Subscription.id)).scalars():
            tz = sub.digest_tz or rt.settings.timezone
            try:
                ZoneInfo(tz)
                trigger_for(sub.digest_weekday, sub.digest_time, tz)
            except (KeyError, ValueError):
                log.warning("scheduler.bad_schedule", extra={"subscription": sub.id})
                continue
            out.append(Schedule(sub.id, sub.platform, sub.channel_id, sub.digest_weekday, sub.digest_time,
                                tz, sub.segment, as_utc(sub.updated_at)))
    return out


def _insert_ignore(session: Session, table: Any) -> Any:
    from sqlalchemy.dialects import postgresql, sqlite

    if session.get_bind().dialect.name == "postgresql":
        return postgresql.insert(table)
    return sqlite.insert(table)


def claim_period(rt: Runtime, schedule: Schedule, fire: datetime) -> bool:
    """Queue the digest of the week ending at `fire` unless it was queued already.

    The DigestRun row and the outbox row are written in one transaction: either both exist or
    neither, so a crash between them cannot lose or double the digest.
    """
    start = period_start_for(fire, ZoneInfo(schedule.timezone))
    now = rt.clock.now()
    with session_scope(rt.engine) as s:
        stmt = _insert_ignore(s, DigestRun.__table__).values(
            subscription_id=schedule.subscription_id, period_start=start, created_at=now,
        ).on_conflict_do_nothing(index_elements=["subscription_id", "period_start"]) \
            .returning(DigestRun.__table__.c.id)
        if s.execute(stmt).scalar_one_or_none() is None:
            return False
        outbox.add(s, [outbox.row(
            platform=schedule.platform, channel_id=schedule.channel_id, kind=outbox.DIGEST_POST, now=now,
            payload={"period_end": fire.isoformat(), "period_start": start.isoformat(),
                     "segment": schedule.segment, "timezone": schedule.timezone, "scheduled": True},
        )])
    log.info("digest.queued", extra={"subscription": schedule.subscription_id, "platform": schedule.platform,
                                     "period_end": fire.isoformat()})
    return True


def enqueue_due(rt: Runtime, subscription_id: int | None = None, *, grace: timedelta = GRACE) -> int:
    """Queue every scheduled digest that is owed now (or just this subscription's); return how many."""
    now = rt.clock.now()
    queued = 0
    for schedule in load_schedules(rt, subscription_id):
        fire = due_fire_time(schedule, now, grace)
        if fire is not None and claim_period(rt, schedule, fire):
            queued += 1
    if queued:
        rt.wake()
    return queued


# -- leadership ----------------------------------------------------------------------------------
class Leadership:
    """Who runs the schedule: on PostgreSQL the holder of a session advisory lock.

    The lock lives on its own unpooled connection, so it is released exactly when that session
    ends (process exit, crash, network loss) and never leaks into the pool.
    """

    def __init__(self, engine: Engine) -> None:
        self.postgres = engine.dialect.name == "postgresql"
        self._lock_engine = create_engine(engine.url, poolclass=NullPool) if self.postgres else None
        self._conn: Connection | None = None
        self.leader = not self.postgres

    def check(self) -> bool:
        """Confirm or try to gain leadership (blocking; call from a worker thread)."""
        if not self.postgres:
            return True
        if self.leader and self._conn is not None:
            try:
                self._conn.execute(text("SELECT 1"))
                self._conn.commit()
                return True
            except Exception:  # a dead session means the lock is gone too
                log.warning("scheduler.leadership_lost")
                self._drop()
        try:
            if self._conn is None:
                assert self._lock_engine is not None  # made whenever self.postgres
                self._conn = self._lock_engine.connect()
            got = bool(self._conn.execute(select(func.pg_try_advisory_lock(LOCK_KEY))).scalar_one())
            self._conn.commit()
        except Exception:  # database unreachable: not the leader this time
            log.warning("scheduler.leadership_check_failed")
            self._drop()
            got = False
        if got and not self.leader:
            log.info("scheduler.leader")
        self.leader = got
        return got

    def _drop(self) -> None:
        self.leader = False
        conn, self._conn = self._conn, None
        if conn is not None:
            try:
                conn.invalidate()
                conn.close()
            except Exception:
                pass

    def release(self) -> None:
        """Give up leadership (closing the session releases the lock)."""
        if self._conn is not None:
            try:
                if self.leader:
                    self._conn.execute(select(func.pg_advisory_unlock(LOCK_KEY)))
                    self._conn.commit()
            except Exception:  # closing below releases it anyway
                pass
            try:
                self._conn.close()
            except Exception:
                pass
            self._conn = None
        self.leader = not self.postgres
        if self._lock_engine is not None:
            self._lock_engine.dispose()


# -- the scheduler -------------------------------------------------------------------------------
class DigestScheduler:
    """APScheduler inside the running loop: a sync job, a reminder job and one cron job per channel."""

    def __init__(self, rt: Runtime, *, sync_seconds: float = SYNC_SECONDS,
                 reminder_seconds: float = REMINDER_SECONDS, grace: timedelta = GRACE) -> None:
        self.rt = rt
        self.sync_seconds = sync_seconds
        self.reminder_seconds = reminder_seconds
        self.grace = grace
        self.leadership = Leadership(rt.engine)
        self.scheduler: AsyncIOScheduler | None = None
        self._specs: dict[int, tuple[str, str, str]] = {}
        self._busy = asyncio.Lock()
        self._stopping = False

    @property
    def leader(self) -> bool:
        return self.leadership.leader

    async def start(self, *, run_now: bool = True) -> None:
        """Start APScheduler on the running loop; the first sync runs at once when `run_now`."""
        self.scheduler = AsyncIOScheduler(timezone=UTC)
        self.scheduler.start()
        soon = datetime.now(UTC)
        self.scheduler.add_job(self.sync, IntervalTrigger(seconds=self.sync_seconds), id="npsbot.sync",
                               replace_existing=True, coalesce=True, max_instances=1,
                               misfire_grace_time=int(self.sync_seconds),
                               next_run_time=soon if run_now else soon + timedelta(seconds=self.sync_seconds))
        self.scheduler.add_job(self.remind, IntervalTrigger(seconds=self.reminder_seconds),
                               id="npsbot.reminders", replace_existing=True, coalesce=True, max_instances=1,
                               misfire_grace_time=int(self.reminder_seconds),
                               next_run_time=soon + timedelta(seconds=min(5.0, self.reminder_seconds)))
        self.scheduler.add_job(self.resurvey, IntervalTrigger(seconds=self.reminder_seconds),
                               id="npsbot.resurvey", replace_existing=True, coalesce=True, max_instances=1,
                               misfire_grace_time=int(self.reminder_seconds),
                               next_run_time=soon + timedelta(seconds=min(7.0, self.reminder_seconds)))

    async def stop(self) -> None:
        self._stopping = True
        try:
            # Let a sync or reminder run that is writing finish before the engine goes away.
            await asyncio.wait_for(self._busy.acquire(), timeout=10)
            self._busy.release()
        except TimeoutError:
            log.warning("scheduler.stop_timeout")
        if self.scheduler is not None and self.scheduler.running:
            self.scheduler.shutdown(wait=False)
        await asyncio.to_thread(self.leadership.release)

    def digest_jobs(self) -> dict[int, object]:
        """The cron job of each scheduled subscription (for inspection and tests)."""
        if self.scheduler is None:
            return {}
        return {int(j.id[len(JOB_PREFIX):]): j for j in self.scheduler.get_jobs()
                if j.id.startswith(JOB_PREFIX)}

    async def sync(self) -> int:
        """Leadership, then cron jobs from the database, then catch-up; returns digests queued."""
        if self._stopping:
            return 0
        async with self._busy:
            try:
                leader = await asyncio.to_thread(self.leadership.check)
                if not leader:
                    self._sync_jobs([])
                    return 0
                schedules = await asyncio.to_thread(load_schedules, self.rt)
                self._sync_jobs(schedules)
                return await asyncio.to_thread(enqueue_due, self.rt, grace=self.grace)
            except Exception:  # one failed sync (database away) must not stop the next
                log.exception("scheduler.sync_failed")
                return 0

    def _sync_jobs(self, schedules: list[Schedule]) -> None:
        if self.scheduler is None:
            return
        wanted = {s.subscription_id: s for s in schedules}
        for sub_id in list(self._specs):
            if sub_id not in wanted:
                self._specs.pop(sub_id)
                job = self.scheduler.get_job(f"{JOB_PREFIX}{sub_id}")
                if job is not None:
                    job.remove()
        for sub_id, schedule in wanted.items():
            if self._specs.get(sub_id) == schedule.spec:
                continue
            self.scheduler.add_job(
                self.run_digest, trigger_for(*schedule.spec), args=[sub_id], id=f"{JOB_PREFIX}{sub_id}",
                name=f"digest {schedule.platform}:{schedule.channel_id}", replace_existing=True,
                misfire_grace_time=int(self.grace.total_seconds()), coalesce=True, max_instances=1,
            )
            self._specs[sub_id] = schedule.spec

    async def run_digest(self, subscription_id: int) -> int:
        """The cron job: queue this channel's digest for the time that just passed."""
        if self._stopping:
            return 0
        async with self._busy:
            if not self.leader:
                return 0
            return await asyncio.to_thread(enqueue_due, self.rt, subscription_id, grace=self.grace)

    async def _leader_job(self, job, failed: str) -> int:
        """Run a scheduled job in a worker thread, on the leader only; a failure is logged, not raised."""
        if self._stopping:
            return 0
        async with self._busy:
            if not self.leader:
                return 0
            try:
                return await asyncio.to_thread(job, self.rt)
            except Exception:
                log.exception(failed)
                return 0

    async def remind(self) -> int:
        """The reminder job (leader only); escalation runs with it (issue 16)."""
        from bot.escalation import escalate_due
        from bot.reminders import send_reminders

        await self._leader_job(escalate_due, "scheduler.escalation_failed")
        return await self._leader_job(send_reminders, "scheduler.reminders_failed")

    async def resurvey(self) -> int:
        """The re-survey job (leader only): e-mail the customers whose re-survey is due (bot/mail)."""
        from bot.mail.resurvey import run_due

        return await self._leader_job(run_due, "scheduler.resurvey_failed")


async def start_scheduler(services) -> DigestScheduler:
    """Start the scheduler for these services; returns it (it has `async stop()`)."""
    scheduler = DigestScheduler(services.rt)
    await scheduler.start()
    return scheduler
