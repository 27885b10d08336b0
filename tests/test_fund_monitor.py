"""Budgets and fund monitoring (预算执行与基金运行监测), with a resident-style year worked by hand.

The worked year (居民统筹基金, 湘桥区, 2020; 元): opening balance 3,250,000.00; expenditure
500,000.00 a month, 600,000.00 in December; income 250,000.00 a month except 500,000.00 in March,
then 1,200,000.00, 2,400,000.00 and 3,000,000.00 in the fourth quarter (resident contributions
arrive late). 2019: expenditure 500,000.00 a month; income 200,000.00 a month to September, then
1,000,000.00, 2,000,000.00, 2,800,000.00. Budget 2020: income 9,000,000.00, expense 6,000,000.00.

With 2019 given, months payable averages the trailing twelve months: 500,000.00 until November,
6,100,000.00 ÷ 12 in December. The balance falls 250,000.00 a month (0 in March):

    month  累计结余        months  level
    01     3,000,000.00    6       合理 (exactly 6 is 合理)
    02     2,750,000.00    5.5     偏低
    03     2,750,000.00    5.5     偏低  (income = expense: no deficit)
    04–07  2,500,000 … 1,750,000   偏低  (a deficit begins again in April)
    08     1,500,000.00    3       偏低  (exactly 3 is 偏低, not 结余不足)
    09     1,250,000.00    2.5     结余不足
    10     1,950,000.00    3.9     偏低
    11     3,850,000.00    7.7     合理
    12     6,250,000.00    750/61 ≈ 12.3  偏高
"""

from __future__ import annotations

import zipfile
from datetime import date
from decimal import ROUND_HALF_UP, Decimal, localcontext
from fractions import Fraction
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from openpyxl import load_workbook

from conftest import y
from yibao.errors import InputError
from yibao.fund.monitor import (
    DEFAULT_THRESHOLDS,
    AlertKind,
    Budget,
    MonthFigures,
    MonthRow,
    Thresholds,
    WarningLevel,
    alerts,
    format_month,
    format_months,
    format_percent,
    monthly_table,
    months_payable,
    quarterly,
    warning_level,
)
from yibao.io.fund_xlsx import MONTH_HEADER, QUARTER_HEADER, SUMMARY_HEADER, FundSheet, sheet_names, write_fund_workbook

L = WarningLevel
INCOME_2020 = ["250000", "250000", "500000", "250000", "250000", "250000", "250000", "250000", "250000", "1200000", "2400000", "3000000"]  # fmt: skip
EXPENSE_2020 = ["500000"] * 11 + ["600000"]
INCOME_2019 = ["200000"] * 9 + ["1000000", "2000000", "2800000"]


def figures(year: int, incomes: list[str], expenses: list[str], start: int = 1) -> list[MonthFigures]:
    return [
        MonthFigures(date(year, start + i, 1), y(inc), y(exp))
        for i, (inc, exp) in enumerate(zip(incomes, expenses, strict=True))
    ]


def worked() -> list[MonthRow]:
    return monthly_table(
        y("3250000"),
        figures(2020, INCOME_2020, EXPENSE_2020),
        budget=Budget(y("9000000"), y("6000000")),
        prior_year=figures(2019, INCOME_2019, ["500000"] * 12),
    )


# -- months payable and levels -------------------------------------------------------------------


def test_months_payable_is_balance_over_mean_expenditure() -> None:
    assert months_payable(y("3000000.00"), [y("500000.00")] * 12) == 6
    assert months_payable(y("3000000.00"), [y("400000.00"), y("600000.00")]) == 6
    assert months_payable(y("1700000.00"), [y("600000.00")]) == Fraction(17, 6)
    assert months_payable(-y("1000000.00"), [y("500000.00")]) == -2
    assert months_payable(y("100"), [0, 0, 0]) is None
    with pytest.raises(InputError) as e:
        months_payable(y("100"), [])
    assert e.value.field == "monthly_expenditures"


