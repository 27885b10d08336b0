"""Enrolment and contribution rules, with worked numbers from the shipped 潮州 policy.

The 潮州 2020 figures (policies/440000-guangdong/445100-chaozhou/contribution.yaml):
average wage 66,000 元/year → 5,500 元/month; base floor 60% = 3,300 元, ceiling 300% =
16,500 元; employer 5.5%, employee 2%; account credit 3.5% of base (2% from 2022);
retiree credit 100 元/month (60 from 2022); flexible workers 7.5% with 2% credited.
Resident 2020 (医保发〔2020〕24号): 280 元 individual + 550 元 fiscal subsidy; 低保/特困 fully
and 低保边缘 half subsidised by medical assistance. Waiting periods and the incentive are
国办发〔2024〕38号 (from 2025).
"""

from __future__ import annotations

import dataclasses
from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from conftest import inpatient, person, totals, y
from yibao.engine import settle
from yibao.engine.result import CRITICAL_ILLNESS_RESIDENT
from yibao.enrol.contribution import base_limits, contribution_base, employee_month, resident_year
from yibao.enrol.history import (
    ContributionPeriod,
    arrears,
    back_payment,
    continuous_years,
    contribution_months,
    lapsed_years,
    late_fee,
    retirement_standing,
)
from yibao.enrol.terms import employee_terms, resident_terms
from yibao.enrol.waiting import (
    add_months,
    critical_illness_cap_raise,
    employee_benefits_from,
    resident_benefits_from,
    resident_wait_months,
)
from yibao.errors import InputError, NoPolicyInForce
from yibao.policy.snapshot import PolicySnapshot

CZ = "445100"
D2020 = date(2020, 9, 1)


# -- employee contributions --------------------------------------------------------------------


def test_base_floor_and_ceiling_are_60_and_300_percent_of_the_monthly_average_wage(shipped: PolicySnapshot) -> None:
    t = employee_terms(shipped, CZ, D2020)
    limits = base_limits(t)
    assert (limits.floor, limits.ceiling) == (y(3300), y(16500))
    assert contribution_base(y(2000), t) == y(3300)  # below the floor: raised to it
    assert contribution_base(y("8000.33"), t) == y("8000.33")
    assert contribution_base(y(20000), t) == y(16500)  # above the ceiling: clipped


def test_active_member_month_at_the_floor(shipped: PolicySnapshot) -> None:
    c = employee_month("active", y(2000), employee_terms(shipped, CZ, D2020))
    # 3,300 × 5.5% = 181.50; × 2% = 66.00; account 3.5% = 115.50 (pre-reform credit)
    assert (c.base, c.employer, c.employee, c.account_credit) == (y(3300), y("181.50"), y(66), y("115.50"))
    assert c.paid == y("247.50")
    assert c.pooled == y("132.00")


def test_employer_share_halved_february_to_june_2020(shipped: PolicySnapshot) -> None:
    # 医保发〔2020〕6号 减征: the employer pays 2.75% instead of 5.5%; the employee's 2% and the account are unchanged
    months = {m: employee_month("active", y(4000), employee_terms(shipped, CZ, date(2020, m, 1))) for m in range(1, 13)}
    assert [m for m, c in months.items() if c.employer == y(110)] == [2, 3, 4, 5, 6]
    assert months[1].employer == months[7].employer == y(220)
    assert {c.employee for c in months.values()} == {y(80)}
    assert {c.account_credit for c in months.values()} == {y(140)}


def test_rates_round_half_up_per_share(shipped: PolicySnapshot) -> None:
    c = employee_month("active", y("8000.33"), employee_terms(shipped, CZ, D2020))
    # 8,000.33 × 5.5% = 440.01815 → 440.02; × 2% = 160.0066 → 160.01; × 3.5% = 280.01155 → 280.01
    assert (c.employer, c.employee, c.account_credit) == (y("440.02"), y("160.01"), y("280.01"))


def test_account_credit_is_two_percent_of_base_after_the_2021_reform(shipped: PolicySnapshot) -> None:
    before = employee_month("active", y(10000), employee_terms(shipped, CZ, date(2021, 12, 31)))
    after = employee_month("active", y(10000), employee_terms(shipped, CZ, date(2022, 1, 1)))
    assert before.account_credit == y(350)
    assert after.account_credit == y(200) == after.employee  # the employee's own 2%, all of it
    assert after.pooled == y(550)  # the whole employer share now stays in the pool


