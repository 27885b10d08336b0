"""Settle one claim: the scalar executor of the calculation chain.

``settle(claim, person, state, snapshot)`` is a pure function of its arguments. The
chain (benefit-rules.md §1.8):

1. fee split → total, full self-pay, over-limit, self-pay-first, policy range
2. deductible (inpatient, chronic) or the outpatient pooling deductible
3. pooled fund: ratio or bands, annual cap
4. employee large-expense layer above the cap
5. 大病保险 on the cumulative personal policy-range burden
6. medical assistance, 7. tilted assistance
8. personal account (own or family mutual aid), 9. cash as the residual

Each fund payment is rounded half-up to the fen once; the personal part is the
residual, so the identities of DESIGN.md §2 hold exactly. The accumulators come back
new (the input is not modified), with the deltas a reversal needs.
"""

from __future__ import annotations

from datetime import date

from yibao.engine.account import pay_personal_part
from yibao.engine.assistance import assistance, tilted_assistance
from yibao.engine.critical_illness import critical_illness
from yibao.engine.critical_illness import terms_of as critical_illness_terms_of
from yibao.engine.deductible import inpatient_deductible
from yibao.engine.fee_split import MissingDefaultRatio, split_fee_lines
from yibao.engine.model import (
    ACCOUNT_MUTUAL_AID,
    ACCOUNT_NONE,
    ACCOUNT_OWN,
    CHRONIC,
    INPATIENT,
    OUTPATIENT,
    PHARMACY,
    VISIT_TYPES,
    Claim,
    Person,
)
from yibao.engine.outpatient import chronic_outpatient, outpatient_pooling
from yibao.engine.pooled_fund import inpatient_pool, large_expense
from yibao.engine.result import (
    ACCOUNT,
    ASSISTANCE,
    LARGE_EXPENSE,
    TILTED_ASSISTANCE,
    FundDetail,
    LineSplit,
    Settlement,
    pooled_fund_code,
)
from yibao.engine.state import Accumulators, deltas
from yibao.engine.terms import Reader, terms_for
from yibao.engine.trace import Trace, current, yuan
from yibao.errors import InputError, NoPolicyInForce
from yibao.policy.context import RuleContext
from yibao.policy.regions import Region
from yibao.policy.snapshot import PolicySnapshot

RULE_SPLIT = "fee_split@1"


_PREFIX = {"province": 2, "city": 4, "county": 6, "national": 0}
_LEVEL_NAMES = ("level_0", "level_1", "level_2", "level_3")


def area_of(pooling: Region, treatment_region: str) -> str:
    """``local`` inside the insured's pooling region, ``province`` elsewhere in the province, else ``national``."""
    prefix = _PREFIX[pooling.level]
    if treatment_region[:prefix] == pooling.code[:prefix]:
        return "local"
    return "province" if treatment_region[:2] == pooling.code[:2] else "national"


def context_of(claim: Claim, person: Person, area: str) -> RuleContext:
    # positional: this runs on every settlement (field order as in RuleContext)
    return RuleContext(
        person.scheme,
        person.person_type,
        person.assistance_category,
        person.age,
        person.sex,
        claim.visit_type,
        _LEVEL_NAMES[claim.hospital_level],
        area,
        claim.filed,
        claim.day_surgery,
        claim.disease,
        person.civil_servant,
    )


def rule_date_of(claim: Claim, snapshot: PolicySnapshot) -> date:
    """The date that selects policy values: discharge for inpatient unless the region says otherwise."""
    if claim.visit_type != INPATIENT:
        return claim.settlement_date
    policy = snapshot.at(claim.insured_region, claim.settlement_date, "insuplc_admdvs")
    path = "settlement.rule_date.inpatient"
    basis = policy.values[path][1].value if path in policy.values else "discharge"
    if basis == "settlement":
        return claim.settlement_date
    chosen = claim.discharge_date if basis == "discharge" else claim.admission_date
    if chosen is None:
        field = "dscg_date" if basis == "discharge" else "adm_date"
        raise InputError(field, "住院结算必须给出该日期（本统筹区按此日期确定适用政策）")
    return chosen


