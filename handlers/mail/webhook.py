"""POST /webhooks/email: one raw RFC 822 message (a customer's reply), as mail providers forward it.

The bearer token is checked before a byte of the body is read; the body is read in chunks up to
10 MB (413 beyond). Answers `202` with what happened (matched, late, auto, unmatched, duplicate):
an unmatched message is stored too, never lost. `503` when the database is away, so the sender
retries.
"""

from __future__ import annotations

import asyncio
import logging

from aiohttp import web
from sqlalchemy.exc import DBAPIError

from bot.mail.inbound import MAX_RAW, receive
from handlers.webhooks import bearer_ok, error, read_body

log = logging.getLogger(__name__)
CONTENT_TYPES = ("message/rfc822", "application/octet-stream", "text/plain")


def mount(app: web.Application, services) -> None:
    rt = services.rt

    async def email(request: web.Request) -> web.Response:
        token = rt.settings.webhook_token.get_secret_value() if rt.settings.webhook_token else None
        if not token:
            return error(401, message="the e-mail webhook is disabled until NPSBOT_WEBHOOK_TOKEN is set")
        if not bearer_ok(request, token):
            return error(401, message="missing or wrong bearer token")
        if request.content_type not in CONTENT_TYPES:
            return error(415, message="Content-Type must be message/rfc822 (one raw e-mail)")
        raw = await read_body(request, limit=MAX_RAW, noun="message")
        if isinstance(raw, web.Response):
            return raw
        if not raw.strip():
            return error(400, message="the body is empty; send one raw RFC 822 message")
        try:
            result = await asyncio.to_thread(receive, rt, raw)
        except DBAPIError as exc:
            log.error("mail.database_unavailable", extra={"error": type(exc).__name__})
            return error(503, message="the database is unavailable; nothing was stored, retry later",
                         headers={"Retry-After": "30"})
        return web.json_response({"outcome": result.outcome, "followup": result.followup_id}, status=202)

    app.router.add_post("/webhooks/email", email)
