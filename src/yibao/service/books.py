"""The fund's books as use cases, each one database transaction: post business events, run a
month's disbursement plan and clearing, close a month, share county deficits, run the provincial
adjustment fund's year.

Figures come from the postings (:mod:`yibao.service.ledger`); the rules from :mod:`yibao.fund`;
the parameters from the policy files (``fund.*``). City pooling (统收统支): money sits in the city's
fiscal special account, each county's income and spending are its sub-ledger (市级分账核算).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time
from typing import Protocol

from sqlalchemy import Connection, Engine, and_, delete, func, select
from sqlalchemy.orm import Session, sessionmaker

from yibao.errors import InputError
from yibao.fund import entries
from yibao.fund.chart import (
    EXPENSE_KINDS,
    INCOME_KINDS,
    INTERNAL_KINDS,
    MONITORED_FUNDS,
    AccountKind,
    AccountRef,
    Fund,
    entity_of,
)
from yibao.fund.monitor import Budget, MonthFigures, MonthRow, alerts, monthly_table
from yibao.fund.terms import fund_terms
from yibao.fund.transfer import Transfer, TransferType
from yibao.policy.snapshot import PolicySnapshot
from yibao.service.ledger import Ledger, balances, require_floors
from yibao.store.db import session_factory, transaction
from yibao.store.ledger import (
    CountyOpening,
    FundAlert,
    FundBudget,
    FundMonth,
    LedgerAccount,
    LedgerClose,
    LedgerPosting,
    LedgerTransfer,
)
from yibao.store.models import Institution, Region

K = AccountKind
#: kinds that make up a sub-ledger's own income and spending before city-level sharing and adjustment
OWN_INCOME = frozenset(INCOME_KINDS - {K.INTERNAL_IN, K.COUNTY_SHARE_INCOME, K.TRANSFER_IN})
OWN_EXPENSE = frozenset(EXPENSE_KINDS - {K.INTERNAL_OUT})
ADJUSTMENT = (TransferType.ADJUSTMENT_LEVY.value, TransferType.ADJUSTMENT_ALLOCATION.value)


class Books(Protocol):
    """What the books' use cases need of the platform (:class:`~yibao.service.platform.Platform` has it)."""

    @property
    def sessions(self) -> sessionmaker[Session]: ...
    @property
    def snapshot(self) -> PolicySnapshot: ...
    @property
    def ledger(self) -> Ledger | None: ...
    def clock(self) -> datetime: ...


@dataclass
class FundDesk:
    """The books without the real-time service's personal-data cipher (``yibao fund``, ``yibao demo``)."""

    engine: Engine
    snapshot: PolicySnapshot
    ledger: Ledger | None = field(default_factory=Ledger)
    clock: Callable[[], datetime] = datetime.now
    sessions: sessionmaker[Session] = field(init=False)

    def __post_init__(self) -> None:
        self.sessions = session_factory(self.engine)


def month_start(on: date) -> date:
    return on.replace(day=1)


