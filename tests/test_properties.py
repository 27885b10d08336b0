"""Properties of the engine over random claims, persons and year-long sequences (Hypothesis).

* the identities of DESIGN.md §2 hold to the fen for every settlement;
* no fund pays more than its cap or limit over any sequence of settlements;
* settling then reversing returns the accumulators exactly;
* no payment is negative except in a reversal;
* raising a fee never lowers what the funds pay in total.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date, timedelta
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings, target
from hypothesis import strategies as st

from conftest import FIXTURES, NATIONAL, POLICIES
from yibao.engine import Claim, FeeLine, Person, SplitTotals, settle
from yibao.engine.reversal import reverse
from yibao.engine.settle import context_of
from yibao.engine.state import COUNTERS, Accumulators
from yibao.engine.terms import terms_for
from yibao.io.policy_dir import load_policy_dir
from yibao.policy.snapshot import PolicySnapshot

RULE_REGIONS = ["980100", "980101", "980102", "980103", "980104", "980105", "980107", "980108", "980110"]
CHAOZHOU = ["445100", "445102", "445122"]
CATALOG = ["A1", "B1", "B2", "J1", "C1", "F1", "K1", "I1", "L1", "N1"]
CATEGORIES = ["none", "none", "none", "extreme_poverty", "subsistence_allowance", "near_subsistence", "relapse_poverty"]

SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@pytest.fixture(scope="module")
def snapshot() -> PolicySnapshot:
    return load_policy_dir([NATIONAL, FIXTURES / "rules", POLICIES / "440000-guangdong"])


@st.composite
def persons(draw: st.DrawFn) -> Person:
    scheme = draw(st.sampled_from(["employee", "resident"]))
    kinds = ["active", "retiree", "flexible"] if scheme == "employee" else ["adult", "student", "minor"]
    kind = draw(st.sampled_from(kinds))
    age = {"retiree": (60, 95), "minor": (0, 17), "student": (6, 24)}.get(kind, (18, 64))
    return Person(
        person_id="P",
        scheme=scheme,
        person_type=kind,
        age=draw(st.integers(*age)),
        sex=draw(st.sampled_from(["male", "female"])),
        assistance_category=draw(st.sampled_from(CATEGORIES)),
    )


# fen: small bills and large ones (up to 300,000 yuan), so that thresholds and caps are reached often
amounts = st.one_of(st.integers(0, 2_000_000), st.integers(2_000_000, 30_000_000))


@st.composite
def splits(draw: st.DrawFn) -> SplitTotals:
    full, over, first, scope = (draw(st.integers(0, 2_000_000)), draw(st.integers(0, 500_000)),
                                draw(st.integers(0, 2_000_000)), draw(amounts))  # fmt: skip
    return SplitTotals(full + over + first + scope, full, over, first, scope)


@st.composite
def fee_lines(draw: st.DrawFn) -> tuple[FeeLine, ...]:
    out = []
    for _ in range(draw(st.integers(1, 12))):
        price = Decimal(draw(st.integers(1, 500_000))) / 100
        qty = Decimal(draw(st.integers(1, 20)))
        amount = int((price * qty * 100).to_integral_value())
        out.append(FeeLine(draw(st.sampled_from(CATALOG)), amount, price, qty, None, draw(st.booleans())))
    return tuple(out)


@st.composite
def claims(draw: st.DrawFn, who: Person, region: str, day: date, index: int) -> Claim:
    chaozhou = region in CHAOZHOU
    visit = draw(st.sampled_from(["inpatient", "inpatient", "outpatient", "chronic", "pharmacy"]))
    disease = ""
    if visit == "chronic":
        if chaozhou:
            disease = (
                "malignant_tumour"
                if who.scheme == "employee"
                else draw(st.sampled_from(["malignant_tumour", "hypertension_diabetes"]))
            )
        else:
            disease = "D2" if who.scheme == "employee" else "D1"
    use_lines = not chaozhou and draw(st.booleans())
    return Claim(
        claim_id=f"C{index}",
        insured_region=region,
        treatment_region=draw(st.sampled_from([region, region, "981000", "440100", "445103"])),
        visit_type=visit,
        hospital_level=draw(st.integers(0, 3)),
        settlement_date=day,
        admission_date=day - timedelta(days=draw(st.integers(0, 20))),
        discharge_date=day,
        disease=disease,
        day_surgery=draw(st.booleans()),
        transfer_from_level=draw(st.one_of(st.none(), st.integers(0, 3))),
        filed=draw(st.booleans()),
        fee_lines=draw(fee_lines()) if use_lines else None,
        totals=None if use_lines else draw(splits()),
        account_use=draw(st.sampled_from([0, 1, 1, 2])),
        mutual_aid_balance=draw(st.integers(0, 500_000)),
    )


@st.composite
def years(draw: st.DrawFn) -> tuple[Person, list[Claim], int]:
    """A person insured in one region, a year of claims in settlement order, an opening account balance."""
    who = draw(persons())
    region = draw(st.sampled_from(CHAOZHOU + RULE_REGIONS))
    n = draw(st.integers(1, 8))
    start = date(2024, 1, 2)
    days = sorted(draw(st.lists(st.integers(0, 360), min_size=n, max_size=n)))
    return who, [draw(claims(who, region, start + timedelta(days=d), i)) for i, d in enumerate(days)], draw(amounts)


def state_for(who: Person, claim: Claim, balance: int, snapshot: PolicySnapshot) -> Accumulators:
    region = snapshot.tree.pooling_region(claim.insured_region).code
    return Accumulators(
        who.person_id, who.scheme, region, 2024, account_balance=balance if who.scheme == "employee" else 0
    )


def run_year(who: Person, year: list[Claim], balance: int, snapshot: PolicySnapshot):
    """Settle a year of claims in order, threading the state."""
    state = state_for(who, year[0], balance, snapshot)
    results = []
    for claim in year:
        s, state = settle(claim, who, state, snapshot)
        results.append((claim, s, state))
    return results


@SETTINGS
@given(years())
def test_identities_hold_and_payments_are_never_negative(snapshot: PolicySnapshot, year) -> None:
    who, claims_, balance = year
    for _, s, state in run_year(who, claims_, balance, snapshot):
        assert s.identities() == []
        assert all(d.amount >= 0 for d in s.details)
        assert min(s.fund_pay_total, s.personal_burden, s.account_pay, s.mutual_aid_pay, s.cash_pay) >= 0
        assert s.deductible_paid <= s.policy_range
        assert all(getattr(state, name) >= 0 for name in COUNTERS)
        assert state.account_balance >= 0


@SETTINGS
@given(years())
def test_no_fund_pays_more_than_its_cap_over_a_year(snapshot: PolicySnapshot, year) -> None:
    who, claims_, balance = year
    results = run_year(who, claims_, balance, snapshot)
    final = results[-1][2]
    claim = results[-1][0]
    policy = snapshot.at(claim.insured_region, claim.settlement_date)
    terms = terms_for(policy, context_of(claim, who, "local"), claim.settlement_date)
    s = who.scheme

    def cap(path: str) -> int | None:
        return terms.cap(path)

    def within(used: int, limit: int | None) -> bool:
        if limit is not None and limit > 0:  # steer the search towards binding caps
            target(min(used / limit, 2.0), label=f"use of a cap ({len(seen)})")
            seen.append(limit)
        return limit is None or used <= limit

    seen: list[int] = []

    eligible_basis = terms.choice(f"{s}.inpatient.annual_cap_basis", "fund_payment") == "eligible_fee"
    used = final.inpatient_eligible if eligible_basis else final.pooled_fund_paid
    assert within(used, cap(f"{s}.inpatient.annual_cap"))
    assert within(final.large_expense_paid, cap(f"{s}.large_expense.annual_cap"))
    if terms.flag(f"{s}.critical_illness.enabled"):
        assert within(final.critical_illness_paid, cap(f"{s}.critical_illness.annual_cap"))
    if terms.flag(f"{s}.outpatient_pooling.enabled"):
        assert within(final.outpatient_pooled_paid, cap(f"{s}.outpatient_pooling.annual_cap"))
    category = who.assistance_category
    if category != "none":
        assert within(final.assistance_paid_outpatient, cap(f"assistance.{category}.limit.outpatient"))
        assert within(final.assistance_paid_inpatient, cap(f"assistance.{category}.limit.inpatient"))
        total = final.assistance_paid_outpatient + final.assistance_paid_inpatient
        assert within(total, cap(f"assistance.{category}.limit.total"))
        assert within(final.tilted_paid, cap(f"tilted_assistance.{category}.limit"))
    for disease, slot in final.chronic.items():
        assert within(slot["paid"], cap(f"{s}.chronic.{disease}.annual_limit"))


def pick(year, data, snapshot: PolicySnapshot) -> tuple[Person, Claim, Accumulators]:
    """One claim of a settled year, with the accumulators just before it."""
    who, claims_, balance = year
    results = run_year(who, claims_, balance, snapshot)
    i = data.draw(st.integers(0, len(results) - 1))
    claim = results[i][0]
    return who, claim, results[i - 1][2] if i else state_for(who, claim, balance, snapshot)


@SETTINGS
@given(years(), st.data())
def test_settle_then_reverse_returns_the_state_exactly(snapshot: PolicySnapshot, year, data) -> None:
    who, claim, before = pick(year, data, snapshot)
    s, after = settle(claim, who, before, snapshot)
    negated, restored = reverse(s, after)
    assert restored == before
    assert negated.identities() == []
    assert all(d.amount <= 0 for d in negated.details)
    assert negated.fund_pay_total == -s.fund_pay_total and negated.cash_pay == -s.cash_pay


@SETTINGS
@given(years(), st.data())
def test_raising_a_fee_never_lowers_fund_payment(snapshot: PolicySnapshot, year, data) -> None:
    who, claim, before = pick(year, data, snapshot)
    extra = data.draw(st.integers(1, 5_000_000))
    if claim.totals is not None:
        t = claim.totals
        part = data.draw(st.sampled_from(["full", "over", "first", "scope"]))
        bumped = SplitTotals(
            t.total + extra,
            t.full_self_pay + (extra if part == "full" else 0),
            t.over_limit + (extra if part == "over" else 0),
            t.self_pay_first + (extra if part == "first" else 0),
            t.policy_range + (extra if part == "scope" else 0),
        )
        raised = replace(claim, totals=bumped)
    else:
        assert claim.fee_lines is not None
        j = data.draw(st.integers(0, len(claim.fee_lines) - 1))
        old = claim.fee_lines[j]
        price = old.price + Decimal(extra) / 100
        new = replace(old, price=price, amount=int((price * old.quantity * 100).to_integral_value()))
        raised = replace(claim, fee_lines=(*claim.fee_lines[:j], new, *claim.fee_lines[j + 1 :]))
    base, _ = settle(claim, who, before, snapshot)
    more, _ = settle(raised, who, before, snapshot)
    assert more.fund_pay_total >= base.fund_pay_total
