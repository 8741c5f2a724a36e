"""Each tool's webhook through the real `npsbot serve` app: signed like the tool signs, or forged."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from pathlib import Path
from urllib.parse import urlencode

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import select

from storage.db import read_scope
from storage.models import Customer, FollowUp, Response

FIXTURES = Path(__file__).parent.parent / "fixtures" / "connectors"


def fixture(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def stored(rt, source: str, external_id: str) -> tuple[Response, Customer | None]:
    with read_scope(rt.engine) as s:
        resp = s.execute(select(Response).where(Response.source == source,
                                                Response.external_id == external_id)).scalar_one()
        cust = s.get(Customer, resp.customer_id) if resp.customer_id else None
        return resp, cust


def count(rt) -> int:
    with read_scope(rt.engine) as s:
        return len(s.execute(select(Response.id)).all())


# --- Delighted -------------------------------------------------------------------------------

def delighted_sig(body: bytes, key: str = "dl-api-key") -> str:
    return "sha256=" + hmac.new(key.encode(), body, hashlib.sha256).hexdigest()


async def test_delighted_signed_response_becomes_a_response(http, rt, setenv):
    setenv("NPSBOT_DELIGHTED_SECRET", "dl-api-key")
    body = fixture("delighted_survey_response_updated.json")
    resp = await http.post("/webhooks/delighted", data=body,
                           headers={"Content-Type": "application/json",
                                    "X-Delighted-Webhook-Signature": delighted_sig(body)})
    assert resp.status == 202, await resp.text()
    assert await resp.json() == {"accepted": 1, "duplicates": 0}
    row, cust = stored(rt, "delighted", "5435")
    assert row.score == 3 and row.comment.startswith("Support never answered my ticket <@U123>")
    assert row.segment == "enterprise" and row.arr == 48000
    assert (cust.external_id, cust.name, cust.owner) == ("cus_42", "Acme Corp", "alice@acme.example")
    assert row.tags == {"Region": "EMEA", "delighted_tags": "support"}
    assert row.submitted_at.replace(tzinfo=None).isoformat() == "2024-11-21T11:00:44"


async def test_delighted_forged_or_unsigned_is_refused(http, rt, setenv):
    setenv("NPSBOT_DELIGHTED_SECRET", "dl-api-key")
    body = fixture("delighted_survey_response_updated.json")
    forged = await http.post("/webhooks/delighted", data=body,
                             headers={"X-Delighted-Webhook-Signature": delighted_sig(body, "guess")})
    unsigned = await http.post("/webhooks/delighted?token=test-token", data=body)
    tampered = await http.post("/webhooks/delighted", data=body.replace(b'"score": 3', b'"score": 0'),
                               headers={"X-Delighted-Webhook-Signature": delighted_sig(body)})
    assert (forged.status, unsigned.status, tampered.status) == (401, 401, 401)
    assert count(rt) == 0


async def test_delighted_comment_arriving_later_fills_the_stored_response(http, rt, setenv, monkeypatch):
    setenv("NPSBOT_DELIGHTED_SECRET", "dl-api-key")
    # Delighted's sample answer is from 2024: widen the live window so that it opens a follow-up.
    monkeypatch.setattr(rt.settings, "live_window_hours", 24 * 365 * 5)
    created = fixture("delighted_survey_response_created.json")
    updated = fixture("delighted_survey_response_updated.json")
    first = await http.post("/webhooks/delighted", data=created,
                            headers={"X-Delighted-Webhook-Signature": delighted_sig(created)})
    assert await first.json() == {"accepted": 1, "duplicates": 0}
    assert stored(rt, "delighted", "5435")[0].comment is None
    second = await http.post("/webhooks/delighted", data=updated,
                             headers={"X-Delighted-Webhook-Signature": delighted_sig(updated)})
    assert await second.json() == {"accepted": 0, "duplicates": 1}
    row, _ = stored(rt, "delighted", "5435")
    assert row.comment.startswith("Support never answered")
    with read_scope(rt.engine) as s:
        assert len(s.execute(select(FollowUp.id)).all()) == 1


async def test_delighted_unsubscribe_is_acknowledged_and_ignored(http, rt, setenv):
    setenv("NPSBOT_DELIGHTED_SECRET", "dl-api-key")
    body = fixture("delighted_unsubscribe.json")
    resp = await http.post("/webhooks/delighted", data=body,
                           headers={"X-Delighted-Webhook-Signature": delighted_sig(body)})
    assert resp.status == 200
    assert (await resp.json())["accepted"] == 0
    assert count(rt) == 0


async def test_without_a_secret_the_shared_token_is_required(http, rt):
    body = fixture("delighted_survey_response_updated.json")
    assert (await http.post("/webhooks/delighted", data=body)).status == 401
    assert (await http.post("/webhooks/delighted?token=wrong", data=body)).status == 401
    ok = await http.post("/webhooks/delighted?token=test-token", data=body)
    assert ok.status == 202


async def test_nothing_configured_refuses_everything(make_settings, clock):
    from bot.app import build_app, build_runtime, build_services

    rt = build_runtime(make_settings(NPSBOT_WEBHOOK_TOKEN=None), clock=clock)
    async with TestClient(TestServer(build_app(build_services(rt), run_workers=False),
                                     host="127.0.0.1")) as client:
        for tool in ("delighted", "typeform", "surveymonkey", "qualtrics", "google-forms"):
            resp = await client.post(f"/webhooks/{tool}?token=", data=b"{}")
            assert resp.status == 401, tool
            assert "disabled" in (await resp.json())["error"]
    rt.engine.dispose()


async def test_body_over_one_megabyte_is_413(http):
    resp = await http.post("/webhooks/typeform?token=test-token", data=b"x" * 1_000_001)
    assert resp.status == 413


# --- Typeform --------------------------------------------------------------------------------

def typeform_sig(body: bytes, secret: str = "tf-secret") -> str:
    return "sha256=" + base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()


async def test_typeform_signed_response_maps_nps_comment_and_hidden_fields(http, rt, setenv):
    setenv("NPSBOT_TYPEFORM_SECRET", "tf-secret")
    body = fixture("typeform_form_response.json")
    resp = await http.post("/webhooks/typeform", data=body,
                           headers={"Content-Type": "application/json", "Typeform-Signature": typeform_sig(body)})
    assert resp.status == 202, await resp.text()
    row, cust = stored(rt, "typeform", "a3a12ec67a1365927098a606107fac15")
    assert row.score == 4
    assert row.comment == "Setup took **three weeks** & nobody called back"
    assert (row.segment, row.arr) == ("smb", 12000)
    assert (cust.external_id, cust.name, cust.email, cust.owner) == (
        "cus_77", "Globex", "ops@globex.example", "bob@example.com")
    assert row.tags == {"plan": "pro"}
    assert row.followup_id is not None


async def test_typeform_forged_signature_is_401(http, rt, setenv):
    setenv("NPSBOT_TYPEFORM_SECRET", "tf-secret")
    body = fixture("typeform_form_response.json")
    for header in (typeform_sig(body, "other"), typeform_sig(body).replace("sha256=", "sha1="), ""):
        resp = await http.post("/webhooks/typeform", data=body, headers={"Typeform-Signature": header})
        assert resp.status == 401
    assert count(rt) == 0


async def test_an_authenticated_but_misshapen_payload_is_422_not_a_crash(http, rt, setenv):
    setenv("NPSBOT_TYPEFORM_SECRET", "tf-secret")
    for form_response in ({"token": "t", "answers": [{"field": "x"}]}, {"token": "t", "definition": [1]},
                          {"token": "t", "answers": [{"field": {"ref": {"a": 1}}}]}):
        body = json.dumps({"event_type": "form_response", "form_response": form_response}).encode()
        resp = await http.post("/webhooks/typeform", data=body,
                               headers={"Content-Type": "application/json", "Typeform-Signature": typeform_sig(body)})
        assert resp.status == 422, await resp.text()
    assert count(rt) == 0


async def test_typeform_configured_score_field_and_errors_name_the_typeform_field(http, rt, setenv):
    setenv("NPSBOT_TYPEFORM_SECRET", "tf-secret")
    payload = json.loads(fixture("typeform_form_response.json"))
    payload["form_response"]["answers"][0]["number"] = 11
    body = json.dumps(payload).encode()
    resp = await http.post("/webhooks/typeform", data=body, headers={"Typeform-Signature": typeform_sig(body)})
    assert resp.status == 422
    assert (await resp.json())["errors"] == [
        {"field": "form_response.answers[ref=nps_score]", "message": "must be a whole number from 0 to 10"}]

    # The hidden field `arr` read as the score, by configuration.
    setenv("NPSBOT_TYPEFORM_SCORE_FIELD", "no_such_field")
    resp = await http.post("/webhooks/typeform", data=body, headers={"Typeform-Signature": typeform_sig(body)})
    assert resp.status == 422
    assert "no_such_field" in (await resp.json())["errors"][0]["message"]
    setenv("NPSBOT_TYPEFORM_SCORE_FIELD", "What is the main REASON for your score?")
    setenv("NPSBOT_TYPEFORM_COMMENT_FIELD", "nps_score")
    payload["form_response"]["answers"][1] = {"type": "number", "number": 7,
                                              "field": {"id": "SMEUb7VJz92Q", "type": "long_text", "ref": "reason"}}
    body = json.dumps(payload).encode()
    resp = await http.post("/webhooks/typeform", data=body, headers={"Typeform-Signature": typeform_sig(body)})
    assert resp.status == 202, await resp.text()
    row, _ = stored(rt, "typeform", "a3a12ec67a1365927098a606107fac15")
    assert (row.score, row.comment) == (7, "11")


async def test_typeform_other_events_get_2xx_with_nothing_stored(http, rt, setenv):
    setenv("NPSBOT_TYPEFORM_SECRET", "tf-secret")
    body = json.dumps({"event_id": "x", "event_type": "form_response_partial", "form_response": {}}).encode()
    resp = await http.post("/webhooks/typeform", data=body, headers={"Typeform-Signature": typeform_sig(body)})
    assert resp.status == 200 and (await resp.json())["accepted"] == 0
    assert count(rt) == 0


# --- SurveyMonkey ----------------------------------------------------------------------------

class FakeToolApi:
    """A small HTTP server on 127.0.0.1 standing in for a survey tool's REST API."""

    def __init__(self) -> None:
        self.requests: list[web.Request] = []
        self.status = 200
        self.bodies: dict[str, bytes] = {}
        app = web.Application()
        app.router.add_get("/{tail:.*}", self._serve)
        self.server = TestServer(app, host="127.0.0.1")

    async def _serve(self, request: web.Request) -> web.Response:
        self.requests.append(request)
        if self.status != 200:
            return web.json_response({"error": "boom"}, status=self.status)
        for suffix, body in self.bodies.items():
            if request.path.endswith(suffix):
                return web.Response(body=body, content_type="application/json")
        return web.json_response({"error": "not found"}, status=404)

    async def __aenter__(self) -> FakeToolApi:
        await self.server.start_server()
        return self

    async def __aexit__(self, *exc) -> None:
        await self.server.close()

    def url(self, path: str) -> str:
        return str(self.server.make_url(path))


