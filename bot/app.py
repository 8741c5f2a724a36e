"""Composition root: builds the runtime, the aiohttp server and its background workers.

The only module of `bot/` that imports `handlers/`: each platform's `mount()` adds its routes and
returns the Notifier the delivery worker posts through.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime

from aiohttp import web
from prometheus_client import generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from sqlalchemy import func, select

from bot import metrics
from bot.clock import as_utc
from bot.delivery import DeliveryWorker, Notifier
from bot.dispatch import Dispatcher
from bot.runtime import Runtime, Services
from bot.runtime import build_runtime as build_runtime  # where the servers and tests build it
from storage.db import ping, read_scope
from storage.models import Outbox, OutboxStatus

log = logging.getLogger(__name__)


SERVICES = web.AppKey("npsbot_services", Services)


def build_services(rt: Runtime, notifiers: dict[str, Notifier] | None = None) -> Services:
    from bot import outbox
    from bot.digest import send_digest
    from bot.mail.outgoing import EMAIL_KIND
    from bot.mail.sender import send_email

    worker = DeliveryWorker(rt, dict(notifiers or {}))
    worker.register(outbox.DIGEST_POST, send_digest)
    worker.register(EMAIL_KIND, send_email)
    if rt.settings.mail_enabled and "email" not in worker.notifiers:
        from handlers.mail.smtp import SmtpSender

        worker.notifiers["email"] = SmtpSender(rt.settings)
    rt.wake = worker.wake
    return Services(rt=rt, dispatcher=Dispatcher(rt), worker=worker)


async def healthz(request: web.Request) -> web.Response:
    rt = request.app[SERVICES].rt
    ok = await asyncio.to_thread(ping, rt.engine)
    return web.json_response({"database": "ok" if ok else "unavailable"}, status=200 if ok else 503)


async def metrics_view(request: web.Request) -> web.Response:
    rt = request.app[SERVICES].rt

    def outbox_state() -> tuple[int, datetime | None]:
        with read_scope(rt.engine) as s:
            return s.execute(
                select(func.count(), func.min(Outbox.created_at)).where(Outbox.status == OutboxStatus.PENDING)
            ).one()

    try:
        depth, oldest = await asyncio.to_thread(outbox_state)
        metrics.OUTBOX_DEPTH.set(depth)
        metrics.OUTBOX_OLDEST.set((rt.clock.now() - as_utc(oldest)).total_seconds() if oldest else 0)
    except Exception:  # metrics must answer even when the database does not
        log.warning("metrics.outbox_unavailable")
    return web.Response(body=generate_latest(metrics.REGISTRY), headers={"Content-Type": CONTENT_TYPE_LATEST})


def build_app(services: Services, *, with_platforms: bool = True, run_workers: bool = True) -> web.Application:
    """The `npsbot serve` application: webhooks, health, metrics, and the configured platforms."""
    from handlers import webhooks
    from handlers.connectors import routes as connectors
    from handlers.guard import quiet_malformed_http, refuse_malformed

    quiet_malformed_http()
    app = web.Application(client_max_size=2 * 1024 * 1024, middlewares=[refuse_malformed])
    app[SERVICES] = services
    app[webhooks.RUNTIME] = services.rt
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/metrics", metrics_view)
    webhooks.mount(app)
    connectors.mount(app)
    # The theme model loads once, here at start, from its package's files (bot/theme_model.py).
    from bot.theme_model import load_model

    load_model()
    from handlers.mail import mount as mount_mail

    mount_mail(app, services)
    settings = services.rt.settings
    if with_platforms and settings.slack_enabled:
        from handlers.slack import mount as mount_slack

        services.worker.notifiers["slack"] = mount_slack(app, services)
    if with_platforms and settings.teams_enabled:
        from handlers.teams import mount as mount_teams

        services.worker.notifiers["teams"] = mount_teams(app, services)

    if run_workers:
        app.cleanup_ctx.append(_background(services))
    return app


def _background(services: Services):
    async def ctx(app: web.Application):
        from bot.background import Background
        from handlers.mail.imap import start_imap

        background = Background(services, pollers=[start_imap])
        await background.start()
        yield
        await background.stop()

    return ctx
