"""Everything the page template shows, read and formatted from the demo's results.

:func:`build_page` is the one place that reads the input: it checks every field's type
(raising :class:`~yibao.errors.InputError` with the dotted path) and turns figures into
text, so the template only lays out strings, tables (:mod:`yibao.report.tables`) and charts
(:mod:`yibao.report.charts`). Nothing here depends on the clock or the machine, so the same
results always give the same page.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from yibao.errors import InputError
from yibao.report import formatting as fmt
from yibao.report import tables
from yibao.report.charts import BarChart, ChartView, Series, draw
from yibao.report.fields import Record, by_scheme, integer, number, rows, section, text
from yibao.report.fund import FundPage, build_fund_page

# Colours: income blue, expenditure orange; the darker shade is 职工, the lighter 居民.
INCOME_EMPLOYEE, INCOME_RESIDENT = "#1f5fa8", "#8db9e8"
SPENDING_EMPLOYEE, SPENDING_RESIDENT = "#c0531c", "#f3ab76"
TOTAL_EMPLOYEE, TOTAL_RESIDENT = "#6b7683", "#bcc4cd"


@dataclass(frozen=True)
class Fact:
    """A labelled value: a line of the header, or a secondary figure."""

    label: str
    value: str


@dataclass(frozen=True)
class Card:
    """A headline figure with its breakdown lines."""

    label: str
    value: str
    notes: tuple[str, ...] = ()
    css: str = ""


@dataclass(frozen=True)
class Check:
    """An internal consistency check between two parts of the results."""

    label: str
    ok: bool
    detail: str


@dataclass(frozen=True)
class Page:
    """The page's content, section by section; an empty table or card list means "无数据"."""

    title: str
    subtitle: str
    facts: tuple[Fact, ...]
    cards: tuple[Card, ...]
    secondary: tuple[Fact, ...]
    indicators: tables.Table
    monthly_chart: ChartView
    monthly: tables.Table
    by_level_chart: ChartView
    by_level: tables.Table
    by_age_chart: ChartView
    by_age: tables.Table
    by_visit_type_chart: ChartView
    by_visit_type: tables.Table
    burdens: tables.Table
    calibration: tables.Table
    calibration_verdict: str
    checks: tuple[Check, ...]
    notes: tuple[str, ...]
    fund: FundPage


def build_page(data: Mapping[str, object]) -> Page:
    """Read and format the demo's results; raises :class:`InputError` on a field of the wrong type."""
    if not isinstance(data, Mapping):
        raise InputError("（根）", f"应为对象，收到 {type(data).__name__}")
    meta = section(data, "meta")
    city = text(meta, "city", "meta")
    year = text(meta, "year", "meta")
    scale = number(meta, "scale", "meta")
    if scale is not None and scale <= 0:
        raise InputError("meta.scale", f"抽样比例应大于 0，收到 {scale}")
    title = f"{city or '合成城市'}{f'{year}年' if year else ''}基本医疗保险运行报告"
    calibration, verdict = tables.calibration(data)
    return Page(
        title=title,
        subtitle="yibao 合成数据演示 · 全部人员与费用均为模拟生成",
        facts=_facts(meta, scale),
        cards=_cards(data, scale),
        secondary=_secondary(data),
        indicators=tables.indicators(data),
        monthly_chart=draw(_monthly_chart(data)),
        monthly=tables.monthly(data),
        by_level_chart=draw(_by_level_chart(data)),
        by_level=tables.by_level(data),
        by_age_chart=draw(_by_age_chart(data)),
        by_age=tables.by_age(data),
        by_visit_type_chart=draw(_by_visit_type_chart(data)),
        by_visit_type=tables.by_visit_type(data),
        burdens=tables.heaviest_burdens(data),
        calibration=calibration,
        calibration_verdict=verdict,
        checks=_checks(data),
        notes=_notes(scale),
        fund=build_fund_page(data),
    )


# --- header ---------------------------------------------------------------------------------------


def _timestamp(value: str) -> str:
    """``2026-11-22T20:00:00`` → ``2026-11-22 20:00:00``; other text is shown as given."""
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return value
    shown = moment.strftime("%Y-%m-%d %H:%M:%S")
    offset = moment.strftime("%z")
    return f"{shown} (UTC{offset[:3]}:{offset[3:]})" if offset else shown


