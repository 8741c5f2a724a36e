"""One workspace: every Slack request must come from the installation's team (or enterprise).

A valid signature proves only that Slack sent the request, not from whom: in Slack Connect
channels and org-wide installs, people of other organisations reach the same app. npsbot binds to
the team (and enterprise) of its bot token, asked of `auth.test` once (SLACK_TEAM_ID /
SLACK_ENTERPRISE_ID set it without the call), and refuses the rest with an ephemeral line. The
acting user's own team counts (`user.team_id` in interactive payloads), not just the channel's.
Since every request that reaches the dispatcher is from the bound workspace, a bare user id in
NPSBOT_ADMINS is matched with that workspace.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from dataclasses import dataclass

from slack_bolt.response import BoltResponse

log = logging.getLogger(__name__)

AUTH_TEST_RETRY = 10.0  # seconds between auth.test attempts while it fails
REFUSAL = ("npsbot only works for members of the workspace it is installed in; your request came "
           "from another organisation, so nothing was done.")


@dataclass(frozen=True)
class Workspace:
    team_id: str | None
    enterprise_id: str | None

    def allows(self, team_id: str | None, enterprise_id: str | None) -> bool:
        if self.enterprise_id and enterprise_id == self.enterprise_id:
            return True  # an org-wide install: every workspace of the enterprise
        return bool(self.team_id) and team_id == self.team_id


def origin(body: dict) -> tuple[str | None, str | None]:
    """(team, enterprise) of whoever sent the request, from any Slack payload shape."""
    def obj(value: object) -> dict:
        return value if isinstance(value, dict) else {}

    user, team, enterprise, event = (obj(body.get(k)) for k in ("user", "team", "enterprise", "event"))
    # The person's own team first: in a shared channel the channel's team is not theirs.
    team_id = (user.get("team_id") or event.get("user_team") or body.get("user_team_id")
               or body.get("team_id") or team.get("id"))
    enterprise_id = body.get("enterprise_id") or enterprise.get("id") or user.get("enterprise_id")
    return (str(team_id) if team_id else None, str(enterprise_id) if enterprise_id else None)


class WorkspaceBinding:
    """Learns the installation's workspace once, then checks every request against it."""

    def __init__(self, client, team_id: str | None = None, enterprise_id: str | None = None) -> None:
        self.client = client
        self.bound = Workspace(team_id, enterprise_id) if (team_id or enterprise_id) else None
        self._lock = asyncio.Lock()
        self._retry_at = 0.0

    async def workspace(self) -> Workspace | None:
        if self.bound is not None:
            return self.bound
        async with self._lock:
            if self.bound is None and time.monotonic() >= self._retry_at:
                # A failing auth.test is not retried for every request: acks must stay fast.
                self._retry_at = time.monotonic() + AUTH_TEST_RETRY
                try:
                    resp = await self.client.auth_test()
                    self.bound = Workspace(resp.get("team_id"), resp.get("enterprise_id"))
                    log.info("slack.workspace_bound", extra={"team": self.bound.team_id,
                                                             "enterprise": self.bound.enterprise_id})
                except Exception as exc:  # retried on the next request; refuse meanwhile
                    log.warning("slack.auth_test_failed", extra={"error": type(exc).__name__})
        return self.bound

    async def middleware(self, body, next):  # noqa: A002 - Bolt injects middleware arguments by name
        if not isinstance(body, dict) or body.get("type") in ("url_verification", "ssl_check"):
            return await next()
        workspace = await self.workspace()
        team_id, enterprise_id = origin(body)
        if workspace is not None and workspace.allows(team_id, enterprise_id):
            return await next()
        if workspace is None:
            message = "npsbot cannot check which workspace it belongs to right now (auth.test failed); try again."
        else:
            message = REFUSAL
            log.warning("slack.foreign_workspace_refused", extra={"team": team_id, "enterprise": enterprise_id})
        # Slash commands show the response body; interactive payloads get it at response_url too.
        url = body.get("response_url")
        if url and body.get("type") in ("block_actions", "view_submission", "message_action", "shortcut"):
            asyncio.ensure_future(self._respond(url, message))
        return BoltResponse(status=200, body=json.dumps({"response_type": "ephemeral", "text": message}),
                            headers={"Content-Type": ["application/json"]})

    async def _respond(self, url: str, message: str) -> None:
        session = getattr(self.client, "session", None)
        try:
            if session is not None and not session.closed:
                async with session.post(url, json={"response_type": "ephemeral", "replace_original": False,
                                                   "text": message}) as resp:
                    await resp.read()
        except Exception as exc:  # the refusal stands; telling them is a courtesy
            log.warning("slack.refusal_not_delivered", extra={"error": type(exc).__name__})
