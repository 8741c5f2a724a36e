"""POST /webhooks/responses: the generic survey webhook of interface.md.

Refuses everything while NPSBOT_WEBHOOK_TOKEN is unset; compares the bearer token (and the
optional HMAC signature) in constant time; answers 202, 400, 401, 413, 422 or 503 and never
stores part of a request it refuses.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging

from aiohttp import web
from sqlalchemy.exc import DataError, DBAPIError

from bot import metrics
from bot.ingest import FieldError, ResponseIn, group_commit, validate_body
from bot.runtime import Runtime

log = logging.getLogger(__name__)

MAX_BODY = 1_000_000
RUNTIME = web.AppKey("npsbot_runtime", Runtime)


def error(status: int, errors: list[FieldError] | None = None, message: str | None = None,
          headers: dict | None = None) -> web.Response:
    metrics.REJECTED.labels(str(status)).inc()
    body: dict = {}
    if errors is not None:
        body["errors"] = [e.as_json() for e in errors]
    if message:
        body["error"] = message
    return web.json_response(body, status=status, headers=headers)


def bearer_ok(request: web.Request, expected: str | None) -> bool:
    if not expected:
        return False
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(token.strip().encode(), expected.encode())


def signature_ok(body: bytes, header: str | None, secret: str) -> bool:
    """`X-Npsbot-Signature: sha256=<hex HMAC of the raw body>`."""
    if not header:
        return False
    expected = "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(header.strip().encode(), expected.encode())


async def read_body(request: web.Request, *, limit: int = MAX_BODY, noun: str = "body") -> bytes | web.Response:
    """The raw body, or a 413 when it is over `limit` bytes (checked before and while reading)."""
    if request.content_length is not None and request.content_length > limit:
        return error(413, message=f"{noun} is over {limit:,} bytes")
    chunks, size = [], 0
    async for chunk in request.content.iter_chunked(65536):
        size += len(chunk)
        if size > limit:
            return error(413, message=f"{noun} is over {limit:,} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


def parse_json(raw: bytes) -> object | web.Response:
    try:
        return json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        return error(400, [FieldError("body", f"is not valid JSON ({exc})")])


async def store(rt: Runtime, items: list[ResponseIn]) -> web.Response:
    """Ingest validated items; 503 (so the survey tool retries) when the database is away."""
    try:
        result = await group_commit(rt).submit(items)
    except DataError as exc:
        # The database refused a value validation let through: the sender's to fix, not to retry.
        log.warning("ingest.value_refused", extra={"error": type(exc).__name__})
        return error(422, [FieldError("body", "holds a value the database cannot store")])
    except DBAPIError as exc:
        log.error("ingest.database_unavailable", extra={"error": type(exc).__name__})
        return error(503, message="the database is unavailable; nothing was stored, retry later",
                     headers={"Retry-After": "30"})
    for item in items[:1]:
        metrics.INGESTED.labels(metrics.source_label(item.source)).inc(result.accepted)
    metrics.DUPLICATES.inc(result.duplicates)
    log.info("ingest.accepted", extra={"accepted": result.accepted, "duplicates": result.duplicates,
                                       "opened": result.opened[:20]})
    return web.json_response({"accepted": result.accepted, "duplicates": result.duplicates}, status=202)


async def responses(request: web.Request) -> web.Response:
    rt = request.app[RUNTIME]
    token = rt.settings.webhook_token.get_secret_value() if rt.settings.webhook_token else None
    if not token:
        return error(401, message="ingest is disabled until NPSBOT_WEBHOOK_TOKEN is set")
    if not bearer_ok(request, token):
        return error(401, message="missing or wrong bearer token")
    raw = await read_body(request)
    if isinstance(raw, web.Response):
        return raw
    secret = rt.settings.webhook_hmac_secret
    if secret and not signature_ok(raw, request.headers.get("X-Npsbot-Signature"), secret.get_secret_value()):
        return error(401, message="missing or wrong X-Npsbot-Signature")
    body = parse_json(raw)
    if isinstance(body, web.Response):
        return body
    items, errors = validate_body(body)
    if errors:
        return error(422, errors)
    return await store(rt, items)


def mount(app: web.Application) -> None:
    app.router.add_post("/webhooks/responses", responses)
