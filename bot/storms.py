"""Storm control: at most NPSBOT_ALERT_BURST alert posts per channel a minute, the rest in a summary.

When a channel has had `alert_burst` alerts posted in the last 60 seconds, the outbox worker
folds the next new follow-up, and every other alert post already queued for that channel, into
one summary message for the minute (`AlertStorm`): `#N`, score, customer and the first words of
the comment per line, with how to reach each one (`show N`, App Home). The summary is re-rendered
in place as those follow-ups are claimed or closed: each member is recorded as a PostedMessage
whose message_ref is `storm:<storm id>:<follow-up id>`, so every change that refreshes an alert
refreshes the summary showing it. Only new-alert posts are folded: reminders, thread lines,
texts and digests are other outbox kinds and never swallowed.

A notifier without `post_summary` (a platform that cannot show one) simply keeps posting alerts.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from sqlalchemy import insert, select, update

from bot import outbox
from bot.queries import alert_views
from bot.views import AlertView
from storage.db import read_scope, session_scope
from storage.models import AlertStorm, FollowUp, Outbox, OutboxStatus, PostedMessage

if TYPE_CHECKING:  # pragma: no cover
    from bot.delivery import DeliveryWorker, Notifier

WINDOW = timedelta(minutes=1)
REF_PREFIX = "storm:"
FIRST_WORDS = 8


def member_ref(storm_id: int, followup_id: int) -> str:
    return f"{REF_PREFIX}{storm_id}:{followup_id}"


def is_member_ref(ref: str) -> bool:
    return ref.startswith(REF_PREFIX)


@dataclass(frozen=True)
class StormView:
    """One channel-minute's summary: the follow-ups it lists, as their alerts would show them."""

    started_at: datetime
    burst: int
    alerts: tuple[AlertView, ...]


def first_words(text: str | None, count: int = FIRST_WORDS) -> str:
    """The first words of a comment, with an ellipsis when there is more (raw: renderers escape)."""
    if not text:
        return ""
    words = text.split()
    clipped = " ".join(words[:count])
    if len(clipped) > 80:
        clipped = clipped[:79]
        return clipped + "…"
    return clipped + ("…" if len(words) > count else "")


def summary_title(view: StormView) -> str:
    n = len(view.alerts)
    return (f"{n} more new detractor{'s' if n != 1 else ''} this minute: this channel gets at most "
            f"{view.burst} alerts a minute, the rest are listed here")


def line_text(alert: AlertView) -> str:
    """`#12 · 3 · Acme Corp · “Support never answered my…” · claimed by maria` (raw text)."""
    parts = [f"#{alert.number}", f"score {alert.score}",
             alert.customer.label if alert.customer else "unknown customer"]
    words = first_words(alert.comment)
    if words:
        parts.append(f"“{words}”")
    status = alert.status.value
    if alert.claimant_name and status != "open":
        status += f" by {alert.claimant_name}"
    parts.append(status)
    return " · ".join(parts)


REACH = "Each is a full follow-up: `show N`, `claim N`, or the unclaimed list in npsbot's App Home."


def summary_text(view: StormView) -> str:
    """The summary as plain text (the shell, and every platform's notification fallback)."""
    return "\n".join([summary_title(view), *(line_text(a) for a in view.alerts), REACH])


