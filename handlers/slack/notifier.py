"""The Slack Notifier: how the outbox worker posts, updates and threads through the Web API.

Every failure becomes a `DeliveryError` the worker understands: a 429 carries Retry-After, 5xx and
network errors are retried with the worker's backoff, and errors that no retry can fix (channel
gone, bot removed, token revoked, malformed payload) are permanent. slack_sdk's own rate-limit
retry handler is deliberately not installed: sleeping inside a send would hold the channel and
hide the 429 from the worker's per-row backoff.
"""

from __future__ import annotations

import logging
from typing import Any

import aiohttp
from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.http_retry.builtin_async_handlers import AsyncConnectionErrorRetryHandler
from slack_sdk.web.async_client import AsyncWebClient

from bot.clock import Clock
from bot.delivery import DeliveryError
from bot.owners import OwnerDirectory
from bot.retry_after import MIN_WAIT, parse_retry_after
from bot.textview import reply_text
from bot.views import AlertView
from handlers.slack.blocks import FALLBACK_MAX, alert_message, clip, escape, thread_text

log = logging.getLogger(__name__)

# Slack error codes that are worth another try; any other `ok: false` answer is permanent
# (channel_not_found, not_in_channel, is_archived, invalid_auth, account_inactive, token_revoked,
# missing_scope, invalid_blocks, msg_too_long, message_not_found, cant_update_message, ...).
TRANSIENT_ERRORS = frozenset({
    "internal_error", "fatal_error", "service_unavailable", "request_timeout", "ratelimited",
    "rate_limited", "team_added_to_org", "timeout",
})


def make_client(token: str | None, base_url: str, session: aiohttp.ClientSession | None = None) -> AsyncWebClient:
    """A Web API client on SLACK_API_URL that retries a dropped connection once, never a 429."""
    return AsyncWebClient(token=token, base_url=base_url, session=session,
                          retry_handlers=[AsyncConnectionErrorRetryHandler(max_retry_count=1)])


def _header(headers: Any, name: str) -> str | None:
    if not headers:
        return None
    value = headers.get(name) if hasattr(headers, "get") else None
    if value is None and isinstance(headers, dict):
        lowered = {str(k).lower(): v for k, v in headers.items()}
        value = lowered.get(name.lower())
    if isinstance(value, list | tuple):
        value = value[0] if value else None
    return value


def _retry_after(headers: Any) -> float:
    # Slack's 429 always means "wait": without a usable header, wait the minimum.
    return parse_retry_after(_header(headers, "Retry-After")) or MIN_WAIT


def delivery_error(method: str, exc: SlackApiError) -> DeliveryError:
    """Classify a Web API failure for the outbox worker."""
    response = exc.response
    status = getattr(response, "status_code", None)
    data = getattr(response, "data", None)
    code = data.get("error") if isinstance(data, dict) else None
    headers = getattr(response, "headers", None)
    if status == 429 or code in ("ratelimited", "rate_limited"):
        return DeliveryError(f"{method}: rate limited", retry_after=_retry_after(headers), status=429)
    if status is not None and status >= 500:
        return DeliveryError(f"{method}: HTTP {status}", status=status)
    if code in TRANSIENT_ERRORS:
        return DeliveryError(f"{method}: {code}", status=code)
    return DeliveryError(f"{method}: {code or f'HTTP {status}'}", permanent=True, status=code or status)


