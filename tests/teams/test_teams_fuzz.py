"""Random and adversarial Teams activities POSTed to /api/messages: never a 5xx."""

from hypothesis import given
from hypothesis import strategies as st

from tests.strategies import content_encodings, header_values, json_values, nested, nesting
from tests.strategies import door_settings as hyp
from tests.teams.conftest import load_activity


@hyp
@given(text=st.text(max_size=80))
async def test_any_message_text_gets_an_answer(teams, text):
    body = load_activity("message_personal", teams.connector.url)
    body["text"] = text
    resp = await teams.client.post("/api/messages", json=body)
    assert resp.status < 500


@hyp
@given(value=json_values)
async def test_any_card_submit_value_is_handled(teams, value):
    body = load_activity("message_personal", teams.connector.url)
    body["text"] = None
    body["value"] = value
    resp = await teams.client.post("/api/messages", json=body)
    assert resp.status < 500


@hyp
@given(activity=st.dictionaries(st.sampled_from(["type", "name", "text", "value", "from", "conversation",
                                                 "channelData", "replyToId", "reactionsAdded", "id"]),
                                json_values, max_size=6))
async def test_any_activity_shape_never_causes_a_server_error(teams, activity):
    activity.setdefault("serviceUrl", teams.connector.url)
    resp = await teams.client.post("/api/messages", json=activity)
    assert resp.status < 500


@hyp
@given(auth=header_values, encoding=content_encodings, depth=nesting)
async def test_any_authorization_encoding_or_nesting_is_a_4xx(teams, auth, encoding, depth):
    resp = await teams.client.post("/api/messages", data=nested(*depth), headers={
        "Content-Type": "application/json", "Connection": "close", "Content-Encoding": encoding,
        "Authorization": auth})
    assert resp.status < 500
