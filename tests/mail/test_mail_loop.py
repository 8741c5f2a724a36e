"""The whole customer loop through real parts: alert → email → reply in the thread → close →
re-survey → answer on the page → recovery in `show N` and the digest."""

from __future__ import annotations

import re

from bot.digest import build_digest
from bot.mail.resurvey import run_due
from tests.mail.helpers import post_mail, reply_to

RESPONSE = {"id": "r1", "score": 2, "comment": "Support never answered my ticket",
            "customer": {"id": "cus_42", "name": "Acme Corp", "email": "ops@acme.example", "arr": 48000}}


async def open_followup(loop) -> None:
    assert "now gets an alert" in loop.say("subscribe alerts")
    resp = await loop.http.post("/webhooks/responses", json=RESPONSE,
                                headers={"Authorization": "Bearer test-token"})
    assert resp.status == 202
    await loop.drain()


def links(message) -> list[str]:
    return re.findall(r"http://127\.0\.0\.1:\d+(/r/[^\s]+/\d+)", message.get_body(("plain",)).get_content())


async def test_the_whole_loop_from_alert_to_recovery(loop, smtp, clock):
    await open_followup(loop)
    alert = [t for k, _, t in loop.notifier.transcript if k == "alert"][0]
    assert "email 1" in alert  # the alert offers "Email customer"

    assert "You claimed #1." in loop.say("claim 1")
    assert "queued" in loop.say("email 1 Sorry about the ticket, Jane. I've fixed it myself.")
    await loop.drain()
    [sent] = smtp.messages
    assert sent["To"] == "ops@acme.example" and "Acme CX" in sent["From"] and "[#1]" in sent["Subject"]
    assert "I've fixed it myself." in sent.get_body(("plain",)).get_content()
    assert "I&#39;ve fixed it myself." in sent.get_body(("html",)).get_content()  # autoescaped HTML part
    assert "✉ maria e-mailed the customer: Sorry about the ticket" in " ".join(loop.thread())
    assert "✉ contacted 2026-11-20 12:00 UTC" in loop.say("show 1")

    resp = await post_mail(loop.http, reply_to(sent, "Thanks, it works now!"))
    assert resp.status == 202 and (await resp.json()) == {"outcome": "matched", "followup": 1}
    await loop.drain()
    assert "✉ Reply from Acme Corp: Thanks, it works now!" in loop.thread()
    shown = loop.say("show 1")
    assert "Acme Corp e-mail reply: Thanks, it works now!" in shown
    assert "wrote:" not in shown  # quoted history stripped

    loop.say("close 1 resolved")
    clock.advance(days=30, minutes=1)
    assert run_due(loop.rt) == 1
    assert run_due(loop.rt) == 0  # once per follow-up
    await loop.drain()
    survey = smtp.messages[-1]
    assert survey["List-Unsubscribe"] and "/u/" in survey["List-Unsubscribe"]
    paths = links(survey)
    assert [p.rsplit("/", 1)[1] for p in paths] == [str(s) for s in range(11)]

    page = await loop.http.get(paths[9])
    assert page.status == 200 and "We recorded your answer: 9 out of 10." in await page.text()
    again = await loop.http.get(paths[10])  # clicking again changes the answer
    assert again.status == 200
    shown = loop.say("show 1")
    answers = shown.split("Answers:")[1].split("Trail")[0]
    assert "re-surveyed: 10" in shown and "10/10" in answers and "9/10" not in answers
    assert "re-survey answer: 10/10 (changed from 9)" in shown
    assert "answers in this follow-up" not in shown  # the re-survey is shown on its own line

    clock.advance(hours=1)
    digest = build_digest(loop.rt, period_end=clock.now(), with_chart=False).as_text()
    assert "Recovery (follow-ups opened in the last 90 days: 1)" in digest
    assert "Contacted 1 (median 0m after opening)" in digest or "Contacted 1 (median" in digest
    assert "Re-surveyed 1 · answered 1" in digest
    assert "contacted 1/1 (100%)" in digest and "ARR of recovered customers $48k" in digest
    assert "Recovered: the customer's next score after the follow-up opened is 7 or more" in digest


async def test_the_comment_box_posts_with_csrf_and_shows_in_show(loop, smtp, clock):
    await open_followup(loop)
    loop.say("close 1 recovered")
    clock.advance(days=31)
    run_due(loop.rt)
    await loop.drain()
    path = links(smtp.messages[-1])[8]
    html = await (await loop.http.get(path)).text()
    csrf = re.search(r'name="csrf" value="([^"]+)"', html).group(1)
    action = re.search(r'form method="post" action="([^"]+)"', html).group(1)
    forged = await loop.http.post(action, data={"csrf": "nope", "comment": "<!channel> hi"})
    assert forged.status == 403
    ok = await loop.http.post(action, data={"csrf": csrf, "comment": "<!channel> much better now"})
    assert ok.status == 200 and "&lt;!channel&gt; much better now" in await ok.text()
    assert "8/10  <!channel> much better now" in loop.say("show 1")


async def test_forged_and_expired_links_get_a_4xx_page_and_store_nothing(loop, smtp, clock):
    await open_followup(loop)
    loop.say("close 1 resolved")
    clock.advance(days=30, hours=1)
    run_due(loop.rt)
    await loop.drain()
    path = links(smtp.messages[-1])[9]
    token = path.split("/")[2]
    forged = await loop.http.get(f"/r/{token[:-2]}xx/9")
    assert forged.status == 404 and "Nothing was recorded." in await forged.text()
    assert (await loop.http.get(f"/r/{token}/11")).status == 400
    clock.advance(days=31)
    expired = await loop.http.get(path)
    assert expired.status == 410 and "expired" in await expired.text()
    assert "re-surveyed" not in loop.say("show 1")


