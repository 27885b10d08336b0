"""Critical-illness insurance (大病保险): "累计计算、分段报销、按次结算".

The base is the policy-range personal burden left after basic insurance (deductible,
co-insurance, the part above the basic cap), plus the 乙类 self-pay-first amount
where the region counts it. It accumulates over the year; the entitlement is a band
function of the cumulative base; each settlement pays the increment::

    cum        = base_before + base_this
    entitled   = bands(cum − threshold)            (excess mode: bands measured after the threshold)
              or bands over [threshold, cum]       (absolute mode: band edges are amounts of the base)
    entitled   = min(round_half_up(entitled), cap)      unless the group has no cap
    pay        = clamp(entitled − paid_before, 0, base_this)

So the threshold is met once a year, and a reversal that removes a base restores the
entitlement (benefit-rules.md §1.4). Special groups (特困, 低保, 返贫致贫) get their
threshold halved, +5 points and no cap through exception rules on these parameters.
"""

from __future__ import annotations

from dataclasses import dataclass

from yibao.engine.terms import Terms
from yibao.engine.trace import Trace, yuan
from yibao.money import RATIO_ONE, round_div

RULE = "critical_illness@1"


@dataclass(slots=True)
class CriticalIllnessOutcome:
    fund_code: str
    base: int
    pay: int
    limit_available: int | None


def entitlement(terms: Terms, scheme: str, cumulative: int) -> tuple[int, int | None]:
    """(entitled amount in fen for a cumulative base, the cap or None)."""
    base = f"{scheme}.critical_illness"
    threshold = terms.amount(f"{base}.threshold")
    bands = terms.scale(f"{base}.bands")
    mode = terms.choice(f"{base}.mode", "excess")
    # excess: bands measured after the threshold; absolute: band edges are amounts of the base
    raw = bands.integral(0, cumulative - threshold) if mode == "excess" else bands.integral(threshold, cumulative)
    entitled = round_div(raw, RATIO_ONE)
    cap = terms.cap(f"{base}.annual_cap")
    if cap is not None and entitled > cap:
        entitled = cap
    return entitled, cap


def critical_illness(
    terms: Terms,
    scheme: str,
    personal_policy_burden: int,
    self_pay_first: int,
    base_before: int,
    paid_before: int,
    trace: Trace | None,
) -> CriticalIllnessOutcome | None:
    base = f"{scheme}.critical_illness"
    if not terms.flag(f"{base}.enabled"):
        return None
    fund_code = terms.choice(f"{base}.fund_code", "390200")
    with_first = terms.flag(f"{base}.base_includes_self_pay_first")
    base_this = max(0, personal_policy_burden + (self_pay_first if with_first else 0))
    cumulative = base_before + base_this
    entitled, cap = entitlement(terms, scheme, cumulative)
    pay = min(max(0, entitled - paid_before), base_this)
    available = None if cap is None else max(0, cap - paid_before)
    if trace:
        threshold = terms.amount(f"{base}.threshold")
        mode = terms.choice(f"{base}.mode", "excess")
        trace.add(
            "critical_illness",
            RULE,
            f"本次计入大病保险的个人负担{yuan(base_this)}"
            + ("（含乙类先行自付）" if with_first else "")
            + f"，本年累计{yuan(cumulative)}；起付线{yuan(threshold)}，"
            + ("扣除起付线后分段计算" if mode == "excess" else "按累计金额所在分段计算")
            + f"：{terms.scale(f'{base}.bands').describe()}；"
            + ("不设封顶线" if cap is None else f"年度限额{yuan(cap)}")
            + f"；累计应付{yuan(entitled)}，此前已付{yuan(paid_before)}。本次支付{yuan(pay)}。",
            terms.uses(
                f"{base}.enabled",
                f"{base}.threshold",
                f"{base}.mode",
                f"{base}.bands",
                f"{base}.annual_cap",
                f"{base}.base_includes_self_pay_first",
            ),
            {"base_this": base_this, "base_before": base_before, "paid_before": paid_before},
            {"critical_illness_pay": pay, "entitled_cumulative": entitled},
        )
    return CriticalIllnessOutcome(fund_code, base_this, pay, available)
