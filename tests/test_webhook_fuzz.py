"""Random and adversarial webhook bodies: never a 5xx, and nothing stored from a refused request."""

import json

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from storage.db import read_scope
from storage.models import Customer, Response
from tests.strategies import content_encodings, header_values, nested, nesting

AUTH = {"Authorization": "Bearer test-token", "Content-Type": "application/json"}

scalars = st.one_of(st.none(), st.booleans(), st.integers(-10**20, 10**20), st.floats(allow_nan=True),
                    st.text(max_size=30))
json_values = st.recursive(scalars, lambda kids: st.lists(kids, max_size=4) | st.dictionaries(
    st.text(max_size=8), kids, max_size=4), max_leaves=12)
near_valid = st.fixed_dictionaries(
    {"id": st.one_of(st.text(max_size=250), st.integers(), st.none(), st.booleans()),
     "score": st.one_of(st.integers(-3, 14), st.floats(), st.text(max_size=3), st.none(), st.booleans())},
    optional={"comment": st.one_of(st.text(max_size=50), st.integers()),
              "submitted_at": st.one_of(st.text(max_size=30), st.just("2026-11-20T10:00:00Z"),
                                        st.just("3026-01-01T00:00:00Z"), st.integers()),
              "customer": st.one_of(json_values, st.fixed_dictionaries(
                  {}, optional={"id": st.text(max_size=5), "arr": scalars, "segment": scalars})),
              "tags": json_values, "source": st.one_of(st.text(max_size=120), st.integers())},
)
bodies = st.one_of(json_values, near_valid, st.lists(near_valid, max_size=5))


def stored(rt) -> tuple[int, int]:
    with read_scope(rt.engine) as s:
        return (s.execute(select(func.count()).select_from(Response)).scalar_one(),
                s.execute(select(func.count()).select_from(Customer)).scalar_one())


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=bodies)
async def test_random_bodies_get_a_clear_answer_and_refusals_store_nothing(http, rt, body):
    before = stored(rt)
    resp = await http.post("/webhooks/responses", data=json.dumps(body), headers=AUTH)
    assert resp.status in (202, 400, 422), await resp.text()
    payload = await resp.json()
    if resp.status == 202:
        assert set(payload) == {"accepted", "duplicates"}
    else:
        assert stored(rt) == before
        assert payload["errors"] and all(e["message"] and e["field"] for e in payload["errors"])


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(raw=st.binary(max_size=200))
async def test_random_bytes_never_cause_a_server_error(http, rt, raw):
    resp = await http.post("/webhooks/responses", data=raw, headers=AUTH)
    assert resp.status < 500


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(auth=header_values, encoding=content_encodings, depth=nesting, authed=st.booleans())
async def test_any_header_encoding_or_nesting_is_a_4xx_and_stores_nothing(http, rt, auth, encoding, depth, authed):
    headers = {"Content-Type": "application/json", "Connection": "close", "Content-Encoding": encoding,
               "Authorization": "Bearer test-token" if authed else auth}
    before = stored(rt)
    resp = await http.post("/webhooks/responses", data=nested(*depth), headers=headers)
    assert resp.status < 500
    assert stored(rt) == before