def settle(
    claim: Claim,
    person: Person,
    state: Accumulators | None,
    snapshot: PolicySnapshot,
    keep_lines: bool = False,
) -> tuple[Settlement, Accumulators]:
    """Settle ``claim``; returns the settlement and the accumulators after it."""
    trace = current()
    _check_claim(claim, person)
    tree = snapshot.tree
    pooling = tree.pooling_region(claim.insured_region, "insuplc_admdvs")
    area = area_of(pooling, claim.treatment_region)
    ctx = context_of(claim, person, area)
    on = rule_date_of(claim, snapshot)
    policy = snapshot.at(claim.insured_region, on, "insuplc_admdvs")
    terms = terms_for(policy, ctx, on)
    scheme = person.scheme

    if state is None:
        state = Accumulators(person.person_id, scheme, pooling.code, on.year)
    _check_state(state, person, pooling.code, on)
    before = state if state.year == on.year else state.for_year(on.year)
    st = before.copy()

    s = Settlement(
        claim_id=claim.claim_id,
        person_id=person.person_id,
        scheme=scheme,
        region=pooling.code,
        visit_type=claim.visit_type,
        rule_date=on.isoformat(),
        year=on.year,
        snapshot_id=snapshot.id,
    )
    _split(s, claim, person, terms, keep_lines, trace)
    if s.total < 0:
        raise InputError("fee_lines", "费用总额不能为负；撤销结算请使用冲销")

    starts = person.benefits_from
    if starts is not None and service_date(claim) < starts:
        # 待遇等待期: contributions are paid but benefits have not started; no fund pays,
        # the account (the person's own money) still may.
        s.reasons.append("WAITING")
        if trace:
            trace.add(
                "waiting_period",
                "waiting_period@1",
                f"待遇享受起始日{starts.isoformat()}，就诊日{service_date(claim).isoformat()}"
                "在待遇等待期内，基金不予支付。",
                (),
                {},
                {"benefits_from": starts.isoformat()},
            )
    else:
        _pay_funds(s, claim, person, terms, st, trace)
    s.fund_pay_total = sum(d.amount for d in s.details)
    s.personal_burden = s.total - s.fund_pay_total - s.hospital_burden
    acct = pay_personal_part(
        terms,
        scheme,
        s.personal_burden,
        s.full_self_pay + s.over_limit,
        claim.account_use,
        st.account_balance,
        claim.mutual_aid_balance,
        trace,
    )
    s.account_pay, s.mutual_aid_pay, s.cash_pay = acct.account_pay, acct.mutual_aid_pay, acct.cash_pay
    st.account_balance -= acct.account_pay
    s.account_balance = st.account_balance
    if acct.mutual_aid_pay or claim.account_use == 2:
        s.mutual_aid_balance_after = claim.mutual_aid_balance - acct.mutual_aid_pay
    if acct.account_pay + acct.mutual_aid_pay:
        s.details.append(
            FundDetail(ACCOUNT, acct.account_pay + acct.mutual_aid_pay, acct.payable, None, "个人账户（含共济）")
        )
    s.deltas = deltas(before, st)
    s.reasons.extend(f"EXC:{rule}" for rule in terms.applied)
    if trace:
        trace.add(
            "summary",
            "settlement@1",
            f"医疗费总额{yuan(s.total)} = 基金支付{yuan(s.fund_pay_total)} + 个人负担{yuan(s.personal_burden)}"
            f" + 医院负担{yuan(s.hospital_burden)}；个人负担 = 个人账户{yuan(s.account_pay)}"
            f" + 共济{yuan(s.mutual_aid_pay)} + 现金{yuan(s.cash_pay)}。",
            (),
            {},
            {"fund_pay_total": s.fund_pay_total, "personal_burden": s.personal_burden, "cash_pay": s.cash_pay},
        )
    return s, st


def service_date(claim: Claim) -> date:
    """The date a benefit is judged on: admission for a stay, otherwise the settlement date."""
    return claim.admission_date if claim.visit_type == INPATIENT and claim.admission_date else claim.settlement_date


