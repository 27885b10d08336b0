"""Deductible (起付线): how much of the policy-range amount the person pays first.

Rules (benefit-rules.md §1.2), in the order they apply:

1. the amount for the hospital level, after exceptions (special groups 50%, 90+ none …);
2. a transfer up a level (转院) charges only the difference between the two levels'
   deductibles, and nothing when moving to the same or a lower level — no further
   reductions apply to a transfer;
3. otherwise, later admissions in the year are reduced: ``percentage`` (every later
   admission at p), ``schedule`` (2nd at s[1], 3rd and later at s[2] …), or
   ``fixed_step`` (each later admission 100 元 less, down to a floor per level);
4. day surgery (日间手术) takes a fixed reduction;
5. ``annual`` mode: what was already paid this year counts against the amount
   (Shanghai's annual cumulative deductible; with per-level amounts this is also
   "one deductible a year, at the highest level used");
6. the deductible actually paid is at most the policy-range amount.
"""

from __future__ import annotations

from yibao.engine.model import Claim
from yibao.engine.terms import Reader
from yibao.engine.trace import Trace, adjusted, yuan
from yibao.money import mul_ratio, percent
from yibao.policy.resolved import ParamUse

RULE = "deductible.inpatient@1"


def inpatient_deductible(
    terms: Reader,
    claim: Claim,
    scheme: str,
    admissions_before: int,
    paid_before: int,
    policy_range: int,
    trace: Trace | None,
) -> int:
    """The deductible actually paid (``act_pay_dedc``) for this admission."""
    base = f"{scheme}.inpatient.deductible"
    level = f"level_{claim.hospital_level}"
    amount = terms.amount(f"{base}.{level}")
    notes: list[str] = []
    if trace:
        notes.append(f"{_level_name(claim.hospital_level)}起付线{yuan(amount)}{adjusted(terms.use(f'{base}.{level}'))}")
    params: list[ParamUse] = [terms.use(f"{base}.{level}")] if trace else []
    mode = terms.choice(f"{base}.mode", "per_admission")
    ordinal = admissions_before + 1

    if claim.transfer_from_level is not None:
        from_amount = terms.amount(f"{base}.level_{claim.transfer_from_level}")
        amount = max(0, amount - from_amount)
        notes.append(f"转院，只补差额（转出医院起付线{yuan(from_amount)}）→ {yuan(amount)}")
        if trace:
            params.append(terms.use(f"{base}.level_{claim.transfer_from_level}"))
    else:
        later = terms.choice(f"{base}.later_admission.mode", "none")
        if later != "none" and ordinal > 1 and mode == "per_admission":
            if later == "percentage":
                pct = terms.ratio(f"{base}.later_admission.percentage")
                amount = mul_ratio(amount, pct)
                notes.append(f"本年第{ordinal}次住院，按{percent(pct)}计 → {yuan(amount)}")
            elif later == "schedule":
                schedule = terms.ratios(f"{base}.later_admission.schedule")
                factor = schedule[min(ordinal - 1, len(schedule) - 1)]
                amount = mul_ratio(amount, factor)
                notes.append(f"本年第{ordinal}次住院，按{percent(factor)}计 → {yuan(amount)}")
            else:
                step = terms.amount(f"{base}.later_admission.step")
                floor = terms.amount(f"{base}.later_admission.floor.{level}")
                amount = max(min(floor, amount), amount - step * (ordinal - 1))
                notes.append(f"本年第{ordinal}次住院，每次降低{yuan(step)}、最低{yuan(floor)} → {yuan(amount)}")
            if trace:
                params.extend(terms.uses(f"{base}.later_admission.mode", f"{base}.later_admission.{later}"))
                if later == "fixed_step":
                    params.extend(terms.uses(f"{base}.later_admission.floor.{level}"))
        if claim.day_surgery and terms.has(f"{base}.day_surgery_reduction"):
            cut = terms.amount(f"{base}.day_surgery_reduction")
            amount = max(0, amount - cut)
            notes.append(f"日间手术减{yuan(cut)} → {yuan(amount)}")
            if trace:
                params.append(terms.use(f"{base}.day_surgery_reduction"))

    if mode == "annual":
        due = max(0, amount - paid_before)
        notes.append(f"年度累计起付线：本年已付{yuan(paid_before)}，本次还需{yuan(due)}")
        if trace:
            params.append(terms.use(f"{base}.mode"))
    else:
        due = amount
    paid = min(due, max(0, policy_range))
    if paid < due:
        notes.append(f"政策范围内费用{yuan(policy_range)}不足起付线，全部计入起付线")
    if trace:
        trace.add(
            "deductible",
            RULE,
            "；".join(notes) + f"。实际支付起付线{yuan(paid)}。",
            tuple(params),
            {"policy_range": policy_range, "admissions_before": str(admissions_before), "paid_before": paid_before},
            {"deductible_paid": paid},
        )
    return paid


def _level_name(level: int) -> str:
    return ("基层", "一级", "二级", "三级")[level] + "医院"
