"""POST /webhooks/responses through the real aiohttp app: auth, validation, idempotency, limits."""

import json

from sqlalchemy import func, select

from bot.actors import Actor, Place
from bot.app import build_app, build_services
from storage.db import read_scope
from storage.models import Event, FollowUp, Outbox, Response
from tests.conftest import serve

AUTH = {"Authorization": "Bearer test-token"}
GOOD = {
    "id": "resp-123", "score": 3, "comment": "Support never answered my ticket",
    "submitted_at": "2026-11-20T10:00:00Z",
    "customer": {"id": "cus_42", "name": "Acme Corp", "email": "ops@acme.example", "segment": "renewal",
                 "arr": 48000, "owner": "alice@acme.example"},
    "tags": {"region": "EMEA", "plan": "pro"}, "source": "typeform",
}


def count(rt, model) -> int:
    with read_scope(rt.engine) as s:
        return s.execute(select(func.count()).select_from(model)).scalar_one()


async def test_the_interface_example_is_accepted_and_opens_a_follow_up(http, rt):
    resp = await http.post("/webhooks/responses", json=GOOD, headers=AUTH)
    assert resp.status == 202
    assert await resp.json() == {"accepted": 1, "duplicates": 0}
    with read_scope(rt.engine) as s:
        stored = s.execute(select(Response)).scalar_one()
        followup = s.execute(select(FollowUp)).scalar_one()
    assert (stored.source, stored.external_id, stored.score, stored.segment) == ("typeform", "resp-123", 3, "renewal")
    assert stored.tags == {"region": "EMEA", "plan": "pro"}
    assert followup.status == "open" and followup.response_id == stored.id


async def test_a_repeat_is_a_duplicate_stored_and_alerted_once(http, rt):
    await http.post("/webhooks/responses", json=GOOD, headers=AUTH)
    resp = await http.post("/webhooks/responses", json=[GOOD, GOOD], headers=AUTH)
    assert await resp.json() == {"accepted": 0, "duplicates": 2}
    assert count(rt, Response) == 1 and count(rt, FollowUp) == 1


async def test_the_same_id_from_another_source_is_another_response(http, rt):
    await http.post("/webhooks/responses", json=[GOOD, {**GOOD, "source": "delighted"}], headers=AUTH)
    assert count(rt, Response) == 2


async def test_only_id_and_score_are_required_and_unknown_fields_are_ignored(http, rt):
    resp = await http.post("/webhooks/responses", json={"id": 7, "score": 10, "mood": "great"}, headers=AUTH)
    assert resp.status == 202
    with read_scope(rt.engine) as s:
        r = s.execute(select(Response)).scalar_one()
    assert (r.source, r.external_id, r.category, r.followup_id) == ("api", "7", "promoter", None)


async def test_missing_or_wrong_token_is_401_and_stores_nothing(http, rt):
    for headers in ({}, {"Authorization": "Bearer nope"}, {"Authorization": "test-token"}):
        resp = await http.post("/webhooks/responses", json=GOOD, headers=headers)
        assert resp.status == 401
    assert count(rt, Response) == 0


async def test_everything_is_refused_while_no_token_is_configured(make_settings, clock):
    from bot.app import build_runtime

    rt = build_runtime(make_settings(NPSBOT_WEBHOOK_TOKEN=""), clock=clock)
    async with serve(build_app(build_services(rt), run_workers=False)) as client:
        resp = await client.post("/webhooks/responses", json=GOOD, headers=AUTH)
        assert resp.status == 401
        assert "NPSBOT_WEBHOOK_TOKEN" in (await resp.json())["error"]


async def test_a_single_bad_object_names_each_field_without_an_index(http, rt):
    resp = await http.post("/webhooks/responses", json={"score": 11, "customer": {"arr": "lots"}}, headers=AUTH)
    assert resp.status == 422
    assert (await resp.json())["errors"] == [
        {"field": "id", "message": "is required"},
        {"field": "score", "message": "must be a whole number from 0 to 10"},
        {"field": "customer.arr", "message": "must be a number"},
    ]


async def test_a_batch_with_one_bad_item_stores_nothing_and_names_its_index(http, rt):
    batch = [GOOD, {**GOOD, "id": "resp-124", "score": "seven"}, {**GOOD, "id": "resp-125"}]
    resp = await http.post("/webhooks/responses", json=batch, headers=AUTH)
    assert resp.status == 422
    assert (await resp.json())["errors"] == [
        {"index": 1, "field": "score", "message": "must be a whole number from 0 to 10"}]
    assert count(rt, Response) == 0 and count(rt, Outbox) == 0


async def test_a_batch_over_1000_is_422_and_a_body_over_1mb_is_413(http, rt):
    items = [{"id": f"r{i}", "score": 9} for i in range(1001)]
    resp = await http.post("/webhooks/responses", json=items, headers=AUTH)
    assert resp.status == 422
    assert "at most 1000" in (await resp.json())["errors"][0]["message"]
    huge = json.dumps({"id": "big", "score": 1, "comment": "x" * 1_000_001})
    resp = await http.post("/webhooks/responses", data=huge, headers={**AUTH, "Content-Type": "application/json"})
    assert resp.status == 413
    assert count(rt, Response) == 0


