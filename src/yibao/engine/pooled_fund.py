"""Pooled fund (统筹基金) payment, its annual cap, and the employee large-expense layer.

The part of the policy-range amount above the deductible (共付段) is paid at a ratio —
flat by hospital level, or in bands — up to an annual cap::

    covered  = policy_range − deductible_paid
    raw      = Σ_band rate × |stay's interval ∩ band|        (exact, fen × bp)
    pay      = min(round_half_up(raw), cap − paid_this_year)   # cap on fund payment
          or = Σ_band … over min(covered, cap − eligible_this_year)   # cap on eligible fee

Bands are measured on the stay's own policy-range amount (``per_stay``: the stay
occupies [deductible_paid, policy_range]) or on the year's cumulative covered amount
(``annual``: it occupies [covered_before, covered_before + covered]).

The fee beyond the cap (``over_cap_fee``) is found by inverting the band function
exactly; employees' 大额医疗费用补助 (``hifob``) pays a ratio of it up to its own cap,
and it flows into the 大病 base otherwise.
"""

from __future__ import annotations

from dataclasses import dataclass

from yibao.engine.terms import Reader
from yibao.engine.trace import Trace, adjusted, yuan
from yibao.money import RATIO_ONE, percent, round_div
from yibao.policy.resolved import ParamUse
from yibao.policy.scale import Scale, flat

RULE = "pooled_fund.inpatient@1"
RULE_LARGE = "large_expense@1"


@dataclass(slots=True)
class PoolOutcome:
    pay: int
    ratio: int  # the rate reported as pool_prop_selfpay
    covered: int
    eligible: int  # the covered amount within the cap (what counts toward a fee-basis cap)
    over_cap_fee: int
    limit_available: int | None