async def test_email_is_refused_with_the_reason(loop, smtp, make_settings, clock):
    resp = await loop.http.post("/webhooks/responses", headers={"Authorization": "Bearer test-token"},
                                json={"id": "x", "score": 1, "customer": {"id": "no-mail"}})
    assert resp.status == 202
    assert "has no usable e-mail address" in loop.say("email 1 hello")
    assert "`email` needs the text to send" in loop.say("email 1")
    assert "There is no follow-up #9." in loop.say("email 9 hello")
    await loop.drain()
    assert smtp.messages == []


async def test_unsubscribed_customers_are_neither_emailed_nor_resurveyed(loop, smtp, clock):
    await open_followup(loop)
    loop.say("close 1 resolved")
    clock.advance(days=30, hours=1)
    run_due(loop.rt)
    await loop.drain()
    unsubscribe = str(smtp.messages[-1]["List-Unsubscribe"]).strip("<>").split("127.0.0.1:")[1]
    path = unsubscribe[unsubscribe.index("/"):]
    form = await (await loop.http.get(path)).text()  # GET only asks
    assert "unsubscribed" not in loop.say("email 1 still there?")
    csrf = re.search(r'name="csrf" value="([^"]+)"', form).group(1)
    done = await loop.http.post(path, data={"csrf": csrf})
    assert done.status == 200 and "You are unsubscribed" in await done.text()
    assert "unsubscribed from our e-mail" in loop.say("email 1 are you there?")


async def test_no_customer_is_resurveyed_twice_within_90_days(loop, smtp, clock):
    await open_followup(loop)
    loop.say("close 1 resolved")
    clock.advance(days=30, hours=1)
    assert run_due(loop.rt) == 1
    resp = await loop.http.post("/webhooks/responses", headers={"Authorization": "Bearer test-token"},
                                json={**RESPONSE, "id": "r2"})
    assert resp.status == 202
    loop.say("close 2 resolved")
    clock.advance(days=30, hours=1)
    assert run_due(loop.rt) == 0  # same customer, asked 30 days ago


async def test_two_replicas_schedulers_resurvey_once(loop, smtp, clock):
    import asyncio

    from bot.app import build_runtime
    from bot.scheduler import DigestScheduler

    await open_followup(loop)
    loop.say("close 1 resolved")
    clock.advance(days=30, hours=1)
    other = build_runtime(loop.rt.settings, clock=clock, migrate=False)
    first, second = DigestScheduler(loop.rt), DigestScheduler(other)
    await asyncio.gather(first.sync(), second.sync())
    sent = await asyncio.gather(first.resurvey(), second.resurvey(), first.resurvey())
    assert sum(sent) == 1
    await loop.drain()
    assert [str(m["Subject"]) for m in smtp.messages] == ["A quick question [#1]"]
    await first.stop()
    await second.stop()
    other.engine.dispose()


async def test_an_unsubscribed_customer_is_not_resurveyed(loop, smtp, clock):
    from sqlalchemy import select

    from bot.mail.tokens import unsubscribe_token
    from storage.db import read_scope
    from storage.models import Resurvey

    await open_followup(loop)
    path = f"/u/{unsubscribe_token(loop.rt, 1)}"
    csrf = re.search(r'name="csrf" value="([^"]+)"', await (await loop.http.get(path)).text()).group(1)
    assert (await loop.http.post(path, data={"csrf": csrf})).status == 200
    loop.say("close 1 resolved")
    clock.advance(days=30, hours=1)
    assert run_due(loop.rt) == 0
    with read_scope(loop.rt.engine) as s:
        row = s.execute(select(Resurvey)).scalar_one()
    assert (row.status, row.reason) == ("skipped", "unsubscribed")
    await loop.drain()
    assert smtp.messages == []


async def test_templates_can_be_replaced_from_a_directory(mail_settings, smtp, clock, tmp_path):
    from io import StringIO

    from rich.console import Console

    from bot.app import build_app, build_runtime, build_services
    from handlers.shell import ShellNotifier
    from tests.conftest import serve
    from tests.mail.conftest import Loop

    (tmp_path / "tpl").mkdir()
    (tmp_path / "tpl" / "contact.txt").write_text("Dear customer,\n{{ text }}\n-- {{ sender }}, Acme\n")
    (tmp_path / "tpl" / "contact.html").write_text("<p>Dear customer, {{ text }}</p>")
    rt = build_runtime(mail_settings(NPSBOT_MAIL_TEMPLATES=str(tmp_path / "tpl")), clock=clock)
    services = build_services(rt, {"shell": ShellNotifier(Console(file=StringIO()))})
    async with serve(build_app(services, run_workers=False)) as http:
        loop = Loop(services, http, None)
        await open_followup(loop)
        loop.say("email 1 We fixed <it>.")
        await loop.drain()
    [sent] = smtp.messages
    plain = sent.get_body(("plain",)).get_content().replace("\r\n", "\n")
    assert plain.startswith("Dear customer,\nWe fixed <it>.\n-- maria, Acme")
    assert sent.get_body(("html",)).get_content().strip() == "<p>Dear customer, We fixed &lt;it&gt;.</p>"
    rt.engine.dispose()