@pytest.mark.parametrize(
    ("months", "level"),
    [
        (Fraction(-1), L.SHORTAGE),
        (Fraction(0), L.SHORTAGE),
        (Fraction(3) - Fraction(1, 10**9), L.SHORTAGE),  # below 3: 结余不足
        (Fraction(3), L.LOW),  # exactly 3 is no longer 结余不足
        (Fraction(6) - Fraction(1, 10**9), L.LOW),
        (Fraction(6), L.REASONABLE),  # 6 and 9 are both inside 合理
        (Fraction(9), L.REASONABLE),
        (Fraction(9) + Fraction(1, 10**9), L.HIGH),
        (Fraction(15), L.HIGH),  # exactly 15 is not yet 结余过多
        (Fraction(15) + Fraction(1, 10**9), L.EXCESS),
        (None, L.NO_SPENDING),
    ],
)
def test_level_boundaries(months: Fraction | None, level: WarningLevel) -> None:
    assert warning_level(months, Thresholds()) is level


def test_levels_have_chinese_labels_and_stable_codes() -> None:
    assert [(lv.value, lv.label) for lv in WarningLevel] == [
        ("shortage", "结余不足"),
        ("low", "偏低"),
        ("reasonable", "合理"),
        ("high", "偏高"),
        ("excess", "结余过多"),
        ("no_spending", "无支出"),
    ]


def test_custom_thresholds_and_invalid_ones() -> None:
    urumqi = Thresholds(shortage=3, reasonable_min=9, reasonable_max=15, excess=15)  # 乌鲁木齐: 9–15 best
    assert warning_level(Fraction(8), urumqi) is L.LOW
    assert warning_level(Fraction(15), urumqi) is L.REASONABLE
    assert warning_level(Fraction(16), urumqi) is L.EXCESS
    with pytest.raises(InputError) as e:
        Thresholds(shortage=6, reasonable_min=3)
    assert e.value.field == "thresholds"


@settings(max_examples=200)
@given(
    st.lists(st.integers(0, 40), min_size=4, max_size=4).map(sorted),
    st.fractions(min_value=-5, max_value=50, max_denominator=1000),
    st.fractions(min_value=-5, max_value=50, max_denominator=1000),
)
def test_level_is_monotone_in_months(bounds: list[int], a: Fraction, b: Fraction) -> None:
    t = Thresholds(*bounds)
    order = [L.SHORTAGE, L.LOW, L.REASONABLE, L.HIGH, L.EXCESS]
    low, high = sorted((a, b))
    assert order.index(warning_level(low, t)) <= order.index(warning_level(high, t))


# -- the worked year -----------------------------------------------------------------------------


def test_worked_year_balances_and_year_to_date() -> None:
    rows = worked()
    assert [r.month for r in rows] == [date(2020, m, 1) for m in range(1, 13)]
    assert [r.accumulated for r in rows] == [y(v) for v in ["3000000", "2750000", "2750000", "2500000", "2250000", "2000000", "1750000", "1500000", "1250000", "1950000", "3850000", "6250000"]]  # fmt: skip
    assert [r.current_balance for r in rows[:3]] == [y("-250000"), y("-250000"), 0]
    assert [r.deficit for r in rows] == [True, True, False] + [True] * 6 + [False] * 3
    assert rows[2].ytd_income == y("1000000") and rows[2].ytd_expense == y("1500000")
    assert rows[8].ytd_income == y("2500000") and rows[8].ytd_expense == y("4500000")
    assert rows[11].ytd_income == y("9100000") and rows[11].ytd_expense == y("6100000")


def test_worked_year_yoy_and_budget_progress() -> None:
    rows = worked()
    assert rows[0].income_yoy == Fraction(1, 4)  # 250,000 vs 200,000
    assert rows[2].income_yoy == Fraction(2, 3)  # 1,000,000 vs 600,000
    assert rows[8].income_yoy == Fraction(7, 18)  # 2,500,000 vs 1,800,000
    assert rows[11].income_yoy == Fraction(15, 76)  # 9,100,000 vs 7,600,000
    assert [r.expense_yoy for r in rows[:11]] == [0] * 11
    assert rows[11].expense_yoy == Fraction(1, 60)  # 6,100,000 vs 6,000,000
    assert rows[8].income_progress == Fraction(5, 18)  # 2,500,000 of 9,000,000
    assert rows[11].income_progress == Fraction(91, 90)  # over budget
    assert rows[5].expense_progress == Fraction(1, 2)
    assert rows[11].expense_progress == Fraction(61, 60)
    assert [format_percent(rows[i].income_yoy) for i in (0, 2, 8, 11)] == ["25.0%", "66.7%", "38.9%", "19.7%"]
    assert format_percent(rows[11].income_progress) == "101.1%"


