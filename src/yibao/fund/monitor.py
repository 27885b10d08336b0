"""Budgets and fund monitoring (预算执行与基金运行监测): the monthly table, quarterly analysis, warnings.

The monthly table is the one bureaus publish for each fund and region (月报 / 月监测): the month's
income and expenditure, 当期结余, 本年累计收入 and 本年累计支出, 累计结余 at month end, 同比 against the
same period of last year and 完成年度预算 (year-to-date ÷ annual budget). Resident income arrives
mainly in the fourth quarter while spending accrues monthly (NHSA's monthly release warns of it),
so progress is only ever year-to-date against the budget or against last year — never annualised.

Months payable (累计结余可支付月数) is the accumulated balance ÷ the average monthly expenditure
(``累计结余/月均支出``). 人社部发〔2009〕67号 calls 6–9 months reasonable, more than 15 months
结余过多 and less than 3 months 结余不足; the 3–6 and 9–15 bands are the platform's own
(偏低, 偏高). A current deficit (当期收不抵支: the month's expenditure exceeds its income) is a
separate flag. Sources: docs research benefit-rules.md §4.1, actuarial.md §4.2.

Amounts are integer fen; ratios are exact :class:`~fractions.Fraction`; nothing here does I/O.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from fractions import Fraction

from yibao.errors import InputError
from yibao.money import fen_to_yuan, round_div

#: shown for a figure that cannot be computed (no prior year, no budget, no spending)
MISSING = "—"


class WarningLevel(StrEnum):
    """The fund's warning level by months payable; values are stable codes, ``.label`` is for people."""

    SHORTAGE = "shortage"  # 结余不足: fewer than ``shortage`` months
    LOW = "low"  # 偏低: from ``shortage`` to below ``reasonable_min``
    REASONABLE = "reasonable"  # 合理: ``reasonable_min`` to ``reasonable_max`` inclusive
    HIGH = "high"  # 偏高: above ``reasonable_max`` up to ``excess`` inclusive
    EXCESS = "excess"  # 结余过多: more than ``excess`` months
    NO_SPENDING = "no_spending"  # 无支出: months payable undefined

    @property
    def label(self) -> str:
        """The Chinese name (结余不足, 偏低, 合理, 偏高, 结余过多, 无支出)."""
        return _LABELS[self]


_LABELS = dict(zip(WarningLevel, ("结余不足", "偏低", "合理", "偏高", "结余过多", "无支出"), strict=True))
#: the levels in order of months payable (NO_SPENDING has no place)
_ORDER = (WarningLevel.SHORTAGE, WarningLevel.LOW, WarningLevel.REASONABLE, WarningLevel.HIGH, WarningLevel.EXCESS)


@dataclass(frozen=True, slots=True)
class Thresholds:
    """Warning thresholds in months payable (人社部发〔2009〕67号: 6–9 reasonable, <3 不足, >15 过多)."""

    shortage: int = 3
    reasonable_min: int = 6
    reasonable_max: int = 9
    excess: int = 15

    def __post_init__(self) -> None:
        if not 0 <= self.shortage <= self.reasonable_min <= self.reasonable_max <= self.excess:
            values = f"{self.shortage}, {self.reasonable_min}, {self.reasonable_max}, {self.excess}"
            raise InputError("thresholds", f"应满足 0 ≤ 结余不足线 ≤ 合理下限 ≤ 合理上限 ≤ 结余过多线：{values}")


#: the defaults: 人社部发〔2009〕67号 plus the platform's 偏低 / 偏高 bands
DEFAULT_THRESHOLDS = Thresholds()


def months_payable(balance: int, monthly_expenditures: Sequence[int]) -> Fraction | None:
    """``balance ÷ mean(monthly_expenditures)``, exactly; ``None`` when the mean is not positive.

    A negative balance gives a negative number of months. A window whose expenditure sums to zero
    or less (reversals exceeding payments) has no meaningful months payable either.
    """
    if not monthly_expenditures:
        raise InputError("monthly_expenditures", "至少需要一个月的支出")
    total = sum(monthly_expenditures)
    if total <= 0:
        return None
    return Fraction(balance * len(monthly_expenditures), total)


def warning_level(months: Fraction | None, t: Thresholds) -> WarningLevel:
    """The level for ``months`` payable: below 3 不足, exactly 3 偏低, 6 and 9 合理, exactly 15 偏高."""
    if months is None:
        return WarningLevel.NO_SPENDING
    if months < t.shortage:
        return WarningLevel.SHORTAGE
    if months < t.reasonable_min:
        return WarningLevel.LOW
    if months <= t.reasonable_max:
        return WarningLevel.REASONABLE
    if months <= t.excess:
        return WarningLevel.HIGH
    return WarningLevel.EXCESS


