"""Slack's side of the command inbox (bot/inbox.py): record before the ack, replay after a crash.

A Bolt middleware writes every request that changes something (a `/nps` command other than the
read-only help, score, open, unclaimed, mine and show; a Claim/Reopen click, a modal submission,
a reaction) into the inbox before the listener acks it,
keyed by Slack's own id for that request (`trigger_id`, or `event_id` for events), so a redelivery
is recorded once. Listeners mark their row done when they finish. The recovery loop replays rows
a dead process left behind through the same listeners, with a no-op ack and replies through the
request's response_url (valid for 30 minutes), so a restart finishes what was acknowledged.
"""

from __future__ import annotations

import asyncio
import logging
import re
from concurrent.futures import ThreadPoolExecutor

from slack_bolt.response import BoltResponse

from bot import inbox
from bot.commands import Verb, parse_command
from bot.errors import CommandError
from storage.db import is_sqlite

log = logging.getLogger(__name__)

BATCH = 200  # requests per inbox transaction
# Commands that only read; every other verb (including ones added later) is recorded.
READ_ONLY = frozenset({Verb.HELP, Verb.SCORE, Verb.OPEN, Verb.UNCLAIMED, Verb.MINE, Verb.SHOW})
_RECORDED_ACTIONS = re.compile(r"^nps_(claim|reopen)$")  # Add note / Close only open a modal


def request_key(body: dict) -> str | None:
    """Slack's id for a request npsbot acts on after acking, or None (nothing to keep)."""
    if not isinstance(body, dict):
        return None
    if body.get("command"):
        try:
            if parse_command(body.get("text") or "").verb in READ_ONLY:
                return None  # changes nothing: a lost reply is asked again, nothing is lost
        except CommandError:
            return None  # answered in the ack itself
        return f"slack:command:{body.get('trigger_id') or ''}" if body.get("trigger_id") else None
    kind = body.get("type")
    if kind == "block_actions":
        actions = body.get("actions") or []
        if actions and isinstance(actions[0], dict) and _RECORDED_ACTIONS.match(str(actions[0].get("action_id"))):
            trigger = body.get("trigger_id") or f"{(body.get('container') or {}).get('message_ts')}:" \
                                                f"{actions[0].get('action_ts')}"
            return f"slack:action:{trigger}"
        return None
    if kind == "view_submission" and body.get("trigger_id"):
        return f"slack:view:{body['trigger_id']}"
    if kind == "event_callback" and isinstance(body.get("event"), dict) \
            and body["event"].get("type") == "reaction_added" and body.get("event_id"):
        return f"slack:event:{body['event_id']}"
    return None


def slim(body: dict) -> dict:
    """What a replay needs of a request: not the alert's own blocks a click carries along."""
    if body.get("type") == "block_actions":
        return {k: v for k, v in body.items() if k not in ("message", "state")}
    if body.get("type") == "view_submission" and isinstance(body.get("view"), dict):
        return {**body, "view": {k: v for k, v in body["view"].items() if k != "blocks"}}
    return body


class SlackInbox:
    """Records requests (middleware), tracks what this process works on, replays orphans."""

    def __init__(self, door, client, poll_seconds: float) -> None:
        self.door = door
        self.rt = door.rt
        self.client = client
        self.poll_seconds = poll_seconds
        self.in_flight: set[int] = set()
        # Its own thread: the shared pool may be busy with replies, and an ack must not queue there.
        self._writer = ThreadPoolExecutor(1, thread_name_prefix="slack-inbox")
        self._inline = is_sqlite(self.rt.engine)
        self._records: list[tuple[str, dict, asyncio.Future]] = []
        self._recording = False
        self._done: list[int] = []
        self._marking = False

    async def middleware(self, body, context, next):  # noqa: A002 - Bolt injects arguments by name
        key = request_key(body)
        if key is None:
            return await next()
        row_id = await self._record(key, slim(body))
        if row_id is None:
            log.info("slack.inbox_redelivery_ignored", extra={"key": key[:80]})
            return BoltResponse(status=200, body="")
        self.in_flight.add(row_id)
        context["inbox_id"] = row_id
        return await next()

    async def _record(self, key: str, body: dict) -> int | None:
        """Group commit: the requests of a burst share one transaction, so acks wait for one
        commit, not for each other's (the cost that matters against a bare Bolt ack)."""
        future = asyncio.get_running_loop().create_future()
        self._records.append((key, body, future))
        if not self._recording:
            self._recording = True
            try:
                while self._records:
                    batch, self._records = self._records[:BATCH], self._records[BATCH:]
                    try:
                        ids = await self._write([(k, b) for k, b, _ in batch])
                    except Exception as exc:  # each waiting request gets the error
                        for _, _, f in batch:
                            f.set_exception(exc)
                        continue
                    for k, _, f in batch:
                        f.set_result(ids.get(k[:300]))
            finally:
                self._recording = False
        return await future

    async def _write(self, requests: list[tuple[str, dict]]) -> dict[str, int]:
        if self._inline:
            # SQLite: ~1 ms, and this process's acknowledgements go first among its writers
            # (storage/db.py), so writing on the event loop beats a thread hop that waits for the
            # GIL behind the replies being rendered (bench/slack_ack.py: p50 +20 ms that way).
            await asyncio.sleep(0)  # let the burst's other requests join this batch
            return inbox.record_many(self.rt, "slack", requests)
        # A database over the network may stall: never on the event loop.
        return await asyncio.get_running_loop().run_in_executor(
            self._writer, inbox.record_many, self.rt, "slack", requests)

    async def finish(self, context) -> None:
        row_id = (context or {}).get("inbox_id")
        if row_id is None:
            return
        self._done.append(row_id)
        if self._marking:
            return  # the running flush takes it
        self._marking = True
        try:
            while self._done:
                ids, self._done = self._done, []
                try:
                    await asyncio.to_thread(inbox.done_many, self.rt, ids)
                except Exception as exc:  # left pending: a later recovery reapplies it
                    log.warning("slack.inbox_done_failed", extra={"error": type(exc).__name__})
                self.in_flight.difference_update(ids)
        finally:
            self._marking = False

    async def recover_once(self) -> int:
        pending = await asyncio.to_thread(inbox.take_orphans, self.rt, set(self.in_flight))
        for row in pending:
            self.in_flight.add(row.id)
            try:
                await self.door.replay(row.payload, {"inbox_id": row.id, "replay": True}, self.client)
            except Exception:  # one bad row must not stop the others
                # The listeners answer their own failures; what escapes them would fail again.
                log.exception("slack.inbox_replay_failed", extra={"inbox_id": row.id})
                await self.finish({"inbox_id": row.id})
        return len(pending)

    async def run(self) -> None:
        while True:
            try:
                await self.recover_once()
            except Exception as exc:  # e.g. the database away: try again next round
                log.warning("slack.inbox_recovery_failed", extra={"error": type(exc).__name__})
            await asyncio.sleep(self.poll_seconds)
