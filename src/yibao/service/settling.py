"""Settle a visit and cancel a settlement: one database transaction each, or nothing.

Lock order, the same in every use case so two of them cannot deadlock:
visit row → accumulator row (person × scheme × region × year) → account rows (by ``psn_no``).
The accumulator lock is what serialises concurrent settlements of one person, so no annual
cap can be overshot (DESIGN.md §2). On SQLite every write transaction is ``BEGIN IMMEDIATE``,
which serialises writers altogether.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from datetime import datetime

from sqlalchemy import bindparam, select, update
from sqlalchemy.orm import Session

from yibao.engine import reverse, settle
from yibao.engine.model import ACCOUNT_MUTUAL_AID, ACCOUNT_OWN, INPATIENT
from yibao.engine.result import FundDetail, Settlement
from yibao.engine.settle import rule_date_of
from yibao.errors import InputError
from yibao.fund import entries
from yibao.fund.chart import entity_of
from yibao.fund.transfer import TransferType, negated
from yibao.io.claim_json import ACCOUNT_FLAGS
from yibao.io.fields import Fields
from yibao.io.settlement_json import setlinfo_fen
from yibao.service.fees import engine_line, visit_claim
from yibao.service.holdings import account_balance, hold_accumulators, move, store_accumulators, to_engine
from yibao.service.ledger import stored_transfer
from yibao.service.platform import Platform
from yibao.service.registry import engine_person, enrolment_on, insured_on
from yibao.service.visits import DISCHARGED, OPEN, SETTLED, change_visit
from yibao.store.db import core_table, insert_rows
from yibao.store.direct import Direct
from yibao.store.models import (
    FeeLine,
    MutualAidBinding,
    Person,
    SettlementDetail,
    Visit,
)
from yibao.store.models import Settlement as SettlementRow

#: request amounts a client may echo (2207/2304 send the sums of the 2204/2301 answers)
ECHOED = (
    ("medfee_sumamt", "total"),
    ("fulamt_ownpay_amt", "full_self_pay"),
    ("overlmt_selfpay", "over_limit"),
    ("preselfpay_amt", "self_pay_first"),
    ("inscp_scp_amt", "policy_range"),
)


@dataclass
class Outcome:
    """A settlement (or its cancel) with what the answer needs besides the amounts."""

    result: Settlement
    setl_id: str | None
    setl_time: datetime
    person: Person
    psn_type: str
    med_type: str
    clr_type: str


# -- statements -------------------------------------------------------------------------------


_FEE_LINE = core_table(FeeLine)
_LINES = _FEE_LINE.c
# a visit's lines not withdrawn and not settled ("b_": column-named bind parameters are reserved in UPDATE)
_IS_OPEN = (_LINES.mdtrt_id == bindparam("b_mdtrt_id"), _LINES.status == "active", _LINES.setl_id.is_(None))
#: the columns the engine reads, as plain rows: settlement reads the lines and never changes them
_OPEN_LINES = Direct(
    select(
        _LINES.item_code,
        _LINES.amount,
        _LINES.price,
        _LINES.quantity,
        _LINES.declared_class,
        _LINES.indication_met,
        _LINES.feedetl_sn,
    )
    .where(*_IS_OPEN)
    .order_by(_LINES.id)
)
# the same lines as _OPEN_LINES (the visit row is locked): one fixed statement, whatever their number
_LINK_LINES = Direct(update(_FEE_LINE).where(*_IS_OPEN).values(setl_id=bindparam("b_setl_id")))


# -- settle -------------------------------------------------------------------------------------


def settle_visit(
    session: Session,
    platform: Platform,
    visit: Visit,
    data: Fields,
    msgid: str,
    commit: bool,
) -> Outcome:
    """Pre-settle (``commit=False``: 2206/2303/2101) or settle (2207/2304/2102) a visit."""
    now = platform.clock()
    mid = data.flag("mid_setl_flag")
    if visit.status == SETTLED:
        raise InputError("mdtrt_id", "该就诊已结算，不能重复结算")
    if visit.status not in (OPEN, DISCHARGED):
        raise InputError("mdtrt_id", f"就诊状态为 {visit.status}，不能结算")
    if visit.visit_type == INPATIENT and visit.status != DISCHARGED and not mid:
        raise InputError("mdtrt_id", "住院就诊尚未办理出院（2402），不能结算；中途结算请传 mid_setl_flag=1")
    insutype = data.text("insutype", required=False) or visit.insutype
    if insutype != visit.insutype:
        raise InputError(data.where("insutype"), "险种类型与就诊登记不符")
    rows = _OPEN_LINES.rows(session, {"b_mdtrt_id": visit.mdtrt_id})
    if not rows:
        raise InputError("mdtrt_id", "没有待结算的费用明细")
    found = insured_on(session, visit.psn_no, visit.insutype, visit.begin_time.date())
    if found is None:
        raise InputError("psn_no", "就诊日期无有效参保记录")
    person, enrolment = found
    who = engine_person(person, enrolment, visit.begin_time.date(), platform.codes.person_type)
    flag = data.text("acct_used_flag", required=False, default="1")
    if flag not in ACCOUNT_FLAGS:
        raise InputError(data.where("acct_used_flag"), f"应为 0、1 或 2：{flag!r}")
    account_use = ACCOUNT_FLAGS[flag]
    payer: str | None = None
    if account_use == ACCOUNT_MUTUAL_AID:
        binding = session.get(MutualAidBinding, visit.psn_no)
        if binding is None:
            raise InputError(data.where("acct_used_flag"), "该参保人未绑定家庭共济账户")
        payer = binding.payer_psn_no

    claim = visit_claim(visit, tuple(engine_line(r._asdict()) for r in rows), now)
    on = rule_date_of(claim, platform.snapshot)
    region = platform.snapshot.tree.pooling_region(visit.insured_region).code
    key: dict[str, object] = {
        "psn_no": visit.psn_no,
        "insutype": visit.insutype,
        "region_code": region,
        "year": on.year,
    }
    row = hold_accumulators(session, key, commit)
    # lock only the accounts this settlement may draw on (own with flag 1, the payer's with flag 2)
    own_used = account_use == ACCOUNT_OWN
    balances = {
        p: account_balance(session, p, commit and (p == payer or own_used))
        for p in sorted({visit.psn_no, *([payer] if payer else [])})
    }
    claim = replace(claim, account_use=account_use, mutual_aid_balance=balances[payer] if payer else 0)
    result, after = settle(claim, who, to_engine(row, who.scheme, balances[visit.psn_no]), platform.snapshot)
    _check_echoed(data, result)
    setl_id = platform.ids.next("S", now) if commit else None
    if commit:
        assert setl_id is not None
        store_accumulators(session, row, after)
        move(session, visit.psn_no, -result.account_pay, "settlement", setl_id, None, now)
        if payer:
            move(session, payer, -result.mutual_aid_pay, "mutual_aid", setl_id, visit.psn_no, now)
        insert_rows(session, SettlementRow, _row(result, setl_id, visit, msgid, now, "settled", None, payer, platform))
        insert_rows(session, SettlementDetail, [_detail(setl_id, d) for d in result.details])
        _LINK_LINES.later(session, {"b_mdtrt_id": visit.mdtrt_id, "b_setl_id": setl_id})
        _post_settlement(session, platform, result, setl_id, visit, enrolment.region_code, now)
        if visit.visit_type != INPATIENT or not mid:
            change_visit(session, visit, status=SETTLED)
    clr = platform.codes.clr_type(visit.insured_region, result.visit_type)
    return Outcome(result, setl_id, now, person, enrolment.psn_type, visit.med_type, clr)


def sub_ledger(region_code: str, pooling_region: str) -> str:
    """The sub-ledger (市级分账核算) a person's spending books to: their county, or the city's own
    books (市本级) when enrolled at city level or outside this pooling region's counties."""
    inside = region_code != pooling_region and entity_of(region_code) == entity_of(pooling_region)
    return region_code if inside else pooling_region


