"""JSON out, strict: amounts as numbers with exactly two decimals (``12.50``), ratios with four.

The standard encoder would turn ``Decimal("12.50")`` into a string or a float; the national
interface wants ``numeric(16,2)`` numbers. Values are built as :class:`~decimal.Decimal` and
written here as bare number tokens.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from decimal import Decimal

from yibao.money import RATIO_ONE

_HUNDREDTH = Decimal("0.01")
_SURROGATE = re.compile("[\ud800-\udfff]")


def amount(fen: int) -> Decimal:
    """Fen as a two-decimal yuan number."""
    return (Decimal(fen) / 100).quantize(_HUNDREDTH)


def ratio(bp: int) -> Decimal:
    return (Decimal(bp) / RATIO_ONE).quantize(Decimal("0.0001"))


def dumps(value: object) -> str:
    parts: list[str] = []
    _write(value, parts)
    return "".join(parts)


def _write(value: object, out: list[str]) -> None:
    if isinstance(value, Decimal):
        out.append(format(value, "f"))
    elif isinstance(value, Mapping):
        out.append("{")
        for i, (k, v) in enumerate(value.items()):
            if i:
                out.append(",")
            out.append(json.dumps(str(k), ensure_ascii=False))
            out.append(":")
            _write(v, out)
        out.append("}")
    elif isinstance(value, (list, tuple)) or (isinstance(value, Sequence) and not isinstance(value, (str, bytes))):
        out.append("[")
        for i, v in enumerate(value):
            if i:
                out.append(",")
            _write(v, out)
        out.append("]")
    elif isinstance(value, str) and _SURROGATE.search(value):
        out.append(json.dumps(value, ensure_ascii=True))  # an unpaired surrogate cannot be UTF-8
    else:
        out.append(json.dumps(value, ensure_ascii=False))
