"""The contribution and enrolment parameters in force for a pooling region on a date.

Each value comes from the policy files (dated and sourced), never from a constant here;
a parameter the region has not set raises :class:`~yibao.errors.NoPolicyInForce` naming it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from yibao.policy.resolved import ResolvedPolicy
from yibao.policy.schema import CATEGORIES
from yibao.policy.snapshot import PolicySnapshot


def _value(policy: ResolvedPolicy, path: str, on: date) -> int:
    return policy.whole_number(path, on)


def _optional(policy: ResolvedPolicy, path: str) -> int | None:
    found = policy.values.get(path)
    if found is None:
        return None
    value = found[1].value
    assert isinstance(value, int)
    return value


@dataclass(frozen=True, slots=True)
class EmployeeTerms:
    """职工医保缴费政策. Amounts in fen; rates and factors in basis points."""

    average_wage: int  # 社平工资, per year
    floor_factor: int  # 缴费基数下限 = factor × average wage
    ceiling_factor: int  # 缴费基数上限
    employer_rate: int
    employee_rate: int
    account_credit_rate: int  # in-service members' account credit, share of the base
    retiree_account_credit: int  # per month, from the pooled fund
    flexible_rate: int  # flexible workers pay both shares
    flexible_account_credit_rate: int
    late_fee_daily_rate: int  # 滞纳金 per day of arrears
    wait_after_interruption: int | None  # months; None: the region sets no wait
    minimum_years: int | None  # contribution years to keep benefits in retirement


@dataclass(frozen=True, slots=True)
class WaitingTerms:
    """国办发〔2024〕38号: fixed wait plus a variable wait per lapsed year, repairable by paying."""

    fixed_months: int
    months_per_lapsed_year: int
    months_repaired_per_extra_year: int


@dataclass(frozen=True, slots=True)
class IncentiveTerms:
    """Continuous-enrolment incentive on the 大病 annual cap (basis points of the original cap)."""

    continuous_years_threshold: int
    raise_per_year: int
    zero_claim_raise: int
    max_raise: int


@dataclass(frozen=True, slots=True)
class ResidentTerms:
    """城乡居民医保筹资政策 for one year. Amounts in fen per person per year."""

    individual: int  # 个人缴费标准
    fiscal_subsidy: int  # 人均财政补助
    critical_illness_funding: int  # drawn from the resident fund for 大病保险
    contribution_subsidy: tuple[tuple[str, int], ...]  # assistance category → share of ``individual``
    waiting: WaitingTerms | None
    incentive: IncentiveTerms | None

    def subsidy_ratio(self, category: str) -> int:
        for name, ratio in self.contribution_subsidy:
            if name == category:
                return ratio
        return 0


def employee_terms(snapshot: PolicySnapshot, region: str, on: date) -> EmployeeTerms:
    p = snapshot.at(region, on, "insuplc_admdvs")
    c = "employee.contribution"
    return EmployeeTerms(
        average_wage=_value(p, f"{c}.average_wage", on),
        floor_factor=_value(p, f"{c}.base_floor_factor", on),
        ceiling_factor=_value(p, f"{c}.base_ceiling_factor", on),
        employer_rate=_value(p, f"{c}.employer_rate", on),
        employee_rate=_value(p, f"{c}.employee_rate", on),
        account_credit_rate=_value(p, f"{c}.account_credit_rate", on),
        retiree_account_credit=_value(p, f"{c}.retiree_account_credit", on),
        flexible_rate=_value(p, f"{c}.flexible_rate", on),
        flexible_account_credit_rate=_value(p, f"{c}.flexible_account_credit_rate", on),
        late_fee_daily_rate=_value(p, f"{c}.late_fee_daily_rate", on),
        wait_after_interruption=_optional(p, "employee.waiting_period.months_after_interruption"),
        minimum_years=_optional(p, "employee.retirement.minimum_contribution_years"),
    )


def resident_terms(snapshot: PolicySnapshot, region: str, on: date) -> ResidentTerms:
    p = snapshot.at(region, on, "insuplc_admdvs")
    c = "resident.contribution"
    subsidy = tuple(
        (category, ratio)
        for category in CATEGORIES
        if (ratio := _optional(p, f"assistance.{category}.contribution_subsidy")) is not None
    )
    w = "resident.waiting_period"
    waiting = None
    if p.has(f"{w}.fixed_months"):
        waiting = WaitingTerms(
            fixed_months=_value(p, f"{w}.fixed_months", on),
            months_per_lapsed_year=_value(p, f"{w}.months_per_lapsed_year", on),
            months_repaired_per_extra_year=_value(p, f"{w}.months_repaired_per_extra_year", on),
        )
    i = "resident.incentive"
    incentive = None
    if p.has(f"{i}.continuous_years_threshold"):
        incentive = IncentiveTerms(
            continuous_years_threshold=_value(p, f"{i}.continuous_years_threshold", on),
            raise_per_year=_value(p, f"{i}.ci_cap_raise_per_year", on),
            zero_claim_raise=_value(p, f"{i}.zero_claim_raise", on),
            max_raise=_value(p, f"{i}.max_raise", on),
        )
    return ResidentTerms(
        individual=_value(p, f"{c}.individual", on),
        fiscal_subsidy=_value(p, f"{c}.fiscal_subsidy", on),
        critical_illness_funding=_value(p, f"{c}.critical_illness_funding", on),
        contribution_subsidy=subsidy,
        waiting=waiting,
        incentive=incentive,
    )
