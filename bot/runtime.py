"""The bundle every service takes: database engine, settings, clock and the outbox wake-up."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Engine

from bot.clock import Clock
from bot.config import Settings


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
