"""manifest.yml follows Slack's app manifest schema (slackapi/manifest-schema, v1) and asks only
for what npsbot uses."""

import re
from pathlib import Path

import pytest

yaml = pytest.importorskip("yaml", reason="PyYAML reads manifest.yml")

MANIFEST = Path(__file__).parent.parent.parent / "manifest.yml"

# The keys the schema allows (it sets additionalProperties: false on each of these objects).
ALLOWED = {
    "": {"$schema", "_metadata", "app_directory", "display_information", "features", "oauth_config", "settings",
         "functions", "workflows", "datastores", "outgoing_domains", "types", "external_auth_providers"},
    "_metadata": {"schema_version", "min_version", "major_version", "minor_version"},
    "display_information": {"name", "description", "background_color", "long_description"},
    "features": {"app_home", "bot_user", "functions", "shortcuts", "slash_commands", "workflow_steps",
                 "unfurl_domains", "assistant_view"},
    "features.app_home": {"home_tab_enabled", "messages_tab_enabled", "messages_tab_read_only_enabled"},
    "features.bot_user": {"display_name", "always_online"},
    "oauth_config": {"redirect_urls", "scopes", "token_management_enabled", "pkce_enabled"},
    "oauth_config.scopes": {"user", "bot", "user_optional", "bot_optional"},
    "settings": {"allowed_ip_address_ranges", "event_subscriptions", "incoming_webhooks", "interactivity",
                 "org_deploy_enabled", "socket_mode_enabled", "is_hosted", "token_rotation_enabled", "siws_links",
                 "hermes_app_type", "function_runtime", "is_mcp_enabled"},
    "settings.event_subscriptions": {"request_url", "user_events", "bot_events", "metadata_subscriptions"},
    "settings.interactivity": {"is_enabled", "request_url", "message_menu_options_url"},
}
URL = re.compile(r"^https?://")


@pytest.fixture(scope="module")
def manifest() -> dict:
    return yaml.safe_load(MANIFEST.read_text())


def at(doc: dict, dotted: str) -> dict:
    for part in filter(None, dotted.split(".")):
        doc = doc[part]
    return doc


def test_only_keys_the_schema_allows(manifest):
    for path, allowed in ALLOWED.items():
        try:
            obj = at(manifest, path)
        except KeyError:
            continue
        assert set(obj) <= allowed, (path, set(obj) - allowed)


def test_field_lengths_and_patterns(manifest):
    info = manifest["display_information"]
    assert 1 <= len(info["name"]) <= 35 and 1 <= len(info["description"]) <= 140
    assert 175 <= len(info["long_description"]) <= 4000
    assert re.fullmatch(r"#[0-9a-fA-F]{3}([0-9a-fA-F]{3})?", info["background_color"])
    assert 1 <= len(manifest["features"]["bot_user"]["display_name"]) <= 80
    commands = manifest["features"]["slash_commands"]
    assert 1 <= len(commands) <= 50
    for c in commands:
        assert set(c) <= {"command", "url", "description", "usage_hint", "should_escape"}
        assert 2 <= len(c["command"]) <= 32 and c["command"].startswith("/")
        assert 1 <= len(c["description"]) <= 2000 and 1 <= len(c["usage_hint"]) <= 1000
        assert URL.match(c["url"]) and len(c["url"]) <= 3000
    scopes = manifest["oauth_config"]["scopes"]["bot"]
    assert len(scopes) == len(set(scopes)) and all(len(s) <= 50 for s in scopes)
    events = manifest["settings"]["event_subscriptions"]
    assert URL.match(events["request_url"]) and len(events["bot_events"]) == len(set(events["bot_events"]))
    assert isinstance(manifest["settings"]["interactivity"]["is_enabled"], bool)
    assert URL.match(manifest["settings"]["interactivity"]["request_url"])


def test_what_npsbot_needs_and_nothing_more(manifest):
    command = manifest["features"]["slash_commands"][0]
    assert command["command"] == "/nps" and command["should_escape"] is True
    assert manifest["features"]["app_home"]["home_tab_enabled"] is True
    assert set(manifest["settings"]["event_subscriptions"]["bot_events"]) == {"reaction_added", "app_home_opened"}
    assert set(manifest["oauth_config"]["scopes"]["bot"]) == {
        "chat:write", "commands", "reactions:read", "users:read", "users:read.email", "files:write",
        "channels:read", "groups:read"}
    urls = [command["url"], manifest["settings"]["event_subscriptions"]["request_url"],
            manifest["settings"]["interactivity"]["request_url"]]
    assert urls == ["https://YOUR-HOST/slack/events"] * 3
    assert manifest["settings"]["socket_mode_enabled"] is False


def test_no_scope_for_opening_conversations_is_asked_because_none_is_opened(manifest):
    # Reminders reach a claimant by chat.postMessage to their user id (chat:write alone).
    root = Path(__file__).resolve().parents[2]
    sources = "\n".join(p.read_text() for d in ("bot", "handlers") for p in (root / d).rglob("*.py"))
    assert "conversations_open" not in sources and "conversations.open" not in sources
    assert "im:write" not in manifest["oauth_config"]["scopes"]["bot"]