@dataclass(frozen=True, slots=True)
class Budget:
    """The annual budget (年度预算) of one fund in one region, fen."""

    income: int
    expense: int

    def __post_init__(self) -> None:
        if self.income < 0 or self.expense < 0:
            raise InputError("budget", f"预算收入与支出不能为负：{self.income}, {self.expense}")


@dataclass(frozen=True, slots=True)
class MonthFigures:
    """What the ledger gives for one month of one fund in one region, fen; ``month`` is its first day."""

    month: date
    income: int
    expense: int


@dataclass(frozen=True, slots=True)
class MonthRow:
    """One row of the monthly table (基金收支月报)."""

    month: date
    income: int
    expense: int
    current_balance: int  # 当期结余 = income − expense
    ytd_income: int  # 本年累计收入
    ytd_expense: int  # 本年累计支出
    accumulated: int  # 累计结余 at month end
    income_yoy: Fraction | None  # 收入同比 (0.1 is +10%)
    expense_yoy: Fraction | None  # 支出同比
    income_progress: Fraction | None  # 收入完成年度预算
    expense_progress: Fraction | None  # 支出完成年度预算
    months_payable: Fraction | None  # 可支付月数
    level: WarningLevel
    deficit: bool  # 当期收不抵支


def _ordinal(d: date) -> int:
    return d.year * 12 + d.month - 1


def _check_months(months: Sequence[date], field: str) -> int:
    """Raise unless ``months`` are consecutive first-of-month dates of one year, in order; the year."""
    if not months:
        raise InputError(field, "不能为空，至少需要一个月")
    for i, m in enumerate(months):
        if m.day != 1:
            raise InputError(field, f"第 {i + 1} 项应为当月第一天：{m.isoformat()}")
    year = months[0].year
    for i in range(1, len(months)):
        prev, cur = months[i - 1], months[i]
        if cur.year != year:
            raise InputError(field, f"所有月份应属同一年度：{year} 年与 {cur.year} 年")
        if _ordinal(cur) != _ordinal(prev) + 1:
            raise InputError(field, f"月份应连续且按顺序：{format_month(prev)} 之后为 {format_month(cur)}")
    return year


def _change(current: int, base: int | None) -> Fraction | None:
    """同比: ``current / base − 1``; ``None`` without a base or with one that is not positive."""
    return None if base is None or base <= 0 else Fraction(current, base) - 1


def _share(part: int, whole: int | None) -> Fraction | None:
    return None if whole is None or whole == 0 else Fraction(part, whole)


def monthly_table(
    opening: int,
    months: Sequence[MonthFigures],
    budget: Budget | None = None,
    prior_year: Sequence[MonthFigures] | None = None,
    thresholds: Thresholds = DEFAULT_THRESHOLDS,
) -> list[MonthRow]:
    """The monthly table from the balance at the start of the first month (``opening``, 期初累计结余).

    ``months`` are consecutive months of one calendar year, normally from January; year-to-date
    figures run from the first month given. ``prior_year`` (months of the year before, consecutive)
    gives 同比 — ``None`` for a month whose same period is not fully covered — and lets months payable
    average the trailing twelve months; without it the average is over the year's months so far.
    """
    year = _check_months([f.month for f in months], "months")
    prior = list(prior_year or [])
    if prior:
        prior_y = _check_months([f.month for f in prior], "prior_year")
        if prior_y != year - 1:
            raise InputError("prior_year", f"应为上一年度（{year - 1} 年）的月份，收到 {prior_y} 年")
    by_month = {f.month.month: f for f in prior}
    expense_at = {_ordinal(f.month): f.expense for f in [*prior, *months]}
    rows: list[MonthRow] = []
    ytd_income = ytd_expense = 0
    prior_income: int | None = 0
    prior_expense: int | None = 0
    accumulated = opening
    for f in months:
        ytd_income += f.income
        ytd_expense += f.expense
        accumulated += f.income - f.expense
        same = by_month.get(f.month.month)
        if same is None or prior_income is None or prior_expense is None:
            prior_income = prior_expense = None
        else:
            prior_income += same.income
            prior_expense += same.expense
        k = _ordinal(f.month)
        window = [expense_at[j] for j in range(k - 11, k + 1) if j in expense_at]
        payable = months_payable(accumulated, window)
        budget_income, budget_expense = (budget.income, budget.expense) if budget else (None, None)
        rows.append(MonthRow(
            f.month, f.income, f.expense, f.income - f.expense, ytd_income, ytd_expense, accumulated,
            _change(ytd_income, prior_income), _change(ytd_expense, prior_expense),
            _share(ytd_income, budget_income), _share(ytd_expense, budget_expense),
            payable, warning_level(payable, thresholds), f.income < f.expense,
        ))  # fmt: skip
    return rows


_QUARTER_NAMES = ("一季度", "二季度", "三季度", "四季度")


