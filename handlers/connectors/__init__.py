"""Survey-tool connectors: each tool's own webhook payloads and CSV exports, mapped to responses."""

from __future__ import annotations

from aiohttp import web


def mount(app: web.Application) -> None:
    """Add the routes `/webhooks/<tool>` (none yet)."""
