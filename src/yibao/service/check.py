"""`yibao check`: the invariants of the fund's books, verified on any database.

Each check reads the stored rows and recomputes what they must equal; none trusts a cached
figure. A breach names what broke (the transfer, account, institution or sub-ledger and the two
amounts) so that someone can find it.

1. every transfer balances per fund and accounting entity, with at least two non-zero postings;
2. stored month-end balances (ledger_close) equal the sum of their accounts' postings;
3. stored monthly figures (fund_month) equal income, spending and balance from the postings;
4. payables to institutions from settlements equal the fund payments of the settlements;
5. the county sub-ledgers' balances sum to the city's (or province's) net assets, per fund;
6. no account is below its floor (cash overdrawn, an institution paid more than it is owed).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date

from sqlalchemy import Connection, Engine, case, func, select

from yibao.fund.chart import EXPENSE_KINDS, INCOME_KINDS, AccountClass, AccountKind, AccountRef, entity_of, fund_of
from yibao.fund.transfer import TransferType
from yibao.money import fen_to_yuan
from yibao.service.books import class_sums, month_end
from yibao.service.ledger import balances
from yibao.store.ledger import FundMonth, LedgerAccount, LedgerClose, LedgerPosting, LedgerTransfer
from yibao.store.models import Settlement, SettlementDetail

MAX_SHOWN = 20  # breaches listed per check; the count is always complete


@dataclass
class CheckResult:
    name: str
    checked: int = 0
    breaches: list[str] = field(default_factory=list)
    total_breaches: int = 0

    @property
    def ok(self) -> bool:
        return self.total_breaches == 0

    def breach(self, text: str) -> None:
        self.total_breaches += 1
        if len(self.breaches) < MAX_SHOWN:
            self.breaches.append(text)


def _y(fen: int) -> str:
    return fen_to_yuan(fen)


def check_transfers(conn: Connection) -> CheckResult:
    r = CheckResult("每笔转账借贷平衡（按基金与会计主体）")
    a, p = LedgerAccount, LedgerPosting
    r.checked = conn.execute(select(func.count()).select_from(LedgerTransfer)).scalar_one()
    unbalanced = conn.execute(
        select(p.transfer_id, a.fund, a.entity, func.sum(p.amount))
        .join(a, a.code == p.account)
        .group_by(p.transfer_id, a.fund, a.entity)
        .having(func.sum(p.amount) != 0)
    )
    for tid, fund, entity, diff in unbalanced:
        r.breach(f"转账 {tid}：基金 {fund} 主体 {entity} 借贷差额 {_y(int(diff))} 元")
    counts = (
        select(LedgerTransfer.id, func.count(p.id), func.sum(case((p.amount == 0, 1), else_=0)))
        .outerjoin(p, p.transfer_id == LedgerTransfer.id)
        .group_by(LedgerTransfer.id)
    )
    for tid, n, zeros in conn.execute(counts):
        if n < 2:
            r.breach(f"转账 {tid}：只有 {n} 条分录")
        if zeros:
            r.breach(f"转账 {tid}：有金额为零的分录")
    return r


def check_closes(conn: Connection) -> CheckResult:
    r = CheckResult("结账余额等于分录合计")
    months = sorted(m for (m,) in conn.execute(select(LedgerClose.month).distinct()))
    for first in months:
        last = month_end(first)
        query = select(LedgerClose.account, LedgerClose.balance).where(LedgerClose.month == first)
        stored = dict(conn.execute(query).all())
        actual = balances(conn, last, list(stored))
        for code, bal in sorted(stored.items()):
            r.checked += 1
            if actual.get(code, 0) != bal:
                r.breach(f"{first:%Y-%m} 科目 {code}：结账余额 {_y(bal)} 元，分录合计 {_y(actual.get(code, 0))} 元")
    return r


def check_fund_months(conn: Connection) -> CheckResult:
    r = CheckResult("月报收支与累计结余等于分录")
    rows = list(conn.execute(select(FundMonth.region, FundMonth.fund, FundMonth.month, FundMonth.income,
                                    FundMonth.expense, FundMonth.accumulated)))  # fmt: skip
    equity_kinds = frozenset(INCOME_KINDS | EXPENSE_KINDS | {AccountKind.OPENING_BALANCE})
    cache: dict[date, tuple[dict[tuple[str, str], int], ...]] = {}
    for region, fund, first, income, expense, accumulated in rows:
        if first not in cache:
            last = month_end(first)
            cache[first] = (
                class_sums(conn, None, first, last, INCOME_KINDS),
                class_sums(conn, None, first, last, EXPENSE_KINDS),
                class_sums(conn, None, None, last, equity_kinds),
            )
        inc, exp, eq = cache[first]
        key = (region, fund)
        r.checked += 1
        got = (-inc.get(key, 0), exp.get(key, 0), -eq.get(key, 0))
        if got != (income, expense, accumulated):
            r.breach(
                f"{first:%Y-%m} {region} 基金 {fund}：月报 收入/支出/累计结余 {_y(income)}/{_y(expense)}/{_y(accumulated)} 元，"
                f"分录 {_y(got[0])}/{_y(got[1])}/{_y(got[2])} 元"
            )
    return r


def check_settlement_payables(conn: Connection) -> CheckResult:
    r = CheckResult("结算形成的应付医疗机构款等于结算基金支付")
    a, p, t = LedgerAccount, LedgerPosting, LedgerTransfer
    kinds = (TransferType.SETTLEMENT.value, TransferType.SETTLEMENT_CANCEL.value)
    ledger: dict[tuple[str, str], int] = defaultdict(int)
    for party, fund, total in conn.execute(
        select(a.party, a.fund, func.sum(p.amount))
        .join(a, a.code == p.account)
        .join(t, t.id == p.transfer_id)
        .where(t.type.in_(kinds), a.kind == AccountKind.HOSPITAL_PAYABLE.value)
        .group_by(a.party, a.fund)
    ):
        ledger[(party, fund)] -= int(total)
    paid: dict[tuple[str, str], int] = defaultdict(int)
    s, d = Settlement, SettlementDetail
    for inst, code, total in conn.execute(
        select(s.fixmedins_code, d.fund_pay_type, func.sum(d.fund_payamt))
        .join(d, d.setl_id == s.setl_id)
        .where(d.fund_pay_type != "310200")
        .group_by(s.fixmedins_code, d.fund_pay_type)
    ):
        paid[(inst, fund_of(code).value)] += int(total)
    for inst, total in conn.execute(select(s.fixmedins_code, func.sum(s.acct_pay)).group_by(s.fixmedins_code)):
        paid[(inst, "310200")] += int(total or 0)
    for key in sorted(set(ledger) | {k for k, v in paid.items() if v}):
        r.checked += 1
        if ledger.get(key, 0) != paid.get(key, 0):
            r.breach(
                f"机构 {key[0]} 基金 {key[1]}：应付款 {_y(ledger.get(key, 0))} 元，结算基金支付 {_y(paid.get(key, 0))} 元"
            )
    return r


def check_sub_ledgers(conn: Connection) -> CheckResult:
    r = CheckResult("县区分账结余合计等于市（省）级账面净资产")
    equity: dict[tuple[str, str], int] = defaultdict(int)
    net_assets: dict[tuple[str, str], int] = defaultdict(int)
    a, p = LedgerAccount, LedgerPosting
    for entity, fund, kind, total in conn.execute(
        select(a.entity, a.fund, a.kind, func.sum(p.amount))
        .join(a, a.code == p.account)
        .group_by(a.entity, a.fund, a.kind)
    ):
        cls = AccountKind(kind).account_class
        if cls in (AccountClass.ASSET, AccountClass.LIABILITY):
            net_assets[(entity, fund)] += int(total)
        else:
            equity[(entity, fund)] -= int(total)
    for key in sorted(set(equity) | set(net_assets)):
        r.checked += 1
        if equity.get(key, 0) != net_assets.get(key, 0):
            r.breach(
                f"主体 {key[0]} 基金 {key[1]}：各分账结余合计 {_y(equity.get(key, 0))} 元，净资产 {_y(net_assets.get(key, 0))} 元"
            )
    # the closed monthly figures: Σ sub-ledgers' 累计结余 equals net assets at that month's end
    closed = conn.execute(select(FundMonth.region, FundMonth.fund, FundMonth.month, FundMonth.accumulated))
    by_close: dict[tuple[str, str, date], int] = defaultdict(int)
    for region, fund, first, accumulated in closed:
        by_close[(entity_of(region), fund, first)] += accumulated
    cash_kinds = frozenset(k for k in AccountKind if k.account_class in (AccountClass.ASSET, AccountClass.LIABILITY))
    for (entity, fund, first), total in sorted(by_close.items()):
        r.checked += 1
        assets = class_sums(conn, None, None, month_end(first), cash_kinds)
        have = sum(v for (reg, f), v in assets.items() if f == fund and entity_of(reg) == entity)
        if have != total:
            r.breach(f"{first:%Y-%m} 主体 {entity} 基金 {fund}：月报累计结余合计 {_y(total)} 元，净资产 {_y(have)} 元")
    return r


def check_floors(conn: Connection) -> CheckResult:
    r = CheckResult("账户余额不低于下限")
    floored = [k.value for k in AccountKind if k.floor]
    codes = list(conn.scalars(select(LedgerAccount.code).where(LedgerAccount.kind.in_(floored))))
    points: list[tuple[str, dict[str, int]]] = [("当前", balances(conn, None, codes))]
    points += [
        (
            f"{first:%Y-%m} 结账",
            dict(
                conn.execute(
                    select(LedgerClose.account, LedgerClose.balance).where(
                        LedgerClose.month == first, LedgerClose.account.in_(codes)
                    )
                ).all()
            ),
        )
        for (first,) in conn.execute(select(LedgerClose.month).distinct())
    ]
    for when, bal in points:
        for code, value in sorted(bal.items()):
            r.checked += 1
            kind = AccountRef.parse(code).kind
            normal = -value if kind.credit_normal else value
            if normal < 0:
                r.breach(f"{when} {kind.label} {code} 余额 {_y(normal)} 元，低于下限 0")
    return r


CHECKS = (check_transfers, check_closes, check_fund_months, check_settlement_payables, check_sub_ledgers, check_floors)


def run_checks(engine: Engine) -> list[CheckResult]:
    with engine.connect() as conn:
        return [check(conn) for check in CHECKS]