def test_worked_year_months_payable_and_levels() -> None:
    rows = worked()
    assert rows[0].months_payable == 6 and rows[0].level is L.REASONABLE
    assert rows[1].months_payable == Fraction(11, 2) and rows[1].level is L.LOW
    assert rows[7].months_payable == 3 and rows[7].level is L.LOW
    assert rows[8].months_payable == Fraction(5, 2) and rows[8].level is L.SHORTAGE
    assert rows[10].months_payable == Fraction(77, 10) and rows[10].level is L.REASONABLE
    assert rows[11].months_payable == Fraction(750, 61) and rows[11].level is L.HIGH  # trailing 6,100,000 ÷ 12
    assert [format_months(r.months_payable) for r in rows] == ["6.0", "5.5", "5.5", "5.0", "4.5", "4.0", "3.5", "3.0", "2.5", "3.9", "7.7", "12.3"]  # fmt: skip


def test_without_prior_year_the_average_runs_over_the_year_so_far() -> None:
    rows = monthly_table(y("2000000"), figures(2021, ["0", "0", "0"], ["400000", "500000", "600000"]))
    assert rows[0].months_payable == Fraction(1600000, 400000)  # 1,600,000 ÷ 400,000 = 4
    assert rows[1].months_payable == Fraction(1100000 * 2, 900000)
    assert rows[2].months_payable == Fraction(500000 * 3, 1500000) == 1
    assert all(r.income_yoy is None and r.income_progress is None for r in rows)
    assert monthly_table(0, figures(2021, ["10"], ["0"]))[0].level is L.NO_SPENDING


def test_yoy_is_none_for_a_zero_base_or_an_uncovered_month() -> None:
    prior = figures(2019, ["0", "100"], ["200", "200"])  # only January and February 2019
    rows = monthly_table(0, figures(2020, ["50", "50", "50"], ["100", "100", "100"]), prior_year=prior)
    assert rows[0].income_yoy is None  # zero base
    assert rows[0].expense_yoy == Fraction(-1, 2)  # 100 vs 200
    assert rows[1].income_yoy == 0 and rows[1].expense_yoy == Fraction(-1, 2)  # 100 vs 100, 200 vs 400
    assert rows[2].income_yoy is None and rows[2].expense_yoy is None  # March 2019 missing


def test_a_year_may_start_after_january() -> None:
    rows = monthly_table(y("100"), figures(2022, ["10", "20"], ["5", "5"], start=7))
    assert [r.ytd_income for r in rows] == [y("10"), y("30")]
    assert [(q.quarter, q.months, q.label) for q in quarterly(rows)] == [(3, 2, "三季度（7—8月）")]


def test_quarterly_sums() -> None:
    qs = quarterly(worked())
    assert [q.label for q in qs] == ["一季度", "二季度", "三季度", "四季度"]
    assert [q.income for q in qs] == [y("1000000"), y("750000"), y("750000"), y("6600000")]
    assert [q.expense for q in qs] == [y("1500000"), y("1500000"), y("1500000"), y("1600000")]
    assert [q.current_balance for q in qs] == [y("-500000"), y("-750000"), y("-750000"), y("5000000")]
    assert [q.accumulated for q in qs] == [y("2750000"), y("2000000"), y("1250000"), y("6250000")]
    assert [q.level for q in qs] == [L.LOW, L.LOW, L.SHORTAGE, L.HIGH]
    assert qs[3].months_payable == Fraction(750, 61) and qs[3].income_progress == Fraction(91, 90)
    partial = quarterly(worked()[:11])
    assert (partial[-1].months, partial[-1].label, partial[-1].income) == (2, "四季度（10—11月）", y("3600000"))
    assert quarterly([]) == []


