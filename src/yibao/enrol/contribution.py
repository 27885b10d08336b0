"""Contributions (缴费): what each member pays, what goes to the pooled fund and the account.

Employee scheme (国发〔1998〕44号, 国办发〔2021〕14号): the monthly base is the member's wage
clipped to the region's floor and ceiling, each a multiple of the average wage; employer
and employee pay their rates on it, half-up to the fen; the account credit (2% of the base
after the 2021 reform) is taken from the contribution and the rest is pooled fund income.
A retiree pays nothing and the pooled fund credits a fixed amount to the account each month;
a flexible worker pays both shares at one rate on a base chosen between floor and ceiling.

Resident scheme: a year's standard is the individual payment plus the fiscal subsidy;
medical assistance pays all or part of the individual payment for the groups the region
subsidises (资助参保, 国办发〔2021〕42号); the 大病 funding is a per-head transfer out of the
resident fund.
"""

from __future__ import annotations

from dataclasses import dataclass

from yibao.enrol.terms import EmployeeTerms, ResidentTerms
from yibao.errors import InputError
from yibao.money import RATIO_ONE, mul_ratio, round_div

ACTIVE, RETIREE, FLEXIBLE = "active", "retiree", "flexible"


@dataclass(frozen=True, slots=True)
class BaseLimits:
    """The monthly contribution base's floor and ceiling, in fen."""

    floor: int
    ceiling: int


def base_limits(t: EmployeeTerms) -> BaseLimits:
    """Floor and ceiling of the monthly base: factor × average wage ÷ 12, half-up to the whole yuan.

    Regions publish the bounds in whole yuan (e.g. 4,588 元/月); rounding the monthly figure
    half-up to the yuan reproduces that practice.
    """

    def bound(factor: int) -> int:
        return round_div(t.average_wage * factor, 12 * RATIO_ONE * 100) * 100

    return BaseLimits(floor=bound(t.floor_factor), ceiling=bound(t.ceiling_factor))


def contribution_base(wage: int, t: EmployeeTerms) -> int:
    """The monthly base for a monthly wage in fen: the wage clipped to ``[floor, ceiling]``."""
    if wage < 0:
        raise InputError("wage", f"工资不能为负：{wage}")
    limits = base_limits(t)
    return min(max(wage, limits.floor), limits.ceiling)


@dataclass(frozen=True, slots=True)
class EmployeeContribution:
    """One member's contribution for one month, fen."""

    base: int
    employer: int
    employee: int
    account_credit: int

    @property
    def paid(self) -> int:
        return self.employer + self.employee

    @property
    def pooled(self) -> int:
        """Pooled-fund income (negative for a retiree: the fund pays the account credit)."""
        return self.employer + self.employee - self.account_credit


def employee_month(person_type: str, wage: int, t: EmployeeTerms) -> EmployeeContribution:
    """The month's contribution of an active member (wage), flexible worker (declared base) or retiree."""
    if person_type == RETIREE:
        return EmployeeContribution(0, 0, 0, t.retiree_account_credit)
    base = contribution_base(wage, t)
    if person_type == ACTIVE:
        return EmployeeContribution(
            base,
            mul_ratio(base, t.employer_rate),
            mul_ratio(base, t.employee_rate),
            mul_ratio(base, t.account_credit_rate),
        )
    if person_type == FLEXIBLE:
        return EmployeeContribution(
            base, 0, mul_ratio(base, t.flexible_rate), mul_ratio(base, t.flexible_account_credit_rate)
        )
    raise InputError("psn_type", f"职工医保人员类别应为在职、退休或灵活就业：{person_type!r}")


@dataclass(frozen=True, slots=True)
class ResidentContribution:
    """One resident's contribution for one year, fen."""

    individual: int  # the individual standard
    by_assistance: int  # paid by medical assistance (资助参保)
    by_person: int
    fiscal_subsidy: int
    critical_illness_funding: int  # moved from the resident fund to 大病保险

    @property
    def fund_income(self) -> int:
        """Resident fund income: the individual payment (whoever paid it) plus the subsidy."""
        return self.individual + self.fiscal_subsidy


def resident_year(assistance_category: str, t: ResidentTerms) -> ResidentContribution:
    """The year's resident contribution, with the assistance subsidy of the individual part."""
    subsidy = mul_ratio(t.individual, t.subsidy_ratio(assistance_category))
    return ResidentContribution(
        individual=t.individual,
        by_assistance=subsidy,
        by_person=t.individual - subsidy,
        fiscal_subsidy=t.fiscal_subsidy,
        critical_illness_funding=t.critical_illness_funding,
    )
