"""Catalogues (三个目录 + 医用耗材): items, their class, self-pay-first ratio, price cap, restrictions.

One :class:`CatalogItem` per item code and validity period. The class is 甲/乙/丙
(``chrgitm_lv`` 01/02/03); a 乙类 item has a self-pay-first ratio (先行自付比例)
that may differ by person type (e.g. retirees 8% where others pay 10%); a payment
standard (支付标准 — for 集采 drugs, the procurement price) caps the unit price the
funds recognise; restrictions (sex, age, visit type, hospital level, indication)
turn a line into full self-pay when they are not met.

Rows come from CSV or Excel files through :mod:`yibao.io.catalog_files`; this module
parses one row (a mapping of column → text) and knows both the English column names
and the Chinese headers agencies use.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from yibao.errors import CatalogError, InputError
from yibao.money import RATIO_ONE, parse_decimal, parse_ratio

CLASS_A, CLASS_B, CLASS_C = 1, 2, 3
KINDS = ("drug", "service", "material", "facility")

_KIND_WORDS = {
    "drug": "drug",
    "药品": "drug",
    "西药": "drug",
    "中成药": "drug",
    "中药饮片": "drug",
    "service": "service",
    "诊疗项目": "service",
    "医疗服务项目": "service",
    "material": "material",
    "医用耗材": "material",
    "耗材": "material",
    "facility": "facility",
    "服务设施": "facility",
    "医疗服务设施": "facility",
}
_CLASS_WORDS = {
    "01": CLASS_A,
    "1": CLASS_A,
    "甲": CLASS_A,
    "甲类": CLASS_A,
    "a": CLASS_A,
    "02": CLASS_B,
    "2": CLASS_B,
    "乙": CLASS_B,
    "乙类": CLASS_B,
    "b": CLASS_B,
    "03": CLASS_C,
    "3": CLASS_C,
    "丙": CLASS_C,
    "丙类": CLASS_C,
    "c": CLASS_C,
    "自费": CLASS_C,
}
_SEX_WORDS = {"male": "male", "男": "male", "1": "male", "female": "female", "女": "female", "2": "female"}
_VISIT_WORDS = {
    "inpatient": "inpatient",
    "住院": "inpatient",
    "outpatient": "outpatient",
    "门诊": "outpatient",
    "chronic": "chronic",
    "门诊慢特病": "chronic",
    "慢特病": "chronic",
    "pharmacy": "pharmacy",
    "药店": "pharmacy",
    "药店购药": "pharmacy",
}
_BOOL_WORDS = {"1": True, "是": True, "true": True, "y": True, "0": False, "否": False, "false": False, "n": False}

#: Chinese header → canonical column
HEADER_ALIASES: dict[str, str] = {
    "医保目录编码": "code",
    "编码": "code",
    "项目编码": "code",
    "医保编码": "code",
    "名称": "name",
    "项目名称": "name",
    "药品名称": "name",
    "通用名": "name",
    "目录类别": "kind",
    "类别": "kind",
    "收费项目等级": "class",
    "甲乙类": "class",
    "等级": "class",
    "先行自付比例": "self_pay_first_ratio",
    "自付比例": "self_pay_first_ratio",
    "退休人员先行自付比例": "self_pay_first_ratio:retiree",
    "支付标准": "payment_standard",
    "限价": "payment_standard",
    "最高限价": "payment_standard",
    "限定性别": "sex",
    "最小年龄": "age_min",
    "最大年龄": "age_max",
    "限定就医类型": "visit_types",
    "最低医院等级": "min_hospital_level",
    "限定医院等级": "min_hospital_level",
    "限定适应症": "indication_required",
    "开始日期": "valid_from",
    "结束日期": "valid_to",
}
COLUMNS = (
    "code",
    "name",
    "kind",
    "class",
    "self_pay_first_ratio",
    "payment_standard",
    "sex",
    "age_min",
    "age_max",
    "visit_types",
    "min_hospital_level",
    "indication_required",
    "valid_from",
    "valid_to",
)
_PERSON_RATIO_PREFIX = "self_pay_first_ratio:"
PERSON_RATIO_PREFIX = _PERSON_RATIO_PREFIX  # a per-person-type column: self_pay_first_ratio:retiree


@dataclass(frozen=True, slots=True)
class CatalogItem:
    code: str
    name: str
    kind: str
    item_class: int
    self_pay_first_ratio: int | None  # basis points; None → the policy's default for 乙类
    ratio_by_person_type: tuple[tuple[str, int], ...]
    payment_standard: Decimal | None  # yuan per unit
    sex: str | None
    age_min: int | None
    age_max: int | None
    visit_types: frozenset[str] | None
    min_hospital_level: int | None
    indication_required: bool
    valid_from: date | None
    valid_to: date | None
    region: str
    #: whether any restriction is set (derived; kept as a field because every fee line asks)
    restricted: bool = field(init=False)

    def __post_init__(self) -> None:
        restricted = (
            self.sex is not None
            or self.age_min is not None
            or self.age_max is not None
            or self.visit_types is not None
            or self.min_hospital_level is not None
            or self.indication_required
        )
        object.__setattr__(self, "restricted", restricted)

    def valid_on(self, on: date) -> bool:
        return (self.valid_from is None or self.valid_from <= on) and (self.valid_to is None or on <= self.valid_to)


def canonical_header(header: str) -> str:
    text = header.strip()
    return HEADER_ALIASES.get(text, text.lower())


def _text(row: Mapping[str, object], key: str) -> str:
    value = row.get(key)
    return "" if value is None else str(value).strip()


def parse_row(row: Mapping[str, object], file: str, line: int, region: str) -> CatalogItem:
    """Parse one catalogue row; raises :class:`CatalogError` naming the file, row and column."""

    def err(column: str, reason: str) -> CatalogError:
        return CatalogError(file, line, column, reason)

    unknown = [k for k in row if k not in COLUMNS and not k.startswith(_PERSON_RATIO_PREFIX)]
    if unknown:
        raise err(unknown[0], f"未知的列；允许的列：{list(COLUMNS)}")
    code = _text(row, "code")
    if not code:
        raise err("code", "缺少项目编码")
    name = _text(row, "name") or code
    kind_text = _text(row, "kind").lower()
    kind = _KIND_WORDS.get(kind_text, "") if kind_text else "drug"
    if not kind:
        raise err("kind", f"未知的目录类别 {kind_text!r}")
    class_text = _text(row, "class").lower()
    if class_text not in _CLASS_WORDS:
        raise err("class", f"收费项目等级应为 甲/乙/丙 或 01/02/03，收到 {class_text!r}")
    item_class = _CLASS_WORDS[class_text]

    def ratio(column: str) -> int | None:
        text = _text(row, column)
        if not text:
            return None
        try:
            value = parse_ratio(text.rstrip("%"), column) if not text.endswith("%") else _percent(text)
        except InputError as e:
            raise err(column, e.reason) from None
        if not 0 <= value <= RATIO_ONE:
            raise err(column, "比例应在 0 与 1 之间")
        return value

    def _percent(text: str) -> int:
        return parse_ratio(parse_decimal(text[:-1], "%").scaleb(-2), "%")

    spf = ratio("self_pay_first_ratio")
    by_type = []
    for key in sorted(k for k in row if k.startswith(_PERSON_RATIO_PREFIX)):
        value = ratio(key)
        if value is not None:
            by_type.append((key[len(_PERSON_RATIO_PREFIX) :], value))
    if item_class != CLASS_B and (spf or by_type):
        raise err("self_pay_first_ratio", "只有乙类项目可以设先行自付比例")

    standard_text = _text(row, "payment_standard")
    standard: Decimal | None = None
    if standard_text:
        try:
            standard = parse_decimal(standard_text, "payment_standard")
        except InputError as e:
            raise err("payment_standard", e.reason) from None
        if standard < 0:
            raise err("payment_standard", "支付标准不能为负")

    sex_text = _text(row, "sex").lower()
    sex = _SEX_WORDS.get(sex_text) if sex_text else None
    if sex_text and sex is None:
        raise err("sex", f"限定性别应为 男/女，收到 {sex_text!r}")

    def integer(column: str) -> int | None:
        text = _text(row, column)
        if not text:
            return None
        if not text.isdigit():
            raise err(column, f"应为非负整数，收到 {text!r}")
        return int(text)

    visit_text = _text(row, "visit_types")
    visits: frozenset[str] | None = None
    if visit_text:
        words = [w.strip() for w in visit_text.replace("；", ";").replace(",", ";").split(";") if w.strip()]
        if any(w.lower() not in _VISIT_WORDS and w not in _VISIT_WORDS for w in words):
            raise err("visit_types", f"限定就医类型应为 住院/门诊/门诊慢特病/药店，收到 {visit_text!r}")
        visits = frozenset(_VISIT_WORDS.get(w.lower(), _VISIT_WORDS.get(w, "")) for w in words)
    level = integer("min_hospital_level")
    if level is not None and level > 3:
        raise err("min_hospital_level", "医院等级应为 0–3")
    ind_text = _text(row, "indication_required").lower()
    if ind_text and ind_text not in _BOOL_WORDS:
        raise err("indication_required", f"应为 是/否，收到 {ind_text!r}")

    def day(column: str) -> date | None:
        text = _text(row, column)
        if not text:
            return None
        try:
            return date.fromisoformat(text[:10])
        except ValueError:
            raise err(column, f"日期应为 YYYY-MM-DD，收到 {text!r}") from None

    valid_from, valid_to = day("valid_from"), day("valid_to")
    if valid_from and valid_to and valid_to < valid_from:
        raise err("valid_to", "结束日期早于开始日期")
    return CatalogItem(
        code=code,
        name=name,
        kind=kind,
        item_class=item_class,
        self_pay_first_ratio=spf,
        ratio_by_person_type=tuple(by_type),
        payment_standard=standard,
        sex=sex,
        age_min=integer("age_min"),
        age_max=integer("age_max"),
        visit_types=visits,
        min_hospital_level=level,
        indication_required=_BOOL_WORDS.get(ind_text, False),
        valid_from=valid_from,
        valid_to=valid_to,
        region=region,
    )


def item_key(item: CatalogItem) -> tuple[object, ...]:
    """A canonical tuple for hashing a catalogue into the snapshot id."""
    return (
        item.region,
        item.code,
        item.name,
        item.kind,
        item.item_class,
        item.self_pay_first_ratio,
        item.ratio_by_person_type,
        str(item.payment_standard),
        item.sex,
        item.age_min,
        item.age_max,
        sorted(item.visit_types or ()),
        item.min_hospital_level,
        item.indication_required,
        str(item.valid_from),
        str(item.valid_to),
    )