def _post_settlement(
    session: Session, platform: Platform, s: Settlement, setl_id: str, visit: Visit, region_code: str, now: datetime
) -> None:
    """The settlement's entries, in its transaction: each fund's payment a benefit expense of the
    person's county and a payable to the institution (DESIGN.md §2)."""
    if platform.ledger is None:
        return
    transfer = entries.settlement(
        setl_id,
        now.date(),
        visit.fixmedins_code,
        s.region,
        sub_ledger(region_code, s.region),
        ((d.fund_code, d.amount) for d in s.details),
        s.account_pay + s.mutual_aid_pay,
    )
    if transfer is not None:
        platform.ledger.post(session, transfer, now)


def _check_echoed(data: Fields, result: Settlement) -> None:
    for name, attr in ECHOED:
        if data.has(name):
            given = data.fen(name)
            ours = getattr(result, attr)
            if given != ours:
                raise InputError(
                    data.where(name), f"与已上传明细计算的金额不符：请求 {given / 100:.2f}，平台 {ours / 100:.2f}"
                )


def settlement_amounts(s: Settlement) -> dict[str, object]:
    """The settlement row's amount columns (setlinfo), from the engine's settlement."""
    return {
        "rule_date": datetime.fromisoformat(s.rule_date).date(),
        "year": s.year,
        "snapshot_id": s.snapshot_id,
        "pool_prop_selfpay": s.pooled_ratio,
        "reasons": json.dumps(s.reasons, ensure_ascii=False),
        "deltas": json.dumps(s.deltas, sort_keys=True),
        **setlinfo_fen(s),
    }


