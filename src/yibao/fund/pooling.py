"""City–county deficit sharing under city pooling (市级统筹 统收统支, 市与县区缺口分担).

Under 统收统支 every county's collections go into the city's fiscal special account
(市财政专户) and the city pays every county's spending, but each county's income and
spending stay booked to its own sub-ledger (市级分账核算). The principle is "基金统一收支、
市级分账核算、责任分级负责、缺口合理分担" (舟山 市级统筹方案, seeds/003 §(二)2(4)); the county
government carries the main responsibility for collection and spending and is assessed on
both, and debts or gaps from before 统收统支 stay with the county (seeds/003 §(二)2(3), not
modelled here: this module splits one year's gap). The research notes (benefit-rules.md
§4.3, recommended model) split a county's year-end deficit by cause: a management-caused
part (collection below target, spending above budget) borne by the county's finance and
a policy-caused part borne by the city pool. The sharing percentages are local policy, so
they are parameters (:class:`SharingRule`).

Attribution order, in fen, for a county with ``deficit = max(0, expense − income)``:

1. ``under_collection = min(deficit, max(0, income_target − income))`` — collection fell
   short of the county's income target (征缴目标);
2. ``over_budget = min(deficit − under_collection, max(0, expense − expense_target))`` —
   spending exceeded the approved expenditure target (支出预算 / 总额控制指标);
3. ``within_budget = deficit − under_collection − over_budget`` — a gap the budget itself
   foresaw (policy-caused).

The county bears ``mul_ratio(part, share)`` of each part (half-up to the fen, once per
part) and the city pool the rest, so ``county + city == deficit`` exactly. A county in
surplus has no deficit; its surplus stays in the city pool.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from yibao.errors import InputError
from yibao.money import RATIO_ONE, fen_to_yuan, mul_ratio, percent


@dataclass(frozen=True, slots=True)
class SharingRule:
    """The county's share (basis points) of each cause of a deficit; the city pool bears the rest.

    Typical local policy: the county bears all of an under-collection (10000), half of an
    overspend (5000) and none of a deficit its approved budget foresaw (0).
    """

    under_collection: int  # collection below the county's income target (征缴未达目标)
    over_budget: int  # spending above the approved expenditure target (超支出预算)
    within_budget: int  # the rest: a deficit the budget foresaw (政策性缺口)


@dataclass(frozen=True, slots=True)
class CountyYear:
    """One county's sub-ledger for one year (市级分账核算), fen."""

    region: str  # 6-digit county code (医保区划)
    income: int  # the year's income booked to the county sub-ledger
    expense: int  # the year's spending booked to it
    income_target: int  # 征缴目标
    expense_target: int  # 支出预算 / 总额控制指标


@dataclass(frozen=True, slots=True)
class DeficitShare:
    """How one county's year-end deficit is split between the county and the city pool, fen."""

    region: str
    surplus: int  # max(0, income − expense)
    deficit: int  # max(0, expense − income)
    under_collection: int  # part of the deficit attributed to under-collection
    over_budget: int  # part attributed to overspend
    within_budget: int  # the rest
    county: int  # borne by the county's finance (县区财政)
    city: int  # borne by the city pool (市级统筹基金); county + city == deficit
    rule: SharingRule  # the shares applied (kept for the explanation)

    def explain(self) -> list[str]:
        """The split in Chinese sentences, one per part, amounts in yuan."""
        if self.deficit == 0:
            return [f"县区 {self.region} 当年收入不低于支出，结余 {fen_to_yuan(self.surplus)} 元，无缺口需要分担。"]
        lines = [f"县区 {self.region} 当年收不抵支，缺口 {fen_to_yuan(self.deficit)} 元。"]
        parts = (
            ("征缴未达目标造成", self.under_collection, self.rule.under_collection),
            ("支出超过预算造成", self.over_budget, self.rule.over_budget),
            ("预算内（政策性）", self.within_budget, self.rule.within_budget),
        )
        for label, amount, share in parts:
            if amount:
                lines.append(
                    f"其中{label}的缺口 {fen_to_yuan(amount)} 元，县区承担 {percent(share)}，"
                    f"计 {fen_to_yuan(mul_ratio(amount, share))} 元。"
                )
        lines.append(f"合计县区财政承担 {fen_to_yuan(self.county)} 元，市级统筹基金承担 {fen_to_yuan(self.city)} 元。")
        return lines


def _check_amount(value: int, field: str) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        raise InputError(field, f"金额应为整数分，收到 {value!r}")
    if value < 0:
        raise InputError(field, f"金额不能为负：{value}")


def _check_ratio(value: int, field: str) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        raise InputError(field, f"比例应为整数基点，收到 {value!r}")
    if not 0 <= value <= RATIO_ONE:
        raise InputError(field, f"比例应在 0 到 10000 基点（0%–100%）之间：{value}")


def _check_region(value: str, field: str) -> None:
    if not isinstance(value, str) or len(value) != 6 or not (value.isascii() and value.isdigit()):
        raise InputError(field, f"医保区划应为 6 位数字：{value!r}")


def _check_rule(rule: SharingRule) -> None:
    _check_ratio(rule.under_collection, "rule.under_collection")
    _check_ratio(rule.over_budget, "rule.over_budget")
    _check_ratio(rule.within_budget, "rule.within_budget")


def _share(year: CountyYear, rule: SharingRule, field: str) -> DeficitShare:
    _check_region(year.region, f"{field}.region")
    for name in ("income", "expense", "income_target", "expense_target"):
        _check_amount(getattr(year, name), f"{field}.{name}")
    surplus = max(0, year.income - year.expense)
    deficit = max(0, year.expense - year.income)
    under = min(deficit, max(0, year.income_target - year.income))
    over = min(deficit - under, max(0, year.expense - year.expense_target))
    within = deficit - under - over
    county = (
        mul_ratio(under, rule.under_collection)
        + mul_ratio(over, rule.over_budget)
        + mul_ratio(within, rule.within_budget)
    )
    return DeficitShare(
        region=year.region,
        surplus=surplus,
        deficit=deficit,
        under_collection=under,
        over_budget=over,
        within_budget=within,
        county=county,
        city=deficit - county,
        rule=rule,
    )


def share_deficit(year: CountyYear, rule: SharingRule) -> DeficitShare:
    """Split one county's year-end deficit by cause between the county and the city pool."""
    _check_rule(rule)
    return _share(year, rule, "year")


def share_deficits(years: Sequence[CountyYear], rule: SharingRule) -> list[DeficitShare]:
    """Split every county's deficit, in input order; a county may appear only once."""
    _check_rule(rule)
    seen: set[str] = set()
    result: list[DeficitShare] = []
    for i, year in enumerate(years):
        share = _share(year, rule, f"years[{i}]")
        if share.region in seen:
            raise InputError(f"years[{i}].region", f"县区 {share.region} 重复出现")
        seen.add(share.region)
        result.append(share)
    return result
