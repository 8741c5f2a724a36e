"""Random and adversarial Slack requests, signed like Slack signs them: never a 5xx, never a crash."""

import json

from hypothesis import given
from hypothesis import strategies as st

from tests.slack.conftest import fixture_json
from tests.strategies import content_encodings, header_values, json_values, nested, nesting
from tests.strategies import door_settings as hyp


@hyp
@given(text=st.text(max_size=80))
async def test_any_slash_command_text_is_acked(slack, text):
    resp, _ = await slack.command(text)
    assert resp.status == 200


@hyp
@given(action_id=st.sampled_from(["followup.claim", "followup.note", "followup.close", "followup.reopen",
                                  "nonsense", ""]),
       value=st.one_of(st.text(max_size=12), st.integers(-5, 10**12).map(str)))
async def test_any_button_value_is_acked(slack, action_id, value):
    payload = fixture_json("block_actions.json")
    payload["actions"][0].update(action_id=action_id, value=value)
    resp = await slack.interactive(payload)
    assert resp.status < 500


@hyp
@given(payload=json_values)
async def test_any_interactive_payload_shape_never_causes_a_server_error(slack, payload):
    resp = await slack.interactive(payload if isinstance(payload, dict) else {"type": payload})
    assert resp.status < 500


@hyp
@given(event=st.fixed_dictionaries({"type": st.sampled_from(["event_callback", "url_verification", "x"])},
                                   optional={"event_id": st.text(max_size=10), "event": json_values,
                                             "challenge": st.text(max_size=10)}))
async def test_any_event_envelope_never_causes_a_server_error(slack, event):
    resp = await slack.post(json.dumps(event), "application/json")
    assert resp.status < 500


async def test_a_view_submission_with_forged_metadata_is_refused_cleanly(slack):
    payload = slack.submission("followup.note", 1, note="hi")
    payload["view"]["private_metadata"] = "{not json"
    resp = await slack.interactive(payload)
    assert resp.status < 500


@hyp
@given(timestamp=header_values, signature=header_values, encoding=content_encodings, depth=nesting)
async def test_any_signature_headers_encoding_or_nesting_is_a_4xx(slack, timestamp, signature, encoding, depth):
    body = nested(*depth)
    resp = await slack.http.post("/slack/events", data=body, headers={
        "Content-Type": "application/json", "Connection": "close", "Content-Encoding": encoding,
        "X-Slack-Request-Timestamp": timestamp, "X-Slack-Signature": signature})
    assert 400 <= resp.status < 500


@hyp
@given(depth=nesting)
async def test_signed_json_nested_deep_is_a_4xx(slack, depth):
    resp = await slack.post(nested(*depth).decode(), "application/json", extra={"Connection": "close"})
    assert resp.status < 500
