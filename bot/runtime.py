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
