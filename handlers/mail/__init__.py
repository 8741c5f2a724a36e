"""The e-mail edges (issue 14): SMTP sending, IMAP polling, the reply webhook and the re-survey pages."""

from __future__ import annotations

from aiohttp import web


def mount(app: web.Application, services) -> None:
    """Add `POST /webhooks/email`, `GET/POST /r/…` and `GET/POST /u/…` to the server."""
    from handlers.mail import pages, webhook

    webhook.mount(app, services)
    pages.mount(app, services)
