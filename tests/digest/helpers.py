"""Shared helpers for the digest tests: a recording notifier that keeps views, and a known data set."""

from __future__ import annotations

from datetime import UTC, datetime

from bot import followups
from bot.actors import Actor
from bot.ingest import ResponseIn, ingest
from storage.models import Outcome
from tests.recording import RecordingNotifier

MARIA = Actor("slack", "U0MARIA", "maria")
END = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)  # Friday; the known week is [Nov 13 12:00, Nov 20 12:00)


class ViewNotifier(RecordingNotifier):
    """Records calls like the core fake and keeps every digest view it was asked to post."""

    def __init__(self, platform: str = "slack") -> None:
        super().__init__(platform=platform)
        self.digests: list[tuple[str, object]] = []

    async def post_digest(self, channel_id, digest):
        await super().post_digest(channel_id, digest)
        self.digests.append((channel_id, digest))


def at(day: int, hour: int = 12, minute: int = 0) -> datetime:
    return datetime(2026, 11, day, hour, minute, tzinfo=UTC)


def respond(rt, when: datetime, rows: list[tuple]) -> None:
    """rows: (response id, customer id, score, segment, arr, comment)."""
    items = [ResponseIn(id=rid, score=score, comment=comment, submitted_at=when,
                        customer={"id": cid, "name": f"Customer {cid}", "segment": seg, "arr": arr})
             for rid, cid, score, seg, arr, comment in rows]
    ingest(rt, items)


ED_COMMENTS = [
    "Way too expensive for what we get",
    "Support never answered my ticket",
    "The website is confusing and the price went up",
    "App crashes daily, so buggy",
    "<!channel> pushy sales rep *called* [me](http://evil.example) & left",
]


def seed_known_week(rt, clock) -> None:
    """The data set of test_digest_numbers, in time order (the clock moves with it).

    Follow-ups: #1..#20 are d0..d19 (Nov 8), #21..#30 are ed0..ed9 (Nov 14), #31..#35 sd0..sd4 (Nov 15).
    """
    ent = "enterprise"
    clock.set(at(8))
    respond(rt, at(8), [(f"pp{i}", f"pp{i}", 10, ent, 100.0, None) for i in range(10)]
            + [(f"pa{i}", f"pa{i}", 7, ent, 100.0, None) for i in range(10)]
            + [(f"d{i}", f"d{i}", 2, ent, 1000.0, None) for i in range(20)])
    clock.set(at(9))
    for n in (1, 2, 3, 6):
        followups.claim(rt, n, MARIA)
    clock.set(at(10))
    for n in (1, 2, 3):
        followups.close(rt, n, Outcome.RESOLVED, None, MARIA)
    clock.set(at(11))
    respond(rt, at(11), [("d2-late", "d2", 8, ent, 1000.0, None)])
    clock.set(at(13, 18))
    followups.claim(rt, 4, MARIA)
    clock.set(at(14))
    respond(rt, at(14), [("d0-back", "d0", 9, ent, 1000.0, None), ("d2-back", "d2", 9, ent, 1000.0, None)]
            + [(f"ep{i}", f"ep{i}", 9, ent, 100.0, None) for i in range(18)]
            + [("d1-back", "d1", 7, ent, 1000.0, None)]
            + [(f"ea{i}", f"ea{i}", 8, ent, 100.0, None) for i in range(9)]
            + [(f"ed{i}", f"ed{i}", 4, ent, 2000.0, ED_COMMENTS[i] if i < len(ED_COMMENTS) else None)
               for i in range(10)])
    clock.set(at(14, 13))
    followups.claim(rt, 23, MARIA)
    clock.set(at(14, 15))
    followups.claim(rt, 21, MARIA)
    clock.set(at(15, 0))
    followups.close(rt, 23, Outcome.RESOLVED, None, MARIA)
    clock.set(at(15))
    respond(rt, at(15), [("sp0", "sp0", 10, "smb", 50.0, None), ("sp1", "sp1", 10, "smb", 50.0, None)]
            + [(f"sa{i}", f"sa{i}", 7, "smb", 50.0, None) for i in range(3)]
            + [(f"sd{i}", f"sd{i}", 0, "smb", 500.0, {0: "Too expensive", 1: "meh"}.get(i))
               for i in range(5)])
    followups.claim(rt, 22, MARIA)
    clock.set(at(16))
    followups.close(rt, 21, Outcome.RECOVERED, None, MARIA)
    clock.set(at(18))
    followups.close(rt, 5, Outcome.NO_ACTION, None, MARIA)
    clock.set(END)
