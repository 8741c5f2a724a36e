"""A digest time that happens twice when clocks go back is computed once, and never hangs."""

import threading
from datetime import UTC, datetime

from bot.scheduler import Schedule, due_fire_time


def test_the_repeated_hour_of_the_autumn_change_fires_once_and_returns():
    schedule = Schedule(1, "slack", "C1", "sun", "02:30", "Europe/Berlin", None, datetime(2026, 1, 1, tzinfo=UTC))
    results = []

    def compute():
        results.append(due_fire_time(schedule, datetime(2026, 10, 25, 1, 0, tzinfo=UTC)))
        results.append(due_fire_time(schedule, datetime(2026, 10, 25, 1, 45, tzinfo=UTC)))

    worker = threading.Thread(target=compute, daemon=True)
    worker.start()
    worker.join(timeout=5)
    assert not worker.is_alive(), "last_fire_time looped at the clock change"
    first_0230 = datetime(2026, 10, 25, 0, 30, tzinfo=UTC)  # 02:30 CEST, the first of the two
    assert results == [first_0230, first_0230]
