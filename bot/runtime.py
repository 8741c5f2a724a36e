"""The bundle every service takes (database engine, settings, clock and the outbox wake-up), and
the one every front door takes (`Services`: the runtime, the dispatcher and the delivery worker).

Handlers import `Services` from here, not from the composition root (bot.app) that builds it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine

from bot.clock import Clock
from bot.config import Settings

if TYPE_CHECKING:
    from bot.delivery import DeliveryWorker
    from bot.dispatch import Dispatcher


@dataclass
class Runtime:
    engine: Engine
    settings: Settings
    clock: Clock = field(default_factory=Clock)
    # Called after a transaction wrote outbox rows, so the in-process worker delivers at once
    # instead of at its next poll. Safe to call from any thread.
    wake: Callable[[], None] = lambda: None
    # The webhook's group-commit queue (bot.ingest.GroupCommit), made on first use.
    group_commit: Any = None


@dataclass
class Services:
    """Everything a front door needs: the runtime, the dispatcher and the delivery worker."""

    rt: Runtime
    dispatcher: Dispatcher
    worker: DeliveryWorker


def build_runtime(settings: Settings, *, clock: Clock | None = None, migrate: bool = True) -> Runtime:
    """A process's runtime: the database migrated (and an index a killed import left dropped
    built again), its engine, the settings and a clock. Here, not in bot.app, so that a command
    that serves nothing (`npsbot import`) starts without loading the web server's modules."""
    from storage.db import make_engine, restore_indexes, upgrade

    if migrate:
        upgrade(settings.database_url)
    engine = make_engine(settings.database_url)
    if migrate:
        restore_indexes(engine)
    return Runtime(engine=engine, settings=settings, clock=clock or Clock())
