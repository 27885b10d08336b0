"""Exact money and ratios.

Amounts are integer fen (分) everywhere inside yibao; decimal yuan with two places
appear only at the boundary (the national interface's ``numeric(16,2)``). Ratios are
integer basis points of 1/10000, exactly the precision of the interface's
``numeric(5,4)`` ratio fields, so ``0.95`` is ``9500``.

Rounding is half-up (half away from zero for negative amounts, which keeps a
reversal the exact negative of the original) and happens only where policy says:
once per fund payment, on the exact product.

>>> mul_ratio(12345, 9500)        # 123.45 yuan × 95% = 117.2775 → 117.28
11728
>>> mul_ratio(-12345, 9500)
-11728
>>> yuan_to_fen("24564.51", "hifp_pay")
2456451
>>> fen_to_yuan(-5)
'-0.05'
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

from yibao.errors import InputError

#: one whole in basis points (ratio 1.0000)
RATIO_ONE = 10_000
_HALF = RATIO_ONE // 2


def mul_ratio(amount: int, ratio_bp: int) -> int:
    """``amount × ratio`` rounded half-up to the fen (half away from zero)."""
    product = amount * ratio_bp
    if product >= 0:
        return (product + _HALF) // RATIO_ONE
    return -((-product + _HALF) // RATIO_ONE)


def round_div(numerator: int, denominator: int) -> int:
    """``numerator / denominator`` rounded half-up (away from zero); denominator > 0."""
    if numerator >= 0:
        return (2 * numerator + denominator) // (2 * denominator)
    return -((-2 * numerator + denominator) // (2 * denominator))


def _to_decimal(value: object, field: str) -> Decimal:
    if isinstance(value, bool):
        raise InputError(field, f"应为数值，收到布尔值 {value!r}")
    if isinstance(value, (int, Decimal, float)):
        # JSON numbers arrive as floats; their shortest repr is the decimal the sender wrote.
        result = Decimal(repr(value)) if isinstance(value, float) else Decimal(value)
        if not result.is_finite():
            raise InputError(field, f"不是有限数值：{value!r}")
        return _bounded(result, value, field)
    if isinstance(value, str):
        text = value.strip()
        if not text:
            raise InputError(field, "不能为空")
        try:
            result = Decimal(text)
        except InvalidOperation:
            raise InputError(field, f"不是合法的数值：{value!r}") from None
        if not result.is_finite():
            raise InputError(field, f"不是有限数值：{value!r}")
        return _bounded(result, value, field)
    raise InputError(field, f"应为数值，收到 {type(value).__name__}")


#: no amount, price or quantity in medical insurance comes near 10^12; beyond it is garbage input
_LIMIT = Decimal(10) ** 12


def _bounded(result: Decimal, raw: object, field: str) -> Decimal:
    if abs(result) >= _LIMIT:
        raise InputError(field, f"数值超出允许范围：{str(raw)[:30]}")
    return result


def yuan_to_fen(value: object, field: str) -> int:
    """Parse a yuan amount exactly into fen; more than two decimals is an error."""
    amount = _to_decimal(value, field)
    fen = amount * 100
    if fen != fen.to_integral_value():
        raise InputError(field, f"金额最多两位小数：{value!r}")
    return int(fen)


def decimal_to_fen_half_up(value: Decimal) -> int:
    """Round a decimal yuan amount (e.g. price × quantity) half-up to the fen."""
    scaled = value * 100
    whole = int(scaled)  # truncates toward zero
    frac = scaled - whole
    if frac >= Decimal("0.5"):
        whole += 1
    elif frac <= Decimal("-0.5"):
        whole -= 1
    return whole


def parse_decimal(value: object, field: str) -> Decimal:
    """Parse a decimal quantity or unit price exactly (no binary floats)."""
    return _to_decimal(value, field)


def parse_ratio(value: object, field: str) -> int:
    """Parse a ratio such as ``0.95`` or ``"0.9500"`` into basis points, exactly."""
    ratio = _to_decimal(value, field)
    scaled = ratio * RATIO_ONE
    if scaled != scaled.to_integral_value():
        raise InputError(field, f"比例最多四位小数：{value!r}")
    return int(scaled)


def fen_to_yuan(fen: int) -> str:
    """Format fen as a yuan string with exactly two decimals."""
    sign = "-" if fen < 0 else ""
    whole, cents = divmod(abs(fen), 100)
    return f"{sign}{whole}.{cents:02d}"


def percent(ratio_bp: int) -> str:
    """A ratio for people: ``9500`` → ``"95%"``, ``9250`` → ``"92.5%"``."""
    whole, frac = divmod(abs(ratio_bp), 100)
    sign = "-" if ratio_bp < 0 else ""
    return f"{sign}{whole}%" if frac == 0 else f"{sign}{whole}.{frac:02d}".rstrip("0") + "%"


def ratio_to_str(ratio_bp: int) -> str:
    """Format basis points as a four-decimal ratio string (``9500`` → ``"0.9500"``)."""
    sign = "-" if ratio_bp < 0 else ""
    whole, frac = divmod(abs(ratio_bp), RATIO_ONE)
    return f"{sign}{whole}.{frac:04d}"
