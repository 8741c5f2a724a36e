"""Delighted: `POST /webhooks/delighted`, signed with the account's API key.

Delighted sends `survey_response.created` the moment a person picks a score and
`survey_response.updated` when they add or change the comment (docs: delighted.com/docs/api/webhooks).
Every request carries `X-Delighted-Webhook-Signature: sha256=<hex HMAC-SHA256 of the body>`, keyed
with the private API key (NPSBOT_DELIGHTED_SECRET). The first event stores the response; a later
one with a new comment fills the comment in and refreshes the alert, so the comment is not lost.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac

from aiohttp import web

from bot.config import Settings, ToolFields
from bot.ingest import ResponseIn, add_late_comment
from bot.runtime import Runtime
from handlers.connectors.common import Mapped, build
from handlers.connectors.webhook import Connector, Extracted, Ignored

NAME = "delighted"
RESPONSE_EVENTS = ("survey_response.created", "survey_response.updated")


def verify(request: web.Request, raw: bytes, settings: Settings) -> bool | None:
    secret = settings.delighted.secret_value()
    if not secret:
        return None
    given = request.headers.get("X-Delighted-Webhook-Signature", "").strip()
    expected = "sha256=" + hmac.new(secret.encode(), raw, hashlib.sha256).hexdigest()
    return bool(given) and hmac.compare_digest(given.lower().encode(), expected.encode())


def map_response(data: dict, config: ToolFields, *, prefix: str = "event_data") -> Mapped:
    """A Delighted survey response object (webhook `event_data`, or the API's) to the generic dict."""
    person = found if isinstance(found := data.get("person"), dict) else {}
    props = found if isinstance(found := data.get("person_properties"), dict) else {}
    paths = {k: f"{prefix}.person_properties.{k}" for k in props}
    return build(
        NAME, data.get("id"), props, config=config, id_field=f"{prefix}.id", paths=paths,
        fixed={"score": (f"{prefix}.score", data.get("score")),
               "comment": (f"{prefix}.comment", data.get("comment")),
               "submitted_at": (f"{prefix}.created_at", data.get("created_at"))},
        fallback={"email": (f"{prefix}.person.email", person.get("email")),
                  "customer_id": (f"{prefix}.person.id", person.get("id")),
                  "customer_name": (f"{prefix}.person.name", person.get("name"))},
        # Person properties that are not customer fields (region, plan, …) are kept as tags.
        tags={**props, "delighted_tags": data.get("tags")},
    )


async def extract(body: object, request: web.Request, rt: Runtime) -> Extracted | Ignored:
    if not isinstance(body, dict):
        return Ignored("not a Delighted event object")
    kind = body.get("event_type")
    if kind not in RESPONSE_EVENTS:
        return Ignored(f"event_type {kind!r} is not a survey response")
    data = body.get("event_data")
    if not isinstance(data, dict):
        return Ignored("event has no event_data")
    survey_type = data.get("survey_type")
    if survey_type not in (None, "nps", "enps"):
        # CSAT (1-5) or CES (1-7) scores would be misread as NPS detractors.
        return Ignored(f"survey_type {survey_type!r} is not NPS")
    mapped = map_response(data, rt.settings.delighted)
    found = Extracted([mapped])
    if kind == "survey_response.updated" and mapped.item.get("comment"):
        async def fill_comment(rt: Runtime, items: list[ResponseIn]) -> None:
            comment = items[0].comment
            assert comment is not None  # the update carried a comment, and it validated
            await asyncio.to_thread(add_late_comment, rt, items[0].source, items[0].id, comment)

        found.after_store = fill_comment
    return found


CONNECTOR = Connector(NAME, verify, extract)