def month_end(on: date) -> date:
    nxt = date(on.year + on.month // 12, on.month % 12 + 1, 1)
    return date.fromordinal(nxt.toordinal() - 1)


def _at(on: date) -> datetime:
    return datetime.combine(on, time(23, 59, 59))


# -- posting ------------------------------------------------------------------------------------


def post(session: Session, platform: Books, transfer: Transfer, floors: bool = True) -> bool:
    """Post one transfer in ``session`` (closed months and floors checked first); False when
    already posted (a repeat is a no-op even into a month closed since)."""
    if platform.ledger is None:
        raise InputError("ledger", "本平台实例未启用记账")
    if session.get(LedgerTransfer, transfer.id) is None:
        _refuse_closed(session, transfer)
        if floors:
            require_floors(session, transfer)
    return platform.ledger.post(session, transfer, _at(transfer.booked_on))


def last_closed(session: Session, entity: str) -> date | None:
    """The latest month closed in ``entity``'s books (first day), or None."""
    return session.scalar(
        select(func.max(LedgerClose.month))
        .join(LedgerAccount, LedgerAccount.code == LedgerClose.account)
        .where(LedgerAccount.entity == entity)
    )


def _refuse_closed(session: Session, transfer: Transfer) -> None:
    """月末结账后不得再记该月及以前的账: a month must be reopened (反结账) before it takes entries."""
    for entity in sorted({p.account.entity for p in transfer.postings}):
        closed = last_closed(session, entity)
        if closed is not None and transfer.booked_on <= month_end(closed):
            raise InputError(
                "booked_on",
                f"{transfer.type.label} {transfer.id} 的记账日期 {transfer.booked_on} 在 {entity} 已结账的 "
                f"{closed:%Y-%m} 月或以前；请先反结账（yibao fund reopen）",
            )


def reopen_month(platform: Books, entity: str, month: date) -> int:
    """反结账: remove the closes of ``month`` and of every later month of ``entity``'s books, so they
    take entries again; returns the number of months reopened. Close them again afterwards."""
    first = month_start(month)
    with transaction(platform.sessions) as session:
        codes = list(session.scalars(select(LedgerAccount.code).where(LedgerAccount.entity == entity)))
        regions = {r for (r,) in session.execute(select(LedgerAccount.region).where(LedgerAccount.entity == entity))}
        months = set(session.scalars(select(LedgerClose.month).where(LedgerClose.month >= first,
                                                                     LedgerClose.account.in_(codes))))  # fmt: skip
        session.execute(delete(LedgerClose).where(LedgerClose.month >= first, LedgerClose.account.in_(codes)))
        session.execute(delete(FundMonth).where(FundMonth.month >= first, FundMonth.region.in_(regions)))
        session.execute(delete(FundAlert).where(FundAlert.month >= first, FundAlert.region.in_(regions)))
    return len(months)


def post_all(platform: Books, transfers: Iterable[Transfer], floors: bool = True) -> int:
    """Post ``transfers`` in one transaction (all or nothing); the number newly posted."""
    with transaction(platform.sessions) as session:
        return sum(post(session, platform, t, floors) for t in transfers)


def open_county(platform: Books, city: str, county: str, fund: Fund, as_of: date, balance: int, debt: int) -> None:
    """A county joins city pooling: its balance is pooled (posted), its earlier debt recorded and kept
    by the county (舟山方案 二(二)2(3))."""
    if balance < 0 or debt < 0:
        raise InputError("balance" if balance < 0 else "debt", "期初结余与历史债务不能为负")
    with transaction(platform.sessions) as session:
        session.merge(CountyOpening(region=county, fund=fund.value, as_of=as_of, balance=balance, debt=debt))
        if balance:
            post(session, platform, entries.opening(as_of, fund, city, county, balance))


# -- figures from the postings ------------------------------------------------------------------


def class_sums(
    conn: Connection | Session,
    entity: str | None,
    start: date | None,
    end: date,
    kinds: frozenset[AccountKind],
    exclude_types: Sequence[str] = (),
) -> dict[tuple[str, str], int]:
    """Σ postings per (region, fund) over accounts of ``kinds`` booked in [start, end], in
    ``entity``'s books (every entity's with ``None``)."""
    a, p = LedgerAccount, LedgerPosting
    stmt = (
        select(a.region, a.fund, func.sum(p.amount))
        .join(a, a.code == p.account)
        .where(a.kind.in_([k.value for k in kinds]), p.booked_on <= end)
        .group_by(a.region, a.fund)
    )
    if entity is not None:
        stmt = stmt.where(a.entity == entity)
    if start is not None:
        stmt = stmt.where(p.booked_on >= start)
    if exclude_types:
        stmt = stmt.join(LedgerTransfer, LedgerTransfer.id == p.transfer_id).where(
            LedgerTransfer.type.not_in(list(exclude_types))
        )
    return {(r, f): int(v) for r, f, v in conn.execute(stmt)}


def equity(conn: Connection | Session, entity: str, upto: date) -> dict[tuple[str, str], int]:
    """Each sub-ledger's accumulated balance (累计结余, credit positive) at the end of ``upto``."""
    sums = class_sums(conn, entity, None, upto, frozenset(INCOME_KINDS | EXPENSE_KINDS | {K.OPENING_BALANCE}))
    return {k: -v for k, v in sums.items()}


@dataclass(frozen=True, slots=True)
class SubLedgerYear:
    region: str
    fund: str
    opening: int  # 累计结余 at the end of the year before
    months: tuple[MonthFigures, ...]
    budget: Budget | None
    prior: tuple[MonthFigures, ...]


def _combined(sums: dict[tuple[str, str], int], entity: str) -> dict[tuple[str, str], int]:
    out: dict[tuple[str, str], int] = defaultdict(int)
    for (_, fund), v in sums.items():
        out[(entity, fund)] += v
    return dict(out)


def year_figures(
    conn: Connection | Session, entity: str, year: int, last_month: int = 12, combine: bool = False
) -> list[SubLedgerYear]:
    """Every sub-ledger's months of ``year`` up to ``last_month`` (and the year before for 同比);
    with ``combine`` the entity's whole books per fund, transfers between its sub-ledgers left out."""
    income_kinds = INCOME_KINDS - INTERNAL_KINDS if combine else INCOME_KINDS
    expense_kinds = EXPENSE_KINDS - INTERNAL_KINDS if combine else EXPENSE_KINDS

    def sums(start: date | None, end: date, kinds: frozenset[AccountKind]) -> dict[tuple[str, str], int]:
        found = class_sums(conn, entity, start, end, kinds)
        return _combined(found, entity) if combine else found

    def months_of(y: int, upto: int) -> dict[tuple[str, str], list[MonthFigures]]:
        out: dict[tuple[str, str], list[MonthFigures]] = defaultdict(list)
        for m in range(1, upto + 1):
            first = date(y, m, 1)
            inc = sums(first, month_end(first), income_kinds)
            exp = sums(first, month_end(first), expense_kinds)
            for key in set(inc) | set(exp):
                out[key].append(MonthFigures(first, -inc.get(key, 0), exp.get(key, 0)))
        return out

    current = months_of(year, last_month)
    prior_all = months_of(year - 1, 12)
    opening = equity(conn, entity, date(year - 1, 12, 31))
    if combine:
        opening = _combined(opening, entity)
    # balances pooled when city pooling starts within the year count as the year's opening, not income
    pooled = sums(date(year, 1, 1), month_end(date(year, last_month, 1)), frozenset({K.OPENING_BALANCE}))
    for key, v in pooled.items():
        opening[key] = opening.get(key, 0) - v
    budgets = _budgets(conn, year, entity)
    if combine:  # the whole city's budget is its sub-ledgers' together
        whole: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0])
        for (_, fund), b in budgets.items():
            whole[(entity, fund)][0] += b.income
            whole[(entity, fund)][1] += b.expense
        budgets = {k: Budget(i, e) for k, (i, e) in whole.items()}
    result = []
    for key in sorted(set(current) | set(opening)):
        have = {f.month: f for f in current.get(key, [])}
        months = tuple(
            have.get(date(year, m, 1), MonthFigures(date(year, m, 1), 0, 0)) for m in range(1, last_month + 1)
        )
        had = {f.month: f for f in prior_all.get(key, [])}
        prior = tuple(had[date(year - 1, m, 1)] for m in range(1, 13)) if len(had) == 12 else ()
        result.append(SubLedgerYear(key[0], key[1], opening.get(key, 0), months, budgets.get(key), prior))
    return result


