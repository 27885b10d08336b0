"""Typed parameter values: parse what a policy file says into exact Python values.

Amounts become integer fen, ratios basis points, scales :class:`Scale`; an amount
cap may be ``unlimited`` (不设封顶线), which is :data:`UNLIMITED` (``None``). A
``null`` value in a file means "abolished from this date" and is :data:`ABOLISHED`;
``inherit`` means "from this date follow the parent region again" (:data:`INHERIT`,
how a city hands a parameter over to the province under 省级统筹).
Every error names the file and the path inside it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date

from yibao.errors import InputError, PolicyFileError
from yibao.money import RATIO_ONE, fen_to_yuan, parse_ratio, ratio_to_str, yuan_to_fen
from yibao.policy.scale import Scale
from yibao.policy.schema import Kind

UNLIMITED = None
UNLIMITED_WORDS = ("unlimited", "不设封顶", "无封顶")


class _Marker:
    """A named singleton value that no parsed parameter can equal."""

    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return self.name


#: the parameter stops existing from this date (``value: null``)
ABOLISHED = _Marker("ABOLISHED")
#: from this date the region follows its parent again (``value: inherit``)
INHERIT = _Marker("INHERIT")
INHERIT_WORD = "inherit"


@dataclass(frozen=True, slots=True)
class Origin:
    """Where a value was written: the file and the path inside it."""

    file: str
    path: str

    def __str__(self) -> str:
        return f"{self.file}: {self.path}"


def fail(origin: Origin, reason: str) -> PolicyFileError:
    return PolicyFileError(origin.file, origin.path, reason)


def _amount(raw: object, origin: Origin) -> int:
    try:
        fen = yuan_to_fen(raw, origin.path)
    except InputError as e:
        raise fail(origin, e.reason) from None
    return fen


def _ratio(raw: object, origin: Origin) -> int:
    try:
        return parse_ratio(raw, origin.path)
    except InputError as e:
        raise fail(origin, e.reason) from None


def _unit_ratio(raw: object, origin: Origin) -> int:
    bp = _ratio(raw, origin)
    if not 0 <= bp <= RATIO_ONE:
        raise fail(origin, f"比例应在 0 与 1 之间：{raw!r}")
    return bp


def parse_scale(raw: object, origin: Origin) -> Scale:
    if not isinstance(raw, Sequence) or isinstance(raw, (str, bytes)) or not raw:
        raise fail(origin, "分段应为非空列表，每段为 {from: 金额, rate: 比例}")
    bands: list[tuple[int, int]] = []
    for i, band in enumerate(raw):
        where = Origin(origin.file, f"{origin.path}[{i}]")
        if not isinstance(band, Mapping) or set(band) != {"from", "rate"}:
            raise fail(where, "每段必须且只能有 from 与 rate 两项")
        lower = _amount(band["from"], Origin(where.file, where.path + ".from"))
        rate = _unit_ratio(band["rate"], Origin(where.file, where.path + ".rate"))
        if bands and lower <= bands[-1][0]:
            raise fail(where, "分段起点必须严格递增")
        if lower < 0:
            raise fail(where, "分段起点不能为负")
        bands.append((lower, rate))
    return Scale.of(bands)


def parse_value(kind: Kind, choices: tuple[str, ...], raw: object, origin: Origin) -> object:
    """Parse one value of ``kind``; ``None`` in the file is :data:`ABOLISHED`."""
    if raw is None:
        return ABOLISHED
    if isinstance(raw, str) and raw.strip() == INHERIT_WORD:
        return INHERIT
    if kind is Kind.AMOUNT or kind is Kind.AMOUNT_OR_UNLIMITED:
        if kind is Kind.AMOUNT_OR_UNLIMITED and isinstance(raw, str) and raw.strip() in UNLIMITED_WORDS:
            return UNLIMITED
        fen = _amount(raw, origin)
        if fen < 0:
            raise fail(origin, f"金额不能为负：{raw!r}")
        return fen
    if kind is Kind.RATIO:
        return _unit_ratio(raw, origin)
    if kind is Kind.RATIO_LIST:
        if not isinstance(raw, Sequence) or isinstance(raw, (str, bytes)) or not raw:
            raise fail(origin, "应为非空比例列表")
        return tuple(_unit_ratio(r, Origin(origin.file, f"{origin.path}[{i}]")) for i, r in enumerate(raw))
    if kind is Kind.SCALE:
        return parse_scale(raw, origin)
    if kind is Kind.ENUM:
        if raw not in choices:
            raise fail(origin, f"取值 {raw!r} 不在允许范围 {list(choices)} 内")
        return raw
    if kind is Kind.BOOL:
        if not isinstance(raw, bool):
            raise fail(origin, f"应为 true 或 false：{raw!r}")
        return raw
    if kind is Kind.CODE:
        if not isinstance(raw, (str, int)) or isinstance(raw, bool) or not str(raw).strip():
            raise fail(origin, f"应为代码字符串：{raw!r}")
        return str(raw).strip()
    if kind is Kind.COUNT:
        if not isinstance(raw, int) or isinstance(raw, bool) or raw < 0:
            raise fail(origin, f"应为非负整数：{raw!r}")
        return raw
    if kind is Kind.FACTOR:
        factor = _ratio(raw, origin)
        if factor < 0:
            raise fail(origin, f"系数不能为负：{raw!r}")
        return factor
    raise fail(origin, f"未知的参数类型 {kind}")


def to_json(kind: Kind, value: object) -> object:
    """The canonical JSON form of a value (yuan and ratios as decimal strings)."""
    if value is ABOLISHED:
        return None
    if value is INHERIT:
        return INHERIT_WORD
    if kind in (Kind.AMOUNT, Kind.AMOUNT_OR_UNLIMITED):
        return "unlimited" if value is None else fen_to_yuan(_int(value))
    if kind in (Kind.RATIO, Kind.FACTOR):
        return ratio_to_str(_int(value))
    if kind is Kind.RATIO_LIST:
        assert isinstance(value, tuple)
        return [ratio_to_str(_int(v)) for v in value]
    if kind is Kind.SCALE:
        assert isinstance(value, Scale)
        return value.to_json()
    return value


def describe(kind: Kind, value: object) -> str:
    """A short Chinese rendering for traces and ``policy show``."""
    if value is ABOLISHED:
        return "（已废止）"
    if value is INHERIT:
        return "（沿用上级）"
    if kind in (Kind.AMOUNT, Kind.AMOUNT_OR_UNLIMITED):
        return "不设封顶" if value is None else f"{fen_to_yuan(_int(value))}元"
    if kind in (Kind.RATIO, Kind.FACTOR):
        return f"{ratio_to_str(_int(value))}"
    if kind is Kind.RATIO_LIST:
        assert isinstance(value, tuple)
        return "、".join(ratio_to_str(_int(v)) for v in value)
    if kind is Kind.SCALE:
        assert isinstance(value, Scale)
        return value.describe()
    return str(value).lower() if isinstance(value, bool) else str(value)


def _int(value: object) -> int:
    assert isinstance(value, int)
    return value


def parse_date(raw: object, origin: Origin) -> date:
    if isinstance(raw, date):
        return raw
    if isinstance(raw, str):
        try:
            return date.fromisoformat(raw)
        except ValueError:
            pass
    raise fail(origin, f"生效日期应为 YYYY-MM-DD：{raw!r}")