def test_alerts_on_level_changes_and_deficits() -> None:
    found = alerts(worked(), "湘桥区", "居民统筹基金")
    assert [(a.month.month, a.kind, a.before, a.after) for a in found] == [
        (1, AlertKind.DEFICIT, None, L.REASONABLE),  # a first-month deficit counts as beginning
        (2, AlertKind.LEVEL, L.REASONABLE, L.LOW),
        (4, AlertKind.DEFICIT, L.LOW, L.LOW),  # March broke even, April is in deficit again
        (9, AlertKind.LEVEL, L.LOW, L.SHORTAGE),
        (10, AlertKind.LEVEL, L.SHORTAGE, L.LOW),
        (11, AlertKind.LEVEL, L.LOW, L.REASONABLE),
        (12, AlertKind.LEVEL, L.REASONABLE, L.HIGH),
    ]
    messages = [a.message for a in found]
    assert messages[3] == "2020年09月 湘桥区 居民统筹基金 可支付月数 2.5 个月，由 偏低 降至 结余不足"
    assert messages[4] == "2020年10月 湘桥区 居民统筹基金 可支付月数 3.9 个月，由 结余不足 升至 偏低"
    assert messages[2] == (
        "2020年04月 湘桥区 居民统筹基金 当期收不抵支：本月收入 250000.00 元，支出 500000.00 元，当期结余 -250000.00 元"
    )


def test_first_month_alert_when_not_reasonable() -> None:
    rows = monthly_table(y("1700000"), figures(2020, ["600000"], ["600000"]))
    found = alerts(rows, "潮州市", "职工统筹基金")
    assert [(a.before, a.after, a.kind) for a in found] == [(None, L.SHORTAGE, AlertKind.LEVEL)]  # 17/6 months
    assert found[0].message == "2020年01月 潮州市 职工统筹基金 可支付月数 2.8 个月，预警等级为 结余不足"
    quiet = monthly_table(y("3000000"), figures(2020, ["500000"], ["500000"]))
    assert alerts(quiet, "潮州市", "职工统筹基金") == []


def test_formatting() -> None:
    assert format_months(Fraction(17, 6)) == "2.8"
    assert format_months(Fraction(57, 20)) == "2.9"  # 2.85 half-up
    assert format_months(Fraction(-57, 20)) == "-2.9"
    assert format_months(Fraction(-1, 100)) == "0.0"
    assert format_months(None) == format_percent(None) == "—"
    assert format_percent(Fraction(123, 1000)) == "12.3%"
    assert format_percent(Fraction(12345, 100000)) == "12.3%"  # 12.345% → 12.3%
    assert format_percent(Fraction(1235, 10000)) == "12.4%"  # 12.35% half-up
    assert format_month(date(2020, 3, 1)) == "2020年03月"


@given(st.fractions(min_value=-1000, max_value=1000, max_denominator=10**6))
def test_format_months_is_decimal_half_up(m: Fraction) -> None:
    with localcontext() as ctx:
        ctx.prec = 50
        expected = (Decimal(m.numerator) / Decimal(m.denominator)).quantize(Decimal("0.1"), ROUND_HALF_UP)
    assert format_months(m) == (str(expected) if expected != 0 else "0.0")


# -- properties ----------------------------------------------------------------------------------

money = st.integers(-(10**9), 10**11)


@settings(max_examples=200)
@given(
    opening=money,
    start=st.integers(1, 12),
    pairs=st.lists(st.tuples(money, st.integers(-(10**8), 10**11)), min_size=1, max_size=12),
    with_prior=st.booleans(),
)
def test_table_properties(opening: int, start: int, pairs: list[tuple[int, int]], with_prior: bool) -> None:
    pairs = pairs[: 13 - start]
    months = [MonthFigures(date(2020, start + i, 1), inc, exp) for i, (inc, exp) in enumerate(pairs)]
    prior = [MonthFigures(date(2019, m, 1), 1, 1) for m in range(1, 13)] if with_prior else None
    rows = monthly_table(opening, months, budget=Budget(10**10, 10**10), prior_year=prior)
    incomes = [f.income for f in months]
    expenses = [f.expense for f in months]
    assert rows[-1].accumulated == opening + sum(incomes) - sum(expenses)
    for i, row in enumerate(rows):
        assert row.ytd_income == sum(incomes[: i + 1]) and row.ytd_expense == sum(expenses[: i + 1])
        assert row.current_balance == row.income - row.expense and row.deficit == (row.current_balance < 0)
        assert row.level is warning_level(row.months_payable, DEFAULT_THRESHOLDS)
    qs = quarterly(rows)
    assert sum(q.income for q in qs) == sum(incomes) and sum(q.expense for q in qs) == sum(expenses)
    assert sum(q.months for q in qs) == len(rows)
    assert qs[-1].accumulated == rows[-1].accumulated


