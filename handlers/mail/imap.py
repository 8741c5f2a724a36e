"""Polling `NPSBOT_IMAP_URL` for customer replies with aioimaplib (IDLE where the server has it).

Each unseen message is handed to `bot.mail.inbound.receive` (idempotent by Message-ID) and then
flagged `\\Seen`, so a crash between the two re-reads the message and stores it once. A dropped
connection is reopened with backoff (1 s doubling to 60 s); the poller never stops on errors.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import ssl
from urllib.parse import unquote, urlsplit

import aioimaplib

from bot.mail.inbound import MAX_RAW, receive
from bot.runtime import Runtime

log = logging.getLogger(__name__)
_LITERAL = re.compile(rb"\{(\d+)\}$")


class ImapPoller:
    def __init__(self, rt: Runtime, url: str, *, ssl_context: ssl.SSLContext | None = None) -> None:
        parts = urlsplit(url)
        self.rt = rt
        self.tls = parts.scheme == "imaps"
        self.host = parts.hostname or "localhost"
        self.port = parts.port or (993 if self.tls else 143)
        self.user = unquote(parts.username or "")
        self.password = unquote(parts.password or "")
        self.mailbox = unquote(parts.path.lstrip("/")) or "INBOX"
        self.ssl_context = ssl_context
        self.wait = rt.settings.imap_poll_seconds
        self.client: aioimaplib.IMAP4 | None = None
        self.connects = 0
        self.received = 0
        self._task: asyncio.Task | None = None
        self._stopping = False

    async def connect(self) -> None:
        if self.tls:
            client = aioimaplib.IMAP4_SSL(self.host, self.port, timeout=30, ssl_context=self.ssl_context)
        else:
            client = aioimaplib.IMAP4(self.host, self.port, timeout=30)
        await client.wait_hello_from_server()
        response = await client.login(self.user, self.password)
        if response.result != "OK":
            raise ConnectionError(f"IMAP login refused: {response.result}")
        response = await client.select(self.mailbox)
        if response.result != "OK":
            raise ConnectionError(f"IMAP mailbox {self.mailbox!r} cannot be selected")
        self.client = client
        self.connects += 1
        log.info("imap.connected", extra={"host": self.host, "mailbox": self.mailbox})

    async def close(self) -> None:
        client, self.client = self.client, None
        if client is not None and client.protocol.state != "LOGOUT":
            with contextlib.suppress(Exception):
                await asyncio.wait_for(client.logout(), 2)

    async def poll_once(self) -> int:
        """Fetch, store and flag every unseen message; returns how many were handed on."""
        if self.client is None:
            await self.connect()
        client = self.client
        response = await client.uid_search("UNSEEN")
        if response.result != "OK":
            raise ConnectionError("IMAP search failed")
        uids = [u for u in (response.lines[0] or b"").decode().split() if u.isdigit()]
        handled = 0
        for uid in uids:
            fetched = await client.uid("fetch", uid, "(RFC822.SIZE BODY.PEEK[])")
            raw = _literal(fetched.lines)
            if raw is None:
                continue
            if len(raw) > MAX_RAW:
                raw = raw[:MAX_RAW]
            await asyncio.to_thread(receive, self.rt, raw)
            await client.uid("store", uid, "+FLAGS.SILENT (\\Seen)")
            handled += 1
        self.received += handled
        return handled

    async def wait_for_mail(self) -> None:
        """IDLE until the server pushes something (or `wait` seconds pass); else just sleep."""
        client = self.client
        if client is not None and client.has_capability("IDLE"):
            idle = await client.idle_start(timeout=self.wait)
            try:
                pushed = await client.wait_server_push(timeout=self.wait)
            except TimeoutError:
                pushed = []
            lines = pushed if isinstance(pushed, list) else [pushed]
            if any(b"BYE" in bytes(line)[:16] for line in lines if isinstance(line, bytes | bytearray)) \
                    or client.protocol.state == "LOGOUT":
                # The server is going away (shutdown, kick, idle timeout): reconnect now.
                raise ConnectionError("IMAP server closed the connection")
            client.idle_done()
            await asyncio.wait_for(idle, 10)
        else:
            await asyncio.sleep(self.wait)

    async def run(self) -> None:
        backoff = 1.0
        while not self._stopping:
            try:
                await self.poll_once()
                backoff = 1.0
                await self.wait_for_mail()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # a dropped connection or a bad server: reconnect
                log.warning("imap.reconnect", extra={"error": type(exc).__name__, "in_seconds": backoff})
                await self.close()
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 60.0)

    def start(self) -> None:
        self._task = asyncio.create_task(self.run(), name="imap-poller")

    async def stop(self) -> None:
        self._stopping = True
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self.close()


def _literal(lines: list) -> bytes | None:
    """The message bytes of a FETCH answer (aioimaplib gives the literal as its own line)."""
    for i, line in enumerate(lines):
        if isinstance(line, bytes | bytearray) and _LITERAL.search(bytes(line)) and i + 1 < len(lines):
            return bytes(lines[i + 1])
    return None


def start_imap(services) -> ImapPoller | None:
    settings = services.rt.settings
    if settings.imap_url is None:
        return None
    poller = ImapPoller(services.rt, settings.imap_url.get_secret_value())
    poller.start()
    return poller
