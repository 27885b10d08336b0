"""JSON out, strict: amounts as numbers with exactly two decimals (``12.50``), ratios with four.

The standard encoder would turn ``Decimal("12.50")`` into a string or a float; the national
interface wants ``numeric(16,2)`` numbers. Values are built as :class:`~decimal.Decimal`; the
C encoder writes each as a string between two marks, and two plain replacements take the marks
and the quotes away, leaving bare number tokens (input text can never hold a mark: NUL is refused
in every text field). A regular expression did the same at about five times the CPU.
"""

from __future__ import annotations

import json
from decimal import Decimal

from yibao.money import RATIO_ONE

_HUNDREDTH = Decimal("0.01")
_OPEN, _CLOSE = "\x00<", "\x00>"
#: how the encoder writes the marks with the quotes around the string
_OPENED, _CLOSED = '"\\u0000<', '\\u0000>"'


def amount(fen: int) -> Decimal:
    """Fen as a two-decimal yuan number."""
    return (Decimal(fen) / 100).quantize(_HUNDREDTH)


def ratio(bp: int) -> Decimal:
    return (Decimal(bp) / RATIO_ONE).quantize(Decimal("0.0001"))


def _default(value: object) -> object:
    if isinstance(value, Decimal) and value.is_finite():
        return _OPEN + format(value, "f") + _CLOSE
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def dumps(value: object) -> str:
    # ensure_ascii keeps an unpaired surrogate (never valid UTF-8) as an escape rather than failing
    text = json.dumps(value, ensure_ascii=False, default=_default, separators=(",", ":"))
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        text = json.dumps(value, ensure_ascii=True, default=_default, separators=(",", ":"))
    return text.replace(_OPENED, "").replace(_CLOSED, "")