# -- bad input -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "months",
    [
        [],
        [MonthFigures(date(2020, 1, 1), 1, 1), MonthFigures(date(2020, 3, 1), 1, 1)],  # a gap
        [MonthFigures(date(2020, 2, 1), 1, 1), MonthFigures(date(2020, 1, 1), 1, 1)],  # out of order
        [MonthFigures(date(2019, 12, 1), 1, 1), MonthFigures(date(2020, 1, 1), 1, 1)],  # two years
        [MonthFigures(date(2020, 1, 15), 1, 1)],  # not the first of the month
        [MonthFigures(date(2020, 1, 1), 1, 1), MonthFigures(date(2020, 1, 1), 1, 1)],  # repeated
    ],
    ids=["empty", "gap", "order", "two-years", "mid-month", "repeat"],
)
def test_bad_months(months: list[MonthFigures]) -> None:
    with pytest.raises(InputError) as e:
        monthly_table(0, months)
    assert e.value.field == "months"


def test_bad_prior_year_and_budget() -> None:
    months = figures(2020, ["1"], ["1"])
    with pytest.raises(InputError) as e:
        monthly_table(0, months, prior_year=figures(2018, ["1"], ["1"]))
    assert e.value.field == "prior_year"
    with pytest.raises(InputError) as e:
        monthly_table(0, months, prior_year=figures(2019, ["1", "1"], ["1", "1"], start=3)[::-1])
    assert e.value.field == "prior_year"
    with pytest.raises(InputError) as e:
        Budget(-1, 0)
    assert e.value.field == "budget"


# -- the workbook --------------------------------------------------------------------------------


def fund_sheet(title: str, rows: list[MonthRow], fund: str = "居民统筹基金", region: str = "湘桥区") -> FundSheet:
    return FundSheet(title, fund, region, rows[0].month.year, rows, quarterly(rows), alerts(rows, region, fund))


def test_sheet_names_are_sanitised_and_distinct() -> None:
    long = "职工统筹基金 · 湘桥区 [2020]: 年度/季度 * 监测?\\ 补充说明文字很长很长"
    names = sheet_names(["职工统筹基金 · 湘桥区", "职工统筹基金 · 湘桥区", long, long, "汇总", "'quoted'"])
    assert names[:2] == ["职工统筹基金 · 湘桥区", "职工统筹基金 · 湘桥区(2)"]
    assert len(long) > 31 and all(len(n) <= 31 for n in names)
    assert not any(c in n for n in names for c in "[]:*?/\\")
    assert names[2].startswith("职工统筹基金 · 湘桥区 _2020__ 年度_季度")
    assert names[3].endswith("(2)") and names[3][:-3] == names[2][:28]
    assert names[4] == "汇总(2)" and names[5] == "quoted"
    assert len({n.casefold() for n in names}) == len(names)


