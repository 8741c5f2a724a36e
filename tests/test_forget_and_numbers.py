"""`npsbot forget customer ID` (erasure on request) and bounded numbers, through the CLI and the webhook.

* forget deletes the customer's responses, masks their follow-ups' text, keeps the follow-up
  numbers and states, writes a `forgotten` audit event and queues the alerts' re-render;
* `customer.arr` over 10^12 is a 422 naming the field; ARR stored before the bound cannot make a
  digest's sum overflow (it used to break every PostgreSQL digest).
"""

import os
import subprocess
import sys
from pathlib import Path

from sqlalchemy import insert, select

from bot.actors import Actor, Place
from bot.app import build_app, build_runtime, build_services
from storage.db import read_scope, session_scope
from storage.models import Customer, Event, FollowUp, Outbox, Response
from tests.conftest import serve

ADMIN = Actor("shell", "ops", "ops")


def npsbot(args: list[str], db_url: str, cwd: Path) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("NPSBOT_", "SLACK_", "MICROSOFT_"))}
    env.update(DATABASE_URL=db_url, COLUMNS="200")
    return subprocess.run([str(Path(sys.executable).with_name("npsbot")), *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=120)


async def post(http, body):
    return await http.post("/webhooks/responses", json=body, headers={"Authorization": "Bearer test-token"})


async def test_forget_customer_deletes_responses_masks_text_and_keeps_numbers(make_settings, clock, db_url,
                                                                            tmp_path):
    rt = build_runtime(make_settings(), clock=clock)
    services = build_services(rt)
    services.dispatcher.handle_text("subscribe alerts", ADMIN, Place("shell", "#cx"))
    async with serve(build_app(services, run_workers=False)) as http:
        for i, who in enumerate(("cus_42", "cus_42", "cus_7")):
            resp = await post(http, {"id": f"r{i}", "score": 2, "comment": f"secret comment {i}",
                                     "customer": {"id": who, "name": f"Name {who}", "email": f"{who}@x.example",
                                                  "segment": "smb", "arr": 1000}})
            assert resp.status == 202
    services.dispatcher.handle_text("note 1 called Jane Doe at +1 555 0100", ADMIN, Place("shell", "#cx"))
    services.dispatcher.handle_text("close 1 resolved she was happy", ADMIN, Place("shell", "#cx"))

    result = npsbot(["forget", "customer", "cus_42"], db_url, tmp_path)
    assert result.returncode == 0, result.stderr
    assert "Forgot customer cus_42: 2 response(s) deleted; follow-ups #1 kept" in result.stdout

    with read_scope(rt.engine) as s:
        assert [r.customer_id for r in s.execute(select(Response)).scalars()] == [2]  # cus_7's answer stays
        fu = s.get(FollowUp, 1)
        assert (fu.status, fu.outcome, fu.last_note) == ("closed", "resolved", None)
        customer = s.get(Customer, 1)
        assert (customer.name, customer.email, customer.owner) == (None, None, None)
        assert customer.external_id == "forgotten-1" and customer.arr == 1000
        events = list(s.execute(select(Event).where(Event.followup_id == 1).order_by(Event.id)).scalars())
        assert events[-1].action == "forgotten"
        assert not any("Jane" in (e.text or "") or "happy" in (e.text or "") for e in events)
        payloads = [o.payload for o in s.execute(select(Outbox).where(Outbox.followup_id == 1)).scalars()]
        assert not any("Jane" in str(p) or "secret comment" in str(p) for p in payloads)
        assert s.execute(select(Outbox).where(Outbox.followup_id == 1, Outbox.kind == "alert.update",
                                              Outbox.status == "pending")).first()
    shown = services.dispatcher.handle_text("show 1", ADMIN, Place("shell", "#cx"))
    assert "secret comment" not in repr(shown) and "Name cus_42" not in repr(shown)

    again = npsbot(["forget", "customer", "cus_42"], db_url, tmp_path)
    assert again.returncode == 1 and "There is no customer with id 'cus_42'." in again.stderr
    rt.engine.dispose()


async def test_arr_over_a_trillion_is_refused_naming_the_field(make_settings, clock):
    rt = build_runtime(make_settings(), clock=clock)
    async with serve(build_app(build_services(rt), run_workers=False)) as http:
        for arr in (1e308, 1e12 + 1):
            resp = await post(http, {"id": "r1", "score": 3, "customer": {"id": "c", "arr": arr}})
            assert resp.status == 422
            assert (await resp.json())["errors"] == [
                {"field": "customer.arr", "message": "must be at most 1,000,000,000,000"}]
        assert (await post(http, {"id": "r1", "score": 3, "customer": {"id": "c", "arr": 1e12}})).status == 202
    rt.engine.dispose()


async def test_arr_stored_before_the_bound_cannot_overflow_the_digest(make_settings, clock, db_url, tmp_path):
    rt = build_runtime(make_settings(), clock=clock)
    async with serve(build_app(build_services(rt), run_workers=False)) as http:
        for i in range(2):
            assert (await post(http, {"id": f"r{i}", "score": 1, "customer": {"id": f"c{i}"}})).status == 202
    with session_scope(rt.engine) as s:  # as an older version let them in
        s.execute(Response.__table__.update().values(arr=1e308))
        s.execute(Customer.__table__.update().values(arr=1e308))
        s.execute(insert(Customer.__table__).values(external_id="x", arr=1e308, updated_at=clock.now()))
    result = npsbot(["digest", "--preview"], db_url, tmp_path)
    assert result.returncode == 0, result.stderr
    assert "ARR at risk $2000000.0M" in result.stdout  # two answers capped at 10^12 each
    assert "inf" not in result.stdout
    rt.engine.dispose()


async def test_unknown_sources_are_counted_as_other_in_metrics(make_settings, clock):
    rt = build_runtime(make_settings(), clock=clock)
    async with serve(build_app(build_services(rt), run_workers=False)) as http:
        for i in range(300):
            assert (await post(http, {"id": f"r{i}", "score": 9, "source": f"evil-{i}"})).status == 202
        assert (await post(http, {"id": "t1", "score": 9, "source": "typeform"})).status == 202
        text = await (await http.get("/metrics")).text()
    assert "evil-" not in text
    assert 'npsbot_responses_ingested_total{source="other"}' in text
    assert 'npsbot_responses_ingested_total{source="typeform"}' in text
    rt.engine.dispose()
