"""City–county deficit sharing (市与县区缺口分担) and the provincial adjustment fund (省级调剂金).

Every expected amount below is worked out by hand in the comments, in yuan, and compared
with zero tolerance.
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import y
from yibao.errors import InputError
from yibao.fund.adjustment import AdjustmentRule, RegionYear, largest_remainder, run_year
from yibao.fund.pooling import CountyYear, SharingRule, share_deficit, share_deficits

# -- city–county deficit sharing ----------------------------------------------------------------

RULE = SharingRule(under_collection=10000, over_budget=5000, within_budget=0)


def test_three_counties_worked_example() -> None:
    years = [
        # 330902 under-collected: deficit 1,000,000.00 − 900,000.00 = 100,000.00;
        #   under_collection = min(100,000.00, 950,000.00 − 900,000.00) = 50,000.00;
        #   over_budget = min(50,000.00, max(0, 1,000,000.00 − 1,000,000.00)) = 0; within = 50,000.00;
        #   county = 50,000.00 × 100% + 0 + 50,000.00 × 0% = 50,000.00; city = 50,000.00.
        CountyYear("330902", y("900000.00"), y("1000000.00"), y("950000.00"), y("1000000.00")),
        # 330903 over budget: deficit 1,300,000.01 − 1,200,000.00 = 100,000.01; under_collection 0;
        #   over_budget = min(100,000.01, 1,300,000.01 − 1,250,000.00) = 50,000.01; within = 50,000.00;
        #   county = 50,000.01 × 50% = 25,000.005 → half-up 25,000.01; city = 100,000.01 − 25,000.01 = 75,000.00.
        CountyYear("330903", y("1200000.00"), y("1300000.01"), y("1200000.00"), y("1250000.00")),
        # 330921 in surplus: 500,000.00 − 450,000.00 = 50,000.00; no deficit, every part 0.
        CountyYear("330921", y("500000.00"), y("450000.00"), y("480000.00"), y("460000.00")),
    ]
    a, b, c = share_deficits(years, RULE)

    assert (a.deficit, a.under_collection, a.over_budget, a.within_budget) == (y("100000"), y("50000"), 0, y("50000"))
    assert (a.county, a.city, a.surplus) == (y("50000.00"), y("50000.00"), 0)

    assert (b.deficit, b.under_collection, b.over_budget, b.within_budget) == (
        y("100000.01"),
        0,
        y("50000.01"),
        y("50000.00"),
    )
    assert (b.county, b.city) == (y("25000.01"), y("75000.00"))

    assert (c.surplus, c.deficit, c.under_collection, c.over_budget, c.within_budget, c.county, c.city) == (
        y("50000.00"),
        0,
        0,
        0,
        0,
        0,
        0,
    )
    assert b.explain() == [
        "县区 330903 当年收不抵支，缺口 100000.01 元。",
        "其中支出超过预算造成的缺口 50000.01 元，县区承担 50%，计 25000.01 元。",
        "其中预算内（政策性）的缺口 50000.00 元，县区承担 0%，计 0.00 元。",
        "合计县区财政承担 25000.01 元，市级统筹基金承担 75000.00 元。",
    ]
    assert c.explain() == ["县区 330921 当年收入不低于支出，结余 50000.00 元，无缺口需要分担。"]


def test_both_causes_capped_by_the_deficit() -> None:
    # deficit 760,000 − 700,000 = 60,000; under_collection = min(60,000, 740,000 − 700,000) = 40,000;
    # over_budget = min(60,000 − 40,000, 760,000 − 720,000 = 40,000) = 20,000; within 0;
    # county = 40,000 + 20,000 × 50% = 50,000; city = 10,000.
    s = share_deficit(CountyYear("330922", y(700000), y(760000), y(740000), y(720000)), RULE)
    assert (s.under_collection, s.over_budget, s.within_budget) == (y(40000), y(20000), 0)
    assert (s.county, s.city) == (y(50000), y(10000))


amounts = st.integers(min_value=0, max_value=10**12)
ratios = st.integers(min_value=0, max_value=10000)


@settings(max_examples=200, deadline=None)
@given(amounts, amounts, amounts, amounts, ratios, ratios, ratios)
def test_sharing_always_adds_up(
    income: int, expense: int, income_target: int, expense_target: int, r1: int, r2: int, r3: int
) -> None:
    s = share_deficit(CountyYear("330902", income, expense, income_target, expense_target), SharingRule(r1, r2, r3))
    assert s.county + s.city == s.deficit
    assert s.under_collection + s.over_budget + s.within_budget == s.deficit
    assert min(s.under_collection, s.over_budget, s.within_budget, s.county, s.city, s.surplus) >= 0
    assert s.county <= s.deficit
    assert s.surplus - s.deficit == income - expense


@pytest.mark.parametrize(
    ("call", "field"),
    [
        (lambda: share_deficit(CountyYear("330902", -1, 0, 0, 0), RULE), "year.income"),
        (lambda: share_deficit(CountyYear("330902", 0, 0, 0, -5), RULE), "year.expense_target"),
        (lambda: share_deficit(CountyYear("33090", 0, 0, 0, 0), RULE), "year.region"),
        (lambda: share_deficit(CountyYear("330902", 0, 0, 0, 0), SharingRule(10001, 0, 0)), "rule.under_collection"),
        (lambda: share_deficit(CountyYear("330902", 0, 0, 0, 0), SharingRule(0, -1, 0)), "rule.over_budget"),
        (
            lambda: share_deficits([CountyYear("330902", 0, 0, 0, 0), CountyYear("330902", 1, 0, 0, 0)], RULE),
            "years[1].region",
        ),
        (lambda: share_deficits([CountyYear("330902", 0, 1, 0, -1)], RULE), "years[0].expense_target"),
    ],
)
def test_sharing_bad_input(call: object, field: str) -> None:
    with pytest.raises(InputError) as info:
        call()  # type: ignore[operator]
    assert info.value.field == field


# -- the provincial adjustment fund ---------------------------------------------------------------

ADJ = AdjustmentRule(levy_rate=500, stop_months=6, reserve_months=3)
CITIES = [
    # region, prior_income, income, expense, balance, score
    # 610100: levy 50,000,000 × 5% = 2,500,000; gap = max(0, 49,000,000 − (52,000,000 − 2,500,000)) = 0.
    RegionYear("610100", y(50_000_000), y(52_000_000), y(49_000_000), y(30_000_000), 9500),
    # 610200: levy 400,000; gap = 9,000,000 − (8,200,000 − 400,000) = 1,200,000;
    #   cushion = max(0, 1,500,000 − 3 × 750,000) = 0; reasonable 1,200,000; claim × 90% = 1,080,000.00.
    RegionYear("610200", y(8_000_000), y(8_200_000), y(9_000_000), y(1_500_000), 9000),
    # 610300: levy 1,000,000; gap = 22,000,000 − 19,500,000 = 2,500,000;
    #   monthly expense 22,000,000 ÷ 12 = 1,833,333.333… → 1,833,333.33; × 3 = 5,499,999.99;
    #   cushion = 6,000,000 − 5,499,999.99 = 500,000.01; reasonable = 1,999,999.99;
    #   claim = 1,999,999.99 × 80% = 1,599,999.992 → 1,599,999.99.
    RegionYear("610300", y(20_000_000), y(20_500_000), y(22_000_000), y(6_000_000), 8000),
    # 610400: levy 750,000; gap = 17,000,000 − 14,550,000 = 2,450,000; balance negative → cushion 0;
    #   reasonable 2,450,000; claim × 100% = 2,450,000.00.
    RegionYear("610400", y(15_000_000), y(15_300_000), y(17_000_000), y(-200_000), 10000),
]
# Σ levy = 2,500,000 + 400,000 + 1,000,000 + 750,000 = 4,650,000.00
# Σ claim = 0 + 1,080,000.00 + 1,599,999.99 + 2,450,000.00 = 5,129,999.99
# stop threshold: Σ expense 97,000,000 ÷ 12 = 8,083,333.33; × 6 = 48,499,999.98


def test_short_fund_is_prorated_by_largest_remainder() -> None:
    # available = 300,000.00 + 3,000.00 + 4,650,000.00 = 4,953,000.00 < 5,129,999.99 → pro-rate, in fen:
    #   610200: 108,000,000 × 495,300,000 ÷ 512,999,999 = 104,273,684 rem 212,273,684
    #   610300: 159,999,999 × 495,300,000 ÷ 512,999,999 = 154,479,531 rem 256,179,531
    #   610400: 245,000,000 × 495,300,000 ÷ 512,999,999 = 236,546,784 rem  44,546,784
    #   floors sum 495,299,999: one fen left → the largest remainder, 610300 → 154,479,532.
    year = run_year(CITIES, ADJ, opening=y(300_000), interest=y(3_000))
    assert not year.levy_stopped and year.prorated
    assert [r.levy for r in year.regions] == [y(2_500_000), y(400_000), y(1_000_000), y(750_000)]
    assert [r.gap for r in year.regions] == [0, y(1_200_000), y(2_500_000), y(2_450_000)]
    assert [r.reasonable_gap for r in year.regions] == [0, y(1_200_000), y("1999999.99"), y(2_450_000)]
    assert [r.claim for r in year.regions] == [0, y(1_080_000), y("1599999.99"), y(2_450_000)]
    assert [r.allocation for r in year.regions] == [0, y("1042736.84"), y("1544795.32"), y("2365467.84")]
    assert [r.uncovered for r in year.regions] == [0, y("157263.16"), y("455204.67"), y("84532.16")]
    assert (year.levied, year.allocated, year.closing) == (y(4_650_000), y(4_953_000), 0)
    text = year.explain()
    assert "按申请额比例分配" in text[1]
    assert text[-1] == "本年下拨合计 4953000.00 元，调剂金年末结余 0.00 元，结转下年。"


def test_ample_fund_pays_every_claim() -> None:
    # available = 2,000,000 + 0 + 4,650,000 = 6,650,000 ≥ 5,129,999.99: each region gets its claim;
    # closing = 6,650,000 − 5,129,999.99 = 1,520,000.01.
    year = run_year(CITIES, ADJ, opening=y(2_000_000))
    assert not year.prorated
    assert [r.allocation for r in year.regions] == [0, y(1_080_000), y("1599999.99"), y(2_450_000)]
    # what the score withheld stays with the region: 1,200,000 − 1,080,000 = 120,000; 1,999,999.99 − 1,599,999.99
    assert [r.uncovered for r in year.regions] == [0, y(120_000), y(400_000), 0]
    assert (year.levied, year.allocated, year.closing) == (y(4_650_000), y("5129999.99"), y("1520000.01"))


def test_levy_stops_at_six_months_of_expenditure() -> None:
    # opening 48,499,999.98 = 6 × 8,083,333.33: no levy. Gaps without the levy:
    #   610100 0; 610200 800,000 → claim 720,000; 610300 1,500,000 − 500,000.01 = 999,999.99 → × 80% = 799,999.992
    #   → 799,999.99; 610400 1,700,000. Σ claim 3,219,999.99; closing 48,499,999.98 − 3,219,999.99 = 45,279,999.99.
    year = run_year(CITIES, ADJ, opening=y("48499999.98"))
    assert year.levy_stopped and year.levied == 0 and not year.prorated
    assert [r.claim for r in year.regions] == [0, y(720_000), y("799999.99"), y(1_700_000)]
    assert year.closing == y("45279999.99")
    assert "停止上解" in year.explain()[1]
    # one fen less and the levy applies again
    assert run_year(CITIES, ADJ, opening=y("48499999.97")).levied == y(4_650_000)
    # without a stop rule the levy always applies
    assert run_year(CITIES, AdjustmentRule(500, None, 3), opening=y(10**9)).levied == y(4_650_000)


def test_largest_remainder_ties_go_by_region_code() -> None:
    # 2 fen over three equal claims of 1 fen: floors 0, remainders equal → 610100 and 610200 in code order.
    assert largest_remainder([1, 1, 1], 2, ["610300", "610100", "610200"]) == [0, 1, 1]
    assert largest_remainder([0, 0], 5, ["610100", "610200"]) == [0, 0]


regions_st = st.lists(
    st.builds(
        RegionYear,
        region=st.integers(min_value=110000, max_value=659999).map(str),
        prior_income=st.integers(0, 10**11),
        income=st.integers(0, 10**11),
        expense=st.integers(0, 10**11),
        balance=st.integers(-(10**11), 10**11),
        score=st.integers(0, 10000),
    ),
    max_size=8,
    unique_by=lambda r: r.region,
)
rules_st = st.builds(
    AdjustmentRule,
    levy_rate=st.integers(0, 10000),
    stop_months=st.none() | st.integers(1, 24),
    reserve_months=st.integers(0, 24),
)


@settings(max_examples=200, deadline=None)
@given(regions_st, rules_st, st.integers(0, 10**11), st.integers(0, 10**9))
def test_adjustment_year_conserves_money(
    regions: list[RegionYear], rule: AdjustmentRule, opening: int, interest: int
) -> None:
    year = run_year(regions, rule, opening, interest)
    available = opening + interest + year.levied
    assert year.closing == opening + interest + year.levied - year.allocated
    assert year.allocated == sum(r.allocation for r in year.regions) <= available
    assert year.levied == sum(r.levy for r in year.regions)
    assert year.closing >= 0
    for r in year.regions:
        assert 0 <= r.allocation <= r.claim <= r.reasonable_gap <= r.gap
        assert r.uncovered == r.reasonable_gap - r.allocation
        if not year.prorated:
            assert r.allocation == r.claim
    if year.prorated:
        assert year.allocated == available


@settings(max_examples=100, deadline=None)
@given(regions_st, st.integers(0, 24))
def test_no_levy_and_no_money_means_no_allocation(regions: list[RegionYear], reserve: int) -> None:
    year = run_year(regions, AdjustmentRule(0, None, reserve), opening=0)
    assert year.levied == year.allocated == year.closing == 0
    assert all(r.allocation == 0 and r.uncovered == r.reasonable_gap for r in year.regions)


@pytest.mark.parametrize(
    ("regions", "rule", "opening", "field"),
    [
        ([RegionYear("610100", -1, 0, 0, 0, 0)], ADJ, 0, "regions[0].prior_income"),
        ([RegionYear("610100", 0, 0, -1, 0, 0)], ADJ, 0, "regions[0].expense"),
        ([RegionYear("610100", 0, 0, 0, 0, 10001)], ADJ, 0, "regions[0].score"),
        ([RegionYear("610100", 0, 0, 0, 0, 0), RegionYear("610100", 0, 0, 0, 0, 0)], ADJ, 0, "regions[1].region"),
        ([], AdjustmentRule(10001, None, 3), 0, "rule.levy_rate"),
        ([], AdjustmentRule(500, 0, 3), 0, "rule.stop_months"),
        ([], AdjustmentRule(500, 6, -1), 0, "rule.reserve_months"),
        ([], ADJ, -1, "opening"),
    ],
)
def test_adjustment_bad_input(regions: list[RegionYear], rule: AdjustmentRule, opening: int, field: str) -> None:
    with pytest.raises(InputError) as info:
        run_year(regions, rule, opening)
    assert info.value.field == field
