"""The published figures the synthetic city is calibrated to: 潮州市, 2020.

Source: 《潮州市医疗保障事业发展“十四五”规划》 (../shared/seeds/001_2ccf5f778733905c.txt):
一、（一）发展基础 (insured counts, benefit ratios, subsidy, 大病 caps), 专栏 (fund income and
expenditure, policy-range inpatient shares, assistance share), 一、（二）面临挑战 (ageing,
retiree share and spending). Counts and money scale with the simulation's ``scale``; shares
do not. Where the plan gives no figure (the split of spending between the two schemes) the
value is an assumption, said so in ``source``.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

PLAN = "《潮州市医疗保障事业发展“十四五”规划》"


@dataclass(frozen=True, slots=True)
class Target:
    key: str
    name: str  # shown in the report
    value: Fraction  # a count, yuan, or a share (0–1)
    kind: str  # count | yuan | share
    source: str
    tolerance: Fraction  # relative for counts and money, absolute (fraction points) for shares


def _t(key: str, name: str, value: str, kind: str, where: str, tol: str = "0.10") -> Target:
    return Target(key, name, Fraction(value), kind, f"{PLAN}{where}", Fraction(tol))


BASIS, CHALLENGES, TABLE = "一、（一）发展基础", "一、（二）面临挑战", "专栏一 主要指标"

CHAOZHOU_2020: tuple[Target, ...] = (
    _t("insured_total", "基本医疗保险参保人数", "2663000", "count", BASIS),
    _t("insured_employee", "职工医保参保人数", "399800", "count", BASIS),
    _t("insured_resident", "居民医保参保人数", "2263200", "count", BASIS),
    _t("fund_income_yuan", "基本医疗保险基金收入", "2844000000", "yuan", TABLE),
    _t("fund_expenditure_yuan", "基本医疗保险基金支出", "2438000000", "yuan", TABLE),
    _t(
        "policy_range_inpatient_fund_share.employee",
        "职工政策范围内住院费用基金支付比例",
        "0.852",
        "share",
        TABLE,
        "0.03",
    ),
    _t(
        "policy_range_inpatient_fund_share.resident",
        "居民政策范围内住院费用基金支付比例",
        "0.70",
        "share",
        TABLE,
        "0.03",
    ),
    _t("assistance_share_for_key_groups", "重点救助对象符合规定的住院医疗费用救助比例", "0.80", "share", TABLE, "0.05"),
    _t("age_60_plus_share", "60岁及以上人口占比", "0.1917", "share", CHALLENGES, "0.03"),
    _t("age_65_plus_share", "65岁及以上人口占比", "0.1327", "share", CHALLENGES, "0.03"),
    _t("retiree_share", "职工医保参保人员中退休人员占比", "0.3029", "share", CHALLENGES, "0.03"),
    _t("retiree_share_of_employee_spending", "退休人员支出占职工医保待遇支出比例", "0.50", "share", CHALLENGES, "0.03"),
)


def target(key: str) -> Target:
    for t in CHAOZHOU_2020:
        if t.key == key:
            return t
    raise KeyError(key)


def scaled(t: Target, scale: Fraction) -> Fraction:
    """The target at ``scale`` of the city: counts and money scale, shares do not."""
    return t.value * scale if t.kind in ("count", "yuan") else t.value


def within(t: Target, result: Fraction, scale: Fraction) -> bool:
    expected = scaled(t, scale)
    if t.kind == "share":
        return abs(result - expected) <= t.tolerance
    return abs(result - expected) <= t.tolerance * expected
