"""Every rule variant of the engine on a test city (tests/fixtures/rules) with hand-computed amounts.

The base city 980100 has a full parameter set; each county below it overrides one rule,
which also exercises inheritance: a county names only what differs.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from conftest import FIXTURES, NATIONAL, inpatient, person, totals, y
from yibao.engine import Claim, FeeLine, settle
from yibao.engine.model import ACCOUNT_MUTUAL_AID, ACCOUNT_NONE
from yibao.engine.reversal import reverse
from yibao.engine.state import Accumulators
from yibao.errors import InputError, NoPolicyInForce, PolicyFileError, RuleConflict, UnknownRegion
from yibao.io.policy_dir import load_policy_dir
from yibao.policy.snapshot import PolicySnapshot

BASE = "980100"
EMP = person("employee", "active", age=40, pid="E1")
RETIREE = person("employee", "retiree", age=66, pid="E2")
RES = person("resident", "adult", age=50, pid="R1")
POOR = person("resident", "adult", age=50, category="subsistence_allowance", pid="R2")


@pytest.fixture(scope="module")
def rules() -> PolicySnapshot:
    return load_policy_dir([NATIONAL, FIXTURES / "rules"])


def run(snapshot: PolicySnapshot, claims: list[Claim], who: object, state: Accumulators | None = None) -> list:
    out = []
    for c in claims:
        s, state = settle(c, who, state, snapshot)  # type: ignore[arg-type]
        assert s.identities() == []
        out.append(s)
    return out


def stay(
    region: str, policy_range: str, level: int = 3, on: str = "2024-05-01", full: str = "0", **kw: object
) -> Claim:
    total = str(Decimal(policy_range) + Decimal(full))
    return inpatient(region, on, level, totals(total, policy_range, full=full), **kw)


# -- pooled fund ratio dimensions ------------------------------------------------------------


@pytest.mark.parametrize(
    ("who", "treatment", "filed", "level", "expected"),
    [
        (EMP, BASE, False, 3, "8000.00"),  # 80% local
        (RETIREE, BASE, False, 3, "8500.00"),  # retiree +5 points
        (EMP, "980110", False, 3, "8000.00"),  # another county of the same pooling city is local
        (EMP, "981000", True, 3, "7000.00"),  # elsewhere in the province, filed: −10 points
        (EMP, "440100", True, 3, "7000.00"),  # another province, filed
        (EMP, "440100", False, 3, "5000.00"),  # another province, not filed: −30 points
        (RETIREE, "440100", False, 3, "5500.00"),  # retiree uplift then the out-of-area cut, in priority order
        (EMP, BASE, False, 2, "8500.00"),  # level 2: 85%
    ],
)
def test_ratio_by_level_person_and_area(rules, who, treatment, filed, level, expected) -> None:
    deductible = {2: "500", 3: "800"}[level]
    claim = stay(BASE, str(10000 + int(deductible)), level, treatment_region=treatment, filed=filed)
    (s,) = run(rules, [claim], who)
    assert s.pooled_fund_pay == y(expected)


def test_unfiled_floor_binds_for_residents(rules) -> None:
    # resident level 3: 65% − 30 points = 35%, raised to the 40% floor (at_least, priority 30)
    claim = stay(BASE, "10600", treatment_region="440100", filed=False)
    (s,) = run(rules, [claim], RES)
    assert s.pooled_fund_pay == y(4000)
    assert s.pooled_ratio == 4000


# -- deductible variants -------------------------------------------------------------------


def test_later_admissions_at_a_percentage(rules) -> None:
    claims = [stay("980101", "5000", claim_id=f"c{i}", on=f"2024-0{i + 1}-10") for i in range(3)]
    assert [s.deductible_paid for s in run(rules, claims, EMP)] == [y(800), y(400), y(400)]


def test_later_admissions_fixed_step_with_floor(rules) -> None:
    claims = [stay("980102", "5000", claim_id=f"c{i}", on=f"2024-0{i + 1}-10") for i in range(5)]
    paid = [s.deductible_paid for s in run(rules, claims, EMP)]
    assert paid == [y(800), y(700), y(600), y(500), y(500)]


def test_annual_cumulative_deductible_charges_the_difference_at_a_higher_level(rules) -> None:
    claims = [
        stay("980103", "5000", level=2, claim_id="a", on="2024-02-01"),
        stay("980103", "5000", level=3, claim_id="b", on="2024-03-01"),
        stay("980103", "5000", level=3, claim_id="c", on="2024-04-01"),
    ]
    assert [s.deductible_paid for s in run(rules, claims, EMP)] == [y(500), y(300), 0]


def test_transfer_up_charges_only_the_difference(rules) -> None:
    up = stay(BASE, "5000", level=3, transfer_from_level=2)
    down = stay(BASE, "5000", level=2, transfer_from_level=3)
    assert run(rules, [up], EMP)[0].deductible_paid == y(300)
    assert run(rules, [down], EMP)[0].deductible_paid == 0


def test_day_surgery_and_special_group_reduction(rules) -> None:
    poor_employee = person("employee", "active", category="subsistence_allowance", pid="E9")
    assert run(rules, [stay("980105", "5000", day_surgery=True)], EMP)[0].deductible_paid == y(600)
    assert run(rules, [stay(BASE, "5000")], poor_employee)[0].deductible_paid == y(400)  # halved
    # the group's halving applies to the level's amount before the day-surgery reduction
    assert run(rules, [stay("980105", "5000", day_surgery=True)], poor_employee)[0].deductible_paid == y(200)


def test_policy_range_below_the_deductible_is_all_deductible(rules) -> None:
    (s,) = run(rules, [stay(BASE, "300")], EMP)
    assert (s.deductible_paid, s.pooled_fund_pay, s.personal_burden) == (y(300), 0, y(300))


# -- caps, bands, above-cap layers -----------------------------------------------------------


def test_annual_bands_and_a_cap_on_eligible_fee(rules) -> None:
    claims = [
        stay("980104", "15800", claim_id="a", on="2024-02-01"),
        stay("980104", "15800", claim_id="b", on="2024-03-01"),
        stay("980104", "30800", claim_id="c", on="2024-04-01"),
    ]
    a, b, c = run(rules, claims, EMP)
    assert a.pooled_fund_pay == y(12000)  # 15000 × 80%
    assert b.pooled_fund_pay == y(13000)  # [15000, 30000]: 5000 × 80% + 10000 × 90%
    assert c.pooled_fund_pay == y(18000)  # only 20000 of fee left under the 50000 fee cap, at 90%
    assert c.setlinfo_amount("hifob_pay") == y(9000)  # the 10000 above it × 90% large-expense


def test_binding_fund_cap_then_large_expense(rules) -> None:
    first, second = run(rules, [stay(BASE, "150800", claim_id="a"), stay(BASE, "10800", claim_id="b")], EMP)
    assert first.pooled_fund_pay == y(100000)  # 150000 × 80% = 120000, capped at 100000
    assert first.setlinfo_amount("hifob_pay") == y(22500)  # fee above the cap 150000 − 125000, × 90%
    assert second.pooled_fund_pay == 0
    assert second.setlinfo_amount("hifob_pay") == y(9000)  # all of the covered 10000, × 90%
    assert "CAP-POOL" in first.reasons


def test_resident_fee_above_the_cap_flows_into_critical_illness(rules) -> None:
    (s,) = run(rules, [stay(BASE, "150600")], RES)
    assert s.pooled_fund_pay == y(80000)
    # personal policy-range burden 70600; above 15000: 50000 × 60% + 5600 × 70%
    assert s.setlinfo_amount("hifmi_pay") == y(33920)


# -- critical illness ------------------------------------------------------------------------


def test_critical_illness_threshold_once_a_year_paid_by_increments(rules) -> None:
    claims = [stay(BASE, "20600", claim_id=f"c{i}", on=f"2024-0{i + 1}-05") for i in range(3)]
    paid = [s.setlinfo_amount("hifmi_pay") for s in run(rules, claims, RES)]
    # each stay leaves 7600 to the person: cumulative 7600, 15200, 22800 against a 15000 threshold
    assert paid == [0, y(120), y(4560)]


def test_critical_illness_base_may_include_self_pay_first(rules) -> None:
    claim = inpatient("980107", "2024-05-01", 3, totals("30600", "20600", first="10000"))
    (s,) = run(rules, [claim], RES)
    # base 7600 + 10000 self-pay-first = 17600; (17600 − 15000) × 60%
    assert s.setlinfo_amount("hifmi_pay") == y(1560)


def test_protected_groups_full_chain_after_the_2021_rule(rules) -> None:
    """国办发〔2021〕42号 via the national template: threshold −50%, +5 points, no cap; then 救助 and 倾斜."""
    (s,) = run(rules, [stay(BASE, "100300", on="2022-03-01")], POOR)
    assert s.deductible_paid == y(300)  # halved by the city's own rule
    assert s.pooled_fund_pay == y(65000)
    assert s.setlinfo_amount("hifmi_pay") == y(18070)  # (35300 − 7500) × 65%
    assert s.fund("610100") == y(13784)  # (35300 − 18070) × 80%
    assert s.fund("610102") == y(723)  # (3446 − 2000) × 50%
    assert s.cash_pay == s.total - s.fund_pay_total


def test_protected_group_preferences_are_dated(rules) -> None:
    (s,) = run(rules, [stay(BASE, "100300", on="2021-06-01")], POOR)
    assert s.setlinfo_amount("hifmi_pay") == y(12180)  # (35300 − 15000) × 60%: before 2021-10-28


# -- medical assistance --------------------------------------------------------------------


def test_assistance_outpatient_limit_and_total_limit(rules) -> None:
    out1 = stay(BASE, "3000", visit_type="outpatient", claim_id="o1")
    out2 = stay(BASE, "3000", visit_type="outpatient", claim_id="o2", on="2024-05-02")
    a, b = run(rules, [out1, out2], POOR)
    assert a.pooled_fund_pay == y(400)  # resident outpatient cap
    assert a.fund("610100") == y(1000)  # 2600 × 80% = 2080, outpatient assistance limit 1000
    assert b.fund("610100") == 0


def test_assistance_annual_deductible(rules) -> None:
    near = person("resident", "adult", category="near_subsistence", pid="N1")
    a, b = run(rules, [stay(BASE, "10600", claim_id="a"), stay(BASE, "10600", claim_id="b", on="2024-06-01")], near)
    assert a.fund("610100") == y(1860)  # (4100 − 1000) × 60%
    assert b.fund("610100") == y(2460)  # 4100 × 60%: the deductible was met this year


def test_tilted_assistance_per_settlement_versus_annual(rules) -> None:
    poor_employee = person("employee", "active", category="subsistence_allowance", pid="E7")
    claims = [stay(r, "40400", claim_id=f"{r}{i}", on=f"2024-0{i + 1}-01") for r in ("x",) for i in range(2)]
    per = run(rules, [stay(BASE, "40400", claim_id=f"p{i}", on=f"2024-0{i + 1}-01") for i in range(2)], poor_employee)
    annual = run(
        rules, [stay("980108", "40400", claim_id=f"a{i}", on=f"2024-0{i + 1}-01") for i in range(2)], poor_employee
    )
    assert claims  # (same shape both ways)
    assert [s.fund("610102") for s in per] == [0, 0]  # residual 1680 each time, below 2000
    assert [s.fund("610102") for s in annual] == [0, y(680)]  # cumulative 3360: (3360 − 2000) × 50%


# -- personal account ------------------------------------------------------------------------


def test_personal_account_scope_and_mutual_aid(rules) -> None:
    state = Accumulators("E1", "employee", BASE, 2024, account_balance=y(1000))
    (s,) = run(rules, [stay(BASE, "10800", full="200")], EMP, state)
    assert s.personal_burden == y(3000)
    assert (s.account_pay, s.cash_pay, s.account_balance) == (y(1000), y(2000), 0)

    aid = stay(BASE, "10800", full="200", account_use=ACCOUNT_MUTUAL_AID, mutual_aid_balance=y(5000))
    (s,) = run(rules, [aid], EMP)
    assert (s.mutual_aid_pay, s.cash_pay, s.mutual_aid_balance_after) == (y(2800), y(200), y(2200))

    rich = Accumulators("E1", "employee", "980100", 2024, account_balance=y(10000))
    (s,) = run(rules, [stay("980108", "10800", full="200")], EMP, rich)
    assert s.account_pay == y(3000)  # this county lets the account pay the whole personal burden

    (s,) = run(rules, [stay(BASE, "10800", account_use=ACCOUNT_NONE)], EMP, rich)
    assert s.account_pay == 0


def test_residents_have_no_personal_account(rules) -> None:
    state = Accumulators("R1", "resident", BASE, 2024, account_balance=y(500))
    (s,) = run(rules, [stay(BASE, "10600")], RES, state)
    assert s.account_pay == 0


# -- outpatient ------------------------------------------------------------------------------


def test_employee_outpatient_pooling_annual_deductible_across_levels(rules) -> None:
    visits = [
        stay(BASE, "300", level=3, visit_type="outpatient", claim_id="v1"),
        stay(BASE, "500", level=0, visit_type="outpatient", claim_id="v2"),
        stay(BASE, "500", level=3, visit_type="outpatient", claim_id="v3"),
    ]
    a, b, c = run(rules, visits, EMP)
    assert (a.deductible_paid, a.pooled_fund_pay) == (y(300), 0)
    assert (b.deductible_paid, b.pooled_fund_pay) == (0, y(350))  # 200 already met by the 300 paid
    assert (c.deductible_paid, c.pooled_fund_pay) == (y(100), y(200))  # up to the level-3 amount


def test_employee_outpatient_retiree_uplift_and_cap(rules) -> None:
    visits = [
        stay(BASE, "2400", level=3, visit_type="outpatient", claim_id=f"v{i}", on=f"2024-0{i + 1}-01") for i in range(4)
    ]
    paid = [s.pooled_fund_pay for s in run(rules, visits, RETIREE)]
    assert paid[0] == y(1200)  # (2400 − 400) × 60% (50% + 10 points)
    assert paid[1:] == [y(1440), y(360), 0]  # the 3000 cap binds on the third visit
    assert sum(paid) == y(3000)


def test_pharmacy_purchase_in_outpatient_pooling_at_primary_level(rules) -> None:
    (s,) = run(rules, [stay(BASE, "800", level=0, visit_type="pharmacy")], EMP)
    assert (s.deductible_paid, s.pooled_fund_pay) == (y(200), y(420))  # (800 − 200) × 70%


def test_chronic_own_limit_and_shared_inpatient_cap(rules) -> None:
    claims = [
        stay(BASE, "2300", level=2, visit_type="chronic", disease="D1", claim_id="a"),
        stay(BASE, "5300", level=2, visit_type="chronic", disease="D1", claim_id="b", on="2024-06-01"),
    ]
    state = None
    a, state = settle(claims[0], RES, state, rules)
    b, state = settle(claims[1], RES, state, rules)
    assert (a.deductible_paid, a.pooled_fund_pay) == (y(300), y(1200))
    assert b.pooled_fund_pay == y(1800)  # 3180 due, the disease's 3000 limit leaves 1800
    assert state.chronic["D1"] == {"paid": y(3000), "deductible_paid": y(300)}
    assert state.pooled_fund_paid == y(3000)  # counted against the shared inpatient cap


def test_chronic_as_inpatient_one_deductible_a_year(rules) -> None:
    claims = [
        stay(BASE, "1800", visit_type="chronic", disease="D2", claim_id="a"),
        stay(BASE, "1000", visit_type="chronic", disease="D2", claim_id="b", on="2024-06-01"),
    ]
    a, b = run(rules, claims, EMP)
    assert (a.deductible_paid, a.pooled_fund_pay) == (y(800), y(800))
    assert (b.deductible_paid, b.pooled_fund_pay) == (0, y(800))


def test_chronic_unknown_disease_names_the_field(rules) -> None:
    with pytest.raises(InputError) as e:
        run(rules, [stay(BASE, "1000", visit_type="chronic", disease="ZZ")], RES)
    assert e.value.field == "disease"


# -- fee split against the catalogue ---------------------------------------------------------


def lines_claim(*lines: FeeLine, on: str = "2024-05-01", level: int = 3, visit: str = "inpatient") -> Claim:
    day = date.fromisoformat(on)
    return Claim("L", BASE, BASE, visit, level, day, day, day, fee_lines=lines)


def fl(code: str, price: str, qty: str = "1", **kw: object) -> FeeLine:
    amount = y(str((Decimal(price) * Decimal(qty)).quantize(Decimal("0.01"))))
    return FeeLine(code, amount, Decimal(price), Decimal(qty), **kw)  # type: ignore[arg-type]


def split(rules, claim: Claim, who=EMP):
    s, _ = settle(claim, who, None, rules, keep_lines=True)
    assert s.lines is not None
    return s, s.lines


def test_fee_split_classes_ratios_and_payment_standard(rules) -> None:
    s, lines = split(
        rules, lines_claim(fl("A1", "100"), fl("B1", "100"), fl("B2", "100"), fl("J1", "3.00", "10"), fl("C1", "50"))
    )
    assert [x.self_pay_first for x in lines] == [0, y(10), y(15), y("1.25"), 0]
    assert lines[3].over_limit == y(5)  # (3.00 − 2.50) × 10 above the 集采 payment standard
    assert lines[4].full_self_pay == y(50) and lines[4].reason == "C"
    assert (s.total, s.full_self_pay, s.over_limit, s.self_pay_first) == (y(380), y(50), y(5), y("26.25"))
    assert s.policy_range == y("298.75")
    _, retiree_lines = split(rules, lines_claim(fl("B2", "100")), RETIREE)
    assert retiree_lines[0].self_pay_first == y(8)  # the catalogue's retiree ratio


@pytest.mark.parametrize(
    ("code", "who", "level", "visit", "indication", "reason"),
    [
        ("F1", EMP, 3, "inpatient", True, "R-sex"),
        ("K1", EMP, 3, "inpatient", True, "R-age"),
        ("I1", EMP, 3, "outpatient", True, "R-visit"),
        ("L1", EMP, 1, "inpatient", True, "R-level"),
        ("N1", EMP, 3, "inpatient", False, "R-indication"),
    ],
)
def test_restrictions_make_a_line_full_self_pay(rules, code, who, level, visit, indication, reason) -> None:
    _, lines = split(rules, lines_claim(fl(code, "80", indication_met=indication), level=level, visit=visit), who)
    assert (lines[0].full_self_pay, lines[0].reason) == (y(80), reason)


def test_restrictions_met_keep_the_line_covered(rules) -> None:
    girl = person("resident", "minor", age=9, sex="female", pid="G")
    _, lines = split(rules, lines_claim(fl("F1", "80"), fl("K1", "80"), fl("L1", "80"), fl("N1", "80")), girl)
    assert [x.full_self_pay for x in lines] == [0, 0, 0, 0]


def test_catalogue_validity_dates_and_unknown_items(rules) -> None:
    _, lines = split(rules, lines_claim(fl("E1", "10"), on="2024-01-01"))
    assert lines[0].policy_range == y(10)
    with pytest.raises(InputError) as e:
        split(rules, lines_claim(fl("E1", "10"), on="2023-12-31"))  # not in the catalogue yet, no class given
    assert e.value.field == "fee_lines[0].item_code"
    _, lines = split(rules, lines_claim(fl("E1", "10", declared_class=2), on="2023-12-31"))
    assert lines[0].self_pay_first == y(1)  # declared 乙类 takes the policy's default ratio


# -- dates, years, reversal, errors ----------------------------------------------------------


def test_rule_date_is_the_admission_date_where_the_region_says_so(rules) -> None:
    def claim(adm: str, dis: str) -> Claim:
        return Claim("D", "980109", "980109", "inpatient", 3, date.fromisoformat(dis), date.fromisoformat(adm),
                     date.fromisoformat(dis), totals=totals("10800", "10800"))  # fmt: skip

    assert run(rules, [claim("2024-06-30", "2024-07-05")], EMP)[0].pooled_fund_pay == y(8000)
    assert run(rules, [claim("2024-07-01", "2024-07-05")], EMP)[0].pooled_fund_pay == y(8500)


def test_a_new_year_resets_accumulators_but_not_the_account(rules) -> None:
    old = Accumulators("E1", "employee", BASE, 2023, admissions=3, pooled_fund_paid=y(99000), account_balance=y(700))
    s, state = settle(stay(BASE, "10800", on="2024-01-02"), EMP, old, rules)
    assert s.pooled_fund_pay == y(8000)  # the 2023 cap use does not count
    assert (state.year, state.admissions, state.account_balance) == (2024, 1, 0)
    assert s.account_pay == y(700)


def test_reversal_restores_state_and_refuses_a_second_time(rules) -> None:
    state = Accumulators("R2", "resident", BASE, 2024)
    first, state = settle(stay(BASE, "100300"), POOR, state, rules)
    second, after = settle(stay(BASE, "20300", claim_id="x2", on="2024-06-01"), POOR, state, rules)
    negated, restored = reverse(second, after)
    assert restored == state
    assert negated.total == -second.total and negated.reverses == "x2"
    # reversing the first one too brings the year back to zero; once more would go negative: refused.
    # (A repeated cancel of one settlement is refused by the service, which keeps each settlement's status.)
    _, empty = reverse(first, restored)
    assert empty == Accumulators("R2", "resident", BASE, 2024)
    with pytest.raises(InputError):
        reverse(first, empty)


def test_errors_name_the_problem(rules) -> None:
    with pytest.raises(UnknownRegion):
        run(rules, [stay("123400", "100")], EMP)
    with pytest.raises(NoPolicyInForce) as e:
        run(rules, [stay(BASE, "100", on="2019-12-31")], EMP)
    assert e.value.path == "employee.inpatient.deductible.level_3"
    with pytest.raises(InputError) as ie:
        settle(stay(BASE, "100"), EMP, Accumulators("someone-else", "employee", BASE, 2024), rules)
    assert ie.value.field == "state.psn_no"


def test_equal_priority_exceptions_conflict_at_load_and_at_settlement() -> None:
    roots = [NATIONAL, FIXTURES / "rules", FIXTURES / "conflict"]
    with pytest.raises(PolicyFileError) as e:
        load_policy_dir(roots)
    assert e.value.file.endswith("conflict/params.yaml") and "retiree_uplift" in e.value.reason
    unchecked = load_policy_dir(roots, check=False)
    with pytest.raises(RuleConflict) as rc:
        settle(stay("980106", "10800"), RETIREE, None, unchecked)
    assert set(rc.value.rules) == {"retiree_uplift", "retiree_uplift_again"}
    settle(stay("980106", "10800"), EMP, None, unchecked)  # an active employee meets neither: no conflict


def test_reasons_depend_only_on_the_settlement_itself() -> None:
    """A settlement's EXC: codes list the exception rules it relied on — not those an earlier
    settlement with the same profile relied on (the cached terms are shared between them)."""
    poor = person("employee", "active", category="subsistence_allowance", pid="E5")
    visit = stay(BASE, "1000", level=0, visit_type="outpatient", claim_id="o")
    fresh = load_policy_dir([NATIONAL, FIXTURES / "rules"])
    (alone,) = run(fresh, [visit], poor)
    run(fresh, [stay(BASE, "5000", claim_id="i")], poor)  # reads the halved inpatient deductible
    (after,) = run(fresh, [visit], poor)
    assert alone.reasons == after.reasons
    assert "EXC:assisted_deductible_half" not in after.reasons


def test_terms_are_shared_by_contexts_that_the_rules_cannot_tell_apart() -> None:
    fresh = load_policy_dir([NATIONAL, FIXTURES / "rules"])
    policy = fresh.at(BASE, date(2024, 5, 1))
    assert set(policy.tested) == {"area", "assistance_category", "filed", "person_type"}
    for age in (30, 40, 50):
        run(fresh, [stay(BASE, "1000", claim_id=f"a{age}")], person("employee", "active", age=age, pid=f"x{age}"))
    assert len(policy.memo) == 1  # three ages, one set of cached terms


def test_accumulators_copy_keeps_every_field() -> None:
    from dataclasses import fields

    names = [f.name for f in fields(Accumulators) if f.name != "chronic"]
    original = Accumulators(*(f"v{i}" if i < 3 else i for i in range(len(names))), chronic={"D": {"paid": 1}})  # type: ignore[arg-type]
    copied = original.copy()
    assert copied == original and copied.chronic is not original.chronic
    assert all(getattr(copied, n) == getattr(original, n) for n in names)


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"visit_type": "emergency"}, "visit_type"),
        ({"hospital_level": 4}, "hosp_lv"),
        ({"transfer_from_level": 7}, "transfer_from_level"),
        ({"account_use": 3}, "acct_used_flag"),
    ],
)
def test_the_python_api_refuses_what_the_json_reader_would(rules, change, field) -> None:
    from dataclasses import replace

    with pytest.raises(InputError) as e:
        settle(replace(stay(BASE, "1000"), **change), EMP, None, rules)
    assert e.value.field == field
