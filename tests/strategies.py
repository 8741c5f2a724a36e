"""Hypothesis strategies shared by the adversarial tests of every door."""

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

# Fixtures are function-scoped on purpose (a fresh database per test); examples share them.
door_settings = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])

scalars = st.one_of(st.none(), st.booleans(), st.integers(), st.text(max_size=20))
json_values = st.recursive(scalars, lambda kids: st.lists(kids, max_size=3) | st.dictionaries(
    st.text(max_size=8), kids, max_size=3), max_leaves=10)
