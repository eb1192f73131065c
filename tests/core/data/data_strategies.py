"""Hypothesis strategies for JSON-like data shared by the DATA agent's property tests."""

from __future__ import annotations

from hypothesis import strategies as st

ints = st.integers(min_value=-1000, max_value=1000)
floats = st.floats(min_value=-1e6, max_value=1e6, allow_nan=False, allow_infinity=False)
numbers = st.one_of(ints, floats)
texts = st.text(alphabet="abcXY z-1", max_size=6)
scalars = st.one_of(st.none(), st.booleans(), ints, floats, texts)

json_values = st.recursive(
    scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=4),
        st.dictionaries(st.sampled_from("abcde"), children, max_size=4),
    ),
    max_leaves=12,
)

KEYS = ("a", "b", "c", "d")
flat_records = st.dictionaries(st.sampled_from(KEYS), scalars, max_size=4)


def records_with(field: str, values: st.SearchStrategy[object], *, optional: bool = True):
    """Objects with an ``id`` (their position) and ``field`` drawn from ``values``."""
    value = st.one_of(st.just(None), values) if optional else values
    item = st.fixed_dictionaries({field: value}, optional={"x": scalars})
    if optional:
        item = st.one_of(item, st.fixed_dictionaries({}, optional={"x": scalars}))
    return st.lists(item, max_size=12).map(
        lambda items: [{**entry, "id": index} for index, entry in enumerate(items)]
    )
