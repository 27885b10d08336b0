"""When benefits start (待遇等待期) and the continuous-enrolment incentive (连续参保激励).

Residents, from 2025 (国办发〔2024〕38号): who enrols outside the enrolment window, or after
a break, waits a fixed period (3 months) after paying; each year of broken enrolment adds
a variable month; each extra year paid back removes one variable month (never the fixed
part). Newborns and the assistance groups the region enrols on their behalf are exempt.
Before a region has these parameters, a late enrolee's benefits start on the payment day.

Employees: after an interruption longer than the region's waiting period, benefits start
that many months after contributions resume (the common local reading: an interruption of
up to N months repaired in time keeps benefits, a longer one waits N months).

The incentive (38号): after ``threshold`` continuous years, each further continuous year
raises the 大病 annual cap by a share of the original cap, as does each year with no fund
payment; the raises together are bounded, and a break resets both.
"""

from __future__ import annotations

import calendar
from datetime import date

from yibao.enrol.terms import IncentiveTerms, WaitingTerms
from yibao.errors import InputError


def add_months(day: date, months: int) -> date:
    """The same day ``months`` later, or that month's last day when it is shorter."""
    index = day.year * 12 + day.month - 1 + months
    year, month = divmod(index, 12)
    last = calendar.monthrange(year, month + 1)[1]
    return date(year, month + 1, min(day.day, last))


def resident_wait_months(lapsed_years: int, extra_years_paid: int, t: WaitingTerms) -> int:
    """The waiting months for a late or broken enrolment: fixed + variable − repaired variable."""
    if lapsed_years < 0 or extra_years_paid < 0:
        raise InputError("lapsed_years", "断保年数与补缴年数不能为负")
    variable = lapsed_years * t.months_per_lapsed_year
    repaired = min(variable, extra_years_paid * t.months_repaired_per_extra_year)
    return t.fixed_months + variable - repaired


def resident_benefits_from(
    paid_on: date,
    year_start: date,
    in_window: bool,
    lapsed_years: int,
    extra_years_paid: int,
    exempt: bool,
    t: WaitingTerms | None,
) -> date:
    """The first day a resident's medical costs are covered in the benefit year starting ``year_start``.

    ``in_window``: paid during the concentrated enrolment period (集中参保期);
    ``lapsed_years``: years of broken enrolment just before this one (0 = continuous);
    ``exempt``: newborns and the groups enrolled by the assistance programme.
    """
    start = max(paid_on, year_start)
    if exempt or (in_window and lapsed_years == 0):
        return start
    if t is None:
        return start
    return add_months(start, resident_wait_months(lapsed_years, extra_years_paid, t))


def employee_benefits_from(resumed_on: date, interrupted_months: int, wait_months: int | None) -> date:
    """When an employee's benefits start again after contributions resume on ``resumed_on``."""
    if interrupted_months < 0:
        raise InputError("interrupted_months", f"中断月数不能为负：{interrupted_months}")
    if wait_months is None or interrupted_months <= wait_months:
        return resumed_on
    return add_months(resumed_on, wait_months)


def critical_illness_cap_raise(continuous_years: int, zero_claim_years: int, t: IncentiveTerms | None) -> int:
    """The raise of the 大病 annual cap in basis points of the original cap.

    ``continuous_years`` counts this year; ``zero_claim_years`` the earlier years of the same
    unbroken run in which the fund paid nothing for the person.
    """
    if t is None:
        return 0
    if continuous_years < 0 or zero_claim_years < 0:
        raise InputError("continuous_years", "连续参保年数与零报销年数不能为负")
    by_years = max(0, continuous_years - t.continuous_years_threshold) * t.raise_per_year
    return min(t.max_raise, by_years + zero_claim_years * t.zero_claim_raise)
