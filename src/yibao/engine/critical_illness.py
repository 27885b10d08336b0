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

from yibao.engine.terms import Reader
from yibao.engine.trace import Trace, yuan
from yibao.money import RATIO_ONE, mul_ratio, percent, round_div
from yibao.policy.scale import Scale

RULE = "critical_illness@1"


@dataclass(slots=True)
class CriticalIllnessOutcome:
    fund_code: str
    base: int
    pay: int
    limit_available: int | None


@dataclass(frozen=True, slots=True)
class CriticalIllnessTerms:
    fund_code: str
    threshold: int
    bands: Scale
    excess: bool  # bands measured after the threshold (else: band edges are amounts of the base)
    cap: int | None
    with_first: bool
    includes_chronic: bool
    includes_outpatient: bool


def critical_illness_terms(r: Reader, scheme: str) -> CriticalIllnessTerms | None:
    base = f"{scheme}.critical_illness"
    if not r.flag(f"{base}.enabled"):
        return None
    fund_code = r.use(f"{base}.fund_code").value  # required: a wrong fund is an accounting error
    assert isinstance(fund_code, str)
    return CriticalIllnessTerms(
        fund_code=fund_code,
        threshold=r.amount(f"{base}.threshold"),
        bands=r.scale(f"{base}.bands"),
        excess=r.choice(f"{base}.mode", "excess") == "excess",
        cap=r.cap(f"{base}.annual_cap"),
        with_first=r.flag(f"{base}.base_includes_self_pay_first"),
        includes_chronic=r.flag(f"{base}.includes_chronic_outpatient", True),
        includes_outpatient=r.flag(f"{base}.includes_outpatient_pooling"),
    )


def terms_of(terms: Reader, scheme: str) -> CriticalIllnessTerms | None:
    return terms.bundle(("critical_illness", scheme), lambda r: critical_illness_terms(r, scheme))


def raised_cap(cap: int | None, cap_raise: int) -> int | None:
    """The annual cap raised by ``cap_raise`` basis points of itself (连续参保激励), half-up to the fen."""
    return cap if cap is None or not cap_raise else cap + mul_ratio(cap, cap_raise)


def entitlement(t: CriticalIllnessTerms, cumulative: int, cap_raise: int = 0) -> int:
    """The entitled amount in fen for a cumulative base, within the (possibly raised) cap."""
    # excess: bands measured after the threshold; absolute: band edges are amounts of the base
    raw = t.bands.integral(0, cumulative - t.threshold) if t.excess else t.bands.integral(t.threshold, cumulative)
    entitled = round_div(raw, RATIO_ONE)
    cap = raised_cap(t.cap, cap_raise)
    return entitled if cap is None or entitled <= cap else cap


def critical_illness(
    terms: Reader,
    scheme: str,
    personal_policy_burden: int,
    self_pay_first: int,
    base_before: int,
    paid_before: int,
    trace: Trace | None,
    cap_raise: int = 0,
) -> CriticalIllnessOutcome | None:
    base = f"{scheme}.critical_illness"
    t = terms_of(terms, scheme)
    if t is None:
        return None
    fund_code, with_first, cap = t.fund_code, t.with_first, raised_cap(t.cap, cap_raise)
    base_this = max(0, personal_policy_burden + (self_pay_first if with_first else 0))
    cumulative = base_before + base_this
    entitled = entitlement(t, cumulative, cap_raise)
    pay = min(max(0, entitled - paid_before), base_this)
    available = None if cap is None else max(0, cap - paid_before)
    if trace:
        threshold = t.threshold
        mode = "excess" if t.excess else "absolute"
        trace.add(
            "critical_illness",
            RULE,
            f"本次计入大病保险的个人负担{yuan(base_this)}"
            + ("（含乙类先行自付）" if with_first else "")
            + f"，本年累计{yuan(cumulative)}；起付线{yuan(threshold)}，"
            + ("扣除起付线后分段计算" if mode == "excess" else "按累计金额所在分段计算")
            + f"：{terms.scale(f'{base}.bands').describe()}；"
            + ("不设封顶线" if cap is None else f"年度限额{yuan(cap)}")
            + (f"（连续参保激励提高{percent(cap_raise)}）" if cap_raise and cap is not None else "")
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
