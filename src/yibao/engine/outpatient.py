"""Outpatient benefits: ordinary outpatient pooling (门诊共济) and chronic/special disease (门诊慢特病).

Ordinary outpatient pooling (国办发〔2021〕14号 for employees): an annual deductible by
hospital level — what was already paid this year counts, so "200 at primary care, 400
elsewhere, at most 400 a year" is one rule — a ratio by level (retirees' uplift and
primary-care tilt are exception rules), and an annual cap on fund payment. Pharmacy
purchases join the pool where the region says at which level they count.

Chronic/special disease outpatient, per disease:

* ``own_limit`` (普通慢性病): a flat ratio, an optional annual deductible, and an annual
  limit on what the fund pays for that disease;
* ``as_inpatient`` (特殊慢性病): the inpatient deductible once a year and the inpatient
  ratio for the hospital level (or the disease's own ratio), within the disease's limit.

Either may share the inpatient annual cap (``chronic.shares_inpatient_cap``).
"""

from __future__ import annotations

from dataclasses import dataclass

from yibao.engine.pooled_fund import PoolOutcome, pay_with_cap
from yibao.engine.terms import Reader
from yibao.engine.trace import Trace, yuan
from yibao.errors import InputError
from yibao.money import percent
from yibao.policy.scale import flat

RULE_POOLING = "outpatient_pooling@1"
RULE_CHRONIC = "chronic_outpatient@1"


@dataclass(slots=True)
class OutpatientOutcome:
    deductible_used: int
    pool: PoolOutcome
    shares_inpatient_cap: bool = False


def _room(limit: int | None, used: int) -> int | None:
    return None if limit is None else max(0, limit - used)


@dataclass(frozen=True, slots=True)
class PoolingTerms:
    deductible: int
    ratio: int
    cap: int | None
    on_fee: bool


def pooling_terms(r: Reader, scheme: str, level: str) -> PoolingTerms | None:
    base = f"{scheme}.outpatient_pooling"
    if not r.flag(f"{base}.enabled"):
        return None
    return PoolingTerms(
        deductible=r.amount(f"{base}.deductible.{level}") if r.has(f"{base}.deductible.{level}") else 0,
        ratio=r.ratio(f"{base}.ratio.{level}"),
        cap=r.cap(f"{base}.annual_cap"),
        on_fee=r.choice(f"{base}.annual_cap_basis", "fund_payment") == "eligible_fee",
    )


def outpatient_pooling(
    terms: Reader,
    scheme: str,
    level: str,
    policy_range: int,
    deductible_before: int,
    paid_before: int,
    eligible_before: int,
    trace: Trace | None,
) -> OutpatientOutcome | None:
    base = f"{scheme}.outpatient_pooling"
    t = terms.bundle(("outpatient_pooling", scheme, level), lambda r: pooling_terms(r, scheme, level))
    if t is None:
        return None
    deductible, ratio, cap, on_fee = t.deductible, t.ratio, t.cap, t.on_fee
    due = max(0, deductible - deductible_before)
    used = min(due, max(0, policy_range))
    room = _room(cap, eligible_before if on_fee else paid_before)
    pool = pay_with_cap(flat(ratio), 0, max(0, policy_range - used), room, on_fee)
    if trace:
        trace.add(
            "outpatient_pooling",
            RULE_POOLING,
            f"普通门诊统筹：政策范围内{yuan(policy_range)}，年度起付线{yuan(deductible)}（本年已付{yuan(deductible_before)}，"
            f"本次计入{yuan(used)}），按{percent(ratio)}支付"
            + (
                ""
                if cap is None
                else (
                    f"，年度{'政策范围内费用' if on_fee else '支付'}限额{yuan(cap)}、"
                    f"本年已用{yuan(eligible_before if on_fee else paid_before)}"
                )
            )
            + f"。统筹基金支付{yuan(pool.pay)}。",
            terms.uses(
                f"{base}.enabled",
                f"{base}.deductible.{level}",
                f"{base}.ratio.{level}",
                f"{base}.annual_cap",
                f"{base}.annual_cap_basis",
            ),
            {"policy_range": policy_range, "deductible_before": deductible_before, "paid_before": paid_before},
            {"deductible_used": used, "pooled_fund_pay": pool.pay},
        )
    return OutpatientOutcome(used, pool)


def chronic_outpatient(
    terms: Reader,
    scheme: str,
    disease: str,
    level: int,
    policy_range: int,
    deductible_before: int,
    disease_paid_before: int,
    inpatient_paid_before: int,
    inpatient_eligible_before: int,
    trace: Trace | None,
) -> OutpatientOutcome:
    base = f"{scheme}.chronic.{disease}"
    if not disease:
        raise InputError("disease", "门诊慢特病结算必须给出病种代码")
    if not terms.has(f"{base}.mode"):
        raise InputError("disease", f"该统筹区没有门诊慢特病病种 {disease} 的待遇参数")
    mode = terms.choice(f"{base}.mode", "own_limit")
    lvl = f"level_{level}"
    if mode == "as_inpatient":
        deductible = terms.amount(f"{scheme}.inpatient.deductible.{lvl}")
        ratio_path = f"{base}.ratio" if terms.has(f"{base}.ratio") else f"{scheme}.inpatient.ratio.{lvl}"
    else:
        deductible = terms.amount(f"{base}.deductible") if terms.has(f"{base}.deductible") else 0
        ratio_path = f"{base}.ratio"
    ratio = terms.ratio(ratio_path)
    due = max(0, deductible - deductible_before)
    used = min(due, max(0, policy_range))
    covered = max(0, policy_range - used)
    room = _room(terms.cap(f"{base}.annual_limit"), disease_paid_before)
    shared = terms.flag(f"{scheme}.chronic.shares_inpatient_cap")
    scale = flat(ratio)
    if shared:
        cap = terms.cap(f"{scheme}.inpatient.annual_cap")
        if terms.choice(f"{scheme}.inpatient.annual_cap_basis", "fund_payment") == "eligible_fee":
            fee_room = _room(cap, inpatient_eligible_before)
            if fee_room is not None:
                covered = min(covered, fee_room)
        else:
            cap_room = _room(cap, inpatient_paid_before)
            if cap_room is not None:
                room = cap_room if room is None else min(room, cap_room)
    pool = pay_with_cap(scale, 0, covered, room, False)
    if trace:
        trace.add(
            "chronic_outpatient",
            RULE_CHRONIC,
            f"门诊慢特病 {disease}（{'按住院待遇' if mode == 'as_inpatient' else '单病种限额'}）：政策范围内{yuan(policy_range)}，"
            f"起付线{yuan(deductible)}（本年已付{yuan(deductible_before)}，本次计入{yuan(used)}），按{percent(ratio)}支付"
            + ("" if room is None else f"，本年剩余限额{yuan(room)}")
            + ("，与住院共用年度封顶线" if shared else "")
            + f"。统筹基金支付{yuan(pool.pay)}。",
            terms.uses(
                f"{base}.mode",
                ratio_path,
                f"{base}.deductible",
                f"{base}.annual_limit",
                f"{scheme}.chronic.shares_inpatient_cap",
            ),
            {"policy_range": policy_range, "deductible_before": deductible_before},
            {"deductible_used": used, "pooled_fund_pay": pool.pay},
        )
    return OutpatientOutcome(used, pool, shared)
