"""Malformed requests get a 4xx at every door, never a 500 with a traceback at ERROR.

Two classes of input fail below the handlers, in code they share (aiohttp's body reader, the JSON
parsers of npsbot, Bolt and botbuilder): a body whose `Content-Encoding` is a lie (gzip that is
not gzip) and JSON nested thousands deep (RecursionError). This middleware answers both with a
400 and a WARNING; a request that is unauthenticated as well is refused before anything acts on it,
since nothing has been stored or changed when these errors are raised.
"""

from __future__ import annotations

import logging
import zlib

from aiohttp import web
from aiohttp.http_exceptions import ContentEncodingError, HttpProcessingError
from aiohttp.web_protocol import RequestPayloadError

log = logging.getLogger(__name__)


@web.middleware
async def refuse_malformed(request: web.Request, handler):
    try:
        response = await handler(request)
    except RecursionError:
        log.warning("request.nested_too_deeply", extra={"path": request.path})
        return web.json_response({"error": "body is nested too deeply"}, status=400)
    except (ContentEncodingError, RequestPayloadError, zlib.error) as exc:
        log.warning("request.bad_encoding", extra={"path": request.path, "error": type(exc).__name__})
        # The rest of the body cannot be read either: mark it finished so aiohttp does not try
        # (and log the same error at ERROR), and close the connection after answering.
        request.content.feed_eof()
        response = web.json_response({"error": "body does not match its Content-Encoding"}, status=400)
        response.force_close()
        return response
    if request.content is not None and not request.content.is_eof() and isinstance(response, web.Response) \
            and not response.prepared and request.headers.get("Content-Encoding"):
        # Answered without reading an encoded body (e.g. a 401): aiohttp would read the rest to
        # keep the connection, decoding it, and log a bad encoding at ERROR. Close instead.
        request.content.feed_eof()
        response.force_close()
    return response


class MalformedHttpIsAWarning(logging.Filter):
    """aiohttp answers a request it cannot parse (an unknown or lying Content-Encoding, a broken
    header) with a 400 itself, before any handler runs, but logs it at ERROR with a traceback. It
    is the client's mistake, not ours: keep it as one WARNING line."""

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        if isinstance(exc, HttpProcessingError) and record.levelno >= logging.ERROR:
            record.levelno, record.levelname = logging.WARNING, "WARNING"
            record.msg, record.args = "request.malformed_http", ()
            record.__dict__["error"] = f"{type(exc).__name__}: {getattr(exc, 'message', '')}"[:200]
            record.exc_info = record.exc_text = None
        return True


_FILTER = MalformedHttpIsAWarning()


def quiet_malformed_http() -> None:
    """Install the filter once on aiohttp's server logger (idempotent)."""
    logger = logging.getLogger("aiohttp.server")
    if _FILTER not in logger.filters:
        logger.addFilter(_FILTER)
