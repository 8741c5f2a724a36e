"""SurveyMonkey: `POST /webhooks/surveymonkey`, signed with the app's client id and secret.

SurveyMonkey's webhook only says *which* response completed (`event_type: response_completed`,
`object_id`, `resources.survey_id`; api.surveymonkey.com/v3/docs#webhooks), so npsbot fetches the
answers from `GET /v3/surveys/{survey}/responses/{response}/details?simple=true` with the app's
access token (NPSBOT_SURVEYMONKEY_TOKEN). Each callback carries `Sm-Apikey` (the client id) and
`Sm-Signature`, the base64 HMAC-SHA1 of the raw body keyed with `<client id>&<API secret>`
(NPSBOT_SURVEYMONKEY_SECRET; NPSBOT_SURVEYMONKEY_CLIENT_ID pins the client id). SurveyMonkey checks
the URL with a HEAD request before it saves the webhook: that gets a 200.

Questions are known by their id and their heading; custom variables (`?segment=…` on the survey
link) and the respondent's email address are read as customer properties.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from typing import Any
from urllib.parse import quote

from aiohttp import web

from bot.config import Settings, ToolFields
from bot.ingest import FieldError
from bot.runtime import Runtime
from handlers.connectors.common import Mapped, build
from handlers.connectors.webhook import Connector, Extracted, Ignored, Unavailable, fetch_json

NAME = "surveymonkey"
DEFAULT_API = "https://api.surveymonkey.com/v3/"


def verify(request: web.Request, raw: bytes, settings: Settings) -> bool | None:
    secret = settings.surveymonkey.secret_value()
    if not secret:
        return None
    header_id = request.headers.get("Sm-Apikey", "").strip()
    client_id = settings.surveymonkey.client_id.strip()
    if client_id and not hmac.compare_digest(header_id.encode(), client_id.encode()):
        return False
    key = f"{client_id or header_id}&{secret}".encode()
    expected = base64.b64encode(hmac.new(key, raw, hashlib.sha1).digest()).decode()
    given = request.headers.get("Sm-Signature", "").strip()
    return bool(given) and hmac.compare_digest(given.encode(), expected.encode())


def answer_text(question: dict) -> Any:
    texts = []
    for answer in question.get("answers") or []:
        if not isinstance(answer, dict):
            continue
        text = answer.get("simple_text") or answer.get("text")
        if text not in (None, ""):
            texts.append(str(text))
    if not texts:
        return None
    return texts[0] if len(texts) == 1 else texts


def map_details(details: dict, config: ToolFields) -> Mapped:
    """A response from the details endpoint (`simple=true`) to the generic dict."""
    values: dict[str, Any] = {}
    aliases: dict[str, list[str]] = {}
    paths: dict[str, str] = {}
    for page in details.get("pages") or []:
        for question in (page or {}).get("questions") or []:
            if not isinstance(question, dict) or not question.get("id"):
                continue
            qid = str(question["id"])
            values[qid] = answer_text(question)
            aliases[qid] = [question["heading"]] if question.get("heading") else []
            paths[qid] = f"pages.questions[id={qid}]"
    custom = found if isinstance(found := details.get("custom_variables"), dict) else {}
    for name, value in custom.items():
        values.setdefault(name, value)
        paths.setdefault(name, f"custom_variables.{name}")
    full_name = " ".join(p for p in (details.get("first_name"), details.get("last_name")) if p) or None
    when = details.get("date_modified") or details.get("date_created")
    mapped = build(
        NAME, details.get("id"), values, config=config, aliases=aliases, paths=paths, tags=custom,
        fixed={"submitted_at": ("date_modified", when)},
        fallback={"email": ("email_address", details.get("email_address")),
                  "customer_name": ("first_name", full_name)},
    )
    return mapped


async def extract(body: object, request: web.Request, rt: Runtime) -> Extracted | Ignored:
    if not isinstance(body, dict) or body.get("event_type") != "response_completed":
        kind = body.get("event_type") if isinstance(body, dict) else None
        return Ignored(f"event_type {kind!r} is not response_completed")
    resources = found if isinstance(found := body.get("resources"), dict) else {}
    survey_id, response_id = resources.get("survey_id"), body.get("object_id")
    if not survey_id or not response_id:
        return Extracted(errors=[FieldError("resources.survey_id" if not survey_id else "object_id",
                                            "is required")])
    config = rt.settings.surveymonkey
    token = config.token.get_secret_value().strip() if config.token else ""
    if not token:
        raise Unavailable("set NPSBOT_SURVEYMONKEY_TOKEN so npsbot can read the response's answers")
    base = config.api_url.strip() or DEFAULT_API
    survey, response = quote(str(survey_id), safe=""), quote(str(response_id), safe="")
    url = f"{base.rstrip('/')}/surveys/{survey}/responses/{response}/details?simple=true"
    details = await fetch_json(url, {"Authorization": f"Bearer {token}"}, what="the SurveyMonkey API")
    if details is None:
        return Ignored("the response no longer exists in SurveyMonkey")
    if details.get("response_status") not in (None, "completed"):
        return Ignored(f"response_status {details.get('response_status')!r} is not completed")
    return Extracted([map_details(details, rt.settings.surveymonkey)])


CONNECTOR = Connector(NAME, verify, extract)