def test_workbook_in_wan(tmp_path: Path) -> None:
    exact = monthly_table(y("0"), figures(2020, ["1234567.89"], ["0.01"]))
    sheets = [
        fund_sheet("居民统筹基金 · 湘桥区", worked()),
        fund_sheet("居民统筹基金 · 湘桥区", exact, region="潮安区"),
    ]
    path = write_fund_workbook(tmp_path / "fund.xlsx", sheets)
    wb = load_workbook(path)
    assert wb.sheetnames == ["汇总", "居民统筹基金 · 湘桥区", "居民统筹基金 · 湘桥区(2)"]

    ws = wb["居民统筹基金 · 湘桥区"]
    assert ws["A1"].value == "2020年 居民统筹基金 收支月报（湘桥区）"
    assert ws["A2"].value == "单位：万元"
    assert tuple(c.value for c in ws[3]) == MONTH_HEADER
    assert ws["A3"].font.bold and ws.freeze_panes == "A4"
    assert [ws.cell(row=r, column=1).value for r in (4, 15)] == ["2020年01月", "2020年12月"]
    jan = {h: ws.cell(row=4, column=c).value for c, h in enumerate(MONTH_HEADER, start=1)}
    assert Decimal(str(jan["本月收入"])) == Decimal("25") and Decimal(str(jan["累计结余"])) == Decimal("300")
    assert Decimal(str(jan["收入同比"])) == Decimal("0.25")
    assert Decimal(str(jan["收入预算完成进度"])) == Decimal("0.0278")  # 1/36
    assert jan["可支付月数"] == 6 and jan["预警等级"] == "合理"
    assert [ws.cell(row=4, column=c).number_format for c in (2, 7, 8, 11, 12)] == ["#,##0.00", "#,##0.00", "0.0%", "0.0%", "0.0"]  # fmt: skip
    assert Decimal(str(ws["L15"].value)) == Decimal("12.2951")  # 750/61, half-up to 4 places

    column_a = [ws.cell(row=r, column=1).value for r in range(1, ws.max_row + 1)]
    q = column_a.index("季度分析") + 1
    assert ws.cell(row=q - 1, column=1).value is None  # a blank row before the block
    assert tuple(ws.cell(row=q + 1, column=c).value for c in range(1, len(QUARTER_HEADER) + 1)) == QUARTER_HEADER
    assert [ws.cell(row=q + 2 + i, column=1).value for i in range(4)] == ["一季度", "二季度", "三季度", "四季度"]
    assert Decimal(str(ws.cell(row=q + 5, column=2).value)) == Decimal("660")  # Q4 income 6,600,000 元
    w = column_a.index("预警提示") + 1
    assert (
        ws.cell(row=w + 4, column=2).value
        == "2020年09月 湘桥区 居民统筹基金 可支付月数 2.5 个月，由 偏低 降至 结余不足"
    )

    other = wb["居民统筹基金 · 湘桥区(2)"]
    assert other["H4"].value == "—" and other["J4"].value == "—"  # no prior year, no budget
    assert Decimal(str(other["B4"].value)) == Decimal("123.456789")  # 1,234,567.89 元 in 万元
    assert Decimal(str(other["C4"].value)) == Decimal("0.000001")  # 0.01 元
    with zipfile.ZipFile(path) as z:
        xml = z.read("xl/worksheets/sheet3.xml").decode()
    assert "<v>123.456789</v>" in xml  # the exact decimal went into the file

    summary = wb["汇总"]
    assert tuple(c.value for c in summary[3]) == SUMMARY_HEADER
    first = [c.value for c in summary[4]]
    assert first[:4] == ["居民统筹基金", "湘桥区", "2020年", "2020年12月"]
    assert Decimal(str(first[4])) == Decimal("625") and Decimal(str(first[5])) == Decimal("12.2951")
    assert first[6:] == ["偏高", "居民统筹基金 · 湘桥区"]
    assert summary["H4"].hyperlink.location == "'居民统筹基金 · 湘桥区'!A1"
    assert [c.value for c in summary[5]][6] == "结余过多"  # 1,234,567.88 元 over 0.01 元 a month
    assert summary["E4"].number_format == "#,##0.00"


def test_workbook_in_yuan(tmp_path: Path) -> None:
    rows = monthly_table(y("1000000"), figures(2020, ["1234567.89"], ["500000"]))
    path = write_fund_workbook(
        tmp_path / "yuan.xlsx", [fund_sheet("职工统筹基金", rows, fund="职工统筹基金")], unit="yuan"
    )
    ws = load_workbook(path)["职工统筹基金"]
    assert ws["A2"].value == "单位：元"
    assert Decimal(str(ws["B4"].value)) == Decimal("1234567.89")
    assert Decimal(str(ws["G4"].value)) == Decimal("1734567.89")
    assert ws["L4"].number_format == "0.0"


def test_workbook_bad_input(tmp_path: Path) -> None:
    rows = monthly_table(0, figures(2020, ["1"], ["1"]))
    with pytest.raises(InputError) as e:
        write_fund_workbook(tmp_path / "x.xlsx", [fund_sheet("a", rows)], unit="yi")  # type: ignore[arg-type]
    assert e.value.field == "unit"
    with pytest.raises(InputError) as e:
        write_fund_workbook(tmp_path / "x.xlsx", [])
    assert e.value.field == "sheets"
    with pytest.raises(InputError) as e:
        write_fund_workbook(tmp_path / "x.xlsx", [FundSheet("a", "f", "r", 2021, rows, [], [])])
    assert e.value.field == "sheets[0].rows"