def _facts(meta: Record, scale: Decimal | None) -> tuple[Fact, ...]:
    where = "meta"
    elapsed = number(meta, "elapsed_seconds", where)
    generated = text(meta, "generated_at", where)
    facts = (
        Fact("统筹地区", text(meta, "city", where, fmt.MISSING)),
        Fact("医保区划", text(meta, "region", where, fmt.MISSING)),
        Fact("年度", text(meta, "year", where, fmt.MISSING)),
        Fact("抽样比例", fmt.scale(scale)),
        Fact("随机种子", text(meta, "seed", where, fmt.MISSING)),
        Fact("政策快照", text(meta, "policy_snapshot", where, fmt.MISSING)),
        Fact("生成时间", _timestamp(generated) if generated else fmt.MISSING),
        Fact("yibao 版本", text(meta, "yibao_version", where, fmt.MISSING)),
        Fact("模拟用时", fmt.seconds(elapsed)),
    )
    return tuple(f for f in facts if f.value != fmt.MISSING or f.label in ("统筹地区", "年度", "抽样比例", "生成时间"))


# --- headline figures -----------------------------------------------------------------------------


def _people_text(value: int | None) -> str:
    return fmt.MISSING if value is None else f"{fmt.count(value)} 人"


def _cards(data: Record, scale: Decimal | None) -> tuple[Card, ...]:
    summary = section(data, "summary")
    if not summary:
        return ()
    where = "summary"
    insured = integer(summary, "insured_total", where)
    employee, resident = integer(summary, "insured_employee", where), integer(summary, "insured_resident", where)
    if insured is None and employee is not None and resident is not None:
        insured = employee + resident
    income = by_scheme(summary, "fund_income_yuan", where)
    spending = by_scheme(summary, "fund_expenditure_yuan", where)
    balance = None if income.total is None or spending.total is None else income.total - spending.total
    shares = section(summary, "policy_range_inpatient_fund_share", where)
    shares_where = "summary.policy_range_inpatient_fund_share"
    assistance = number(summary, "assistance_share_for_key_groups", where)
    settlements = integer(summary, "settlements_total", where)

    def scaled(value: Decimal | int | None, people: bool = False) -> tuple[str, ...]:
        if value is None or scale is None:
            return ()
        whole = Decimal(value) / scale
        return (f"折算全市约 {fmt.people(whole) if people else fmt.yuan(whole)}",)

    def split(e: str, r: str) -> tuple[str, ...]:
        return () if e == r == fmt.MISSING else (f"职工 {e} · 居民 {r}",)

    balance_notes: tuple[str, ...] = ()
    if balance is not None:
        balance_notes = (f"结余率 {fmt.percent(fmt.ratio(balance, income.total))}", *scaled(balance))
    return (
        Card(
            "参保人数",
            _people_text(insured),
            (*split(_people_text(employee), _people_text(resident)), *scaled(insured, people=True)),
        ),
        Card(
            "基金收入",
            fmt.yuan(income.total),
            (*split(fmt.yuan(income.employee), fmt.yuan(income.resident)), *scaled(income.total)),
        ),
        Card(
            "基金支出",
            fmt.yuan(spending.total),
            (*split(fmt.yuan(spending.employee), fmt.yuan(spending.resident)), *scaled(spending.total)),
        ),
        Card("当期结余", fmt.yuan(balance), balance_notes, "bad" if balance is not None and balance < 0 else ""),
        Card(
            "职工政策范围内住院费用基金支付比例",
            fmt.percent(number(shares, "employee", shares_where)),
            ("职工基本医疗保险",),
        ),
        Card(
            "居民政策范围内住院费用基金支付比例",
            fmt.percent(number(shares, "resident", shares_where)),
            ("城乡居民基本医疗保险",),
        ),
        Card("重点救助对象住院费用救助比例", fmt.percent(assistance), ("符合规定的住院医疗费用",)),
        Card(
            "结算笔数",
            fmt.MISSING if settlements is None else f"{fmt.count(settlements)} 笔",
            ("门诊、住院与购药结算",),
        ),
    )


def _secondary(data: Record) -> tuple[Fact, ...]:
    summary = section(data, "summary")
    where = "summary"
    per_capita = section(summary, "per_capita", where)
    facts = (
        Fact("人均基金收入", fmt.yuan(number(per_capita, "income_yuan", "summary.per_capita"))),
        Fact("人均基金支出", fmt.yuan(number(per_capita, "expenditure_yuan", "summary.per_capita"))),
        Fact("大病保险赔付", fmt.yuan(number(summary, "critical_illness_paid_yuan", where))),
        Fact("医疗救助支出", fmt.yuan(number(summary, "assistance_paid_yuan", where))),
        Fact("个人账户支付", fmt.yuan(number(summary, "account_paid_yuan", where))),
        Fact("60岁及以上人口占比", fmt.percent(number(summary, "age_60_plus_share", where))),
        Fact("65岁及以上人口占比", fmt.percent(number(summary, "age_65_plus_share", where))),
        Fact("职工医保退休人员占比", fmt.percent(number(summary, "retiree_share", where))),
        Fact(
            "退休人员支出占职工医保待遇支出比例",
            fmt.percent(number(summary, "retiree_share_of_employee_spending", where)),
        ),
    )
    return tuple(f for f in facts if f.value != fmt.MISSING)


