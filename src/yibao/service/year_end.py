"""Year-end use cases of the fund's books: the county deficits shared between county and city
(统收统支, 缺口合理分担) and the provincial adjustment fund's year (省级调剂金). Each is one database
transaction; the rules are :mod:`yibao.fund.pooling` and :mod:`yibao.fund.adjustment`.
"""

from __future__ import annotations

from datetime import date

from sqlalchemy import func, select

from yibao.errors import InputError
from yibao.fund import entries
from yibao.fund.adjustment import AdjustmentYear, RegionYear, run_year
from yibao.fund.chart import AccountKind, AccountRef, Fund, entity_of
from yibao.fund.pooling import CountyYear, DeficitShare, share_deficits
from yibao.fund.terms import fund_terms
from yibao.service.books import ADJUSTMENT, OWN_EXPENSE, OWN_INCOME, Books, class_sums, equity, post
from yibao.service.ledger import balances
from yibao.store.db import transaction
from yibao.store.ledger import AdjustmentRegionRow, DeficitShareRow, FundBudget

K = AccountKind


def share_year(platform: Books, city: str, fund: Fund, year: int, booked_on: date | None = None) -> list[DeficitShare]:
    """年终缺口分担: each county's deficit of ``year`` split by cause between the county's finance
    and the city pool (policy ``fund.pooling.county_share.*``). Booked on ``booked_on`` — after
    the year's final accounts (决算), so the default is 31 January of the next year — which keeps
    the closed year's figures showing the deficit as it was."""
    end = date(year, 12, 31)
    booked_on = booked_on or date(year + 1, 1, 31)
    rule = fund_terms(platform.snapshot, city, end).sharing
    with transaction(platform.sessions) as session:
        inc = class_sums(session, city, date(year, 1, 1), end, OWN_INCOME)
        exp = class_sums(session, city, date(year, 1, 1), end, OWN_EXPENSE, ADJUSTMENT)
        counties = sorted(r for r, f in set(inc) | set(exp) if f == fund.value and r != city)
        budgets = {
            b.region: b
            for b in session.scalars(select(FundBudget).where(FundBudget.year == year, FundBudget.fund == fund.value))
        }
        years = []
        for county in counties:
            if county not in budgets:
                raise InputError("fund_budget", f"{county} {year} 年 {fund.label} 未编制预算，无法分担缺口")
            b = budgets[county]
            years.append(
                CountyYear(
                    county, -inc.get((county, fund.value), 0), exp.get((county, fund.value), 0), b.income, b.expense
                )
            )
        shares = share_deficits(years, rule)
        for y, s in zip(years, shares, strict=True):
            session.merge(DeficitShareRow(
                year=year, fund=fund.value, region=s.region, income=y.income, expense=y.expense, deficit=s.deficit,
                under_collection=s.under_collection, over_budget=s.over_budget, within_budget=s.within_budget,
                county=s.county, city=s.city, explanation="\n".join(s.explain()),
            ))  # fmt: skip
            if s.deficit:
                post(session, platform, entries.deficit_sharing(booked_on, fund, city, s.region, s.county, s.city))
    return shares


def adjustment_year(
    platform: Books, province: str, fund: Fund, year: int, scores: dict[str, int], interest: int = 0
) -> AdjustmentYear:
    """省级调剂金 for one scheme and year: levy on each city's prior-year income, allocation to
    reasonable deficits weighted by assessment ``scores`` (basis points), posted on 31 December."""
    end = date(year, 12, 31)
    if entity_of(province) != province:
        raise InputError("province", f"{province} 不是省级区划")
    rule = fund_terms(platform.snapshot, province, end).adjustment
    with transaction(platform.sessions) as session:
        done = session.scalar(select(func.count()).select_from(AdjustmentRegionRow).where(
            AdjustmentRegionRow.year == year, AdjustmentRegionRow.fund == fund.value,
            AdjustmentRegionRow.province == province))  # fmt: skip
        if done:
            raise InputError("year", f"{province} {year} 年 {fund.label} 调剂金已核定，不能重复核定")
        cities = sorted(c for c in scores if c[:2] == province[:2] and c != province)
        if sorted(scores) != cities:
            raise InputError("scores", f"考核得分只能给本省（{province}）的统筹地区")
        regions = []
        for c in cities:
            prior = class_sums(session, c, date(year - 1, 1, 1), date(year - 1, 12, 31), OWN_INCOME, ADJUSTMENT)
            inc = class_sums(session, c, date(year, 1, 1), end, OWN_INCOME, ADJUSTMENT)
            exp = class_sums(session, c, date(year, 1, 1), end, OWN_EXPENSE, ADJUSTMENT)
            bal = equity(session, c, date(year - 1, 12, 31))
            total = {name: sum(v for (_, f), v in d.items() if f == fund.value) for name, d in
                     (("prior", prior), ("inc", inc), ("exp", exp), ("bal", bal))}  # fmt: skip
            regions.append(RegionYear(c, -total["prior"], -total["inc"], total["exp"], total["bal"], scores[c]))
        fsa = AccountRef(K.FISCAL_SPECIAL, fund, province).code
        opening = balances(session, end, [fsa]).get(fsa, 0)
        result = run_year(regions, rule, opening, interest)
        if interest:
            post(session, platform, entries.interest(end, fund, province, interest))
        for r in result.regions:
            session.add(AdjustmentRegionRow(
                year=year, fund=fund.value, region=r.region, province=province, score=scores[r.region], levy=r.levy,
                gap=r.gap, reasonable_gap=r.reasonable_gap, claim=r.claim, allocation=r.allocation,
            ))  # fmt: skip
            if r.levy:
                post(session, platform, entries.adjustment_levy(end, fund, province, r.region, r.levy))
        for r in result.regions:
            if r.allocation:
                post(session, platform, entries.adjustment_allocation(end, fund, province, r.region, r.allocation))
    return result