def sm_sig(body: bytes, client_id: str = "sm-client", secret: str = "sm-secret") -> str:
    return base64.b64encode(hmac.new(f"{client_id}&{secret}".encode(), body, hashlib.sha1).digest()).decode()


@pytest.fixture
async def surveymonkey_api(setenv):
    async with FakeToolApi() as api:
        api.bodies["/surveys/412345678/responses/118276395741/details"] = fixture(
            "surveymonkey_response_details.json")
        setenv("NPSBOT_SURVEYMONKEY_SECRET", "sm-secret")
        setenv("NPSBOT_SURVEYMONKEY_TOKEN", "sm-access-token")
        setenv("NPSBOT_SURVEYMONKEY_API_URL", api.url("/v3/"))
        yield api


async def test_surveymonkey_signed_event_fetches_the_answers(http, rt, surveymonkey_api):
    body = fixture("surveymonkey_response_completed.json")
    resp = await http.post("/webhooks/surveymonkey", data=body, headers={
        "Content-Type": "application/vnd.surveymonkey.response.v1+json",
        "Sm-Apikey": "sm-client", "Sm-Signature": sm_sig(body)})
    assert resp.status == 202, await resp.text()
    request = surveymonkey_api.requests[0]
    assert request.headers["Authorization"] == "Bearer sm-access-token"
    assert request.query["simple"] == "true"
    row, cust = stored(rt, "surveymonkey", "118276395741")
    assert (row.score, row.comment, row.segment, row.arr) == (10, "Great onboarding", "mid-market", 30000)
    assert (cust.external_id, cust.name, cust.email) == ("cus_9", "Initech", "dana@initech.example")


