"""The provincial adjustment fund (省级调剂金) for one scheme and one year.

During the move to provincial pooling each pooling region (统筹地区) remits a share of its
fund to a provincial adjustment fund, which pays out to regions with a reasonable overspend
(合理超支). Employee and resident funds each have their own adjustment fund and are never
cross-subsidised: run this module once per scheme. Sources: 黑龙江 省级统筹方案 (seeds/002:
"调剂金每年度按照一定比例从统筹地区分别计提 … 按年度筹集和分配"; "考核结果与省级调剂金分配挂钩");
陕西 2024 若干措施 and 安徽 (benefit-rules.md §4.2: a share of prior-year income, incl. fiscal
subsidies and excl. personal-account income, currently at most 5%; remitting stops once the
fund covers 6 months of all regions' expenditure; a region first uses its own balance);
actuarial.md §5.1 for the generic design and its tests (conservation, no region gets more
than its reasonable gap).

For each region r, in fen, with ratios in basis points:

* levy (上解): ``levy_r = mul_ratio(prior_income_r, levy_rate)``, or 0 for every region when
  ``stop_months`` is set and ``opening ≥ stop_months × round_div(Σ_r expense_r, 12)``;
* gap (缺口): ``gap_r = max(0, expense_r − (income_r − levy_r))``;
* own cushion: ``cushion_r = max(0, balance_r − reserve_months × round_div(expense_r, 12))``;
* reasonable gap (合理缺口): ``reasonable_gap_r = max(0, gap_r − cushion_r)``;
* claim: ``claim_r = round_div(reasonable_gap_r × score_r, full_score)`` (half-up), the
  assessment score (考核得分) weighting the allocation;
* ``available = opening + interest + Σ levy``. If ``Σ claim ≤ available`` each region gets its
  claim; otherwise ``allocation_r = claim_r × available ÷ Σ claim`` by the largest-remainder
  method (floors first, then one fen each to the largest remainders, ties by region code),
  so that ``Σ allocation == available`` exactly;
* ``uncovered_r = reasonable_gap_r − allocation_r`` is left to the region's own finance
  (地方兜底); ``closing = available − Σ allocation ≥ 0`` is carried forward.

No region receives more than its claim, hence never more than its reasonable gap.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from yibao.errors import InputError
from yibao.money import RATIO_ONE, fen_to_yuan, mul_ratio, round_div


@dataclass(frozen=True, slots=True)
class AdjustmentRule:
    """The adjustment fund's levy and allocation parameters."""

    levy_rate: int  # share of prior-year income levied, bp (陕西/安徽: up to 500 = 5%)
    stop_months: int | None  # no levy once the opening balance covers this many months of expenditure (陕西: 6)
    reserve_months: int  # months of its own expenditure a region may keep before its gap is reasonable
    full_score: int = RATIO_ONE  # assessment score meaning "full allocation"


@dataclass(frozen=True, slots=True)
class RegionYear:
    """One pooling region's fund for the year, fen."""

    region: str  # 6-digit 医保区划
    prior_income: int  # prior-year income incl. fiscal subsidies, excl. personal accounts: the levy base
    income: int  # this year's income, before the levy
    expense: int  # this year's expenditure
    balance: int  # accumulated balance at the start of the year (negative: an earlier deficit)
    score: int  # assessment score 0..full_score (考核得分)


@dataclass(frozen=True, slots=True)
class RegionAdjustment:
    """One region's levy and allocation, fen."""

    region: str
    levy: int  # 上解
    gap: int  # 缺口 before adjustment
    reasonable_gap: int  # gap after the own-balance cushion (合理缺口)
    claim: int  # reasonable gap weighted by the score
    allocation: int  # 下拨
    uncovered: int  # reasonable_gap − allocation: left to the region's own finance (地方兜底)


@dataclass(frozen=True, slots=True)
class AdjustmentYear:
    """The adjustment fund's year, fen: opening + interest + levied − allocated = closing."""

    opening: int
    interest: int
    levied: int  # Σ levy
    allocated: int  # Σ allocation
    closing: int  # carried forward
    prorated: bool  # the claims exceeded what the fund had
    levy_stopped: bool  # the opening balance reached stop_months of expenditure: nothing levied
    regions: tuple[RegionAdjustment, ...]

    def explain(self) -> list[str]:
        """The year in Chinese sentences, amounts in yuan."""
        available = self.opening + self.interest + self.levied
        lines = [
            f"调剂金年初结余 {fen_to_yuan(self.opening)} 元，利息 {fen_to_yuan(self.interest)} 元，"
            f"本年各统筹地区上解 {fen_to_yuan(self.levied)} 元，可用于调剂 {fen_to_yuan(available)} 元。"
        ]
        if self.levy_stopped:
            lines.append("调剂金年初结余已达到规定的可支付月数，本年停止上解。")
        claims = sum(r.claim for r in self.regions)
        if self.prorated:
            lines.append(
                f"各地按考核得分折算的调剂申请合计 {fen_to_yuan(claims)} 元，超过可用额，"
                "按申请额比例分配（最大余数法，分配总额等于可用额）。"
            )
        for r in self.regions:
            lines.append(
                f"统筹地区 {r.region}：上解 {fen_to_yuan(r.levy)} 元，缺口 {fen_to_yuan(r.gap)} 元，"
                f"动用自身结余后合理缺口 {fen_to_yuan(r.reasonable_gap)} 元，按考核得分折算 {fen_to_yuan(r.claim)} 元，"
                f"下拨 {fen_to_yuan(r.allocation)} 元，地方兜底 {fen_to_yuan(r.uncovered)} 元。"
            )
        lines.append(
            f"本年下拨合计 {fen_to_yuan(self.allocated)} 元，调剂金年末结余 {fen_to_yuan(self.closing)} 元，结转下年。"
        )
        return lines