async def test_malformed_json_is_a_clear_400(http):
    resp = await http.post("/webhooks/responses", data=b"{not json", headers=AUTH)
    assert resp.status == 400
    assert (await resp.json())["errors"][0]["field"] == "body"


async def test_a_batch_of_1000_is_accepted(http, rt):
    items = [{"id": f"r{i}", "score": i % 11, "customer": {"id": f"c{i % 50}"}} for i in range(1000)]
    resp = await http.post("/webhooks/responses", json=items, headers=AUTH)
    assert await resp.json() == {"accepted": 1000, "duplicates": 0}
    # One follow-up per customer with a detractor answer: later ones join it.
    assert count(rt, FollowUp) == len({i % 50 for i in range(1000) if i % 11 <= 6})


async def test_a_second_detractor_answer_joins_the_open_follow_up_and_is_noted(http, rt):
    await http.post("/webhooks/responses", json=GOOD, headers=AUTH)
    again = {**GOOD, "id": "resp-200", "score": 1, "comment": "Still waiting", "submitted_at": "2026-11-20T11:00:00Z"}
    await http.post("/webhooks/responses", json=again, headers=AUTH)
    assert count(rt, FollowUp) == 1
    with read_scope(rt.engine) as s:
        actions = [e.action for e in s.execute(select(Event).order_by(Event.id)).scalars()]
    assert actions == ["opened", "response"]


async def test_after_closing_a_new_detractor_answer_opens_a_new_follow_up(http, rt, services):
    await http.post("/webhooks/responses", json=GOOD, headers=AUTH)
    services.dispatcher.handle_text("close 1", Actor("shell", "maria", "maria"), Place("shell", "#cx"))
    await http.post("/webhooks/responses", json={**GOOD, "id": "resp-300"}, headers=AUTH)
    assert count(rt, FollowUp) == 2


async def test_optional_hmac_signature_is_enforced_when_configured(make_settings, clock):
    import hashlib
    import hmac as hmac_lib

    from bot.app import build_runtime

    rt = build_runtime(make_settings(NPSBOT_WEBHOOK_HMAC_SECRET="s3cret"), clock=clock)
    body = json.dumps(GOOD).encode()
    good = "sha256=" + hmac_lib.new(b"s3cret", body, hashlib.sha256).hexdigest()
    async with serve(build_app(build_services(rt), run_workers=False)) as client:
        headers = {**AUTH, "Content-Type": "application/json"}
        assert (await client.post("/webhooks/responses", data=body, headers=headers)).status == 401
        bad = {**headers, "X-Npsbot-Signature": "sha256=" + "0" * 64}
        assert (await client.post("/webhooks/responses", data=body, headers=bad)).status == 401
        ok = {**headers, "X-Npsbot-Signature": good}
        assert (await client.post("/webhooks/responses", data=body, headers=ok)).status == 202


async def test_healthz_answers_200_when_the_database_does(http):
    resp = await http.get("/healthz")
    assert resp.status == 200 and (await resp.json()) == {"database": "ok"}


async def test_metrics_are_exposed_for_prometheus(http):
    await http.post("/webhooks/responses", json=GOOD, headers=AUTH)
    text = await (await http.get("/metrics")).text()
    assert "npsbot_responses_ingested_total" in text and "npsbot_outbox_depth" in text


async def test_concurrent_requests_share_transactions_yet_each_gets_its_own_answer(http, rt):
    import asyncio

    async def post(i):
        # Requests i and i+20 carry the same response: exactly one of them stores it.
        body = [{"id": f"same-{i % 20}", "score": 3, "customer": {"id": f"c{i % 20}"}},
                {"id": f"own-{i}", "score": 9}]
        resp = await http.post("/webhooks/responses", json=body, headers=AUTH)
        assert resp.status == 202
        return await resp.json()

    answers = await asyncio.gather(*(post(i) for i in range(40)))
    assert sum(a["accepted"] for a in answers) == 60
    assert sum(a["duplicates"] for a in answers) == 20
    assert all(a["accepted"] in (1, 2) and a["accepted"] + a["duplicates"] == 2 for a in answers)
    assert count(rt, Response) == 60 and count(rt, FollowUp) == 20


async def test_values_no_database_can_store_are_refused_with_the_field_named(http, rt):
    cases = [
        ({"id": "r1", "score": 3, "comment": "nul\x00here"}, "comment", "must not contain NUL characters"),
        ({"id": "r1", "score": 3, "customer": {"id": "c\x00"}}, "customer.id", "must not contain NUL characters"),
        ({"id": "r1", "score": 3, "submitted_at": "0001-01-01T00:00:00+01:00"}, "submitted_at", "is out of range"),
    ]
    for body, field, message in cases:
        resp = await http.post("/webhooks/responses", json=body, headers=AUTH)
        assert resp.status == 422
        assert (await resp.json())["errors"] == [{"field": field, "message": message}]
    assert count(rt, Response) == 0