async def test_surveymonkey_forged_signature_or_client_is_401(http, rt, surveymonkey_api, setenv):
    body = fixture("surveymonkey_response_completed.json")
    bad = await http.post("/webhooks/surveymonkey", data=body,
                          headers={"Sm-Apikey": "sm-client", "Sm-Signature": sm_sig(body, secret="nope")})
    assert bad.status == 401
    setenv("NPSBOT_SURVEYMONKEY_CLIENT_ID", "sm-client")
    other_app = await http.post("/webhooks/surveymonkey", data=body, headers={
        "Sm-Apikey": "evil", "Sm-Signature": sm_sig(body, client_id="evil")})
    assert other_app.status == 401
    assert surveymonkey_api.requests == [] and count(rt) == 0


async def test_surveymonkey_api_failure_is_503_so_the_tool_retries(http, rt, surveymonkey_api):
    surveymonkey_api.status = 500
    body = fixture("surveymonkey_response_completed.json")
    resp = await http.post("/webhooks/surveymonkey", data=body,
                           headers={"Sm-Apikey": "sm-client", "Sm-Signature": sm_sig(body)})
    assert resp.status == 503 and resp.headers["Retry-After"] == "30"
    assert count(rt) == 0


async def test_surveymonkey_url_check_and_other_events(http, surveymonkey_api):
    assert (await http.head("/webhooks/surveymonkey")).status == 200
    body = json.dumps({"event_type": "collector_created", "object_type": "collector"}).encode()
    resp = await http.post("/webhooks/surveymonkey", data=body,
                           headers={"Sm-Apikey": "sm-client", "Sm-Signature": sm_sig(body)})
    assert resp.status == 200 and (await resp.json())["accepted"] == 0
    assert surveymonkey_api.requests == []