def _budgets(conn: Connection | Session, year: int, entity: str) -> dict[tuple[str, str], Budget]:
    rows = conn.execute(select(FundBudget.region, FundBudget.fund, FundBudget.income, FundBudget.expense).where(
        FundBudget.year == year))  # fmt: skip
    return {(r, f): Budget(i, e) for r, f, i, e in rows if entity_of(r) == entity}


def table_of(s: SubLedgerYear, platform: Books) -> list[MonthRow]:
    terms = fund_terms(platform.snapshot, entity_of(s.region), s.months[-1].month)
    return monthly_table(s.opening, s.months, s.budget, s.prior or None, terms.thresholds)


def monitored(fund: str, region: str, entity: str) -> bool:
    """Warning levels apply to the pooled funds of the whole city and of each county's sub-ledger
    (not to 市本级, whose books only carry the city's share of county deficits)."""
    return fund in MONITORED_FUNDS and region != entity


# -- month-end close ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Closed:
    month: date
    accounts: int
    rows: dict[tuple[str, str], MonthRow]
    alerts: list[str]


def close_month(platform: Books, entity: str, month: date) -> Closed:
    """月末结账: every account's balance and every sub-ledger's figures for ``month`` are stored,
    and an alert is raised where a sub-ledger crossed a warning level. Closing again replaces them."""
    first, last = month_start(month), month_end(month)
    with transaction(platform.sessions) as session:
        names = dict(session.execute(select(Region.code, Region.name)).all())
        codes = list(session.scalars(select(LedgerAccount.code).where(LedgerAccount.entity == entity)))
        if not codes:
            raise InputError("entity", f"{entity} 没有任何账户，无法结账")
        closing = balances(session, last, codes)
        session.execute(delete(LedgerClose).where(LedgerClose.month == first, LedgerClose.account.in_(codes)))
        session.add_all(LedgerClose(account=c, month=first, balance=closing.get(c, 0)) for c in codes)
        regions = {r for (r,) in session.execute(select(LedgerAccount.region).where(LedgerAccount.entity == entity))}
        session.execute(delete(FundMonth).where(FundMonth.month == first, FundMonth.region.in_(regions)))
        session.execute(delete(FundAlert).where(FundAlert.month == first, FundAlert.region.in_(regions)))
        rows: dict[tuple[str, str], MonthRow] = {}
        messages: list[str] = []
        for s in year_figures(session, entity, first.year, first.month):
            table = table_of(s, platform)
            row = table[-1]
            rows[(s.region, s.fund)] = row
            session.add(FundMonth(
                region=s.region, fund=s.fund, month=first, income=row.income, expense=row.expense,
                accumulated=row.accumulated, level=row.level.value, closed_at=platform.clock(),
                months_payable="" if row.months_payable is None else str(row.months_payable),
            ))  # fmt: skip
            fund_name = Fund(s.fund).label
            if not monitored(s.fund, s.region, entity):
                continue
            for a in alerts(table, names.get(s.region, s.region), fund_name):
                if a.month == first:
                    messages.append(a.message)
                    session.add(FundAlert(region=s.region, fund=s.fund, month=first, before=a.before.value if a.before
                                          else "", after=a.after.value, message=a.message[:400]))  # fmt: skip
    return Closed(first, len(codes), rows, messages)


