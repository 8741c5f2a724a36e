"""The connectors' tests configure survey tools the way an operator does: through the environment."""

from __future__ import annotations

import pytest

from bot.config import Settings


@pytest.fixture
def setenv(monkeypatch, rt):
    """Export a variable and re-read `Settings`, as a restarted `npsbot serve` would."""
    base = {"DATABASE_URL": rt.settings.database_url, "NPSBOT_WEBHOOK_TOKEN": "test-token"}

    def set_(name: str, value: str) -> None:
        monkeypatch.setenv(name, value)
        rt.settings = Settings(**base)

    return set_
