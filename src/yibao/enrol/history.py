"""Contribution history: years carried across regions, arrears and back payment.

转移接续 (《流动就业人员基本医疗保障关系转移接续暂行办法》, 人社部发〔2009〕191号; continuity
across regions: 国办发〔2024〕38号): moving between pooling regions closes the old
enrolment and opens a new one; months of contribution in both count once each toward the
years a retiree needs (overlapping months are not counted twice), and a move without a gap
keeps the resident's enrolment continuous. Arrears (欠费) are the months due and not paid;
paying them back later costs the contribution plus a daily late fee (社会保险法 §86).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date

from yibao.enrol.terms import EmployeeTerms
from yibao.errors import InputError
from yibao.money import RATIO_ONE, round_div


@dataclass(frozen=True, slots=True)
class ContributionPeriod:
    """Months ``[first, last]`` (first days of months) paid in one region and scheme."""

    region: str
    scheme: str
    first: date
    last: date

    def months(self) -> Iterable[tuple[int, int]]:
        if (self.last.year, self.last.month) < (self.first.year, self.first.month):
            raise InputError("last", f"缴费止月 {self.last:%Y-%m} 早于起月 {self.first:%Y-%m}")
        y, m = self.first.year, self.first.month
        while (y, m) <= (self.last.year, self.last.month):
            yield y, m
            y, m = (y + 1, 1) if m == 12 else (y, m + 1)


def contribution_months(periods: Iterable[ContributionPeriod], scheme: str = "employee") -> int:
    """Months of contribution in ``scheme`` across all regions, each calendar month counted once."""
    return len({ym for p in periods if p.scheme == scheme for ym in p.months()})


def continuous_years(enrolled_years: Iterable[int], year: int) -> int:
    """How many years up to and including ``year`` the person was enrolled without a break (any region)."""
    years = set(enrolled_years)
    count = 0
    while year - count in years:
        count += 1
    return count


def lapsed_years(enrolled_years: Iterable[int], year: int) -> int:
    """Years without enrolment between the last enrolled year before ``year`` and ``year``; 0 if never enrolled."""
    before = [y for y in enrolled_years if y < year]
    return year - max(before) - 1 if before else 0


@dataclass(frozen=True, slots=True)
class RetirementStanding:
    months: int
    required_months: int

    @property
    def shortfall_months(self) -> int:
        """Months still to be paid (in one sum or by continuing) to keep benefits in retirement."""
        return max(0, self.required_months - self.months)


def retirement_standing(periods: Iterable[ContributionPeriod], t: EmployeeTerms) -> RetirementStanding:
    if t.minimum_years is None:
        raise InputError("employee.retirement.minimum_contribution_years", "本统筹区未规定退休享受待遇的最低缴费年限")
    return RetirementStanding(contribution_months(periods), t.minimum_years * 12)


def late_fee(amount: int, days_late: int, t: EmployeeTerms) -> int:
    """滞纳金 on ``amount`` fen overdue for ``days_late`` days, half-up to the fen."""
    if amount < 0 or days_late < 0:
        raise InputError("days_late", "欠缴金额与逾期天数不能为负")
    return round_div(amount * t.late_fee_daily_rate * days_late, RATIO_ONE)


@dataclass(frozen=True, slots=True)
class Arrear:
    """One month due and not (fully) paid."""

    month: date  # first day of the month
    due: int
    paid: int

    @property
    def outstanding(self) -> int:
        return self.due - self.paid


def arrears(due: dict[date, int], paid: dict[date, int]) -> list[Arrear]:
    """The months whose payments fall short of what was due, oldest first."""
    return [Arrear(m, amount, paid.get(m, 0)) for m, amount in sorted(due.items()) if paid.get(m, 0) < amount]


@dataclass(frozen=True, slots=True)
class BackPayment:
    contribution: int
    late_fee: int

    @property
    def total(self) -> int:
        return self.contribution + self.late_fee


def back_payment(owed: Iterable[Arrear], paid_on: date, due_day: int, t: EmployeeTerms) -> BackPayment:
    """Paying every arrear on ``paid_on``: each month's shortfall plus the late fee from its due day.

    ``due_day``: the day of the following month by which a month's contribution is due.
    """
    contribution = fee = 0
    for a in owed:
        due_on = date(a.month.year + a.month.month // 12, a.month.month % 12 + 1, due_day)
        contribution += a.outstanding
        fee += late_fee(a.outstanding, max(0, (paid_on - due_on).days), t)
    return BackPayment(contribution, fee)
