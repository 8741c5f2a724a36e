"""Digest numbers for a channel and period."""

from __future__ import annotations


def build_digest_for(rt, platform: str, channel_id: str, payload: dict):
    """Build the digest view an outbox `digest.post` row asks for."""
    raise NotImplementedError("digests are not built yet")
