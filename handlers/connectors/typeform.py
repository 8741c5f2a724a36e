"""Typeform: `POST /webhooks/typeform`, signed with the webhook's secret.

Typeform sends `{"event_id", "event_type": "form_response", "form_response": {...}}` with the
form definition, the answers and the hidden fields (typeform.com/developers/webhooks/example-payload),
and signs the raw body: `Typeform-Signature: sha256=<base64 HMAC-SHA256>` keyed with the secret
set on the webhook (NPSBOT_TYPEFORM_SECRET; typeform.com/developers/webhooks/secure-your-webhooks).

Answers are known by their field `ref`, and also answer to their field id and question title;
hidden fields by their name. The NPS question defaults to the form's Net Promoter Score® field.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from typing import Any

from aiohttp import web

from bot.config import Settings, ToolFields
from bot.runtime import Runtime
from handlers.connectors.common import Mapped, build
from handlers.connectors.webhook import Connector, Extracted, Ignored

NAME = "typeform"


def verify(request: web.Request, raw: bytes, settings: Settings) -> bool | None:
    secret = settings.typeform.secret_value()
    if not secret:
        return None
    given = request.headers.get("Typeform-Signature", "").strip()
    digest = hmac.new(secret.encode(), raw, hashlib.sha256).digest()
    expected = "sha256=" + base64.b64encode(digest).decode()
    return bool(given) and hmac.compare_digest(given.encode(), expected.encode())


def answer_value(answer: dict) -> Any:
    kind = answer.get("type")
    if kind == "choice":
        choice = answer.get("choice") or {}
        return choice.get("label") or choice.get("other")
    if kind == "choices":
        choices = answer.get("choices") or {}
        labels = list(choices.get("labels") or [])
        if choices.get("other"):
            labels.append(choices["other"])
        return labels
    if kind and kind in answer:
        return answer[kind]
    return None


def map_form_response(resp: dict, config: ToolFields) -> Mapped:
    titles = {f.get("id"): f.get("title") for f in (resp.get("definition") or {}).get("fields") or []
              if isinstance(f, dict)}
    values: dict[str, Any] = {}
    aliases: dict[str, list[str]] = {}
    paths: dict[str, str] = {}
    fallback: dict[str, tuple[str, Any]] = {}
    for answer in resp.get("answers") or []:
        if not isinstance(answer, dict):
            continue
        fld = answer.get("field") or {}
        key = fld.get("ref") or fld.get("id")
        if not key:
            continue
        values[key] = answer_value(answer)
        aliases[key] = [a for a in (fld.get("id"), titles.get(fld.get("id"))) if a]
        paths[key] = f"form_response.answers[ref={key}]"
        kind = fld.get("type")
        if kind == "nps" and "score" not in fallback:
            fallback["score"] = (key, values[key])
        elif kind == "opinion_scale" and "score" not in fallback:
            fallback.setdefault("scale", (key, values[key]))
        elif kind == "long_text":
            fallback.setdefault("comment", (key, values[key]))
        elif kind == "email":
            fallback.setdefault("email", (key, values[key]))
    if "score" not in fallback and "scale" in fallback:
        fallback["score"] = fallback["scale"]
    fallback.pop("scale", None)
    hidden = found if isinstance(found := resp.get("hidden"), dict) else {}
    for name, value in hidden.items():
        values.setdefault(name, value)
        paths.setdefault(name, f"form_response.hidden.{name}")
    for var in resp.get("variables") or []:
        if isinstance(var, dict) and var.get("key"):
            values.setdefault(var["key"], var.get(var.get("type") or "", None))
            paths.setdefault(var["key"], f"form_response.variables[key={var['key']}]")
    # The NPS field is the Typeform-defined score: it wins over names unless one is configured.
    fixed = {"score": fallback.pop("score")} if "score" in fallback else {}
    fixed["submitted_at"] = ("form_response.submitted_at", resp.get("submitted_at"))
    mapped = build(NAME, resp.get("token") or resp.get("response_id"), values, config=config, aliases=aliases,
                   paths=paths, fixed=fixed, fallback=fallback, tags=hidden,
                   id_field="form_response.token")
    mapped.origin = {k: paths.get(v, v) for k, v in mapped.origin.items()}
    return mapped


async def extract(body: object, request: web.Request, rt: Runtime) -> Extracted | Ignored:
    if not isinstance(body, dict) or body.get("event_type") != "form_response":
        kind = body.get("event_type") if isinstance(body, dict) else None
        return Ignored(f"event_type {kind!r} is not form_response")
    resp = body.get("form_response")
    if not isinstance(resp, dict):
        return Ignored("event has no form_response")
    return Extracted([map_form_response(resp, rt.settings.typeform)])


CONNECTOR = Connector(NAME, verify, extract)
