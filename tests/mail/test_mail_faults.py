"""Faults on the mail paths: a refusing or stalling SMTP server, hostile and odd inbound mail."""

from __future__ import annotations

from email.message import EmailMessage
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from io import StringIO

from rich.console import Console
from sqlalchemy import select

from bot.app import build_app, build_runtime, build_services
from handlers.shell import ShellNotifier
from storage.db import read_scope
from storage.models import MailMessage, Outbox
from tests.conftest import serve
from tests.mail.conftest import Loop
from tests.mail.helpers import TOKEN, post_mail, reply_to
from tests.mail.test_mail_loop import open_followup


async def email_and_drain(loop, clock, text="We fixed it.") -> None:
    assert "queued" in loop.say(f"email 1 {text}")
    for _ in range(8):
        await loop.drain()
        clock.advance(seconds=400)  # past any backoff


def outbox_rows(loop) -> list[Outbox]:
    with read_scope(loop.rt.engine) as s:
        return list(s.execute(select(Outbox).where(Outbox.kind == "email")).scalars())


async def test_a_refusing_mail_server_delays_the_email_and_never_doubles_it(loop, smtp, clock):
    await open_followup(loop)
    smtp.refuse = 2
    await email_and_drain(loop, clock)
    assert smtp.attempts == 3 and len(smtp.messages) == 1
    [row] = outbox_rows(loop)
    assert row.status == "sent" and row.attempts == 3
    assert smtp.messages[0]["Message-ID"] == row.payload["message_id"]  # chosen before the first try


async def test_a_permanent_refusal_is_not_retried(loop, smtp, clock):
    await open_followup(loop)
    smtp.reject = True
    await email_and_drain(loop, clock)
    [row] = outbox_rows(loop)
    assert smtp.attempts == 1 and row.status == "dead" and "550" in row.last_error


async def test_a_stalling_mail_server_times_out_and_the_retry_reuses_the_message_id(mail_settings, smtp, clock):
    rt = build_runtime(mail_settings(NPSBOT_SMTP_TIMEOUT="0.4"), clock=clock)
    services = build_services(rt, {"shell": ShellNotifier(Console(file=StringIO()))})
    async with serve(build_app(services, run_workers=False)) as http:
        loop = Loop(services, http, None)
        await open_followup(loop)
        smtp.stall = 0.8
        await email_and_drain(loop, clock)
        [row] = outbox_rows(loop)
        assert row.status == "sent" and row.attempts == 2
        assert [m["Message-ID"] for m in smtp.messages] == [row.payload["message_id"]]
    rt.engine.dispose()


async def test_the_webhook_checks_the_token_before_reading_and_bounds_the_size(loop):
    assert (await post_mail(loop.http, b"x" * 100, {"Content-Type": "message/rfc822"})).status == 401
    wrong = {**TOKEN, "Authorization": "Bearer nope"}
    assert (await post_mail(loop.http, b"x" * 100, wrong)).status == 401
    assert (await post_mail(loop.http, b"{}", {**TOKEN, "Content-Type": "application/json"})).status == 415
    big = await post_mail(loop.http, b"x" * (10 * 1024 * 1024 + 1))
    assert big.status == 413


async def _reply(loop, smtp, clock, build) -> tuple[int, dict]:
    await open_followup(loop)
    await email_and_drain(loop, clock)
    raw = build(smtp.messages[-1])
    resp = await post_mail(loop.http, raw)
    body = await resp.json()
    await loop.drain()
    return resp.status, body


def _reply_headers(original, msg) -> None:
    msg["From"] = "ops@acme.example"
    msg["Subject"] = "Re: " + str(original["Subject"])
    msg["Message-ID"] = "<r-" + str(id(msg)) + "@acme.example>"
    msg["In-Reply-To"] = original["Message-ID"]


async def test_a_2_mb_reply_with_an_attachment_is_read(loop, smtp, clock):
    def build(original):
        msg = EmailMessage()
        _reply_headers(original, msg)
        msg.set_content("Here are the logs you asked for.")
        msg.add_attachment(b"\0" * (2 * 1024 * 1024), maintype="application", subtype="octet-stream",
                           filename="logs.bin")
        return msg.as_bytes()

    status, body = await _reply(loop, smtp, clock, build)
    assert status == 202 and body["outcome"] == "matched"
    assert "✉ Reply from Acme Corp: Here are the logs you asked for." in loop.thread()


async def test_a_mime_bomb_is_kept_aside_cheaply(loop, smtp, clock):
    def build(original):
        inner = MIMEText("boom")
        for _ in range(60):
            outer = MIMEMultipart()
            outer.attach(inner)
            inner = outer
        wide = MIMEMultipart()
        for _ in range(400):
            wide.attach(MIMEText("x"))
        inner.attach(wide)
        _reply_headers(original, inner)
        return inner.as_bytes()

    status, body = await _reply(loop, smtp, clock, build)
    assert status == 202 and body["outcome"] == "unmatched"
    with read_scope(loop.rt.engine) as s:
        kept = s.execute(select(MailMessage).where(MailMessage.kind == "unmatched")).scalar_one()
    assert kept.raw  # never lost


async def test_an_html_only_reply_is_shown_as_text(loop, smtp, clock):
    def build(original):
        msg = EmailMessage()
        _reply_headers(original, msg)
        msg.set_content("<html><body><p>All <b>good</b> now &amp; thanks</p>"
                        "<blockquote>old stuff</blockquote></body></html>", subtype="html")
        return msg.as_bytes()

    status, body = await _reply(loop, smtp, clock, build)
    assert body["outcome"] == "matched"
    [line] = [t for t in loop.thread() if t.startswith("✉ Reply")]
    assert "All **good** now & thanks" in line or "All good now & thanks" in line


