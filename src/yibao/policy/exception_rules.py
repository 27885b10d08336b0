"""Exceptions for special populations: labelled rules with priorities (Catala's default logic).

Policy text reads "报销比例为 X；退休人员提高 Y；低保、特困人员起付线减半；市外就医降低 Z".
Each clause after the first is an :class:`ExceptionRule`: it names the parameters it
adjusts (``applies_to``, ``*`` wildcards allowed), the condition under which it
applies (``when``), a ``priority`` and a dated ``effect``:

=======================  =======================================================
effect                   meaning
=======================  =======================================================
``set: v``               replace the value (``unlimited`` removes a cap)
``add: d``               add ``d`` (yuan for amounts; points such as 0.05 for ratios;
                         for a scale, to every band's rate)
``multiply: f``          multiply (amounts rounded half-up to the fen)
``personal_share_factor: f``  the person pays ``f`` × the ordinary personal share:
                         ratio' = 1 − f × (1 − ratio) ("退休人员个人负担为在职的60%")
``at_least: v`` / ``at_most: v``  a floor / ceiling (保底比例, 最高起付线)
=======================  =======================================================

Applicable exceptions apply one after another from the lowest priority to the
highest, so "retiree +5 points" (priority 10) and "out of area −10 points" (priority
20) both take effect in a stated order. Two applicable exceptions with the *same*
priority on one parameter are a :class:`~yibao.errors.RuleConflict`: the policy
file must say which comes first; the engine never picks silently.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from fnmatch import fnmatchcase

from yibao.errors import InputError, PolicyFileError
from yibao.money import RATIO_ONE, mul_ratio, parse_ratio, ratio_to_str, yuan_to_fen
from yibao.policy.context import Condition, RuleContext
from yibao.policy.scale import Scale
from yibao.policy.schema import Kind
from yibao.policy.values import UNLIMITED_WORDS, Origin, fail, parse_value

EFFECT_OPS = ("set", "add", "multiply", "personal_share_factor", "at_least", "at_most")

_ALLOWED: dict[str, tuple[Kind, ...]] = {
    "set": tuple(Kind),
    "add": (Kind.AMOUNT, Kind.AMOUNT_OR_UNLIMITED, Kind.RATIO, Kind.SCALE),
    "multiply": (Kind.AMOUNT, Kind.AMOUNT_OR_UNLIMITED, Kind.RATIO, Kind.SCALE),
    "personal_share_factor": (Kind.RATIO, Kind.SCALE),
    "at_least": (Kind.AMOUNT, Kind.AMOUNT_OR_UNLIMITED, Kind.RATIO),
    "at_most": (Kind.AMOUNT, Kind.AMOUNT_OR_UNLIMITED, Kind.RATIO),
}


@dataclass(frozen=True, slots=True)
class Effect:
    op: str
    operand: object
    origin: Origin


@dataclass(frozen=True, slots=True)
class DatedEffect:
    start: date
    effect: Effect | None  # None: the exception ends on this date
    source: str


@dataclass(frozen=True, slots=True)
class ExceptionRule:
    rule_id: str
    description: str
    applies_to: tuple[str, ...]
    when: Condition
    priority: int
    values: tuple[DatedEffect, ...]
    region: str
    origin: Origin

    def covers(self, path: str) -> bool:
        return any(fnmatchcase(path, pattern) for pattern in self.applies_to)

    def in_force(self, on: date) -> DatedEffect | None:
        found: DatedEffect | None = None
        for dated in self.values:
            if dated.start <= on:
                found = dated
            else:
                break
        return found if found is not None and found.effect is not None else None

    def applies(self, ctx: RuleContext) -> bool:
        return self.when.matches(ctx)


def _signed_amount(raw: object, origin: Origin) -> int:
    try:
        return yuan_to_fen(raw, origin.path)
    except InputError as e:
        raise fail(origin, e.reason) from None


def _factor(raw: object, origin: Origin) -> int:
    try:
        value = parse_ratio(raw, origin.path)
    except InputError as e:
        raise fail(origin, e.reason) from None
    if value < 0:
        raise fail(origin, "系数不能为负")
    return value


def _check_ratio(value: int, origin: Origin) -> int:
    if not 0 <= value <= RATIO_ONE:
        raise fail(origin, f"适用例外后比例超出 [0, 1]：{ratio_to_str(value)}")
    return value


def apply_effect(effect: Effect, kind: Kind, choices: tuple[str, ...], value: object) -> object:
    """The value after ``effect``; raises :class:`PolicyFileError` at the rule if it does not fit."""
    op, raw, origin = effect.op, effect.operand, effect.origin
    if kind not in _ALLOWED[op]:
        raise fail(origin, f"操作 {op} 不适用于 {kind.value} 类型的参数")
    if op == "set":
        if kind is Kind.AMOUNT_OR_UNLIMITED and isinstance(raw, str) and raw.strip() in UNLIMITED_WORDS:
            return None
        return parse_value(kind, choices, raw, origin)
    if kind is Kind.SCALE:
        assert isinstance(value, Scale)
        return _apply_to_scale(op, raw, origin, value)
    if value is None:  # an unlimited cap stays unlimited under add / multiply / bounds
        return None
    assert isinstance(value, int)
    if kind is Kind.RATIO:
        if op == "add":
            return _check_ratio(value + _signed_ratio(raw, origin), origin)
        if op == "multiply":
            return _check_ratio(mul_ratio(value, _factor(raw, origin)), origin)
        if op == "personal_share_factor":
            return _check_ratio(RATIO_ONE - mul_ratio(RATIO_ONE - value, _factor(raw, origin)), origin)
        bound = _signed_ratio(raw, origin)
        return max(value, bound) if op == "at_least" else min(value, bound)
    # amounts
    if op == "add":
        result = value + _signed_amount(raw, origin)
    elif op == "multiply":
        result = mul_ratio(value, _factor(raw, origin))
    else:
        bound = _signed_amount(raw, origin)
        result = max(value, bound) if op == "at_least" else min(value, bound)
    if result < 0:
        raise fail(origin, "适用例外后金额为负")
    return result


def _signed_ratio(raw: object, origin: Origin) -> int:
    try:
        return parse_ratio(raw, origin.path)
    except InputError as e:
        raise fail(origin, e.reason) from None


def _apply_to_scale(op: str, raw: object, origin: Origin, scale: Scale) -> Scale:
    if op == "add":
        delta = _signed_ratio(raw, origin)
        return scale.map_rates(lambda r: _check_ratio(r + delta, origin))
    factor = _factor(raw, origin)
    if op == "multiply":
        return scale.map_rates(lambda r: _check_ratio(mul_ratio(r, factor), origin))
    if op == "personal_share_factor":
        return scale.map_rates(lambda r: _check_ratio(RATIO_ONE - mul_ratio(RATIO_ONE - r, factor), origin))
    raise PolicyFileError(origin.file, origin.path, f"操作 {op} 不适用于分段")
