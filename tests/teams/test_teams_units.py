"""Small pieces: mention stripping, card data, reaction names, pacing, error mapping, package."""

from __future__ import annotations

import io
import json
import zipfile

import pytest
from botbuilder.schema import Activity
from PIL import Image

from bot.commands import Verb, parse_command, parse_mention
from bot.delivery import DeliveryError
from bot.errors import CommandError
from handlers.teams.bot import card_command, command_text, reaction_name
from handlers.teams.conversations import base_conversation_id
from handlers.teams.notifier import Pacer, delivery_error
from handlers.teams.package import CHANNEL_COMMANDS, PERSONAL_COMMANDS, manifest, write_package
from storage.models import Outcome

from .conftest import load_activity


def test_mention_is_stripped_and_nps_prefix_ignored():
    body = load_activity("message_channel_mention", "http://x/", COMMAND="nps claim 12")
    assert command_text(Activity().deserialize(body)) == "claim 12"
    body = load_activity("message_channel_mention", "http://x/", COMMAND="score 7d segment=renewal")
    assert command_text(Activity().deserialize(body)) == "score 7d segment=renewal"


def test_other_mentions_become_assignees():
    activity = Activity().deserialize(load_activity("message_assign_mention", "http://x/"))
    text = command_text(activity, {"29:1samLeeTeamsId": "aad-sam"})
    command = parse_command(text)
    assert command.verb == Verb.ASSIGN and parse_mention(command.assignee) == ("aad-sam", "Sam Lee")


def test_card_data_to_commands():
    assert card_command({"npsbot": "claim", "n": 4}).number == 4
    close = card_command({"npsbot": "close", "n": "4", "close_outcome": "churned", "close_note": " gone "})
    assert (close.verb, close.outcome, close.text) == (Verb.CLOSE, Outcome.CHURNED, "gone")
    assert card_command({"npsbot": "close", "n": 4}).outcome == Outcome.RESOLVED
    with pytest.raises(CommandError):
        card_command({"npsbot": "note", "n": 4, "note_text": ""})
    with pytest.raises(CommandError):
        card_command({"npsbot": "close", "n": 4, "close_outcome": "bogus"})
    assert card_command({"npsbot": "delete", "n": 4}) is None
    assert card_command({"npsbot": "claim", "n": "x"}) is None


def test_reaction_mapping():
    assert reaction_name("like") == "eyes"
    assert reaction_name("1f440_eyes") == "eyes"
    assert reaction_name("2705_whiteheavycheckmark") == "white_check_mark"
    assert reaction_name("heart") is None and reaction_name("angry") is None


def test_thread_ids_belong_to_their_channel():
    assert base_conversation_id("19:a@thread.tacv2;messageid=17") == "19:a@thread.tacv2"
    assert base_conversation_id("a:1personal") == "a:1personal"


def test_pacer_keeps_teams_limits():
    pacer = Pacer()
    for i in range(7):
        assert pacer.wait_for("c", 100.0 + i * 0.01) == 0.0
        pacer.record("c", 100.0 + i * 0.01)
    assert 0.9 < pacer.wait_for("c", 100.1) <= 1.0  # an 8th message in the same second waits
    assert pacer.wait_for("other", 100.1) == 0.0  # limits are per conversation
    slow = Pacer()
    for i in range(60):
        slow.record("c", i * 0.4)  # 60 messages in 24 s: the 30-second window is full
    assert slow.wait_for("c", 24.0) == pytest.approx(30.0 - 24.0, abs=0.01)


class _Response:
    def __init__(self, status, headers=None):
        self.status_code, self.headers = status, headers or {}


class _HttpError(Exception):
    def __init__(self, status, headers=None):
        self.response = _Response(status, headers)


@pytest.mark.parametrize(("status", "headers", "permanent", "retry_after"), [
    (429, {"Retry-After": "12"}, False, 12.0),
    (412, {}, False, None),
    (502, {}, False, None),
    (504, {"Retry-After": "Wed, 21 Oct 2026 07:28:00 GMT"}, False, None),
    (403, {}, True, None),
    (404, {}, True, None),
    # Hostile values: clamped to 1 s-15 min, garbage (inf, nan) is absent (exponential backoff).
    (429, {"Retry-After": "inf"}, False, None),
    (429, {"Retry-After": "nan"}, False, None),
    (429, {"Retry-After": "1e12"}, False, 900.0),
    (429, {"Retry-After": "0"}, False, 1.0),
    (503, {"Retry-After": "-3"}, False, 1.0),
])
def test_http_errors_map_to_delivery_errors(status, headers, permanent, retry_after):
    error = delivery_error(_HttpError(status, headers))
    assert isinstance(error, DeliveryError)
    assert (error.permanent, error.retry_after, error.status) == (permanent, retry_after, status)


def test_package_zip(make_settings, tmp_path):
    settings = make_settings(MICROSOFT_APP_ID="c0ffee00-1111-2222-3333-444455556666")
    path = write_package(settings, tmp_path / "out" / "npsbot-teams.zip", public_url="https://nps.example.com/")
    with zipfile.ZipFile(path) as zf:
        assert sorted(zf.namelist()) == ["color.png", "manifest.json", "outline.png"]
        m = json.loads(zf.read("manifest.json"))
        color = Image.open(io.BytesIO(zf.read("color.png")))
        outline = Image.open(io.BytesIO(zf.read("outline.png")))
    assert m["manifestVersion"] == "1.22" and m["$schema"].endswith("/v1.22/MicrosoftTeams.schema.json")
    assert m["id"] == m["bots"][0]["botId"] == "c0ffee00-1111-2222-3333-444455556666"
    assert m["validDomains"] == ["token.botframework.com", "nps.example.com"]
    assert m["developer"]["websiteUrl"].startswith("https://")
    assert len(m["name"]["short"]) <= 30 and len(m["description"]["short"]) <= 80
    assert len(m["description"]["full"]) <= 4000
    assert set(m["bots"][0]["scopes"]) == {"team", "personal", "groupChat"}
    for command_list in m["bots"][0]["commandLists"]:
        assert len(command_list["commands"]) <= 10
        for c in command_list["commands"]:
            assert len(c["title"]) <= 32 and len(c["description"]) <= 128
            parse_command(c["title"])  # every menu entry is a command the bot understands
    assert color.size == (192, 192) and outline.size == (32, 32)
    # The outline icon is white on transparent; nothing else.
    pixels = [outline.getpixel((x, y)) for x in range(32) for y in range(32)]
    assert {px[3] for px in pixels} >= {0, 255}
    assert all(px[:3] == (255, 255, 255) for px in pixels if px[3])


def test_manifest_needs_an_app_id(make_settings):
    with pytest.raises(ValueError):
        manifest(make_settings())
    assert CHANNEL_COMMANDS and PERSONAL_COMMANDS


async def test_credentials_are_reused_between_connectors(make_settings):
    from botbuilder.integration.aiohttp import ConfigurationServiceClientCredentialFactory

    from handlers.teams import BotConfig
    from handlers.teams.credentials import CachedCredentialFactory

    config = BotConfig(make_settings(MICROSOFT_APP_ID="app", MICROSOFT_APP_PASSWORD="pw",
                                     MICROSOFT_APP_TENANT_ID="tenant"))
    factory = CachedCredentialFactory(ConfigurationServiceClientCredentialFactory(config))
    login = "https://login.microsoftonline.com"
    first = await factory.create_credentials("app", "https://api.botframework.com", login, True)
    again = await factory.create_credentials("app", "https://api.botframework.com", login, True)
    assert first is again
    assert not await factory.is_authentication_disabled()