def _pay_funds(
    s: Settlement, claim: Claim, person: Person, terms: Reader, st: Accumulators, trace: Trace | None
) -> None:
    """The fund chain: pooled fund, large-expense layer, 大病, 救助 and 倾斜救助, in that order."""
    scheme = person.scheme
    pooled = 0
    personal_policy = 0  # policy-range burden left to the person, the base of 大病 and 救助
    lvl = claim.hospital_level
    if claim.visit_type == INPATIENT:
        ded = inpatient_deductible(terms, claim, scheme, st.admissions, st.deductible_paid, s.policy_range, trace)
        s.deductible_paid = ded
        pool = inpatient_pool(
            terms,
            scheme,
            lvl,
            ded,
            s.policy_range,
            st.inpatient_covered,
            st.pooled_fund_paid,
            st.inpatient_eligible,
            trace,
        )
        pooled = pool.pay
        s.pooled_ratio = pool.ratio
        large = large_expense(terms, scheme, pool.over_cap_fee, st.large_expense_paid, trace)
        st.admissions += 1
        st.deductible_paid += ded
        st.inpatient_covered += pool.covered
        st.inpatient_eligible += pool.eligible
        st.pooled_fund_paid += pooled
        st.large_expense_paid += large
        _detail(s, pooled_fund_code(scheme), pooled, s.policy_range, pool.limit_available, "住院统筹")
        _detail(s, LARGE_EXPENSE, large, pool.over_cap_fee, None, "封顶线以上")
        if pool.over_cap_fee:
            s.reasons.append("CAP-POOL")
        personal_policy = s.policy_range - pooled - large
    elif claim.visit_type == CHRONIC:
        out = chronic_outpatient(
            terms,
            scheme,
            claim.disease,
            lvl,
            s.policy_range,
            st.chronic_value(claim.disease, "deductible_paid"),
            st.chronic_value(claim.disease, "paid"),
            st.pooled_fund_paid,
            st.inpatient_eligible,
            trace,
        )
        pooled = out.pool.pay
        s.deductible_paid = out.deductible_used
        s.pooled_ratio = out.pool.ratio
        st.add_chronic(claim.disease, "deductible_paid", out.deductible_used)
        st.add_chronic(claim.disease, "paid", pooled)
        if out.shares_inpatient_cap:
            st.pooled_fund_paid += pooled
            st.inpatient_eligible += out.pool.covered
        _detail(
            s, pooled_fund_code(scheme), pooled, s.policy_range, out.pool.limit_available, f"门诊慢特病{claim.disease}"
        )
        personal_policy = s.policy_range - pooled
    else:
        level = f"level_{lvl}"
        if claim.visit_type == PHARMACY:
            level = terms.choice(f"{scheme}.outpatient_pooling.pharmacy_level", "none")
        if level != "none":
            op = outpatient_pooling(
                terms,
                scheme,
                level,
                s.policy_range,
                st.outpatient_deductible_paid,
                st.outpatient_pooled_paid,
                st.outpatient_eligible,
                trace,
            )
            if op is not None:
                pooled = op.pool.pay
                s.deductible_paid = op.deductible_used
                s.pooled_ratio = op.pool.ratio
                st.outpatient_deductible_paid += op.deductible_used
                st.outpatient_pooled_paid += pooled
                st.outpatient_eligible += op.pool.eligible
                _detail(s, pooled_fund_code(scheme), pooled, s.policy_range, op.pool.limit_available, "门诊统筹")
        personal_policy = s.policy_range - pooled

    ci_terms = critical_illness_terms_of(terms, scheme) if claim.visit_type != PHARMACY else None
    if ci_terms is not None and (
        claim.visit_type == INPATIENT
        or (claim.visit_type == CHRONIC and ci_terms.includes_chronic)
        or (claim.visit_type == OUTPATIENT and ci_terms.includes_outpatient)
    ):
        ci = critical_illness(
            terms,
            scheme,
            personal_policy,
            s.self_pay_first,
            st.critical_illness_base,
            st.critical_illness_paid,
            trace,
            cap_raise=person.critical_illness_cap_raise,
        )
        if ci is not None:
            st.critical_illness_base += ci.base
            st.critical_illness_paid += ci.pay
            personal_policy -= ci.pay
            _detail(s, ci.fund_code, ci.pay, ci.base, ci.limit_available, "大病保险")

    if claim.visit_type in (INPATIENT, CHRONIC, OUTPATIENT) and person.assistance_category != "none":
        spf_in = terms.flag("assistance.base_includes_self_pay_first")
        base = personal_policy + (s.self_pay_first if spf_in else 0)
        aid = assistance(
            terms,
            person.assistance_category,
            claim.visit_type,
            base,
            st.assistance_deductible_paid,
            st.assistance_paid_outpatient,
            st.assistance_paid_inpatient,
            trace,
        )
        if aid is not None:
            st.assistance_deductible_paid += aid.deductible_used
            if aid.inpatient_class:
                st.assistance_paid_inpatient += aid.pay
            else:
                st.assistance_paid_outpatient += aid.pay
            _detail(s, ASSISTANCE, aid.pay, aid.base, aid.limit_available, "医疗救助")
            if claim.visit_type != OUTPATIENT:
                residual = base - aid.pay
                if terms.flag("tilted_assistance.base_includes_full_self_pay"):
                    residual += s.full_self_pay + s.over_limit
                tilted = tilted_assistance(
                    terms, person.assistance_category, residual, st.tilted_base, st.tilted_paid, trace
                )
                if tilted is not None:
                    st.tilted_base += tilted.base
                    st.tilted_paid += tilted.pay
                    _detail(s, TILTED_ASSISTANCE, tilted.pay, tilted.base, tilted.limit_available, "倾斜救助")


_LEVELS = (0, 1, 2, 3)
_PERSON_TYPES = {"employee": ("active", "retiree", "flexible"), "resident": ("student", "minor", "adult")}


