"""Real mail parts for the e-mail loop tests: an aiosmtpd SMTP server on 127.0.0.1 that keeps what
it receives (and can be told to refuse or stall), and services wired to it."""

from __future__ import annotations

import asyncio
import io
import socket
import threading
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser

import pytest
from aiosmtpd.controller import Controller
from rich.console import Console

from bot.actors import Actor, Place
from bot.app import build_app, build_runtime, build_services
from handlers.shell import ShellNotifier
from tests.conftest import serve

MAIL_FROM = "Acme CX <cx@acme.example>"
SECRET = "test-secret-key-0123456789abcdef"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class MailSink:
    """aiosmtpd handler: keeps each accepted message; `refuse` answers 451 that many times first;
    `stall` makes the next DATA hang longer than the client waits."""

    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []
        self.refuse = 0
        self.stall = 0.0
        self.reject = False  # answer 550: a permanent refusal
        self.attempts = 0
        self.lock = threading.Lock()

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's hook name
        with self.lock:
            self.attempts += 1
            if self.reject:
                return "550 5.1.1 mailbox unavailable"
            if self.refuse > 0:
                self.refuse -= 1
                return "451 4.3.0 try again later"
            stall, self.stall = self.stall, 0.0
        if stall:
            await asyncio.sleep(stall)
            return "451 4.3.0 too slow"
        msg = BytesParser(policy=policy.default).parsebytes(envelope.content)
        with self.lock:
            self.messages.append(msg)
        return "250 OK"


@pytest.fixture
def smtp():
    sink = MailSink()
    controller = Controller(sink, hostname="127.0.0.1", port=free_port())
    controller.start()
    sink.port = controller.port
    yield sink
    controller.stop()


@pytest.fixture
def mail_settings(make_settings, smtp):
    port = free_port()

    def make(**overrides):
        values = {"NPSBOT_SMTP_URL": f"smtp://127.0.0.1:{smtp.port}", "NPSBOT_MAIL_FROM": MAIL_FROM,
                  "NPSBOT_SECRET_KEY": SECRET, "NPSBOT_PUBLIC_URL": f"http://127.0.0.1:{port}",
                  "NPSBOT_SMTP_TIMEOUT": "2"}
        values.update(overrides)
        return make_settings(**values)

    make.port = port
    return make


class Loop:
    """The services of `npsbot serve` with the shell as chat platform, on a real HTTP port."""

    def __init__(self, services, http, console_file) -> None:
        self.services = services
        self.rt = services.rt
        self.http = http
        self.out = console_file
        self.notifier = services.worker.notifiers["shell"]

    def say(self, text: str, who: str = "maria") -> str:
        from bot.textview import reply_text

        reply = self.services.dispatcher.handle_text(text, Actor("shell", who, who), Place("shell", "#cx"))
        return reply_text(reply)

    async def drain(self) -> None:
        await self.services.worker.drain()

    def thread(self) -> list[str]:
        return [text for kind, _, text in self.notifier.transcript if kind in ("thread", "text")]


@pytest.fixture
async def loop(mail_settings, clock):
    settings = mail_settings()
    rt = build_runtime(settings, clock=clock)
    file = io.StringIO()
    services = build_services(rt, {"shell": ShellNotifier(Console(file=file, width=200))})
    app = build_app(services, run_workers=False)
    from aiohttp.test_utils import TestClient, TestServer

    client = TestClient(TestServer(app, host="127.0.0.1", port=mail_settings.port))
    await client.start_server()
    try:
        yield Loop(services, client, file)
    finally:
        await client.close()
        rt.engine.dispose()


__all__ = ["MAIL_FROM", "SECRET", "serve"]