def _row(
    s: Settlement,
    setl_id: str,
    visit: Visit,
    msgid: str,
    now: datetime,
    status: str,
    reverses: str | None,
    payer: str | None,
    platform: Platform,
) -> dict[str, object]:
    return {
        "setl_id": setl_id,
        "mdtrt_id": visit.mdtrt_id,
        "psn_no": visit.psn_no,
        "insutype": visit.insutype,
        "fixmedins_code": visit.fixmedins_code,
        "visit_type": s.visit_type,
        "med_type": visit.med_type,
        "clr_type": platform.codes.clr_type(visit.insured_region, s.visit_type),
        "clr_optins": s.region,
        "setl_time": now,
        "status": status,
        "reverses": reverses,
        "msgid": msgid,
        "mutual_aid_psn_no": payer,
        **settlement_amounts(s),
    }


def _detail(setl_id: str, d: FundDetail) -> dict[str, object]:
    return {
        "setl_id": setl_id,
        "fund_pay_type": d.fund_code,
        "inscp_scp_amt": d.base,
        "crt_payb_lmt_amt": d.limit_available,
        "fund_payamt": d.amount,
        "setl_proc_info": d.note[:400],
    }


# -- cancel ----------------------------------------------------------------------------------


def stored_settlement(session: Session, row: SettlementRow) -> Settlement:
    """Rebuild the engine's settlement from its stored row (what a reversal needs)."""
    s = Settlement(
        claim_id=row.mdtrt_id,
        person_id=row.psn_no,
        scheme="employee" if row.insutype == "310" else "resident",
        region=row.clr_optins,
        visit_type=row.visit_type,
        rule_date=row.rule_date.isoformat(),
        year=row.year,
        snapshot_id=row.snapshot_id,
        total=row.medfee_sumamt,
        full_self_pay=row.fulamt_ownpay_amt,
        over_limit=row.overlmt_selfpay,
        self_pay_first=row.preselfpay_amt,
        policy_range=row.inscp_scp_amt,
        deductible_paid=row.act_pay_dedc,
        pooled_ratio=row.pool_prop_selfpay,
        fund_pay_total=row.fund_pay_sumamt,
        personal_burden=row.psn_part_amt,
        account_pay=row.acct_pay - row.acct_mulaid_pay,
        mutual_aid_pay=row.acct_mulaid_pay,
        cash_pay=row.psn_cash_pay,
        hospital_burden=row.hosp_part_amt,
        account_balance=row.balc,
        reasons=json.loads(row.reasons),
        deltas=json.loads(row.deltas),
    )
    for d in session.scalars(select(SettlementDetail).where(SettlementDetail.setl_id == row.setl_id)):
        s.details.append(
            FundDetail(d.fund_pay_type, d.fund_payamt, d.inscp_scp_amt, d.crt_payb_lmt_amt, d.setl_proc_info)
        )
    return s


