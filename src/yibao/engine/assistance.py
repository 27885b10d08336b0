"""Medical assistance (医疗救助) by category, and tilted assistance (倾斜救助).

Basic assistance pays a ratio of the policy-range personal burden left after basic
insurance and 大病, above an annual assistance deductible, within annual limits for
outpatient and for inpatient care (门诊慢特病 counts with inpatient) and an optional
overall limit (national frame: 国办发〔2021〕42号; parameter sets: benefit-rules.md §1.5).

Tilted assistance then pays a ratio of what is still left above its own threshold —
per settlement, or on the year's cumulative residual — up to its own annual limit.
Both are paid from the assistance fund (``maf_pay``); tilted assistance is shown as
its own ``setldetail`` row (610102, 医疗再救助).
"""

from __future__ import annotations

from dataclasses import dataclass

from yibao.engine.model import CHRONIC, INPATIENT
from yibao.engine.terms import Reader
from yibao.engine.trace import Trace, yuan
from yibao.money import mul_ratio, percent

RULE = "assistance@1"
RULE_TILTED = "tilted_assistance@1"


@dataclass(slots=True)
class AssistanceOutcome:
    base: int
    deductible_used: int
    pay: int
    inpatient_class: bool
    limit_available: int | None


def _room(limit: int | None, used: int) -> int | None:
    return None if limit is None else max(0, limit - used)


def assistance(
    terms: Reader,
    category: str,
    visit_type: str,
    base: int,
    deductible_before: int,
    paid_outpatient: int,
    paid_inpatient: int,
    trace: Trace | None,
) -> AssistanceOutcome | None:
    prefix = f"assistance.{category}"
    if category == "none" or not terms.has(f"{prefix}.ratio"):
        return None
    inpatient_class = visit_type in (INPATIENT, CHRONIC)
    deductible = terms.amount(f"{prefix}.deductible") if terms.has(f"{prefix}.deductible") else 0
    due = max(0, deductible - deductible_before)
    base = max(0, base)
    used = min(base, due)
    ratio = terms.ratio(f"{prefix}.ratio")
    raw = mul_ratio(base - used, ratio)
    class_limit = terms.cap(f"{prefix}.limit.{'inpatient' if inpatient_class else 'outpatient'}")
    total_limit = terms.cap(f"{prefix}.limit.total")
    rooms = [
        r
        for r in (
            _room(class_limit, paid_inpatient if inpatient_class else paid_outpatient),
            _room(total_limit, paid_inpatient + paid_outpatient),
        )
        if r is not None
    ]
    available = min(rooms) if rooms else None
    pay = raw if available is None else min(raw, available)
    if trace:
        trace.add(
            "assistance",
            RULE,
            f"医疗救助（{category}）：救助基数{yuan(base)}，救助起付线{yuan(deductible)}（本年已付{yuan(deductible_before)}，"
            f"本次计入{yuan(used)}），按{percent(ratio)}救助{yuan(raw)}"
            + ("" if available is None else f"，本年剩余限额{yuan(available)}")
            + f"。救助支付{yuan(pay)}。",
            terms.uses(
                f"{prefix}.deductible",
                f"{prefix}.ratio",
                f"{prefix}.limit.{'inpatient' if inpatient_class else 'outpatient'}",
                f"{prefix}.limit.total",
            ),
            {"base": base, "deductible_before": deductible_before},
            {"assistance_pay": pay, "deductible_used": used},
        )
    return AssistanceOutcome(base, used, pay, inpatient_class, available)


@dataclass(slots=True)
class TiltedOutcome:
    base: int
    pay: int
    limit_available: int | None


def tilted_assistance(
    terms: Reader,
    category: str,
    residual: int,
    base_before: int,
    paid_before: int,
    trace: Trace | None,
) -> TiltedOutcome | None:
    prefix = f"tilted_assistance.{category}"
    if category == "none" or not terms.has(f"{prefix}.ratio"):
        return None
    threshold = terms.amount(f"{prefix}.threshold")
    ratio = terms.ratio(f"{prefix}.ratio")
    limit = terms.cap(f"{prefix}.limit")
    annual = terms.choice("tilted_assistance.scope", "per_settlement") == "annual"
    residual = max(0, residual)
    if annual:
        eligible = max(0, base_before + residual - threshold) - max(0, base_before - threshold)
    else:
        eligible = max(0, residual - threshold)
    raw = mul_ratio(eligible, ratio)
    available = _room(limit, paid_before)
    pay = raw if available is None else min(raw, available)
    if trace:
        trace.add(
            "tilted_assistance",
            RULE_TILTED,
            f"倾斜救助（{category}）：经基本医保、大病保险、医疗救助后个人负担{yuan(residual)}，"
            + (f"本年累计{yuan(base_before + residual)}，" if annual else "")
            + f"超过{yuan(threshold)}的部分{yuan(eligible)}按{percent(ratio)}救助"
            + ("" if available is None else f"，本年剩余限额{yuan(available)}")
            + f"。倾斜救助支付{yuan(pay)}。",
            terms.uses(f"{prefix}.threshold", f"{prefix}.ratio", f"{prefix}.limit", "tilted_assistance.scope"),
            {"residual": residual, "base_before": base_before, "paid_before": paid_before},
            {"tilted_assistance_pay": pay},
        )
    return TiltedOutcome(residual, pay, available)
