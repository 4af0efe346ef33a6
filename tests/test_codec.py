"""The JSON codec: fast where orjson is exact, the standard parser where it is not."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from jobqueue import codec

JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=20,
)


def _same(a: Any, b: Any) -> bool:
    """Equal, and of the same types all the way down (1 is not 1.0 here)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, list):
        return len(a) == len(b) and all(map(_same, a, b))
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(_same(a[key], b[key]) for key in a)
    return bool(a == b)


@given(JSON_VALUES)
def test_any_value_reads_back_as_the_standard_parser_reads_it(value: Any) -> None:
    text = json.dumps(value)
    assert _same(codec.loads(text.encode()), json.loads(text))


@pytest.mark.parametrize(
    "number",
    [2**63 - 1, 2**63, 2**64 - 1, 2**64, -(2**63), -(2**63) - 1, 10**18, -(10**19), 10**40],
)
def test_integers_at_and_past_64_bits_stay_exact_integers(number: int) -> None:
    assert _same(codec.loads(f'{{"n": [{number}]}}'.encode()), {"n": [number]})


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (b"NaN", "NaN is not valid JSON"),
        (b"[Infinity]", "Infinity is not valid JSON"),
        (b"1e400", "out of range"),
        (b'{"a" 1}', "Expecting ':' delimiter: line 1 column 6"),
        (b"\xc3\x28", "not valid UTF-8"),
    ],
)
def test_what_is_not_exact_json_is_refused_naming_the_problem(text: bytes, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        codec.loads(text)
