"""The survey tools' webhook routes: `POST /webhooks/<tool>` for every connector."""

from __future__ import annotations

from aiohttp import web

from handlers.connectors import delighted, google_forms, qualtrics, surveymonkey, typeform
from handlers.connectors.webhook import alive, handler

CONNECTORS = {c.name: c for c in (delighted.CONNECTOR, typeform.CONNECTOR, surveymonkey.CONNECTOR,
                                  qualtrics.CONNECTOR, google_forms.CONNECTOR)}


def mount(app: web.Application) -> None:
    """Add `POST /webhooks/<tool>` for every connector (plus the URL checks some tools make)."""
    for name, connector in CONNECTORS.items():
        app.router.add_post(f"/webhooks/{name}", handler(connector))
        # SurveyMonkey checks a webhook URL with HEAD, Qualtrics wants it to answer GET.
        app.router.add_get(f"/webhooks/{name}", alive)
