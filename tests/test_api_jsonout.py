"""The answer's JSON: amounts are bare number tokens with exactly the digits given (``12.50``,
not ``"12.50"`` or ``12.5``), and every other value comes back as the standard encoder writes it —
whatever text sits beside the amounts (quotes, backslashes, the look of an escaped mark)."""

from __future__ import annotations

import json
import re
from decimal import Decimal

from hypothesis import example, given
from hypothesis import strategies as st

from yibao.api.jsonout import amount, dumps

# the service refuses NUL in every text field, so no answer holds one
texts = st.text().filter(lambda t: "\x00" not in t)
decimals = st.decimals(allow_nan=False, allow_infinity=False, places=4, min_value=-(10**12), max_value=10**12)
values = st.recursive(
    st.none() | st.booleans() | st.integers() | texts | decimals,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(texts, inner, max_size=4),
    max_leaves=25,
)


def decimals_in(value: object) -> list[Decimal]:
    if isinstance(value, Decimal):
        return [value]
    if isinstance(value, list):
        return [d for v in value for d in decimals_in(v)]
    if isinstance(value, dict):
        return [d for v in value.values() for d in decimals_in(v)]
    return []


@given(values)
@example({"k": '"\\u0000<1.00\\u0000>"', "a": Decimal("1.00")})
@example(["\ud800", Decimal("-0.10")])  # an unpaired surrogate: the ASCII-escaped fallback
def test_amounts_are_bare_numbers_and_the_rest_is_standard_json(value: object) -> None:
    text = dumps(value)
    assert json.loads(text, parse_float=Decimal) == value
    tokens = re.findall(r'(?<![\w."\\])-?[0-9]+(?:\.[0-9]+)?(?![\w."])', text)
    for d in decimals_in(value):
        assert format(d, "f") in tokens  # the digits as given, trailing zeros kept


def test_an_amount_has_two_decimals() -> None:
    assert (
        dumps({"setl": amount(1250), "zero": amount(0), "neg": amount(-5)}) == '{"setl":12.50,"zero":0.00,"neg":-0.05}'
    )