def cancel_settlement(
    session: Session,
    platform: Platform,
    setl_id: str,
    mdtrt_id: str,
    psn_no: str,
    fixmedins_code: str,
    msgid: str,
    kinds: tuple[str, ...],
) -> Outcome:
    """2208 / 2305 / 2103 (and 2601 of a settlement): the exact negative, accumulators restored."""
    now = platform.clock()
    original = session.get(SettlementRow, setl_id)
    if original is None or original.fixmedins_code != fixmedins_code:
        raise InputError("setl_id", f"结算 {setl_id} 不存在或不属于本机构")
    if mdtrt_id and original.mdtrt_id != mdtrt_id:
        raise InputError("mdtrt_id", "就诊ID与结算记录不符")
    if psn_no and original.psn_no != psn_no:
        raise InputError("psn_no", "人员编号与结算记录不符")
    if original.status != "settled":
        raise InputError("setl_id", "该结算已撤销" if original.status == "cancelled" else "撤销记录不能再撤销")
    if original.visit_type not in kinds:
        raise InputError("setl_id", "结算类别与本交易不符")
    visit = session.scalar(select(Visit).where(Visit.mdtrt_id == original.mdtrt_id).with_for_update())
    assert visit is not None
    key: dict[str, object] = {
        "psn_no": original.psn_no,
        "insutype": original.insutype,
        "region_code": original.clr_optins,
        "year": original.year,
    }
    row = hold_accumulators(session, key, True)
    payer = original.mutual_aid_psn_no
    balances = {p: account_balance(session, p, True) for p in sorted({original.psn_no, *([payer] if payer else [])})}
    scheme = "employee" if original.insutype == "310" else "resident"
    undone, restored = reverse(stored_settlement(session, original), to_engine(row, scheme, balances[original.psn_no]))
    cancel_id = platform.ids.next("S", now)
    store_accumulators(session, row, restored)
    move(session, original.psn_no, -undone.account_pay, "cancel", cancel_id, None, now)
    if payer:
        move(session, payer, -undone.mutual_aid_pay, "cancel", cancel_id, original.psn_no, now)
    original.status = "cancelled"
    if platform.ledger is not None:
        # the reversing entries are the original's, negated: exactly the same accounts and amounts
        posted = stored_transfer(session, f"setl:{original.setl_id}")
        if posted is not None:
            reversing = negated(posted, f"setl:{cancel_id}", TransferType.SETTLEMENT_CANCEL, now.date())
            platform.ledger.post(session, reversing, now)
    insert_rows(
        session,
        SettlementRow,
        _row(undone, cancel_id, visit, msgid, now, "reversal", original.setl_id, payer, platform),
    )
    insert_rows(session, SettlementDetail, [_detail(cancel_id, d) for d in undone.details])
    for line in session.scalars(select(FeeLine).where(FeeLine.setl_id == original.setl_id)):
        line.setl_id = None
    change_visit(session, visit, status=DISCHARGED if visit.end_time is not None else OPEN)
    person = session.get(Person, original.psn_no)
    assert person is not None
    enrolment = enrolment_on(session, original.psn_no, original.insutype, visit.begin_time.date())
    clr = platform.codes.clr_type(visit.insured_region, undone.visit_type)
    return Outcome(undone, cancel_id, now, person, enrolment.psn_type if enrolment else "", visit.med_type, clr)
