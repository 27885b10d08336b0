"""Numbers and identifiers as a Chinese reader expects them in the report.

Amounts arrive as exact decimal yuan; they are shown in 元, 万元 or 亿元 by magnitude,
with thousands separators and two decimals, rounded half-up (display only — the exact
value stays in the data). Shares arrive as ratios (``"0.8520"``) and are shown as
percentages. ``None`` (a figure the demo did not report) is shown as ``—``.

>>> yuan(Decimal("9876.5"))
'9,876.50 元'
>>> yuan(Decimal("14220000"))
'1,422.00 万元'
>>> yuan(Decimal("2844000000"))
'28.44 亿元'
>>> yuan(Decimal("-12345.678"))
'-1.23 万元'
>>> percent(Decimal("0.8520"))
'85.20%'
>>> count(2663000)
'2,663,000'
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

from yibao.store.pii import mask_name

#: shown for a figure that is missing or cannot be computed (a share of zero)
MISSING = "—"

_WAN = Decimal(10_000)
_YI = Decimal(100_000_000)
_CENT = Decimal("0.01")


def fixed(value: Decimal, places: int) -> str:
    """``value`` rounded half-up to ``places`` decimals with thousands separators."""
    quantum = Decimal(1).scaleb(-places)
    rounded = value.quantize(quantum, rounding=ROUND_HALF_UP)
    if rounded == 0:
        rounded = rounded.copy_abs()  # no "-0.00"
    return f"{rounded:,.{places}f}"


def amount_unit(magnitude: Decimal) -> tuple[str, Decimal]:
    """The unit (元 / 万元 / 亿元) and divisor that suit amounts of this size."""
    size = abs(magnitude)
    if size >= _YI:
        return "亿元", _YI
    if size >= _WAN:
        return "万元", _WAN
    return "元", Decimal(1)


def yuan(value: Decimal | None) -> str:
    """An amount in the unit that suits its size: ``1,422.00 万元``."""
    if value is None:
        return MISSING
    unit, divisor = amount_unit(value)
    return f"{fixed(value / divisor, 2)} {unit}"


def in_unit(value: Decimal | None, divisor: Decimal) -> str:
    """An amount in a unit chosen for a whole column (see :func:`amount_unit`), without the unit.

    >>> in_unit(Decimal("458890.00"), Decimal(10_000))
    '45.89'
    """
    if value is None:
        return MISSING
    return fixed(value / divisor, 2)


def yuan_exact(value: Decimal | None) -> str:
    """An amount in 元 with two decimals: ``14,220,000.00``."""
    if value is None:
        return MISSING
    return fixed(value, 2)


def count(value: int | None) -> str:
    """A count with thousands separators: ``13,315``."""
    if value is None:
        return MISSING
    return f"{value:,}"


def people(value: Decimal | int | None) -> str:
    """A number of people: exact below a million, else in 万人 (``266.30 万人``)."""
    if value is None:
        return MISSING
    number = Decimal(value)
    if abs(number) >= Decimal(1_000_000):
        return f"{fixed(number / _WAN, 2)} 万人"
    return f"{fixed(number, 0)} 人"


def percent(share: Decimal | None, places: int = 2) -> str:
    """A ratio as a percentage: ``0.8520`` → ``85.20%``."""
    if share is None:
        return MISSING
    return f"{fixed(share * 100, places)}%"


def signed_percent(share: Decimal | None, places: int = 2) -> str:
    """A relative deviation with its sign: ``+0.04%``, ``-3.10%``."""
    if share is None:
        return MISSING
    text = percent(share, places)
    return text if text.startswith("-") else f"+{text}"


def ratio(numerator: Decimal | None, denominator: Decimal | None) -> Decimal | None:
    """``numerator / denominator``, or ``None`` when either is missing or the denominator is zero."""
    if numerator is None or denominator is None or denominator == 0:
        return None
    return numerator / denominator


def seconds(value: Decimal | None) -> str:
    """A duration: ``42.1 秒``, ``3 分 5.0 秒``."""
    if value is None:
        return MISSING
    if value < 60:
        return f"{fixed(value, 1)} 秒"
    minutes = int(value // 60)
    return f"{minutes:,} 分 {fixed(value - minutes * 60, 1)} 秒"


def scale(value: Decimal | None) -> str:
    """The sampling ratio of the synthetic city: ``0.005`` → ``0.5%（约 1:200）``."""
    if value is None or value <= 0:
        return MISSING
    one_in = (1 / value).quantize(Decimal(1), rounding=ROUND_HALF_UP)
    share = (value * 100).normalize()
    return f"{share:f}%（约 1:{one_in:,}）"


def round_cents(value: Decimal) -> Decimal:
    """``value`` rounded half-up to the fen."""
    return value.quantize(_CENT, rounding=ROUND_HALF_UP)


def masked_identifier(value: str) -> str:
    """A person number safe to print: kept if already masked, else middle characters hidden.

    The demo sends masked numbers (``4451****0001``: at least four ``*`` and at most eight
    characters shown); anything else is masked here, so that no full number is ever printed.

    >>> masked_identifier("4451****0001")
    '4451****0001'
    >>> masked_identifier("440102199001011234")
    '4401**********1234'
    >>> masked_identifier("440102199001011234****")
    '4401******************'
    >>> masked_identifier("12345")
    '*****'
    """
    text = value.strip()
    hidden = text.count("*")
    if hidden >= 4 and len(text) - hidden <= 8:
        return text
    if len(text) >= 12:
        return text[:4] + "*" * (len(text) - 8) + text[-4:]
    return "*" * len(text)


def masked_name(value: str) -> str:
    """A name safe to print: kept if already masked (at most two characters shown), else masked.

    >>> masked_name("张*")
    '张*'
    >>> masked_name("张三丰")
    '张*丰'
    """
    text = value.strip()
    shown = len(text) - text.count("*")
    if "*" in text and shown <= 2:
        return text
    return mask_name(text)
