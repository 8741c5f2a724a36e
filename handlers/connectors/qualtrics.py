"""Qualtrics: `POST /webhooks/qualtrics`, from a Workflow or an event subscription.

Two ways Qualtrics can push a response:
- a Workflow "Web Service" task (survey response event) that POSTs a JSON body built from piped
  text, e.g. `{"ResponseID": "${e://Field/ResponseID}", "NPS": "${q://QID1/ChoiceNumericEntryValue}"}`;
  Qualtrics does not sign these, so the URL carries `?token=$NPSBOT_WEBHOOK_TOKEN`;
- an event subscription (`surveyengine.completedResponse.<SurveyID>`; api.qualtrics.com, "Create
  Subscription"), which POSTs x-www-form-urlencoded `Topic`, `ResponseID`, `SurveyID`, … — or, with a
  `sharedKey`, `Topic`, `MSG` (the fields as JSON) and `HMAC`. npsbot then reads the answers from
  `GET /API/v3/surveys/{SurveyID}/responses/{ResponseID}` (NPSBOT_QUALTRICS_API_URL,
  NPSBOT_QUALTRICS_API_TOKEN). Qualtrics does not document its HMAC; a Qualtrics community thread
  shows 128 hex digits, i.e. SHA-512, and npsbot checks it as the hex HMAC-SHA512 of `MSG` keyed
  with the sharedKey (NPSBOT_QUALTRICS_SECRET). A request that fails that check is refused; one
  without `HMAC` needs `?token=`.

Values are known by their Qualtrics names (`QID1`, `QID2_TEXT`, embedded data names). The NPS
question defaults to the one Qualtrics marks with a `<QID>_NPS_GROUP` value.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import Any
from urllib.parse import parse_qsl, quote

from aiohttp import web

from bot.config import QualtricsTool, Settings, ToolFields
from bot.ingest import FieldError
from bot.runtime import Runtime
from handlers.connectors.common import Mapped, build
from handlers.connectors.webhook import Connector, Extracted, Ignored, Unavailable, fetch_json

NAME = "qualtrics"
ID_KEYS = ("ResponseID", "ResponseId", "responseId", "response_id", "_recordId", "id")


def verify(request: web.Request, raw: bytes, settings: Settings) -> bool | None:
    secret = settings.qualtrics.secret_value()
    if not secret or "json" in (request.content_type or ""):
        return None
    try:
        form = dict(parse_qsl(raw.decode("utf-8"), keep_blank_values=True))
    except UnicodeDecodeError:
        return False
    if "HMAC" not in form:
        return None
    expected = hmac.new(secret.encode(), form.get("MSG", "").encode(), hashlib.sha512).hexdigest()
    return hmac.compare_digest(form["HMAC"].strip().lower().encode(), expected.encode())


def nps_fields(values: dict[str, Any]) -> tuple[str | None, str | None]:
    """The NPS question (the one with a `_NPS_GROUP` companion) and the first text entry."""
    score = next((k[: -len("_NPS_GROUP")] for k in values
                  if k.endswith("_NPS_GROUP") and k[: -len("_NPS_GROUP")] in values), None)
    comment = next((k for k in values if k.upper().endswith("_TEXT") and values[k] not in (None, "")),
                   None)
    return score, comment


def map_values(response_id: Any, values: dict[str, Any], *, prefix: str = "values",
               labels: dict[str, Any] | None = None, tz: str | None = None,
               aliases: dict[str, list[str]] | None = None, strict_dates: bool = False,
               id_field: str = "responseId", config: ToolFields) -> Mapped:
    score_key, comment_key = nps_fields(values)
    if labels and score_key and not isinstance(values.get(score_key), int | float):
        # A recoded choice can leave `values` without the number; its label still has it.
        values = {**values, score_key: labels.get(score_key, values.get(score_key))}
    paths = {k: f"{prefix}.{k}" if prefix else k for k in values}
    fixed: dict[str, tuple[str, Any]] = {}
    if score_key:
        fixed["score"] = (score_key, values[score_key])
    when_key = next((k for k in ("recordedDate", "RecordedDate", "endDate", "EndDate") if values.get(k)),
                    None)
    if when_key:
        fixed["submitted_at"] = (when_key, values[when_key])
    first = values.get("recipientFirstName") or values.get("RecipientFirstName")
    last = values.get("recipientLastName") or values.get("RecipientLastName")
    offered = {"comment": (comment_key, values.get(comment_key)) if comment_key else None,
                "customer_id": ("externalDataReference", values.get("externalDataReference")
                                or values.get("ExternalReference")),
                "email": ("recipientEmail", values.get("recipientEmail") or values.get("RecipientEmail")),
                "customer_name": ("recipientFirstName", " ".join(p for p in (first, last) if p) or None)}
    fallback = {k: v for k, v in offered.items() if v and v[1] not in (None, "")}
    mapped = build(NAME, response_id, values, config=config, paths=paths, fixed=fixed, fallback=fallback,
                   aliases=aliases, tz=tz, strict_dates=strict_dates, id_field=id_field)
    mapped.origin = {k: paths.get(v, v) for k, v in mapped.origin.items()}
    return mapped


def _flat_id(body: dict) -> tuple[str | None, Any]:
    for key in ID_KEYS:
        if body.get(key) not in (None, ""):
            return key, body[key]
    return None, None


async def fetch(survey_id: str, response_id: str, config: QualtricsTool) -> dict | None:
    base = config.api_url.strip()
    token = config.api_token.get_secret_value().strip() if config.api_token else ""
    if not base or not token:
        raise Unavailable("set NPSBOT_QUALTRICS_API_URL and NPSBOT_QUALTRICS_API_TOKEN so npsbot can "
                          "read the response's answers")
    url = f"{base.rstrip('/')}/surveys/{quote(survey_id, safe='')}/responses/{quote(response_id, safe='')}"
    return await fetch_json(url, {"X-API-TOKEN": token}, what="the Qualtrics API")


async def extract(body: object, request: web.Request, rt: Runtime) -> Extracted | Ignored:
    if not isinstance(body, dict):
        return Ignored("not a Qualtrics object")
    config = rt.settings.qualtrics
    if "HMAC" in body:
        # The signature covers MSG alone: a signed request is read only as an event, from its
        # MSG, so a captured (MSG, HMAC) pair cannot carry answers of the sender's choosing.
        if "Topic" not in body or "MSG" not in body:
            return Extracted(errors=[FieldError("Topic" if "Topic" not in body else "MSG",
                                                "is required in a signed event")])
        return await _event(body, config, signed=True)
    if "Topic" in body:
        return await _event(body, config)
    result = found if isinstance(found := body.get("result"), dict) else body
    if isinstance(result.get("values"), dict):
        rid = result.get("responseId") or result["values"].get("_recordId")
        return Extracted([map_values(rid, result["values"], labels=result.get("labels"),
                                     prefix="result.values" if result is not body else "values",
                                     config=config)])
    key, rid = _flat_id(body)
    if key is None:  # then there is no id either
        return Extracted(errors=[FieldError("ResponseID", "is required (pipe ${e://Field/ResponseID})")])
    values = {k: v for k, v in body.items() if k != key}
    mapped = map_values(rid, values, prefix="body", id_field=key, config=config)
    return Extracted([mapped])


async def _event(form: dict, config: QualtricsTool, *, signed: bool = False) -> Extracted | Ignored:
    message: dict = {} if signed else dict(form)
    if "MSG" in form:
        try:
            inner = json.loads(form["MSG"])
        except ValueError:
            return Extracted(errors=[FieldError("MSG", "is not valid JSON")])
        if isinstance(inner, dict):
            message.update(inner)
    if "completedResponse" not in str(form.get("Topic")):
        return Ignored(f"Topic {str(form.get('Topic'))[:80]!r} is not a completed response")
    if message.get("Status") not in (None, "", "Complete"):
        return Ignored(f"Status {message.get('Status')!r} is not Complete")
    survey_id, response_id = message.get("SurveyID"), message.get("ResponseID")
    if not survey_id or not response_id:
        return Extracted(errors=[FieldError("SurveyID" if not survey_id else "ResponseID", "is required")])
    body = await fetch(str(survey_id), str(response_id), config)
    if body is None:
        return Ignored("the response no longer exists in Qualtrics")
    result = found if isinstance(found := body.get("result"), dict) else {}
    values = found if isinstance(found := result.get("values"), dict) else {}
    return Extracted([map_values(result.get("responseId") or response_id, values,
                                 labels=result.get("labels"), prefix="result.values", config=config)])


CONNECTOR = Connector(NAME, verify, extract, form_body=True)
