"""The demo year's books: every money movement of the synthetic city posted to the ledger, month
by month, closed, and the county deficits shared at year end.

Collections (per county, scheme and day of receipt), remittances to the city's special account,
fiscal subsidies, account credits, the resident fund's 大病 premium, monthly disbursement plans and
clearing of what institutions are owed (revolving funds advanced in January and recovered in
December), and each month-end close. Settlements post their own entries as they are written
(:class:`yibao.demo.persist.SettlementWriter`).

What the published figures do not give is an assumption, said here: each county's opening balance
(13 months of its budgeted spending for the employee fund, 7 for the resident fund, from the
national position at the end of 2019 — 潮州's balances by county are not published); budgets
(income target = contributions due net of account credits, plus subsidies; spending budget = the
county's settled spending; each times a per-county factor so that every cause of a deficit shows);
funds without contributions of their own (医疗救助, 公务员补助, 大额补助) funded by the treasury in
January with 110% of what they paid; revolving funds of one month of each level-3 hospital's
pooled-fund payments.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable
from datetime import date
from fractions import Fraction

from sqlalchemy import Engine, func, select

from yibao.fund import entries
from yibao.fund.chart import INCOME_KINDS, POOLED_FUND, AccountKind, Fund, fund_of
from yibao.fund.transfer import Transfer
from yibao.io.payments_csv import Payment, Remittance
from yibao.money import round_div
from yibao.policy.snapshot import PolicySnapshot
from yibao.service.books import (
    FundDesk,
    advance_revolving,
    class_sums,
    clear_month,
    close_month,
    open_county,
    post_all,
    set_budget,
)
from yibao.service.year_end import share_year
from yibao.sim.city import CITY, COUNTIES, City
from yibao.sim.dues import Due
from yibao.sim.payments import Subsidy
from yibao.store.models import Institution, Settlement, SettlementDetail

#: budgets per county: the demo's spending budget is the county's spending of the year times a factor,
#: and its income target what was due times a factor, so that one county overspends its budget
#: (湘桥区) and one collects less than its target (潮安区): each cause of a deficit appears once
SPENDING_BUDGET = {"445102": Fraction(95, 100), "445103": Fraction(103, 100), "445122": Fraction(1)}
INCOME_TARGET = {"445102": Fraction(1), "445103": Fraction(102, 100), "445122": Fraction(1)}
#: opening balances in months of budgeted spending: the national end-2019 position — resident 5143亿 ÷
#: (8191亿 / 12) = 7.5 months; employee pooled (19270 − 5143)亿 ÷ (12663亿 / 12) ≥ 13.4 months (NHSA 2019
#: bulletin, shared/reference/actuarial/nhsa_national_fund_2019_2025.csv), rounded down
OPENING_MONTHS = {Fund.EMPLOYEE_POOLED: 13, Fund.RESIDENT_POOLED: 7}
FUNDED_BY_TREASURY = Fraction(11, 10)


def _first(on: date) -> date:
    return on.replace(day=1)


class DemoBooks:
    def __init__(self, engine: Engine, snapshot: PolicySnapshot, city: City) -> None:
        self.desk = FundDesk(engine, snapshot)
        self.city = city
        self.year = city.year
        self.by_month: dict[date, list[Transfer]] = defaultdict(list)
        self.assisted = 0

    def _at(self, t: Transfer) -> None:
        self.by_month[_first(t.booked_on)].append(t)

    # -- income ---------------------------------------------------------------------------------

    def income(
        self,
        payments: Iterable[Payment],
        remitted: Iterable[Remittance],
        subsidies: Iterable[Subsidy],
        dues: Iterable[Due],
        credit: dict[tuple[str, int], int],
    ) -> None:
        daily: dict[tuple[str, str, date], list[int]] = defaultdict(lambda: [0, 0])
        for p in payments:
            acc = daily[(p.region, p.insutype, p.paid_on)]
            acc[0] += p.amount - p.assistance
            acc[1] += p.assistance
        self.assisted = sum(v[1] for v in daily.values())  # 资助参保, paid by the assistance fund
        for (county, insutype, on), (amount, assisted) in sorted(daily.items()):
            ref = f"{county}:{insutype}:{on.isoformat()}"
            self._at(entries.collection(ref, on, POOLED_FUND[insutype], CITY, county, amount, assisted))
        for r in remitted:
            self._at(entries.remittance(r.remitted_on, POOLED_FUND[r.insutype], CITY, r.region, r.month, r.amount))
        for s in subsidies:
            ref = f"{s.region}:390:{s.month:%Y-%m}"
            self._at(entries.fiscal_subsidy(ref, s.month, Fund.RESIDENT_POOLED, CITY, s.region, s.amount))
        for (county, month), amount in sorted(credit.items()):
            if amount:
                self._at(entries.account_credit(date(self.year, month, 1), CITY, county, amount))
        premium: dict[str, int] = defaultdict(int)
        for d in dues:
            premium[d.region] += d.critical_illness_funding
        for county, amount in sorted(premium.items()):
            if amount:  # 大病保险 premium for the year, paid from the resident fund in January
                ref = f"{county}:{self.year}"
                self._at(
                    entries.fund_transfer(
                        ref, date(self.year, 1, 1), Fund.RESIDENT_POOLED, Fund.CRITICAL_ILLNESS, CITY, county, amount
                    )
                )

    # -- the year -------------------------------------------------------------------------------

    def run(self, account_openings: dict[str, int], advance: Callable[[int], None] | None = None) -> list[str]:
        """Budgets and openings, then each month's events, clearing and close; the county deficits
        shared after the year's accounts (booked 31 January of the next year); the alerts raised."""
        desk, year = self.desk, self.year
        jan1 = date(year, 1, 1)
        income = self._cash_income()
        spending = self._county_spending()
        for county, _, _ in COUNTIES:
            for fund, months in OPENING_MONTHS.items():
                spent = spending.get((county, fund), 0)
                target = _times(income.get((county, fund), 0), INCOME_TARGET.get(county, Fraction(1)))
                budget = _times(spent, SPENDING_BUDGET.get(county, Fraction(1)))
                set_budget(desk, year, fund, county, target, budget)
                open_county(desk, CITY, county, fund, jan1, round_div(budget * months, 12), 0)
        for county, amount in sorted(account_openings.items()):
            open_county(desk, CITY, county, Fund.PERSONAL_ACCOUNT, jan1, amount, 0)
        funding = [  # funds the treasury pays for, county by county, in January
            entries.fiscal_subsidy(
                f"{county}:{fund.value}:{year}", jan1, fund, CITY, county, _times(amount, FUNDED_BY_TREASURY)
            )
            for (county, fund), amount in sorted(spending.items())
            if fund not in (*OPENING_MONTHS, Fund.PERSONAL_ACCOUNT, Fund.CRITICAL_ILLNESS) and amount > 0
        ]
        post_all(desk, funding)
        post_all(desk, [t for m, ts in sorted(self.by_month.items()) if m.year < year for t in ts])
        advance_revolving(desk, CITY, jan1, {k: round_div(v, 12) for k, v in self._level3().items()})
        messages: list[str] = []
        for month in range(1, 13):
            first = date(year, month, 1)
            post_all(desk, self.by_month.get(first, []))
            clear_month(desk, CITY, first, recover_revolving=month == 12)
            messages += close_month(desk, CITY, first).alerts
            if advance:
                advance(1)
        post_all(desk, [t for m, ts in sorted(self.by_month.items()) if m.year > year for t in ts])
        for fund in OPENING_MONTHS:
            share_year(desk, CITY, fund, year, date(year + 1, 1, 31))
        return messages

    def _cash_income(self) -> dict[tuple[str, Fund], int]:
        """What each county's pooled funds took in during the year (收付实现制), from the posted transfers."""
        out: dict[tuple[str, Fund], int] = defaultdict(int)
        for month, transfers in self.by_month.items():
            if month.year != self.year:
                continue
            for t in transfers:
                for p in t.postings:
                    if p.account.kind in INCOME_KINDS and p.account.fund in OPENING_MONTHS:
                        out[(p.account.region, p.account.fund)] -= p.amount
        return out

    def _county_spending(self) -> dict[tuple[str, Fund], int]:
        """Each county's spending of the year as settled (benefits; the resident fund's 大病 premium;
        the assistance fund's 资助参保), from the posted settlements and the year's transfers."""
        kinds = frozenset({AccountKind.BENEFIT_EXPENSE, AccountKind.TRANSFER_OUT})
        with self.desk.sessions() as session:
            settled = class_sums(session, CITY, date(self.year, 1, 1), date(self.year, 12, 31), kinds)
        out: dict[tuple[str, Fund], int] = defaultdict(int)
        for (region, fund), amount in settled.items():
            out[(region, Fund(fund))] += amount
        for month, transfers in self.by_month.items():
            for t in transfers if month.year <= self.year else ():  # 资助参保 paid in advance counts
                for p in t.postings:
                    if p.account.kind is AccountKind.TRANSFER_OUT:
                        out[(p.account.region, p.account.fund)] += p.amount
        return dict(out)

    def _level3(self) -> dict[tuple[str, Fund], int]:
        """Each level-3 hospital's pooled-fund payments of the year (the revolving fund's base)."""
        s, d = Settlement, SettlementDetail
        out: dict[tuple[str, Fund], int] = defaultdict(int)
        with self.desk.engine.connect() as conn:
            top = set(conn.scalars(select(Institution.code).where(Institution.hospital_level == 3)))
            rows = conn.execute(
                select(s.fixmedins_code, d.fund_pay_type, func.sum(d.fund_payamt))
                .join(d, d.setl_id == s.setl_id)
                .group_by(s.fixmedins_code, d.fund_pay_type)
            )
            for inst, code, total in rows:
                fund = fund_of(code)
                if inst in top and fund in OPENING_MONTHS:
                    out[(inst, fund)] += int(total)
        return dict(out)


def _times(amount: int, factor: Fraction) -> int:
    return round_div(amount * factor.numerator, factor.denominator)