def _check_claim(claim: Claim, person: Person) -> None:
    """What the JSON reader checks, checked again for callers of the Python API."""
    if claim.visit_type not in VISIT_TYPES:
        raise InputError("visit_type", f"取值 {claim.visit_type!r} 不在 {list(VISIT_TYPES)} 内")
    if claim.hospital_level not in _LEVELS:
        raise InputError("hosp_lv", f"医院等级应为 0（基层）到 3：{claim.hospital_level}")
    if claim.transfer_from_level is not None and claim.transfer_from_level not in _LEVELS:
        raise InputError("transfer_from_level", f"医院等级应为 0 到 3：{claim.transfer_from_level}")
    if claim.account_use not in (ACCOUNT_NONE, ACCOUNT_OWN, ACCOUNT_MUTUAL_AID):
        raise InputError("acct_used_flag", f"应为 0、1 或 2：{claim.account_use}")
    if (claim.fee_lines is None) == (claim.totals is None):
        raise InputError("fee_lines", "必须且只能给出费用明细 fee_lines 或分割合计 totals 之一")
    kinds = _PERSON_TYPES.get(person.scheme)
    if kinds is None:
        raise InputError("person.insutype", f"未知的险种 {person.scheme!r}")
    if person.person_type not in kinds:
        raise InputError("person.psn_type", f"{person.scheme} 参保人的人员类别不能是 {person.person_type!r}")


def _check_state(state: Accumulators, person: Person, region: str, on: date) -> None:
    if state.person_id != person.person_id:
        raise InputError("state.psn_no", f"累计数据属于 {state.person_id}，与参保人 {person.person_id} 不符")
    if state.scheme != person.scheme:
        raise InputError("state.insutype", "累计数据的险种与参保人险种不符")
    if state.region != region:
        raise InputError("state.region", f"累计数据属于统筹区 {state.region}，本次结算统筹区为 {region}")
    if state.year > on.year:
        raise InputError("state.year", f"累计数据为 {state.year} 年，不能结算 {on.year} 年的费用")


def _detail(s: Settlement, code: str, amount: int, base: int, available: int | None, note: str) -> None:
    if amount:
        s.details.append(FundDetail(code, amount, base, available, note))


def _split(s: Settlement, claim: Claim, person: Person, terms: Reader, keep_lines: bool, trace: Trace | None) -> None:
    path = f"{person.scheme}.fee_split.class_b_self_pay_first_ratio"
    if claim.totals is not None:
        t = claim.totals
        s.total, s.full_self_pay, s.over_limit = t.total, t.full_self_pay, t.over_limit
        s.self_pay_first, s.policy_range = t.self_pay_first, t.policy_range
        how = "按给定的分割合计"
    else:
        assert claim.fee_lines is not None
        default_b = terms.ratio(path) if terms.has(path) else -1
        try:
            s.total, s.full_self_pay, s.over_limit, s.self_pay_first, s.policy_range, s.lines = split_fee_lines(
                claim.fee_lines,
                terms.policy.catalog,
                person.person_type,
                person.sex,
                person.age,
                claim.visit_type,
                claim.hospital_level,
                default_b,
                keep_lines,
            )
        except MissingDefaultRatio:
            raise NoPolicyInForce(terms.policy.region, terms.on.isoformat(), path) from None
        how = f"按{len(claim.fee_lines)}条费用明细逐条分割"
    if trace:
        trace.add(
            "fee_split",
            RULE_SPLIT,
            f"{how}：医疗费总额{yuan(s.total)} = 全自费{yuan(s.full_self_pay)} + 超限价{yuan(s.over_limit)}"
            f" + 乙类先行自付{yuan(s.self_pay_first)} + 政策范围内{yuan(s.policy_range)}。",
            terms.uses(path) if claim.totals is None else (),
            {},
            {
                "total": s.total,
                "full_self_pay": s.full_self_pay,
                "over_limit": s.over_limit,
                "self_pay_first": s.self_pay_first,
                "policy_range": s.policy_range,
            },
        )


def split_lines(claim: Claim, person: Person, snapshot: PolicySnapshot) -> list[LineSplit]:
    """Each fee line's split as the platform answers a fee upload (2204 / 2301), under the policy in
    force on ``claim.settlement_date`` (the upload date: a stay's discharge date is not known yet)."""
    _check_claim(claim, person)
    pooling = snapshot.tree.pooling_region(claim.insured_region, "insuplc_admdvs")
    ctx = context_of(claim, person, area_of(pooling, claim.treatment_region))
    terms = terms_for(
        snapshot.at(claim.insured_region, claim.settlement_date, "insuplc_admdvs"), ctx, claim.settlement_date
    )
    s = Settlement(claim.claim_id, person.person_id, person.scheme, pooling.code, claim.visit_type,
                   claim.settlement_date.isoformat(), claim.settlement_date.year, snapshot.id)  # fmt: skip
    _split(s, claim, person, terms, True, None)
    assert s.lines is not None
    return s.lines
