"""Sending e-mail through `NPSBOT_SMTP_URL` with aiosmtplib; the delivery worker's "email" notifier.

`smtp://[user:pass@]host[:port]` uses STARTTLS when the server offers it; `smtps://` is implicit TLS.
A 4xx answer, a timeout or a refused connection is retried by the outbox with backoff; a 5xx
answer (bad address, message refused) is permanent. The Message-ID comes with the payload, so a
retry after an unknown outcome sends the same message, which the recipient's server can
recognise, instead of a new one.
"""

from __future__ import annotations

import logging
from urllib.parse import unquote, urlsplit

import aiosmtplib

from bot.config import Settings
from bot.delivery import DeliveryError
from bot.mail.compose import build_message

log = logging.getLogger(__name__)


class SmtpSender:
    """Delivers outbox rows of kind `email`; has no chat channel to post to."""

    platform = "email"
    post_interval = 0.0

    def __init__(self, settings: Settings) -> None:
        url = urlsplit(settings.smtp_url.get_secret_value() if settings.smtp_url else "")
        self.implicit_tls = url.scheme == "smtps"
        self.host = url.hostname or "localhost"
        self.port = url.port or (465 if self.implicit_tls else 587)
        self.username = unquote(url.username) if url.username else None
        self.password = unquote(url.password) if url.password else None
        self.timeout = settings.smtp_timeout
        self.sent: list[str] = []  # Message-IDs sent by this process (for logs and tests)

    async def send_email(self, payload: dict) -> None:
        message = build_message(payload)
        try:
            await aiosmtplib.send(
                message, hostname=self.host, port=self.port, username=self.username, password=self.password,
                use_tls=self.implicit_tls, start_tls=None if not self.implicit_tls else False,
                timeout=self.timeout,
            )
        except aiosmtplib.SMTPRecipientsRefused as exc:
            codes = [r.code for r in exc.recipients]
            raise DeliveryError(f"recipient refused ({codes})", permanent=all(c >= 500 for c in codes),
                                status=codes[0] if codes else "refused") from None
        except aiosmtplib.SMTPResponseException as exc:
            raise DeliveryError(f"SMTP {exc.code}: {exc.message[:200]}", permanent=exc.code >= 500,
                                status=exc.code) from None
        except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
            raise DeliveryError(f"SMTP unavailable ({type(exc).__name__})", status=type(exc).__name__) from None
        self.sent.append(payload.get("message_id", ""))
        log.info("mail.sent", extra={"message_id": payload.get("message_id", "")[:100]})

    # A mail server is not a chat platform: the worker only ever gives it e-mail rows.
    async def post_alert(self, channel_id, alert):  # pragma: no cover
        raise DeliveryError("e-mail carries no alerts", permanent=True)

    async def update_alert(self, channel_id, message_ref, alert):  # pragma: no cover
        raise DeliveryError("e-mail carries no alerts", permanent=True)

    async def post_thread(self, channel_id, message_ref, text):  # pragma: no cover
        raise DeliveryError("e-mail has no threads", permanent=True)

    async def post_text(self, channel_id, text):  # pragma: no cover
        raise DeliveryError("e-mail carries no chat text", permanent=True)

    async def post_digest(self, channel_id, digest):  # pragma: no cover
        raise DeliveryError("e-mail carries no digests", permanent=True)