@dataclass(frozen=True, slots=True)
class QuarterRow:
    """One quarter of the analysis (季度分析); ``months`` < 3 marks a partial quarter."""

    quarter: int  # 1..4
    months: int  # months of the quarter present
    last_month: date
    income: int
    expense: int
    current_balance: int
    accumulated: int  # 期末累计结余
    income_progress: Fraction | None  # year-to-date at quarter end ÷ budget
    expense_progress: Fraction | None
    months_payable: Fraction | None  # at quarter end
    level: WarningLevel

    @property
    def label(self) -> str:
        """``一季度``; a partial quarter shows its months: ``四季度（10—11月）``."""
        name = _QUARTER_NAMES[self.quarter - 1]
        if self.months == 3:
            return name
        last = self.last_month.month
        first = last - self.months + 1
        return f"{name}（{last}月）" if first == last else f"{name}（{first}—{last}月）"


def quarterly(rows: Sequence[MonthRow]) -> list[QuarterRow]:
    """Sum ``rows`` by calendar quarter; a quarter only partly present is included with ``months`` < 3."""
    if not rows:
        return []
    _check_months([r.month for r in rows], "rows")
    groups: dict[int, list[MonthRow]] = {}
    for r in rows:
        groups.setdefault((r.month.month - 1) // 3 + 1, []).append(r)
    result: list[QuarterRow] = []
    for q, group in groups.items():
        last = group[-1]
        income = sum(r.income for r in group)
        expense = sum(r.expense for r in group)
        result.append(QuarterRow(
            q, len(group), last.month, income, expense, income - expense, last.accumulated,
            last.income_progress, last.expense_progress, last.months_payable, last.level,
        ))  # fmt: skip
    return result


class AlertKind(StrEnum):
    LEVEL = "level"  # the warning level changed (or the first month is not 合理)
    DEFICIT = "deficit"  # a current deficit began (当期收不抵支)


@dataclass(frozen=True, slots=True)
class Alert:
    """A warning (预警提示) for one month; ``before`` is the previous month's level (None for the first)."""

    month: date
    before: WarningLevel | None
    after: WarningLevel
    message: str
    kind: AlertKind = AlertKind.LEVEL


def _payable_phrase(row: MonthRow) -> str:
    if row.months_payable is None:
        return "月均支出为零，可支付月数无法计算"
    return f"可支付月数 {format_months(row.months_payable)} 个月"


def _moved(before: WarningLevel, after: WarningLevel) -> str:
    if before in _ORDER and after in _ORDER:
        return "降至" if _ORDER.index(after) < _ORDER.index(before) else "升至"
    return "变为"


def alerts(rows: Sequence[MonthRow], region_name: str, fund_name: str) -> list[Alert]:
    """Alerts for level changes (and a first month not 合理) and for each deficit that begins.

    A deficit in the first month counts as beginning (there is no earlier month to continue).
    """
    result: list[Alert] = []
    before: MonthRow | None = None
    for row in rows:
        head = f"{format_month(row.month)} {region_name} {fund_name} "
        old = before.level if before else None
        if old is None and row.level != WarningLevel.REASONABLE:
            text = f"{head}{_payable_phrase(row)}，预警等级为 {row.level.label}"
            result.append(Alert(row.month, None, row.level, text))
        elif old is not None and row.level != old:
            text = f"{head}{_payable_phrase(row)}，由 {old.label} {_moved(old, row.level)} {row.level.label}"
            result.append(Alert(row.month, old, row.level, text))
        if row.deficit and not (before and before.deficit):
            text = (
                f"{head}当期收不抵支：本月收入 {fen_to_yuan(row.income)} 元，支出 {fen_to_yuan(row.expense)} 元，"
                f"当期结余 {fen_to_yuan(row.current_balance)} 元"
            )
            result.append(Alert(row.month, old, row.level, text, AlertKind.DEFICIT))
        before = row
    return result


def format_month(d: date) -> str:
    """``2020年03月``."""
    return f"{d.year}年{d.month:02d}月"


def _tenths(value: Fraction, scale: int) -> str:
    """``value × scale`` to one decimal, half-up (away from zero)."""
    tenths = round_div(value.numerator * scale * 10, value.denominator)
    sign = "-" if tenths < 0 else ""
    whole, frac = divmod(abs(tenths), 10)
    return f"{sign}{whole}.{frac}"


def format_months(m: Fraction | None) -> str:
    """Months payable to one decimal, half-up: ``Fraction(17, 6)`` → ``"2.8"``; ``None`` → ``"—"``."""
    return MISSING if m is None else _tenths(m, 1)


def format_percent(p: Fraction | None) -> str:
    """A ratio as a percentage to one decimal, half-up: ``Fraction(123, 1000)`` → ``"12.3%"``."""
    return MISSING if p is None else _tenths(p, 100) + "%"
