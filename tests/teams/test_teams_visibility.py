"""Visibility through the Teams door: from a personal chat, a follow-up alerted in a team channel is
shown only to people on that channel's roster (asked of the Bot Connector), and refused without
its content otherwise."""

from .conftest import CHANNEL, INJECTION, PERSONAL, card_of
from .test_teams_flow import alert_posted


async def test_a_personal_chat_sees_only_follow_ups_of_channels_on_whose_roster_the_person_is(teams):
    await alert_posted(teams)
    teams.connector.rosters[CHANNEL] = [{"id": "29:1someoneElse", "name": "Someone Else",
                                         "aadObjectId": "11111111-2222-3333-4444-555555555555"}]
    teams.connector.clear()
    await teams.post("message_personal", COMMAND="show 1")
    [answer] = teams.connector.replies(PERSONAL)
    assert "channels you are not in" in str(answer.body)
    assert INJECTION not in str(answer.body)
    teams.connector.clear()
    await teams.post("message_personal", COMMAND="open")
    listing = card_of(teams.connector.replies(PERSONAL)[0])
    assert "#1" not in str(listing)
