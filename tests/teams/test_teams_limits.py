"""A Teams display name of 250 characters (Entra allows 256) is stored whole, on every database."""

from sqlalchemy import select

from storage.db import read_scope
from storage.models import Event, FollowUp

from .conftest import load_activity
from .test_teams_flow import alert_posted


async def test_a_250_character_display_name_claims_and_is_in_the_audit_trail(teams):
    await alert_posted(teams)
    body = load_activity("message_channel_mention", teams.connector.url, COMMAND="claim 1")
    long_name = "Ana " + "de la Vega " * 22
    long_name = long_name[:250]
    body["from"]["name"] = long_name
    response = await teams.client.post("/api/messages", json=body)
    assert response.status in (200, 201)
    with read_scope(teams.services.rt.engine) as s:
        fu = s.get(FollowUp, 1)
        assert (fu.status, fu.claimant_name) == ("claimed", long_name)
        assert long_name in set(s.execute(select(Event.actor_name)).scalars())
