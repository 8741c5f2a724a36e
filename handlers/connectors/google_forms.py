"""Google Forms: `POST /webhooks/google-forms?token=…`, sent by an Apps Script on form submit.

Google Forms has no webhooks of its own. docs/connectors.md gives a short Apps Script (an
"On form submit" trigger) that POSTs `{"responseId", "timestamp", "respondentEmail", "formId",
"formTitle", "answers": {"<question title>": "<answer>" | [...]}}` with `UrlFetchApp`, built
from the Apps Script `FormResponse` API (getId, getTimestamp, getRespondentEmail,
getItemResponses). The sender is our own script, not a tool with a signature scheme, so the
URL carries `?token=$NPSBOT_WEBHOOK_TOKEN`, compared in constant time.

Questions are known by their title: the NPS question defaults to the one whose title mentions
"recommend", the comment to one that asks "why" (or names a comment / feedback / reason).
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from bot.config import ToolFields
from bot.ingest import FieldError
from bot.runtime import Runtime
from handlers.connectors.common import Mapped, build
from handlers.connectors.webhook import Connector, Extracted, Ignored, no_signature

NAME = "google-forms"


def map_submission(body: dict, config: ToolFields) -> Mapped:
    answers = found if isinstance(found := body.get("answers"), dict) else {}
    values: dict[str, Any] = dict(answers)
    paths = {k: f"answers.{k}" for k in values}
    mapped = build(
        NAME, body.get("responseId"), values, config=config, paths=paths, id_field="responseId",
        fixed={"submitted_at": ("timestamp", body.get("timestamp"))},
        fallback={"email": ("respondentEmail", body.get("respondentEmail"))},
    )
    mapped.origin = {k: paths.get(v, v) for k, v in mapped.origin.items()}
    return mapped


async def extract(body: object, request: web.Request, rt: Runtime) -> Extracted | Ignored:
    if not isinstance(body, dict):
        return Ignored("not a form submission object")
    if not isinstance(body.get("answers"), dict):
        return Extracted(errors=[FieldError("answers", "must be an object of question title: answer")])
    return Extracted([map_submission(body, rt.settings.google_forms)])


CONNECTOR = Connector(NAME, no_signature, extract)