# --- Qualtrics -------------------------------------------------------------------------------

async def test_qualtrics_workflow_json_with_token(http, rt):
    body = fixture("qualtrics_workflow.json")
    assert (await http.post("/webhooks/qualtrics", data=body,
                            headers={"Content-Type": "application/json"})).status == 401
    resp = await http.post("/webhooks/qualtrics?token=test-token", data=body,
                           headers={"Content-Type": "application/json"})
    assert resp.status == 202, await resp.text()
    row, cust = stored(rt, "qualtrics", "R_1dtWhiCqwBHu5Wp")
    assert (row.score, row.comment, row.segment, row.arr) == (6, "Invoices are always wrong", "enterprise", 120000)
    assert (cust.external_id, cust.name, cust.owner, cust.email) == (
        "cus_100", "Umbrella", "carol@example.com", "it@umbrella.example")


async def test_qualtrics_event_subscription_signed_with_shared_key(http, rt, setenv):
    async with FakeToolApi() as api:
        api.bodies["/surveys/SV_cVn9uBwheR9hz01/responses/R_suq806jn8LGzhx7"] = fixture("qualtrics_response.json")
        setenv("NPSBOT_QUALTRICS_SECRET", "shared-key")
        setenv("NPSBOT_QUALTRICS_API_URL", api.url("/API/v3"))
        setenv("NPSBOT_QUALTRICS_API_TOKEN", "q-token")
        msg = json.dumps({"Status": "Complete", "SurveyID": "SV_cVn9uBwheR9hz01", "ResponseID": "R_suq806jn8LGzhx7",
                          "CompletedDate": "2026-11-19 12:31:40", "BrandID": "acme"})
        good = hmac.new(b"shared-key", msg.encode(), hashlib.sha512).hexdigest()
        form = {"Topic": "acme.surveyengine.completedResponse.SV_cVn9uBwheR9hz01", "MSG": msg}
        headers = {"Content-Type": "application/x-www-form-urlencoded"}
        forged = await http.post("/webhooks/qualtrics", data=urlencode({**form, "HMAC": "0" * 128}),
                                 headers=headers)
        assert forged.status == 401 and api.requests == []
        resp = await http.post("/webhooks/qualtrics", data=urlencode({**form, "HMAC": good}), headers=headers)
        assert resp.status == 202, await resp.text()
        assert api.requests[0].headers["X-API-TOKEN"] == "q-token"
    row, cust = stored(rt, "qualtrics", "R_suq806jn8LGzhx7")
    assert (row.score, row.comment, row.segment, row.arr) == (2, "The product crashes daily", "enterprise", 250000)
    assert (cust.external_id, cust.name, cust.email) == ("cus_500", "Hooli", "ops@hooli.example")