def pay_with_cap(scale: Scale, start: int, covered: int, cap_remaining: int | None, cap_on_fee: bool) -> PoolOutcome:
    """Pay ``scale`` over ``[start, start + covered]`` subject to the remaining cap."""
    if covered <= 0:
        return PoolOutcome(0, scale.rate_at(start), 0, 0, 0, cap_remaining)
    if len(scale.rates) == 1 and not cap_on_fee and start >= scale.lowers[0]:
        # a flat ratio, the common case: one product, no band walk
        rate = scale.rates[0]
        raw = (covered * rate + RATIO_ONE // 2) // RATIO_ONE
        if cap_remaining is None or raw <= cap_remaining:
            return PoolOutcome(raw, rate, covered, covered, 0, cap_remaining)
    if cap_on_fee:
        room = covered if cap_remaining is None else max(0, min(covered, cap_remaining))
        pay = round_div(scale.integral(start, start + room), RATIO_ONE)
        return PoolOutcome(
            pay, scale.rate_at(start + room - 1 if room else start), covered, room, covered - room, cap_remaining
        )
    raw = round_div(scale.integral(start, start + covered), RATIO_ONE)
    ratio = scale.rate_at(start + covered - 1)
    if cap_remaining is None or raw <= cap_remaining:
        return PoolOutcome(raw, ratio, covered, covered, 0, cap_remaining)
    pay = max(0, cap_remaining)
    reached = scale.reach(start, pay * RATIO_ONE)
    within = covered if reached is None else max(0, min(covered, reached - start))
    return PoolOutcome(pay, ratio, covered, within, covered - within, cap_remaining)


@dataclass(frozen=True, slots=True)
class InpatientPoolTerms:
    scale: Scale
    banded: bool
    annual_basis: bool  # bands measured on the year's cumulative covered amount
    cap: int | None
    cap_on_fee: bool
    params: tuple[str, ...]  # the ratio parameters read, for the trace


def inpatient_pool_terms(r: Reader, scheme: str, lvl: str) -> InpatientPoolTerms:
    base = f"{scheme}.inpatient"
    bands_path = f"{base}.ratio_bands.{lvl}"
    cap = r.cap(f"{base}.annual_cap")
    on_fee = r.choice(f"{base}.annual_cap_basis", "fund_payment") == "eligible_fee"
    if r.has(bands_path):
        annual = r.choice(f"{base}.ratio_bands_basis", "per_stay") == "annual"
        return InpatientPoolTerms(r.scale(bands_path), True, annual, cap, on_fee,
                                  (bands_path, f"{base}.ratio_bands_basis"))  # fmt: skip
    ratio_path = f"{base}.ratio.{lvl}"
    return InpatientPoolTerms(flat(r.ratio(ratio_path)), False, False, cap, on_fee, (ratio_path,))


def inpatient_pool(
    terms: Reader,
    scheme: str,
    level: int,
    deductible_paid: int,
    policy_range: int,
    covered_before: int,
    paid_before: int,
    eligible_before: int,
    trace: Trace | None,
    label: str = "住院",
) -> PoolOutcome:
    base = f"{scheme}.inpatient"
    lvl = f"level_{level}"
    covered = max(0, policy_range - deductible_paid)
    t = terms.bundle(("inpatient_pool", scheme, lvl), lambda r: inpatient_pool_terms(r, scheme, lvl))
    scale, cap, cap_on_fee = t.scale, t.cap, t.cap_on_fee
    # a flat ratio's axis is irrelevant; bands are measured per stay (from the deductible) or per year
    start = (covered_before if t.annual_basis else max(0, deductible_paid)) if t.banded else 0
    used = eligible_before if cap_on_fee else paid_before
    remaining = None if cap is None else max(0, cap - used)
    outcome = pay_with_cap(scale, start, covered, remaining, cap_on_fee)
    if trace:
        if t.banded:
            how = f"分段比例（{'按年度累计' if t.annual_basis else '按本次'}）{scale.describe()}"
        else:
            how = f"报销比例{percent(scale.rates[0])}{adjusted(terms.use(t.params[0]))}"
        cap_note = (
            "不设封顶线"
            if cap is None
            else (f"年度{'政策范围内费用' if cap_on_fee else '统筹基金'}最高支付限额{yuan(cap)}，本年已用{yuan(used)}")
        )
        text = (
            f"{label}政策范围内{yuan(policy_range)}减起付线{yuan(deductible_paid)}得{yuan(covered)}，{how}；{cap_note}"
        )
        if outcome.over_cap_fee:
            text += f"；超出封顶线的费用{yuan(outcome.over_cap_fee)}不由统筹基金支付"
        trace.add(
            "pooled_fund",
            RULE,
            text + f"。统筹基金支付{yuan(outcome.pay)}。",
            terms.uses(*t.params, f"{base}.annual_cap", f"{base}.annual_cap_basis"),
            {"covered": covered, "paid_before": paid_before, "eligible_before": eligible_before},
            {"pooled_fund_pay": outcome.pay, "over_cap_fee": outcome.over_cap_fee},
        )
    return outcome


def large_expense(terms: Reader, scheme: str, over_cap_fee: int, paid_before: int, trace: Trace | None) -> int:
    """职工大额医疗费用补助: a ratio of the fee above the pooled cap, up to its own cap."""
    base = f"{scheme}.large_expense"
    if over_cap_fee <= 0 or not terms.flag(f"{base}.enabled"):
        return 0
    ratio = terms.ratio(f"{base}.ratio")
    cap = terms.cap(f"{base}.annual_cap")
    raw = round_div(over_cap_fee * ratio, RATIO_ONE)
    pay = raw if cap is None else max(0, min(raw, cap - paid_before))
    if trace:
        params: tuple[ParamUse, ...] = terms.uses(f"{base}.enabled", f"{base}.ratio", f"{base}.annual_cap")
        trace.add(
            "large_expense",
            RULE_LARGE,
            f"统筹基金封顶线以上的政策范围内费用{yuan(over_cap_fee)}，按{percent(ratio)}由大额医疗费用补助支付"
            + ("" if cap is None else f"，年度限额{yuan(cap)}、本年已付{yuan(paid_before)}")
            + f"。支付{yuan(pay)}。",
            params,
            {"over_cap_fee": over_cap_fee, "paid_before": paid_before},
            {"large_expense_pay": pay},
        )
    return pay
