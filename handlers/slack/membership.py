"""Who belongs to a Slack channel (`conversations.members`), for the visibility rule of bot/visibility.py.

Called from the dispatcher's worker thread, so it uses slack_sdk's synchronous client against the
same SLACK_API_URL and token. A channel the app cannot read (archived, left, never joined) has no
members for this purpose; any other failure raises, and the rule refuses rather than guesses.
"""

from __future__ import annotations

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

# Errors meaning "nobody here can be shown this channel's alerts through the app".
_NO_ACCESS = frozenset({"channel_not_found", "not_in_channel", "is_archived", "method_not_supported_for_channel_type"})


def members_lookup(token: str, api_url: str):
    client = WebClient(token=token, base_url=api_url, timeout=5)

    def members(channel_id: str) -> frozenset[str]:
        found: set[str] = set()
        cursor = None
        for _ in range(50):  # 50 pages of 1,000: larger channels are cut, not looped on forever
            try:
                resp = client.conversations_members(channel=channel_id, limit=1000, cursor=cursor)
            except SlackApiError as exc:
                data = getattr(exc.response, "data", None)
                if isinstance(data, dict) and data.get("error") in _NO_ACCESS:
                    return frozenset()
                raise
            found.update(resp.get("members") or [])
            cursor = (resp.get("response_metadata") or {}).get("next_cursor")
            if not cursor:
                break
        return frozenset(found)

    return members
