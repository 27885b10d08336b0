"""3201 对总账: an institution's settlement totals for a clearing type, period and clearing agency.

Totals are net: every settlement row whose settlement time falls in the period counts with its
sign, so a cancel counts as a negative row (the spec's note on 2305: reverse amounts enter the
period in which the cancel happened). ``fixmedins_setl_cnt`` is the net count: settlements
minus cancels. With ``refd_setl_flag = 1`` only the cancel (退费) rows are compared.
"""

from __future__ import annotations

from datetime import datetime, time

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from yibao.errors import InputError
from yibao.io.fields import Fields
from yibao.store.models import Settlement


def totals(
    session: Session, fixmedins_code: str, insutype: str, clr_type: str, optins: str, begin: datetime, end: datetime,
    refunds_only: bool,
) -> tuple[int, int, int, int]:  # fmt: skip
    """(medfee_sumamt, fund_pay_sumamt, acct_pay, net count) in fen."""
    stmt = select(
        func.coalesce(func.sum(Settlement.medfee_sumamt), 0),
        func.coalesce(func.sum(Settlement.fund_pay_sumamt), 0),
        func.coalesce(func.sum(Settlement.acct_pay), 0),
        func.coalesce(func.sum(case((Settlement.status == "reversal", -1), else_=1)), 0),
    ).where(
        Settlement.fixmedins_code == fixmedins_code,
        Settlement.insutype == insutype,
        Settlement.clr_type == clr_type,
        Settlement.clr_optins == optins,
        Settlement.setl_time >= begin,
        Settlement.setl_time <= end,
    )
    if refunds_only:
        stmt = stmt.where(Settlement.status == "reversal")
    medfee, fund, acct, count = session.execute(stmt).one()
    return int(medfee), int(fund), int(acct), int(count)


def reconcile(session: Session, fixmedins_code: str, data: Fields) -> dict[str, object]:
    begin = data.day("stmt_begndate")
    end = data.day("stmt_enddate")
    assert begin is not None and end is not None
    if end < begin:
        raise InputError(data.where("stmt_enddate"), "对账结束日期早于开始日期")
    optins = data.text("setl_optins")
    ours = totals(
        session, fixmedins_code, data.text("insutype"), data.text("clr_type"), optins,
        datetime.combine(begin, time.min), datetime.combine(end, time.max), data.text("refd_setl_flag", required=False) == "1",
    )  # fmt: skip
    count = data.integer("fixmedins_setl_cnt")
    theirs = (data.fen("medfee_sumamt"), data.fen("fund_pay_sumamt"), data.fen("acct_pay"), count)
    labels = (
        "medfee_sumamt 医疗费总额",
        "fund_pay_sumamt 基金支付总额",
        "acct_pay 个人账户支出",
        "fixmedins_setl_cnt 结算笔数",
    )
    differences = [
        f"{label}：机构 {_show(t, i)}，平台 {_show(o, i)}"
        for i, (label, t, o) in enumerate(zip(labels, theirs, ours, strict=True))
        if t != o
    ]
    return {
        "setl_optins": optins,
        "stmt_rslt": "1" if differences else "0",
        "stmt_rslt_dscr": "；".join(differences) if differences else "平",
    }


def _show(value: object, index: int) -> str:
    assert isinstance(value, int)
    return str(value) if index == 3 else f"{value / 100:.2f}"
