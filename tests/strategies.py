"""Hypothesis strategies shared by the adversarial tests of every door."""

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

# Fixtures are function-scoped on purpose (a fresh database per test); examples share them.
door_settings = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])

scalars = st.one_of(st.none(), st.booleans(), st.integers(), st.text(max_size=20))
json_values = st.recursive(scalars, lambda kids: st.lists(kids, max_size=3) | st.dictionaries(
    st.text(max_size=8), kids, max_size=3), max_leaves=10)

# -- headers, encodings and nesting (issue 11: each of these once gave an unauthenticated 500) ------
# Header values as a client can send them: any Latin-1 text (aiohttp sends str headers as Latin-1),
# including non-ASCII bytes, empty strings and numbers in odd spellings.
header_values = st.one_of(
    st.text(alphabet=st.characters(min_codepoint=0x20, max_codepoint=0xFF, blacklist_characters="\x7f"),
            max_size=40),
    st.sampled_from(["", "abc", "-1", "1e9", "nan", "99999999999999999999", "v0=\xe9\xe9", "Bearer \xff",
                     "Bearer", "bearer  ", "gzip", "deflate, br"]),
)
# What a lying Content-Encoding may claim about a body that is not encoded that way.
content_encodings = st.sampled_from(["gzip", "deflate", "br", "x-unknown", "gzip, deflate", "identity"])


def nested(depth: int, kind: str = "list") -> bytes:
    """JSON nested `depth` deep: `[[[…]]]` or `{"a":{"a":…}}` (Python's parser gives up near 1,000)."""
    if kind == "list":
        return b"[" * depth + b"]" * depth
    return b'{"a":' * depth + b"1" + b"}" * depth


nesting = st.tuples(st.sampled_from([50, 900, 1_500, 10_000]), st.sampled_from(["list", "object"]))
