"""Guard for Teams' unauthenticated local mode (NPSBOT_TEAMS_ENABLED without MICROSOFT_APP_ID).

Without an app id nothing proves who sent an activity, so anyone who reaches `/api/messages` could
act as anyone, and subscribe a `serviceUrl` of their choosing to receive every alert. Local mode is
therefore for the Bot Framework Emulator on the same machine: requests must come from loopback and
name a loopback `serviceUrl`, unless NPSBOT_TEAMS_ALLOW_REMOTE=true says otherwise (e.g. a dev tunnel
in a lab); `npsbot serve` logs a WARNING at start either way.
"""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit

LOCAL_NAMES = frozenset({"localhost"})


def is_loopback_host(host: str | None) -> bool:
    if not host:
        return False
    host = host.strip("[]").lower()
    if host in LOCAL_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def refusal(remote: str | None, body: dict) -> str | None:
    """Why a local-mode request is refused, or None when it may go on."""
    if not is_loopback_host(remote):
        return "Teams local mode (no MICROSOFT_APP_ID) only accepts requests from this machine"
    service_url = body.get("serviceUrl")
    if service_url is not None:
        host = urlsplit(str(service_url)).hostname if isinstance(service_url, str) else None
        if not is_loopback_host(host):
            return "Teams local mode (no MICROSOFT_APP_ID) only talks to a serviceUrl on this machine"
    return None
