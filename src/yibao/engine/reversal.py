"""Reversal (结算撤销 / 冲正): settle the exact negative of an earlier settlement.

A reversal refunds what the original *actually paid* — not a recomputation — and
subtracts exactly the deltas the original added to the accumulators, so settling and
then reversing returns the state exactly (DESIGN.md §2). Reversing a settlement
whose deltas are no longer in the state (reversed twice, or another year) is refused:
an accumulator would go negative.
"""

from __future__ import annotations

from yibao.engine.result import FundDetail, LineSplit, Settlement
from yibao.engine.state import CHRONIC_COUNTERS, COUNTERS, Accumulators
from yibao.engine.trace import current, yuan
from yibao.errors import InputError

RULE = "reversal@1"


def reverse(original: Settlement, state: Accumulators) -> tuple[Settlement, Accumulators]:
    if original.reverses is not None:
        raise InputError("original", "不能冲销一笔冲销结算")
    if state.person_id != original.person_id:
        raise InputError("state.psn_no", "累计数据与原结算的参保人不符")
    if state.region != original.region or state.scheme != original.scheme:
        raise InputError("state.region", "累计数据与原结算的统筹区或险种不符")
    if state.year != original.year:
        raise InputError("state.year", f"原结算属于 {original.year} 年，累计数据为 {state.year} 年；不能跨年度冲销")
    after = state.copy()
    for name, delta in original.deltas.items():
        if name == "chronic":
            assert isinstance(delta, dict)
            for disease, slot in delta.items():
                for counter, d in slot.items():
                    if counter not in CHRONIC_COUNTERS:
                        raise InputError(f"deltas.chronic.{disease}.{counter}", "未知的累计项")
                    if after.chronic_value(disease, counter) < int(d):
                        raise InputError(f"deltas.chronic.{disease}.{counter}", "冲销后累计为负：该结算可能已被冲销")
                    after.add_chronic(disease, counter, -int(d))
            continue
        if name not in COUNTERS and name != "account_balance":
            raise InputError(f"deltas.{name}", "未知的累计项")
        assert isinstance(delta, int)
        value = getattr(after, name) - delta
        if value < 0 and name != "account_balance":
            raise InputError(f"deltas.{name}", "冲销后累计为负：该结算可能已被冲销")
        setattr(after, name, value)

    negated = Settlement(
        claim_id=original.claim_id,
        person_id=original.person_id,
        scheme=original.scheme,
        region=original.region,
        visit_type=original.visit_type,
        rule_date=original.rule_date,
        year=original.year,
        snapshot_id=original.snapshot_id,
        total=-original.total,
        full_self_pay=-original.full_self_pay,
        over_limit=-original.over_limit,
        self_pay_first=-original.self_pay_first,
        policy_range=-original.policy_range,
        deductible_paid=-original.deductible_paid,
        pooled_ratio=original.pooled_ratio,
        fund_pay_total=-original.fund_pay_total,
        personal_burden=-original.personal_burden,
        account_pay=-original.account_pay,
        mutual_aid_pay=-original.mutual_aid_pay,
        cash_pay=-original.cash_pay,
        hospital_burden=-original.hospital_burden,
        account_balance=after.account_balance,
        details=[FundDetail(d.fund_code, -d.amount, -d.base, None, "冲销：" + d.note) for d in original.details],
        lines=None if original.lines is None else [_negate_line(x) for x in original.lines],
        deltas=_negate(original.deltas),
        reasons=["REVERSAL"],
        reverses=original.claim_id,
    )
    if original.mutual_aid_balance_after is not None:
        negated.mutual_aid_balance_after = original.mutual_aid_balance_after + original.mutual_aid_pay
    trace = current()
    if trace:
        trace.add(
            "reversal",
            RULE,
            f"冲销结算 {original.claim_id}：退回基金支付{yuan(original.fund_pay_total)}、个人账户{yuan(original.account_pay)}、"
            f"共济{yuan(original.mutual_aid_pay)}、现金{yuan(original.cash_pay)}，并从本年累计中减去原结算计入的各项。",
            (),
            {k: v for k, v in original.deltas.items() if isinstance(v, int)},
            {"fund_pay_total": negated.fund_pay_total},
        )
    return negated, after


def _negate(deltas: dict[str, object]) -> dict[str, object]:
    out: dict[str, object] = {}
    for name, value in deltas.items():
        if isinstance(value, dict):
            out[name] = {k: {c: -d for c, d in slot.items()} for k, slot in value.items()}
        else:
            assert isinstance(value, int)
            out[name] = -value
    return out


def _negate_line(line: LineSplit) -> LineSplit:
    return line._replace(
        amount=-line.amount,
        full_self_pay=-line.full_self_pay,
        over_limit=-line.over_limit,
        self_pay_first=-line.self_pay_first,
        policy_range=-line.policy_range,
    )