async def test_a_replayed_qualtrics_signature_cannot_carry_answers_of_its_own(http, rt, setenv):
    setenv("NPSBOT_QUALTRICS_SECRET", "shared-key")
    msg = json.dumps({"Status": "Complete", "SurveyID": "SV_1", "ResponseID": "R_real"})
    captured = hmac.new(b"shared-key", msg.encode(), hashlib.sha512).hexdigest()
    forged = {"MSG": msg, "HMAC": captured, "ResponseID": "R_forged", "QID1": "0",
              "QID1_NPS_GROUP": "Detractor", "QID2_TEXT": "forged comment"}
    resp = await http.post("/webhooks/qualtrics", data=urlencode(forged),
                           headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert resp.status == 422
    assert count(rt) == 0


async def test_qualtrics_unsigned_event_needs_token_and_other_topics_are_ignored(http, rt):
    form = urlencode({"Topic": "acme.surveyengine.startedRecipientSession.SV_1", "ResponseID": "R_1",
                      "SurveyID": "SV_1"})
    headers = {"Content-Type": "application/x-www-form-urlencoded"}
    assert (await http.post("/webhooks/qualtrics", data=form, headers=headers)).status == 401
    resp = await http.post("/webhooks/qualtrics?token=test-token", data=form, headers=headers)
    assert resp.status == 200 and (await resp.json())["accepted"] == 0
    assert (await http.get("/webhooks/qualtrics")).status == 200


# --- Google Forms ----------------------------------------------------------------------------

async def test_google_forms_apps_script_submission(http, rt):
    body = fixture("google_forms_submission.json")
    assert (await http.post("/webhooks/google-forms?token=nope", data=body)).status == 401
    resp = await http.post("/webhooks/google-forms?token=test-token", data=body,
                           headers={"Content-Type": "application/json"})
    assert resp.status == 202, await resp.text()
    row, cust = stored(rt, "google-forms", "2_ABaOnudkKkCqPVCw3sDmTxWwYMLD6a4Hjf6nNPHqQwPn_vTvCcfBV2b9iRBb7IyhEg")
    assert (row.score, row.comment, row.segment) == (5, "Too expensive for what it does", "starter")
    assert (cust.external_id, cust.name, cust.email) == ("cus_314", "Vandelay Industries", "pat@vandelay.example")
    again = await http.post("/webhooks/google-forms?token=test-token", data=body)
    assert await again.json() == {"accepted": 0, "duplicates": 1}


async def test_google_forms_unanswered_nps_question_is_422_naming_the_question(http):
    payload = json.loads(fixture("google_forms_submission.json"))
    payload["answers"]["How likely are you to recommend us to a friend or colleague?"] = ""
    resp = await http.post("/webhooks/google-forms?token=test-token", data=json.dumps(payload).encode())
    assert resp.status == 422
    assert (await resp.json())["errors"][0]["message"].startswith(
        "answers.How likely are you to recommend us to a friend or colleague? is empty")