# -- monthly disbursement and clearing ----------------------------------------------------------


def _payer(institution_region: str, city: str) -> str:
    inside = institution_region != city and entity_of(institution_region) == city
    return institution_region if inside else city


def clear_month(platform: Books, city: str, month: date, recover_revolving: bool = False) -> list[Transfer]:
    """月度用款计划与清算: what each institution is owed at month end is disbursed from the city's
    special account to the paying agency (the institution's county) and paid to the institution;
    with ``recover_revolving`` (year end) outstanding revolving funds are first offset."""
    last = month_end(month)
    with transaction(platform.sessions) as session:
        # a later run in the same month (what was settled after the first) gets its own transfer ids;
        # the amounts come from the balances, so a run with nothing owed posts nothing
        earlier = session.scalar(
            select(func.count())
            .select_from(LedgerTransfer)
            .where(
                LedgerTransfer.type.in_([TransferType.CLEARING.value, TransferType.REVOLVING_RECOVERY.value]),
                LedgerTransfer.ref.like(f"%:{month:%Y-%m}%"),
            )
        )
        batch = f"r{earlier}" if earlier else ""
        period = f"{month:%Y-%m}:{batch}" if batch else f"{month:%Y-%m}"
        where = and_(
            LedgerAccount.entity == city, LedgerAccount.kind.in_([K.HOSPITAL_PAYABLE.value, K.REVOLVING_FUND.value])
        )
        codes = list(session.scalars(select(LedgerAccount.code).where(where)))
        now = balances(session, last, codes)
        regions = dict(session.execute(select(Institution.code, Institution.region_code)).all())
        owed: dict[tuple[str, Fund], int] = {}
        advanced: dict[tuple[str, Fund], int] = {}
        for code, bal in now.items():
            ref = AccountRef.parse(code)
            target = owed if ref.kind is K.HOSPITAL_PAYABLE else advanced
            target[(ref.party, ref.fund)] = -bal if ref.kind is K.HOSPITAL_PAYABLE else bal
        transfers: list[Transfer] = []
        plan: dict[tuple[str, Fund], int] = defaultdict(int)
        payments: list[tuple[str, Fund, str, int]] = []
        for (inst, fund), amount in sorted(owed.items()):
            if recover_revolving and advanced.get((inst, fund), 0) > 0 and amount > 0:
                back = min(amount, advanced[(inst, fund)])
                transfers.append(entries.revolving_recovery(last, fund, city, inst, period, back))
                amount -= back
            if amount > 0:
                payer = _payer(regions.get(inst, city), city)
                plan[(payer, fund)] += amount
                payments.append((inst, fund, payer, amount))
        for (payer, fund), amount in sorted(plan.items()):
            transfers.append(entries.disbursement(last, fund, city, payer, amount, f"clearing{batch}"))
        for inst, fund, payer, amount in payments:
            transfers.append(entries.clearing(last, fund, city, payer, inst, period, amount))
        for t in transfers:
            post(session, platform, t)
    return transfers


def advance_revolving(platform: Books, city: str, on: date, amounts: dict[tuple[str, Fund], int]) -> list[Transfer]:
    """预付周转金: advances to institutions, disbursed from the special account to the paying agency first."""
    with transaction(platform.sessions) as session:
        regions = dict(session.execute(select(Institution.code, Institution.region_code)).all())
        plan: dict[tuple[str, Fund], int] = defaultdict(int)
        advances = []
        for (inst, fund), amount in sorted(amounts.items()):
            if amount > 0:
                payer = _payer(regions.get(inst, city), city)
                plan[(payer, fund)] += amount
                advances.append(entries.revolving_advance(on, fund, city, payer, inst, amount))
        transfers = [
            entries.disbursement(on, fund, city, payer, amount, "revolving")
            for (payer, fund), amount in sorted(plan.items())
        ]
        transfers += advances
        for t in transfers:
            post(session, platform, t)
    return transfers


def set_budget(platform: Books, year: int, fund: Fund, region: str, income: int, expense: int) -> None:
    if income < 0 or expense < 0:
        raise InputError("income" if income < 0 else "expense", "预算金额不能为负")
    with transaction(platform.sessions) as session:
        session.merge(FundBudget(year=year, fund=fund.value, region=region, income=income, expense=expense))