def test_retiree_credit_is_a_fixed_amount_and_retirees_pay_nothing(shipped: PolicySnapshot) -> None:
    r2020 = employee_month("retiree", y(9000), employee_terms(shipped, CZ, D2020))
    r2022 = employee_month("retiree", y(9000), employee_terms(shipped, CZ, date(2022, 3, 1)))
    assert (r2020.paid, r2020.account_credit) == (0, y(100))
    assert r2022.account_credit == y(60)
    assert r2020.pooled == -y(100)  # the credit is drawn from the pooled fund


def test_flexible_worker_pays_both_shares(shipped: PolicySnapshot) -> None:
    c = employee_month("flexible", y(5000), employee_terms(shipped, CZ, D2020))
    assert (c.employer, c.employee, c.account_credit) == (0, y(375), y(100))


def test_unknown_employee_person_type_is_refused(shipped: PolicySnapshot) -> None:
    with pytest.raises(InputError) as e:
        employee_month("student", y(5000), employee_terms(shipped, CZ, D2020))
    assert e.value.field == "psn_type"


@given(wage=st.integers(min_value=0, max_value=y(100000)))
def test_contribution_identities(shipped: PolicySnapshot, wage: int) -> None:
    t = employee_terms(shipped, CZ, D2020)
    c = employee_month("active", wage, t)
    limits = base_limits(t)
    assert limits.floor <= c.base <= limits.ceiling
    assert c.paid == c.employer + c.employee == c.pooled + c.account_credit
    # monotone in the wage: paying on a higher wage never costs less
    higher = employee_month("active", wage + y(1), t)
    assert higher.paid >= c.paid


# -- resident contributions --------------------------------------------------------------------


def test_resident_2020_standard_and_assistance_subsidies(shipped: PolicySnapshot) -> None:
    t = resident_terms(shipped, CZ, D2020)
    ordinary = resident_year("none", t)
    assert (ordinary.individual, ordinary.fiscal_subsidy, ordinary.by_person) == (y(280), y(550), y(280))
    assert ordinary.fund_income == y(830)
    assert ordinary.critical_illness_funding == y(60)
    low = resident_year("subsistence_allowance", t)
    assert (low.by_assistance, low.by_person) == (y(280), 0)
    edge = resident_year("near_subsistence", t)
    assert (edge.by_assistance, edge.by_person) == (y(140), y(140))
    # the fund receives the same whoever pays the individual part
    assert low.fund_income == edge.fund_income == ordinary.fund_income


def test_resident_2024_standard_is_400_plus_670(shipped: PolicySnapshot) -> None:
    r = resident_year("none", resident_terms(shipped, CZ, date(2024, 3, 1)))
    assert (r.individual, r.fiscal_subsidy) == (y(400), y(670))


def test_a_region_without_contribution_rules_names_the_missing_parameter(published: PolicySnapshot) -> None:
    regions = [r.code for r in published.tree if r.code != "000000"]
    with pytest.raises(NoPolicyInForce) as e:
        employee_terms(published, regions[0], D2020)
    assert "employee.contribution" in str(e.value)


# -- waiting periods and the incentive ------------------------------------------------------------


def test_resident_waiting_period_fixed_plus_lapsed_minus_repaired(shipped: PolicySnapshot) -> None:
    w = resident_terms(shipped, CZ, date(2025, 3, 1)).waiting
    assert w is not None
    assert resident_wait_months(0, 0, w) == 3
    assert resident_wait_months(2, 0, w) == 5
    assert resident_wait_months(2, 1, w) == 4
    assert resident_wait_months(2, 7, w) == 3  # repair never eats the fixed part
    paid = date(2025, 3, 10)
    start = date(2025, 1, 1)
    assert resident_benefits_from(paid, start, False, 2, 1, False, w) == date(2025, 7, 10)
    assert resident_benefits_from(paid, start, True, 0, 0, False, w) == paid  # in the window, continuous
    assert resident_benefits_from(date(2024, 11, 2), start, True, 0, 0, False, w) == start
    assert resident_benefits_from(paid, start, False, 3, 0, True, w) == paid  # newborn / assisted: exempt


def test_before_2025_a_late_resident_waits_nowhere(shipped: PolicySnapshot) -> None:
    t = resident_terms(shipped, CZ, D2020)
    assert t.waiting is None and t.incentive is None
    assert resident_benefits_from(date(2020, 4, 1), date(2020, 1, 1), False, 2, 0, False, t.waiting) == date(2020, 4, 1)


def test_employee_wait_after_a_long_interruption(shipped: PolicySnapshot) -> None:
    wait = employee_terms(shipped, CZ, D2020).wait_after_interruption
    assert wait == 3
    assert employee_benefits_from(date(2020, 5, 31), 2, wait) == date(2020, 5, 31)
    assert employee_benefits_from(date(2020, 5, 31), 5, wait) == date(2020, 8, 31)
    assert add_months(date(2020, 11, 30), 3) == date(2021, 2, 28)