# --- charts ---------------------------------------------------------------------------------------


def _month_label(month: str) -> str:
    """``2020-03`` → ``3月``; any other label is kept."""
    head, _, tail = month.partition("-")
    if len(head) == 4 and head.isdigit() and tail.isdigit() and 1 <= int(tail) <= 12:
        return f"{int(tail)}月"
    return month


def _zero(value: Decimal | None) -> Decimal:
    return Decimal(0) if value is None else value


def _monthly_chart(data: Record) -> BarChart:
    months = tables.months(data)
    columns = (
        ("基金收入·职工", INCOME_EMPLOYEE, "income", [m.income.employee for m in months]),
        ("基金收入·居民", INCOME_RESIDENT, "income", [m.income.resident for m in months]),
        ("基金支出·职工", SPENDING_EMPLOYEE, "spending", [m.expenditure.employee for m in months]),
        ("基金支出·居民", SPENDING_RESIDENT, "spending", [m.expenditure.resident for m in months]),
    )
    return BarChart(
        key="chart-monthly",
        title="月度基金收入与支出（按险种）",
        axis="月份",
        categories=tuple(_month_label(m.month) for m in months),
        series=tuple(
            Series(name, tuple(_zero(v) for v in values), color, stack) for name, color, stack, values in columns
        ),
        note="每月左柱为基金收入，右柱为基金支出。",
    )


def _by_scheme_rows(
    data: Record, key: str, label_key: str
) -> tuple[list[str], dict[tuple[str, str], tuple[Decimal, Decimal]]]:
    """The categories in order of first appearance and (total, fund) by (category, scheme)."""
    categories: list[str] = []
    cells: dict[tuple[str, str], tuple[Decimal, Decimal]] = {}
    for path, row in rows(data, key):
        category = text(row, label_key, path)
        scheme = tables.scheme_name(text(row, "scheme", path))
        if category not in categories:
            categories.append(category)
        total, fund = _zero(number(row, "total_yuan", path)), _zero(number(row, "fund_yuan", path))
        before = cells.get((category, scheme), (Decimal(0), Decimal(0)))
        cells[category, scheme] = (before[0] + total, before[1] + fund)
    return categories, cells


def _by_level_chart(data: Record) -> BarChart:
    categories, cells = _by_scheme_rows(data, "by_level", "level")
    schemes = [("职工", TOTAL_EMPLOYEE, INCOME_EMPLOYEE), ("居民", TOTAL_RESIDENT, INCOME_RESIDENT)]
    series: list[Series] = []
    for measure, index, stack in (("医疗总费用", 0, "total"), ("基金支付", 1, "fund")):
        for scheme, total_color, fund_color in schemes:
            values = tuple(cells.get((c, scheme), (Decimal(0), Decimal(0)))[index] for c in categories)
            series.append(Series(f"{measure}·{scheme}", values, total_color if index == 0 else fund_color, stack))
    return BarChart(
        key="chart-by-level",
        title="按医疗机构级别的医疗总费用与基金支付",
        axis="医疗机构级别",
        categories=tuple(categories),
        series=tuple(series),
        note="每个级别左柱为医疗总费用，右柱为基金支付。",
    )


def _by_age_chart(data: Record) -> BarChart:
    categories: list[str] = []
    totals: list[Decimal] = []
    funds: list[Decimal] = []
    for path, row in rows(data, "by_age"):
        insured = integer(row, "insured", path)
        people = None if insured is None else Decimal(insured)
        per_capita = number(row, "per_capita_yuan", path)
        if per_capita is None:
            per_capita = fmt.ratio(number(row, "total_yuan", path), people)
        categories.append(text(row, "age_group", path))
        totals.append(_zero(per_capita))
        funds.append(_zero(fmt.ratio(number(row, "fund_yuan", path), people)))
    return BarChart(
        key="chart-by-age",
        title="按年龄组的人均医疗费用与人均基金支付",
        axis="年龄组",
        categories=tuple(categories),
        series=(
            Series("人均医疗费用", tuple(totals), TOTAL_EMPLOYEE, "total"),
            Series("人均基金支付", tuple(funds), INCOME_EMPLOYEE, "fund"),
        ),
    )


