"""A Notifier that records what it would post, and can be told to fail: the outbound fake."""

from __future__ import annotations

import itertools

from bot.delivery import DeliveryError
from bot.textview import reply_text


class RecordingNotifier:
    def __init__(self, platform: str = "shell", post_interval: float = 0.0) -> None:
        self.platform = platform
        self.post_interval = post_interval
        self.calls: list[tuple] = []
        self.failures: list[DeliveryError | Exception] = []
        self._ids = itertools.count(1)

    def _maybe_fail(self) -> None:
        if self.failures:
            raise self.failures.pop(0)

    async def post_alert(self, channel_id, alert):
        self._maybe_fail()
        ref = f"msg-{next(self._ids)}"
        self.calls.append(("post_alert", channel_id, alert.number, alert.status.value, ref))
        return ref

    async def update_alert(self, channel_id, message_ref, alert):
        self._maybe_fail()
        self.calls.append(("update_alert", channel_id, alert.number, alert.status.value, message_ref))

    async def post_thread(self, channel_id, message_ref, text):
        self._maybe_fail()
        self.calls.append(("post_thread", channel_id, message_ref, text))

    async def post_text(self, channel_id, text):
        self._maybe_fail()
        self.calls.append(("post_text", channel_id, text))

    async def post_digest(self, channel_id, digest):
        self._maybe_fail()
        self.calls.append(("post_digest", channel_id, reply_text(digest)))

    def kinds(self) -> list[str]:
        return [c[0] for c in self.calls]