async def test_non_utf8_charsets_are_decoded(loop, smtp, clock):
    status, body = await _reply(loop, smtp, clock, _latin1)
    assert body["outcome"] == "matched"
    assert any("Très bien, merci" in t for t in loop.thread())


def _latin1(original) -> bytes:
    head = (f"From: ops@acme.example\r\nSubject: Re: {original['Subject']}\r\nMessage-ID: <l1@acme.example>\r\n"
            f"In-Reply-To: {original['Message-ID']}\r\nMIME-Version: 1.0\r\n"
            "Content-Type: text/plain; charset=iso-8859-1\r\nContent-Transfer-Encoding: 8bit\r\n\r\n")
    return head.encode() + "Très bien, merci\r\n".encode("iso-8859-1")


async def test_a_lying_charset_does_not_lose_the_reply(loop, smtp, clock):
    def build(original):
        head = (f"From: ops@acme.example\r\nSubject: Re: x\r\nMessage-ID: <l2@acme.example>\r\n"
                f"In-Reply-To: {original['Message-ID']}\r\nMIME-Version: 1.0\r\n"
                "Content-Type: text/plain; charset=x-no-such-charset\r\n\r\n")
        return head.encode() + "Gr\u00fc\u00dfe, alles gut".encode()

    status, body = await _reply(loop, smtp, clock, build)
    assert body["outcome"] == "matched"
    assert any("alles gut" in t for t in loop.thread())


async def test_a_reply_carrying_channel_mentions_stays_inert(loop, smtp, clock):
    status, body = await _reply(loop, smtp, clock, lambda o: reply_to(o, "<!channel> <@U123> *urgent*"))
    assert body["outcome"] == "matched"
    [line] = [t for t in loop.thread() if t.startswith("✉ Reply")]
    from handlers.slack.blocks import thread_text

    assert "<!channel>" in line  # stored literally …
    assert "<!channel>" not in thread_text(line) and "&lt;!channel&gt;" in thread_text(line)  # … escaped for Slack


async def test_auto_replies_are_recognised_and_not_shown(loop, smtp, clock):
    status, body = await _reply(loop, smtp, clock, lambda o: reply_to(
        o, "I am out of the office until Monday.", headers={"Auto-Submitted": "auto-replied"}))
    assert body["outcome"] == "auto"
    assert not [t for t in loop.thread() if t.startswith("✉ Reply")]
    assert "auto-reply" in loop.say("show 1")


async def test_out_of_office_subjects_count_as_auto_replies(loop, smtp, clock):
    def build(original):
        raw = reply_to(original, "Away")
        return raw.replace(b"Subject: Re:", b"Subject: Automatic reply: Re:", 1)

    status, body = await _reply(loop, smtp, clock, build)
    assert body["outcome"] == "auto"


async def test_unmatched_mail_is_kept_and_counted_and_duplicates_are_stored_once(loop):
    raw = b"From: someone@else.example\r\nSubject: hello\r\nMessage-ID: <u1@else.example>\r\n\r\nHi there\r\n"
    first = await post_mail(loop.http, raw)
    assert first.status == 202 and (await first.json())["outcome"] == "unmatched"
    again = await post_mail(loop.http, raw)
    assert (await again.json())["outcome"] == "duplicate"
    metrics = await (await loop.http.get("/metrics")).text()
    assert 'npsbot_mail_received_total{outcome="unmatched"}' in metrics
    from bot.digest import build_digest

    loop.rt.clock.advance(minutes=1)
    digest = build_digest(loop.rt, period_end=loop.rt.clock.now(), with_chart=False).as_text()
    assert "1 e-mail this week matched no follow-up (kept aside" in digest


async def test_a_subject_tag_matches_when_headers_were_lost(loop, smtp, clock):
    await open_followup(loop)
    raw = (b"From: ops@acme.example\r\nSubject: Re: Your feedback [#1]\r\nMessage-ID: <s1@acme.example>\r\n\r\n"
           b"Forwarded from my phone: thanks!\r\n")
    body = await (await post_mail(loop.http, raw)).json()
    assert body == {"outcome": "matched", "followup": 1}


async def test_a_late_reply_is_added_without_reopening_and_the_claimant_is_told(loop, smtp, clock):
    await open_followup(loop)
    loop.say("claim 1")
    await email_and_drain(loop, clock)
    loop.say("close 1 resolved")
    body = await (await post_mail(loop.http, reply_to(smtp.messages[-1], "One more thing"))).json()
    await loop.drain()
    assert body["outcome"] == "late"
    assert "✉ Late reply (after close) from Acme Corp: One more thing" in loop.thread()
    assert ("text", "maria", "✉ #1 is closed, but its customer wrote back: One more thing") in loop.notifier.transcript
    assert "Closed as resolved" in loop.say("show 1")


def test_the_reply_strips_quotes_and_signatures():
    from bot.mail.inbound import strip_quotes

    text = ("Thanks, fixed!\n\nBest,\nJane\n-- \nJane Doe | Acme\n\n"
            "On Mon, Nov 23, 2026 at 10:00 AM Acme CX <cx@acme.example> wrote:\n> Hello\n> more\n")
    assert strip_quotes(text) == "Thanks, fixed!"
    assert strip_quotes("Am 23.11.2026 schrieb Acme CX <cx@acme.example>:\n> Hallo") != ""
    assert strip_quotes("") == ""