def _by_visit_type_chart(data: Record) -> BarChart:
    categories: list[str] = []
    funds: list[Decimal] = []
    personal: list[Decimal] = []
    for path, row in rows(data, "by_visit_type"):
        total, fund = number(row, "total_yuan", path), number(row, "fund_yuan", path)
        own = number(row, "personal_yuan", path)
        if own is None and total is not None and fund is not None:
            own = total - fund
        categories.append(text(row, "visit_type", path))
        funds.append(_zero(fund))
        personal.append(_zero(own))
    return BarChart(
        key="chart-by-visit-type",
        title="按就诊类型的基金支付与个人负担",
        axis="就诊类型",
        categories=tuple(categories),
        series=(
            Series("基金支付", tuple(funds), INCOME_EMPLOYEE),
            Series("个人负担", tuple(personal), SPENDING_RESIDENT),
        ),
        note="柱高为医疗总费用，分为基金支付与个人负担两段。",
    )


# --- consistency checks and notes -----------------------------------------------------------------


def _total(values: list[Decimal | None]) -> Decimal | None:
    if not values or any(v is None for v in values):
        return None
    return sum((v for v in values if v is not None), Decimal(0))


def _checks(data: Record) -> tuple[Check, ...]:
    """Whether the parts add up: monthly rows and breakdowns against the annual summary."""
    summary = section(data, "summary")
    income = by_scheme(summary, "fund_income_yuan", "summary").total
    spending = by_scheme(summary, "fund_expenditure_yuan", "summary").total
    months = tables.months(data)
    pairs: list[tuple[str, Decimal | None, Decimal | None, bool]] = [
        ("月度基金收入合计 = 年度基金收入", _total([m.income.total for m in months]), income, True),
        ("月度基金支出合计 = 年度基金支出", _total([m.expenditure.total for m in months]), spending, True),
    ]
    for key, label in (("by_level", "按医疗机构级别"), ("by_age", "按年龄组"), ("by_visit_type", "按就诊类型")):
        funds = [number(row, "fund_yuan", path) for path, row in rows(data, key)]
        pairs.append((f"{label}基金支付合计 = 年度基金支出", _total(funds), spending, True))
    insured = integer(summary, "insured_total", "summary")
    ages = [integer(row, "insured", path) for path, row in rows(data, "by_age")]
    age_total = None if not ages or any(a is None for a in ages) else sum(a for a in ages if a is not None)
    pairs.append(("各年龄组参保人数合计 = 参保人数", _decimal(age_total), _decimal(insured), False))
    settlements = integer(summary, "settlements_total", "summary")
    kinds = [integer(row, "settlements", path) for path, row in rows(data, "by_visit_type")]
    kind_total = None if not kinds or any(k is None for k in kinds) else sum(k for k in kinds if k is not None)
    pairs.append(("各就诊类型结算笔数合计 = 结算笔数", _decimal(kind_total), _decimal(settlements), False))

    checks: list[Check] = []
    for label, part, whole, money in pairs:
        if part is None or whole is None:
            continue
        if part == whole:
            checks.append(Check(label, True, f"均为 {_check_text(whole, money)}"))
        else:
            detail = (
                f"{_check_text(part, money)} 与 {_check_text(whole, money)}，相差 {_check_text(part - whole, money)}"
            )
            checks.append(Check(label, False, detail))
    return tuple(checks)


def _check_text(value: Decimal, money: bool) -> str:
    return f"{fmt.yuan_exact(value)} 元" if money else fmt.count(int(value))


def _decimal(value: int | None) -> Decimal | None:
    return None if value is None else Decimal(value)


def _notes(scale: Decimal | None) -> tuple[str, ...]:
    scale_note = (
        f"合成城市按抽样比例 {fmt.scale(scale)} 生成；“折算全市”为合成结果除以抽样比例，仅供与规划数据对照。"
        if scale is not None
        else "未提供抽样比例，未折算全市数据。"
    )
    return (
        "本报告由 yibao 演示程序（yibao demo）生成，全部参保人、就诊与费用均为合成数据，不代表任何真实个人或医保基金的实际情况。",
        scale_note,
        "金额为逐笔结算精确到分的结果之和；页面按数量级以元、万元或亿元显示，四舍五入保留两位小数，仅影响显示。",
        "比例以百分数显示，保留两位小数；“—”表示本次未产生或无法计算该数值（如分母为零）。",
        "校准容差中“±10%”为相对规划值的偏差，“±N个百分点”为绝对偏差；规划值与来源章节见校准表。",
        "个人编号与姓名在生成数据时已脱敏，生成页面时再次脱敏；本页不含可识别个人身份的信息。",
        "使用相同的随机种子与政策快照重新运行演示，可得到相同的结果。",
    )