def _check_int(value: object, field: str, minimum: int | None = 0, maximum: int | None = None) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        raise InputError(field, f"应为整数，收到 {value!r}")
    if minimum is not None and value < minimum:
        raise InputError(field, f"不能小于 {minimum}：{value}")
    if maximum is not None and value > maximum:
        raise InputError(field, f"不能大于 {maximum}：{value}")


def _check_rule(rule: AdjustmentRule) -> None:
    _check_int(rule.levy_rate, "rule.levy_rate", 0, RATIO_ONE)
    if rule.stop_months is not None:
        _check_int(rule.stop_months, "rule.stop_months", 1)
    _check_int(rule.reserve_months, "rule.reserve_months", 0)
    _check_int(rule.full_score, "rule.full_score", 1)


def _check_regions(regions: Sequence[RegionYear], full_score: int) -> None:
    seen: set[str] = set()
    for i, r in enumerate(regions):
        field = f"regions[{i}]"
        if not isinstance(r.region, str) or len(r.region) != 6 or not (r.region.isascii() and r.region.isdigit()):
            raise InputError(f"{field}.region", f"医保区划应为 6 位数字：{r.region!r}")
        if r.region in seen:
            raise InputError(f"{field}.region", f"统筹地区 {r.region} 重复出现")
        seen.add(r.region)
        for name in ("prior_income", "income", "expense"):
            _check_int(getattr(r, name), f"{field}.{name}", 0)
        _check_int(r.balance, f"{field}.balance", None)
        _check_int(r.score, f"{field}.score", 0, full_score)


def largest_remainder(weights: Sequence[int], total: int, keys: Sequence[str]) -> list[int]:
    """Split ``total`` fen in proportion to ``weights`` so the parts sum to ``total`` exactly.

    Each part is first ``floor(weight × total ÷ Σ weights)``; the fen left over go one each to
    the largest remainders, ties broken by ``keys`` ascending (deterministic). A zero weight
    gets nothing; when ``total < Σ weights`` no part exceeds its weight.
    """
    denominator = sum(weights)
    if denominator <= 0:
        return [0] * len(weights)
    parts: list[int] = []
    remainders: list[int] = []
    for w in weights:
        q, rem = divmod(w * total, denominator)
        parts.append(q)
        remainders.append(rem)
    leftover = total - sum(parts)
    order = sorted(range(len(weights)), key=lambda i: (-remainders[i], keys[i]))
    for i in order[:leftover]:
        parts[i] += 1
    return parts


def run_year(regions: Sequence[RegionYear], rule: AdjustmentRule, opening: int, interest: int = 0) -> AdjustmentYear:
    """Levy, assess and allocate one year of one scheme's provincial adjustment fund."""
    _check_rule(rule)
    _check_int(opening, "opening", 0)
    _check_int(interest, "interest", 0)
    _check_regions(regions, rule.full_score)

    monthly_all = round_div(sum(r.expense for r in regions), 12)
    stopped = rule.stop_months is not None and opening >= rule.stop_months * monthly_all
    levies = [0 if stopped else mul_ratio(r.prior_income, rule.levy_rate) for r in regions]
    gaps = [max(0, r.expense - (r.income - levy)) for r, levy in zip(regions, levies, strict=True)]
    cushions = [max(0, r.balance - rule.reserve_months * round_div(r.expense, 12)) for r in regions]
    reasonable = [max(0, g - c) for g, c in zip(gaps, cushions, strict=True)]
    claims = [round_div(g * r.score, rule.full_score) for g, r in zip(reasonable, regions, strict=True)]

    available = opening + interest + sum(levies)
    prorated = sum(claims) > available
    allocations = largest_remainder(claims, available, [r.region for r in regions]) if prorated else claims

    rows = tuple(
        RegionAdjustment(
            region=r.region,
            levy=levies[i],
            gap=gaps[i],
            reasonable_gap=reasonable[i],
            claim=claims[i],
            allocation=allocations[i],
            uncovered=reasonable[i] - allocations[i],
        )
        for i, r in enumerate(regions)
    )
    allocated = sum(allocations)
    return AdjustmentYear(
        opening=opening,
        interest=interest,
        levied=sum(levies),
        allocated=allocated,
        closing=available - allocated,
        prorated=prorated,
        levy_stopped=stopped,
        regions=rows,
    )
