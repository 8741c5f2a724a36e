"""Storm figure for bench/import.py (not a test): top-level messages after a burst of detractors.

Runs the real outbox worker on a throwaway SQLite database with a counting notifier, on a
simulated clock: COUNT live detractors arrive for one channel over 10 s (COUNT/10 a second), and
each simulated second the worker may post once in the channel (Slack's one-per-second pacing).
Prints the top-level messages (alerts and summaries) posted in the first minute, then in total.
NPSBOT_ALERT_BURST is read from the environment as usual.

    python bench/storm_sim.py 200
"""

from __future__ import annotations

import asyncio
import itertools
import sys
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bot.actors import Actor, Place  # noqa: E402
from bot.app import build_runtime, build_services  # noqa: E402
from bot.clock import FixedClock  # noqa: E402
from bot.config import Settings  # noqa: E402
from bot.ingest import ingest, validate_body  # noqa: E402


class CountingNotifier:
    platform = "shell"
    post_interval = 1.0

    def __init__(self) -> None:
        self.top_level: list[float] = []  # simulated second of each top-level message
        self.now = 0.0
        self._ids = itertools.count(1)

    async def post_alert(self, channel_id, alert) -> str:
        self.top_level.append(self.now)
        return f"m{next(self._ids)}"

    async def post_summary(self, channel_id, summary) -> str:
        self.top_level.append(self.now)
        return f"m{next(self._ids)}"

    async def update_alert(self, channel_id, ref, alert) -> None: ...

    async def update_summary(self, channel_id, ref, summary) -> None: ...

    async def post_thread(self, channel_id, ref, text) -> None: ...

    async def post_text(self, channel_id, text) -> None: ...

    async def post_digest(self, channel_id, digest) -> None: ...


async def main(count: int) -> None:
    start = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
    with tempfile.TemporaryDirectory() as tmp:
        clock = FixedClock(start)
        rt = build_runtime(Settings(DATABASE_URL=f"sqlite:///{Path(tmp) / 'storm.db'}"), clock=clock)
        services = build_services(rt)
        notifier = CountingNotifier()
        worker = services.worker
        worker.notifiers = {"shell": notifier}
        services.dispatcher.handle_text("subscribe alerts", Actor("shell", "bench", "bench"), Place("shell", "#cx"))
        per_second = max(count // 10, 1)
        sent = 0
        for second in itertools.count():
            clock.set(start + timedelta(seconds=second))
            notifier.now = second
            if sent < count:
                batch = [{"id": f"r{n}", "score": n % 7, "comment": "Support never answered",
                          "customer": {"id": f"c{n}"}} for n in range(sent, min(sent + per_second, count))]
                items, _ = validate_body(batch)
                ingest(rt, items)
                sent += len(batch)
            worker._next_post.clear()  # one post per channel per simulated second: the pacing
            await worker.tick()
            if worker._tasks:
                await asyncio.gather(*list(worker._tasks))
            if sent >= count and second > 60 and not await asyncio.to_thread(_pending, rt):
                break
        rt.engine.dispose()
    first_minute = sum(1 for t in notifier.top_level if t < 60)
    print(f"top-level messages: {len(notifier.top_level)} in all, first minute: {first_minute}")


def _pending(rt) -> bool:
    from sqlalchemy import select

    from storage.db import read_scope
    from storage.models import Outbox

    with read_scope(rt.engine) as s:
        return s.execute(select(Outbox.id).where(Outbox.status == "pending").limit(1)).first() is not None


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]) if len(sys.argv) > 1 else 200))