def test_continuous_enrolment_raises_the_critical_illness_cap(shipped: PolicySnapshot) -> None:
    inc = resident_terms(shipped, CZ, date(2025, 1, 1)).incentive
    assert inc is not None
    assert critical_illness_cap_raise(4, 0, inc) == 0
    assert critical_illness_cap_raise(5, 0, inc) == 1000  # +10% of the original cap
    assert critical_illness_cap_raise(5, 1, inc) == 2000
    assert critical_illness_cap_raise(9, 3, inc) == 2000  # bounded at +20%


# -- history: transfers, arrears, back payment -----------------------------------------------------


def test_transfer_carries_contribution_months_counted_once(shipped: PolicySnapshot) -> None:
    periods = [
        ContributionPeriod("440300", "employee", date(2000, 1, 1), date(2012, 6, 1)),  # 150 months in 深圳
        ContributionPeriod(CZ, "employee", date(2012, 6, 1), date(2020, 5, 1)),  # overlap June 2012
        ContributionPeriod(CZ, "resident", date(2021, 1, 1), date(2021, 12, 1)),  # another scheme
    ]
    assert contribution_months(periods) == 150 + 96 - 1
    standing = retirement_standing(periods, employee_terms(shipped, CZ, D2020))
    assert standing.required_months == 300
    assert standing.shortfall_months == 300 - 245


def test_continuous_and_lapsed_years_across_regions() -> None:
    years = {2016, 2017, 2019, 2020, 2021}
    assert continuous_years(years, 2021) == 3
    assert lapsed_years(years, 2019) == 1
    assert lapsed_years(years, 2016) == 0
    assert lapsed_years({2015}, 2020) == 4


def test_late_fee_is_five_per_ten_thousand_a_day(shipped: PolicySnapshot) -> None:
    t = employee_terms(shipped, CZ, D2020)
    assert late_fee(y("247.50"), 30, t) == y("3.71")  # 247.50 × 0.0005 × 30 = 3.7125 → 3.71
    assert late_fee(y("247.50"), 0, t) == 0
    with pytest.raises(InputError):
        late_fee(y(1), -1, t)


def test_arrears_and_back_payment(shipped: PolicySnapshot) -> None:
    t = employee_terms(shipped, CZ, D2020)
    due = {date(2020, m, 1): y("247.50") for m in (1, 2, 3)}
    paid = {date(2020, 1, 1): y("247.50"), date(2020, 2, 1): y(100)}
    owed = arrears(due, paid)
    assert [(a.month.month, a.outstanding) for a in owed] == [(2, y("147.50")), (3, y("247.50"))]
    bp = back_payment(owed, date(2020, 5, 15), 15, t)
    # February due 2020-03-15: 61 days → 147.50 × 0.0005 × 61 = 4.49875 → 4.50
    # March due 2020-04-15: 30 days → 3.7125 → 3.71
    assert bp.contribution == y(395)
    assert bp.late_fee == y("4.50") + y("3.71")
    assert bp.total == y("403.21")


# -- the engine honours enrolment ------------------------------------------------------------------


def test_no_fund_pays_during_the_waiting_period(shipped: PolicySnapshot) -> None:
    claim = inpatient(CZ, "2020-03-10", 2, totals("20000", "18000"))
    waiting = dataclasses.replace(person(), benefits_from=date(2020, 4, 1))
    s, _ = settle(claim, waiting, None, shipped)
    assert s.fund_pay_total == 0 and "WAITING" in s.reasons
    assert s.personal_burden == s.total
    covered, _ = settle(claim, dataclasses.replace(person(), benefits_from=date(2020, 3, 10)), None, shipped)
    assert covered.fund_pay_total > 0 and "WAITING" not in covered.reasons


def test_incentive_raises_the_critical_illness_cap_in_settlement(shipped: PolicySnapshot) -> None:
    claim = inpatient(CZ, "2020-07-01", 3, totals("3000000", "3000000"))
    plain, _ = settle(claim, person(), None, shipped)
    raised, _ = settle(claim, dataclasses.replace(person(), critical_illness_cap_raise=2000), None, shipped)
    base = plain.fund(CRITICAL_ILLNESS_RESIDENT)
    assert base == y(300000)  # the resident 大病 cap (潮州)
    assert raised.fund(CRITICAL_ILLNESS_RESIDENT) == y(360000)
    assert raised.personal_burden == plain.personal_burden - y(60000)
