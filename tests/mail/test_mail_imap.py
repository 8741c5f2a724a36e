"""IMAP polling against a real Dovecot (Debian's dovecot-imapd, started by scripts/dovecot-test.sh)."""

from __future__ import annotations

import asyncio
import shutil
import subprocess
import tempfile
from pathlib import Path

import aioimaplib
import pytest

from handlers.mail.imap import ImapPoller
from tests.mail.conftest import free_port
from tests.mail.helpers import reply_to
from tests.mail.test_mail_faults import email_and_drain
from tests.mail.test_mail_loop import open_followup

pytestmark = pytest.mark.imap
SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "dovecot-test.sh"


class Dovecot:
    def __init__(self, directory: Path, port: int) -> None:
        self.dir, self.port = directory, port
        self.url = f"imap://npsbot:npsbot@127.0.0.1:{port}/INBOX"

    def start(self) -> None:
        result = subprocess.run(["bash", str(SCRIPT), "start", str(self.dir), str(self.port)],
                                capture_output=True, text=True, timeout=30)
        if result.returncode != 0:
            pytest.skip(f"Dovecot could not start here: {(result.stderr or result.stdout).strip()[:300]}")

    def kick(self) -> None:
        subprocess.run(["bash", str(SCRIPT), "kick", str(self.dir)], capture_output=True, timeout=30)

    def stop(self) -> None:
        subprocess.run(["bash", str(SCRIPT), "stop", str(self.dir)], capture_output=True, timeout=30)

    async def deliver(self, raw: bytes) -> None:
        client = aioimaplib.IMAP4("127.0.0.1", self.port, timeout=5)
        await client.wait_hello_from_server()
        await client.login("npsbot", "npsbot")
        response = await client.append(raw, mailbox="INBOX")
        assert response.result == "OK", response
        await client.logout()


@pytest.fixture
def dovecot():
    if not (shutil.which("dovecot") or Path("/usr/sbin/dovecot").exists()):
        pytest.skip("Dovecot is not installed (apt-get install dovecot-imapd; `make imap` starts one)")
    # Not under pytest's tmp_path: that is private to us, and Dovecot's mail user must reach it.
    directory = Path(tempfile.mkdtemp(prefix="npsbot-dovecot-"))
    directory.chmod(0o755)
    server = Dovecot(directory / "d", free_port())
    server.start()
    yield server
    server.stop()
    shutil.rmtree(directory, ignore_errors=True)


async def wait_until(predicate, timeout: float = 8.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not predicate():
        assert asyncio.get_running_loop().time() < deadline, "timed out"
        await asyncio.sleep(0.05)


async def test_a_reply_in_the_mailbox_reaches_the_thread_once(loop, smtp, clock, dovecot):
    await open_followup(loop)
    await email_and_drain(loop, clock)
    await dovecot.deliver(reply_to(smtp.messages[-1], "Got it, thanks — all good."))
    poller = ImapPoller(loop.rt, dovecot.url)
    try:
        assert await poller.poll_once() == 1
        assert await poller.poll_once() == 0  # flagged \Seen: not read twice
    finally:
        await poller.close()
    await loop.drain()
    assert "✉ Reply from Acme Corp: Got it, thanks — all good." in loop.thread()


async def test_the_poller_uses_idle_and_reconnects_after_the_server_drops(loop, smtp, clock, dovecot):
    await open_followup(loop)
    await email_and_drain(loop, clock)
    poller = ImapPoller(loop.rt, dovecot.url)
    poller.wait = 5.0  # IDLE wakes it long before this
    poller.start()
    try:
        await wait_until(lambda: poller.connects == 1)
        await dovecot.deliver(reply_to(smtp.messages[-1], "First answer"))
        await wait_until(lambda: poller.received == 1, timeout=4)  # pushed by IDLE, not a 5 s poll

        dovecot.kick()  # the server drops the connection under the poller
        await dovecot.deliver(reply_to(smtp.messages[-1], "Second answer"))
        await wait_until(lambda: poller.received == 2, timeout=15)
        assert poller.connects >= 2
    finally:
        await poller.stop()
    await loop.drain()
    assert [t for t in loop.thread() if t.startswith("✉ Reply")] == [
        "✉ Reply from Acme Corp: First answer", "✉ Reply from Acme Corp: Second answer"]


async def test_npsbot_serve_polls_the_mailbox_in_the_background(mail_settings, smtp, clock, dovecot):
    from io import StringIO

    from rich.console import Console

    from bot.app import build_app, build_runtime, build_services
    from handlers.shell import ShellNotifier
    from tests.conftest import serve
    from tests.mail.conftest import Loop

    rt = build_runtime(mail_settings(NPSBOT_IMAP_URL=dovecot.url, NPSBOT_IMAP_POLL_SECONDS="0.3"), clock=clock)
    services = build_services(rt, {"shell": ShellNotifier(Console(file=StringIO()))})
    async with serve(build_app(services, run_workers=True)) as http:  # worker, scheduler, IMAP poller
        loop = Loop(services, http, None)
        await open_followup(loop)
        await email_and_drain(loop, clock)
        await dovecot.deliver(reply_to(smtp.messages[-1], "Seen by the background poller"))
        await wait_until(lambda: "✉ Reply from Acme Corp: Seen by the background poller" in loop.thread())
    rt.engine.dispose()