class StormControl:
    """The worker's storm rule; state lives in the database, so replicas share it."""

    def __init__(self, worker: DeliveryWorker) -> None:
        self.worker = worker
        self.rt = worker.rt

    @staticmethod
    def supported(notifier: Notifier) -> bool:
        return hasattr(notifier, "post_summary") and hasattr(notifier, "update_summary")

    # -- folding new alerts -----------------------------------------------------------------
    async def fold(self, notifier: Notifier, job) -> bool:
        """Fold this alert post (and the channel's other queued ones) into the minute's summary.

        Returns False when the channel is under its burst: the alert is then posted as usual.
        """
        if not self.supported(notifier) or job.followup_id is None:
            return False
        if (job.payload or {}).get("escalated"):
            return False  # an escalation is posted whole, once, whatever the channel's minute
        storm_id = await asyncio.to_thread(self._fold, job)
        if storm_id is None:
            return False
        await self.render(notifier, job.platform, job.channel_id, storm_id)
        return True

    def _fold(self, job) -> int | None:
        now = self.rt.clock.now()
        since = now - WINDOW
        burst = self.rt.settings.alert_burst
        with session_scope(self.rt.engine) as s:
            posted = s.execute(
                select(PostedMessage.id).where(
                    PostedMessage.platform == job.platform, PostedMessage.channel_id == job.channel_id,
                    PostedMessage.posted_at >= since, ~PostedMessage.message_ref.startswith(REF_PREFIX),
                ).limit(burst)
            ).all()
            if len(posted) < burst:
                return None
            storm = s.execute(
                select(AlertStorm).where(AlertStorm.platform == job.platform, AlertStorm.channel_id == job.channel_id,
                                         AlertStorm.started_at >= since)
                .order_by(AlertStorm.id.desc()).limit(1)
            ).scalars().first()
            if storm is None:
                storm = AlertStorm(platform=job.platform, channel_id=job.channel_id, started_at=now, updated_at=now)
                s.add(storm)
                s.flush()
            # The channel's other new alerts that are due and nobody is sending: into the
            # summary too, so the storm costs one message, not one per pacing interval.
            others = s.execute(
                select(Outbox.id, Outbox.followup_id).where(
                    Outbox.status == OutboxStatus.PENDING, Outbox.kind == outbox.ALERT_POST,
                    Outbox.platform == job.platform, Outbox.channel_id == job.channel_id,
                    Outbox.id != job.id, Outbox.next_attempt_at <= now,
                    (Outbox.lease_until.is_(None)) | (Outbox.lease_until < now),
                )
            ).all()
            if others:
                s.execute(update(Outbox).where(Outbox.id.in_([o.id for o in others])).values(
                    status=OutboxStatus.SENT, sent_at=now, last_error="folded into the storm summary"))
            fids = {job.followup_id, *(o.followup_id for o in others if o.followup_id is not None)}
            shown = set(s.execute(select(PostedMessage.followup_id).where(
                PostedMessage.followup_id.in_(fids), PostedMessage.platform == job.platform,
                PostedMessage.channel_id == job.channel_id)).scalars())
            new = sorted(fids - shown)
            if new:
                s.execute(insert(PostedMessage), [
                    {"followup_id": fid, "platform": job.platform, "channel_id": job.channel_id,
                     "message_ref": member_ref(storm.id, fid), "posted_at": now} for fid in new])
            storm.updated_at = now
            return storm.id

    # -- showing the summary ----------------------------------------------------------------
    async def refresh(self, notifier: Notifier, job) -> None:
        """A follow-up changed: re-render every summary in this channel that lists it."""
        if not self.supported(notifier) or job.followup_id is None:
            return
        for storm_id in await asyncio.to_thread(self._storms_of, job):
            await self.render(notifier, job.platform, job.channel_id, storm_id)

    def _storms_of(self, job) -> list[int]:
        with read_scope(self.rt.engine) as s:
            refs = s.execute(select(PostedMessage.message_ref).where(
                PostedMessage.followup_id == job.followup_id, PostedMessage.platform == job.platform,
                PostedMessage.channel_id == job.channel_id, PostedMessage.message_ref.startswith(REF_PREFIX),
            )).scalars().all()
        return sorted({int(ref.split(":")[1]) for ref in refs})

    async def render(self, notifier: Notifier, platform: str, channel_id: str, storm_id: int) -> None:
        ref, view = await asyncio.to_thread(self._view, storm_id)
        if view is None:
            return
        if ref is None:
            posted = await notifier.post_summary(channel_id, view)
            await asyncio.to_thread(self._posted, storm_id, str(posted))
        else:
            await notifier.update_summary(channel_id, ref, view)

    def _view(self, storm_id: int) -> tuple[str | None, StormView | None]:
        now = self.rt.clock.now()
        with read_scope(self.rt.engine) as s:
            storm = s.get(AlertStorm, storm_id)
            if storm is None:
                return None, None
            refs = s.execute(select(PostedMessage.followup_id).where(
                PostedMessage.platform == storm.platform, PostedMessage.channel_id == storm.channel_id,
                PostedMessage.message_ref.startswith(f"{REF_PREFIX}{storm_id}:"),
            )).scalars().all()
            followups = s.execute(select(FollowUp).where(FollowUp.id.in_(refs)).order_by(FollowUp.id)).scalars().all()
            alerts = alert_views(s, list(followups), settings=self.rt.settings, now=now)
            return storm.message_ref, StormView(storm.started_at, self.rt.settings.alert_burst, tuple(alerts))

    def _posted(self, storm_id: int, ref: str) -> None:
        with session_scope(self.rt.engine) as s:
            s.execute(update(AlertStorm).where(AlertStorm.id == storm_id).values(
                message_ref=ref, updated_at=self.rt.clock.now()))
