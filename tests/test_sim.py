"""The synthetic city: census profile, exact counts, identities of its people, and its visits."""

from __future__ import annotations

from datetime import date
from fractions import Fraction
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from yibao.errors import InputError
from yibao.sim.catalog import generate_catalog
from yibao.sim.city import CENSUS_DAY, certno_for, generate_city
from yibao.sim.profile import GUANGDONG_2020, allocate, bands_of, load_census, reweight
from yibao.sim.targets import target
from yibao.sim.visits import VisitGenerator

CENSUS = (
    Path(__file__).resolve().parents[2]
    / "shared"
    / "reference"
    / "actuarial"
    / "census_age_sex_by_region_2010_2020.csv"
)
SCALE = Fraction(1, 2000)


def test_embedded_guangdong_profile_is_the_census_file() -> None:
    """The embedded parameters are the shared reference data, row for row."""
    assert load_census(CENSUS, "广东") == GUANGDONG_2020
    assert sum(m + f for _, _, m, f in GUANGDONG_2020) == 126_012_510  # 七普 广东常住人口 (civilian)


def test_other_regions_load_too() -> None:
    national = load_census(CENSUS, "全国")
    assert sum(m + f for _, _, m, f in national) == 1_409_778_724  # the README's validated national total
    with pytest.raises(InputError) as e:
        load_census(CENSUS, "火星")
    assert e.value.field == "census"


def test_reweighting_gives_the_city_shares_exactly() -> None:
    bands = reweight(bands_of(GUANGDONG_2020), Fraction("0.1917"), Fraction("0.1327"))
    whole = sum(b.weight for b in bands)
    assert sum(b.weight for b in bands if b.lo >= 60) / whole == Fraction("0.1917")
    assert sum(b.weight for b in bands if b.lo >= 65) / whole == Fraction("0.1327")
    # the shape inside a segment is kept: the sex ratio of 30–34 is the census's
    m, f = (b.weight for b in bands if b.lo == 30)
    assert m / f == Fraction(7173902, 6009716)


@given(st.lists(st.integers(min_value=0, max_value=10**6), min_size=1, max_size=30), st.integers(0, 10**5))
def test_allocate_is_exact(weights: list[int], total: int) -> None:
    if sum(weights) == 0:
        with pytest.raises(InputError):
            allocate([Fraction(w) for w in weights], total)
        return
    counts = allocate([Fraction(w) for w in weights], total)
    assert sum(counts) == total
    whole = sum(weights)
    assert all(abs(c - Fraction(w * total, whole)) < 1 for c, w in zip(counts, weights, strict=True))


@pytest.fixture(scope="module")
def city():  # type: ignore[no-untyped-def]
    return generate_city(SCALE, 5)


def test_counts_are_the_targets_times_the_scale(city) -> None:  # type: ignore[no-untyped-def]
    people = city.people
    employees = [p for p in people if p.scheme == "employee"]
    assert len(people) == round(target("insured_total").value * SCALE)
    assert len(employees) == round(target("insured_employee").value * SCALE)
    assert sum(p.person_type == "retiree" for p in employees) == round(len(employees) * target("retiree_share").value)
    census_day = date(city.year, *CENSUS_DAY)
    old = sum(p.age_on(census_day) >= 60 for p in people) / len(people)
    assert abs(old - 0.1917) < 0.005  # largest-remainder rounding of 1,332 people over 44 bands


def test_people_are_plausible(city) -> None:  # type: ignore[no-untyped-def]
    census_day = date(city.year, *CENSUS_DAY)
    for p in city.people:
        age = p.age_on(census_day)
        if p.person_type == "retiree":
            assert age >= (60 if p.sex == "male" else 50)
        if p.person_type in ("active", "flexible"):
            assert 18 <= age <= 59 and p.wage > 0
        if p.person_type == "minor":
            assert age < 6
    assert len({p.certno for p in city.people}) == len(city.people)
    assert len({p.psn_no for p in city.people}) == len(city.people)


def test_certno_check_digit_and_sex_digit() -> None:
    # GB 11643-1999: the published example 11010519491231002X
    assert certno_for("110105", date(1949, 12, 31), 1, "female") == "11010519491231002X"
    assert int(certno_for("445102", date(1990, 1, 1), 7, "male")[16]) % 2 == 1
    with pytest.raises(InputError):
        certno_for("445102", date(1990, 1, 1), 500, "male")


def test_same_seed_same_city_and_visits() -> None:
    a, b = generate_city(SCALE, 9), generate_city(SCALE, 9)
    assert a == b
    _, priced = generate_catalog(9)
    va = VisitGenerator(a, priced).visits()
    vb = VisitGenerator(b, priced).visits()
    assert [v.claim for v in va] == [v.claim for v in vb]
    assert generate_city(SCALE, 10).people != a.people


@settings(max_examples=5, deadline=None)
@given(st.integers(min_value=0, max_value=10**6))
def test_visits_fall_in_the_year_after_birth(seed: int) -> None:
    c = generate_city(SCALE, seed)
    _, priced = generate_catalog(seed)
    for v in VisitGenerator(c, priced).visits():
        claim = v.claim
        assert date(c.year, 1, 1) <= v.day <= date(c.year, 12, 31)
        assert v.day >= v.person.birth
        if claim.admission_date:
            assert v.person.birth <= claim.admission_date <= v.day == claim.discharge_date
        assert claim.fee_lines and all(line.amount > 0 for line in claim.fee_lines)


def test_scale_out_of_range_is_refused() -> None:
    for bad in (Fraction(0), Fraction(3), Fraction(1, 10**6)):
        with pytest.raises(InputError) as e:
            generate_city(bad, 1)
        assert e.value.field == "scale"
