"""The request path every tool's webhook shares: body, authentication, mapping, validation, storage.

A connector supplies three things: how the tool proves a request is its own (`verify`), how the
body is read (`parse`) and how a parsed payload becomes responses (`extract`). Everything else —
the 1 MB limit, the `?token=` fallback, refusing all requests while nothing is configured, 422s
naming the tool's own field, 202/503 from storage — is here, once.
"""

from __future__ import annotations

import hmac
import json
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from urllib.parse import parse_qsl

from aiohttp import web

from bot.config import Settings
from bot.ingest import FieldError, ResponseIn, validate_item
from bot.runtime import Runtime
from handlers.connectors.common import Mapped, MissingScore
from handlers.webhooks import RUNTIME, error, read_body, store

log = logging.getLogger(__name__)


@dataclass
class Ignored:
    """A request the tool sends that is not a response (a ping, an unsubscribe, a partial)."""

    reason: str


@dataclass
class Extracted:
    """Responses found in one request, or the reasons the request is refused."""

    mapped: list[Mapped] = field(default_factory=list)
    errors: list[FieldError] = field(default_factory=list)
    after_store: Callable[[Runtime, list[ResponseIn]], Awaitable[None]] | None = None


class Unavailable(Exception):
    """A service the connector needs (the tool's API) is away: the tool should retry (503)."""


Verify = Callable[[web.Request, bytes, Settings], "bool | None"]


@dataclass(frozen=True)
class Connector:
    """One tool's webhook: its name (the route and `source`), and how to read its requests."""

    name: str
    # True: the tool's own signature is valid. False: it is not. None: no secret is configured
    # for the tool, so `?token=$NPSBOT_WEBHOOK_TOKEN` decides.
    verify: Verify
    extract: Callable[[object, web.Request, Runtime], Awaitable[Extracted | Ignored]]
    form_body: bool = False


def webhook_token(settings: Settings) -> str:
    return settings.webhook_token.get_secret_value() if settings.webhook_token is not None else ""


def token_ok(request: web.Request, settings: Settings) -> bool:
    expected = webhook_token(settings)
    given = request.query.get("token", "")
    return bool(expected) and bool(given) and hmac.compare_digest(given.encode(), expected.encode())


def no_signature(request: web.Request, raw: bytes, settings: Settings) -> bool | None:
    return None


def parse(raw: bytes, content_type: str, form_body: bool) -> object | web.Response:
    if form_body and "json" not in content_type:
        try:
            return dict(parse_qsl(raw.decode("utf-8"), keep_blank_values=True))
        except UnicodeDecodeError:
            return error(400, [FieldError("body", "is not UTF-8 form data")])
    try:
        return json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        return error(400, [FieldError("body", f"is not valid JSON ({exc})")])


def token_refusal(connector: Connector, request: web.Request, settings: Settings) -> web.Response | None:
    if not webhook_token(settings):
        own = (f"NPSBOT_{connector.name.upper().replace('-', '_')}_SECRET or "
               if hasattr(settings.tool(connector.name), "secret") else "")
        return error(401, message=f"/webhooks/{connector.name} is disabled until {own}NPSBOT_WEBHOOK_TOKEN is set")
    if not token_ok(request, settings):
        return error(401, message="missing or wrong ?token=")
    return None


def handler(connector: Connector) -> Callable[[web.Request], Awaitable[web.Response]]:
    async def handle(request: web.Request) -> web.Response:
        rt: Runtime = request.app[RUNTIME]
        settings = rt.settings
        if connector.verify is no_signature or getattr(settings.tool(connector.name), "secret", None) is None:
            # Token mode: refuse before reading (or decompressing) a body nobody authenticated.
            early = token_refusal(connector, request, settings)
            if early is not None:
                return early
        raw = await read_body(request)
        if isinstance(raw, web.Response):
            return raw
        signed = connector.verify(request, raw, settings)
        if signed is False:
            return error(401, message=f"the {connector.name} signature is missing or wrong")
        if signed is None:
            refused = token_refusal(connector, request, settings)
            if refused is not None:
                return refused
        body = parse(raw, request.content_type or "", connector.form_body)
        if isinstance(body, web.Response):
            return body
        try:
            found = await connector.extract(body, request, rt)
        except MissingScore as exc:
            return error(422, [FieldError("score", str(exc))])
        except Unavailable as exc:
            log.warning("connector.unavailable", extra={"tool": connector.name, "error": str(exc)})
            return error(503, message=str(exc), headers={"Retry-After": "30"})
        except (TypeError, AttributeError, KeyError, ValueError) as exc:
            # Authenticated, but not shaped like the tool's payload (a list where an object goes).
            log.info("connector.malformed", extra={"tool": connector.name, "error": type(exc).__name__})
            return error(422, [FieldError("body", f"is not a {connector.name} payload this version understands")])
        if isinstance(found, Ignored):
            return web.json_response({"accepted": 0, "duplicates": 0, "ignored": found.reason})
        if found.errors:
            return error(422, found.errors)
        items: list[ResponseIn] = []
        errors: list[FieldError] = []
        many = len(found.mapped) > 1
        for index, mapped in enumerate(found.mapped):
            item, item_errors = validate_item(mapped.item, index if many else None)
            errors.extend(FieldError(mapped.tool_field(e.field), e.message, e.index) for e in item_errors)
            if item:
                items.append(item)
        if errors:
            return error(422, errors)
        if not items:
            return web.json_response({"accepted": 0, "duplicates": 0, "ignored": "no responses"})
        response = await store(rt, items)
        if response.status == 202 and found.after_store:
            await found.after_store(rt, items)
        return response

    return handle


async def alive(request: web.Request) -> web.Response:
    """Tools check a URL answers before they send to it (SurveyMonkey HEAD, Qualtrics GET)."""
    return web.Response(text="ok")


async def fetch_json(url: str, headers: dict[str, str], *, what: str) -> dict | None:
    """GET a tool's API; None for 404 (the response is gone); Unavailable for anything retryable."""
    import aiohttp

    timeout = aiohttp.ClientTimeout(total=10)
    try:
        async with aiohttp.ClientSession(timeout=timeout) as session:
            async with session.get(url, headers=headers) as resp:
                if resp.status == 404:
                    return None
                if resp.status >= 400:
                    raise Unavailable(f"{what} answered HTTP {resp.status}; retry later")
                body = await resp.json(content_type=None)
    except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
        raise Unavailable(f"{what} could not be reached ({type(exc).__name__}); retry later") from exc
    if not isinstance(body, dict):
        raise Unavailable(f"{what} answered something other than a JSON object")
    return body