class SlackNotifier:
    """Posts through one AsyncWebClient; the worker paces posts per channel by `post_interval`."""

    platform = "slack"

    def __init__(self, client: AsyncWebClient, post_interval: float = 1.0, clock: Clock | None = None) -> None:
        self.client = client
        self.post_interval = post_interval
        self.owners = OwnerDirectory(self._lookup_owner, clock or Clock())

    async def _lookup_owner(self, _channel: str, email: str) -> tuple[str, str] | None:
        """users.lookupByEmail (scope users:read.email); an unknown e-mail is simply no one."""
        try:
            resp = await self.client.users_lookupByEmail(email=email)
        except SlackApiError as exc:
            if (exc.response.get("error") or "") != "users_not_found":
                log.warning("slack.lookup_by_email_failed", extra={"error": exc.response.get("error")})
            return None
        user = resp.get("user") or {}
        if not user.get("id") or user.get("deleted") or user.get("is_bot"):
            return None
        return user["id"], (user.get("profile") or {}).get("display_name") or user.get("name") or user["id"]

    async def _call(self, method: str, **kwargs: Any) -> Any:
        try:
            return await self.client.api_call(method, json=kwargs)
        except SlackApiError as exc:
            raise delivery_error(method, exc) from exc
        except (aiohttp.ClientError, TimeoutError, OSError, SlackClientError) as exc:
            raise DeliveryError(f"{method}: {type(exc).__name__}", status=type(exc).__name__) from exc

    async def post_alert(self, channel_id: str, alert: AlertView) -> str:
        alert = await self.owners.with_owner("slack", alert)
        resp = await self._call("chat.postMessage", channel=channel_id, **alert_message(alert),
                                unfurl_links=False, unfurl_media=False)
        return str(resp["ts"])

    async def update_alert(self, channel_id: str, message_ref: str, alert: AlertView) -> None:
        alert = await self.owners.with_owner("slack", alert)
        # chat.update's `parse` defaults to "client" and would overwrite the original setting.
        await self._call("chat.update", channel=channel_id, ts=message_ref, parse="none",
                         **alert_message(alert))

    async def post_summary(self, channel_id: str, summary: Any) -> str:
        """An alert-storm summary (bot/storms.py); returns its ts for updates in place."""
        from handlers.slack.storm_blocks import summary_message

        resp = await self._call("chat.postMessage", channel=channel_id, **summary_message(summary),
                                unfurl_links=False, unfurl_media=False)
        return str(resp["ts"])

    async def update_summary(self, channel_id: str, message_ref: str, summary: Any) -> None:
        from handlers.slack.storm_blocks import summary_message

        await self._call("chat.update", channel=channel_id, ts=message_ref, parse="none", **summary_message(summary))

    async def post_thread(self, channel_id: str, message_ref: str, text: str) -> None:
        # mrkdwn=False: a thread line can quote a customer's comment or a note, whose `*` and `_`
        # must not format the message (escaping & < > only stops mentions and links).
        await self._call("chat.postMessage", channel=channel_id, thread_ts=message_ref,
                         text=thread_text(text), mrkdwn=False,
                         unfurl_links=False, unfurl_media=False)

    async def post_text(self, channel_id: str, text: str) -> None:
        # A user id as channel posts to the app's DM with that person.
        await self._call("chat.postMessage", channel=channel_id, text=thread_text(text), mrkdwn=False,
                         unfurl_links=False, unfurl_media=False)

    async def post_digest(self, channel_id: str, digest: Any) -> None:
        text = clip(escape(reply_text(digest)), FALLBACK_MAX)
        payload: dict[str, Any] = {"text": text}
        try:
            from handlers.slack.digest_blocks import digest_blocks
        except ImportError:
            log.warning("slack.digest_blocks_missing")
        else:
            payload["blocks"] = digest_blocks(digest)
        await self._call("chat.postMessage", channel=channel_id, unfurl_links=False, unfurl_media=False,
                         **payload)
        png = getattr(digest, "chart_png", None)
        if not png:
            return
        # The text digest stands alone: a failed chart upload is logged, not retried, so the
        # digest is never posted twice.
        try:
            await self.client.files_upload_v2(channel=channel_id, file=png, filename="nps-trend.png",
                                              title="NPS trend, last 12 weeks",
                                              alt_txt="Weekly NPS over the last 12 weeks")
        except Exception as exc:  # any upload failure leaves the text digest in place
            log.warning("slack.chart_upload_failed",
                        extra={"channel": channel_id, "error": type(exc).__name__})
