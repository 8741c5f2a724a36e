"""The Email customer button in Slack: a prefilled modal, the e-mail through the real SMTP server,
and the customer's reply back in the alert's thread, inert."""

from __future__ import annotations

import json

from bot.app import build_app, build_runtime, build_services
from tests.conftest import serve
from tests.mail.helpers import post_mail, reply_to
from tests.slack.conftest import Slack, fake_slack, slack_env  # noqa: F401 - fixtures

CUSTOMER = {"id": "cus_42", "name": "Acme Corp", "email": "ops@acme.example", "arr": 48000}


async def test_email_customer_button_modal_send_and_reply_in_the_thread(mail_settings, slack_env, clock,  # noqa: F811
                                                                      fake_slack, smtp):  # noqa: F811
    rt = build_runtime(mail_settings(**slack_env), clock=clock)
    services = build_services(rt)
    async with serve(build_app(services, run_workers=False)) as http:
        slack = Slack(rt, services, http, fake_slack)
        ts = await slack.alert(customer=CUSTOMER)
        [alert] = [p for p in fake_slack.ok_calls("chat.postMessage") if "blocks" in p]
        assert "nps_email" in [e["action_id"] for e in alert["blocks"][-1]["elements"]]

        resp, _ = await slack.click("nps_email", 1, message_ts=ts)
        assert resp.status == 200
        [opened] = await fake_slack.wait_for(lambda: fake_slack.ok_calls("views.open"))
        modal = opened["view"]
        assert modal["callback_id"] == "nps_email"
        assert modal["blocks"][0]["element"]["initial_value"].startswith("Thank you for your feedback")

        resp = await slack.interactive(slack.submission("nps_email", 1, note="Fixed it — sorry! *really*"))
        assert resp.status == 200 and await resp.text() == ""
        await services.worker.drain(timeout=10)
        [sent] = smtp.messages
        assert "Fixed it — sorry! *really*" in sent.get_body(("plain",)).get_content()
        lines = [p["text"] for p in fake_slack.ok_calls("chat.postMessage") if p.get("thread_ts") == ts]
        assert "✉ amy e-mailed the customer: Fixed it — sorry! *really*" in lines
        update = fake_slack.ok_calls("chat.update")[-1]
        assert "✉ contacted 2026-11-20 12:00 UTC" in json.dumps(update["blocks"], ensure_ascii=False)

        await post_mail(http, reply_to(sent, "<!channel> <@U0BOSS> thanks <https://evil.example|click>"))
        await services.worker.drain(timeout=10)
        lines = [p for p in fake_slack.ok_calls("chat.postMessage") if p.get("thread_ts") == ts]
        reply = lines[-1]
        assert reply["text"].startswith("✉ Reply from Acme Corp: &lt;!channel&gt; &lt;@U0BOSS&gt;")
        assert "<!channel>" not in reply["text"] and reply["mrkdwn"] is False


async def test_the_email_modal_refuses_with_the_reason_inside_the_modal(mail_settings, slack_env, clock,  # noqa: F811
                                                                       fake_slack, smtp):  # noqa: F811
    rt = build_runtime(mail_settings(**slack_env), clock=clock)
    services = build_services(rt)
    async with serve(build_app(services, run_workers=False)) as http:
        slack = Slack(rt, services, http, fake_slack)
        await slack.alert()  # no e-mail address on file
        resp = await slack.interactive(slack.submission("nps_email", 1, note="hello"))
        body = await resp.json()
        assert body["response_action"] == "errors" and "no usable e-mail address" in body["errors"]["note"]
        assert smtp.messages == []
