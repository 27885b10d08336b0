"""Excel export of the monthly fund tables (基金收支月报, 季度分析, 预警提示): one sheet per fund and region.

Each sheet has the title, the unit (万元 or 元, two decimals as bureaus print), the monthly table,
the quarterly analysis and the alerts; a first sheet 汇总 lists every sheet's closing balance,
months payable and level. Amounts are numeric cells holding the exact decimal (``Decimal(fen)``
scaled by 10⁻² or 10⁻⁶); percentages and months payable are numeric cells rounded half-up to four
decimals from the exact fraction; a figure that cannot be computed is the text ``—``.
No float is made here; openpyxl writes each Decimal with 16 significant digits, exact for any
amount below 10¹³ 元.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction
from pathlib import Path
from typing import Any, Literal

from openpyxl import Workbook
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.hyperlink import Hyperlink

from yibao.errors import InputError
from yibao.fund.monitor import MISSING, Alert, MonthRow, QuarterRow, WarningLevel, format_month
from yibao.money import round_div

SUMMARY_TITLE = "汇总"
AMOUNT_FORMAT = "#,##0.00"
PERCENT_FORMAT = "0.0%"
MONTHS_FORMAT = "0.0"
MONTH_HEADER = ("月份", "本月收入", "本月支出", "当期结余", "本年累计收入", "本年累计支出", "累计结余", "收入同比",
                "支出同比", "收入预算完成进度", "支出预算完成进度", "可支付月数", "预警等级")  # fmt: skip
QUARTER_HEADER = ("季度", "收入", "支出", "当期结余", "期末累计结余", "收入预算完成进度", "支出预算完成进度",
                  "可支付月数", "预警等级")  # fmt: skip
SUMMARY_HEADER = ("基金", "统筹区", "年度", "截至月份", "期末累计结余", "可支付月数", "预警等级", "工作表")
#: unit code → (decimal places of the yuan→unit shift counted in fen, the unit row)
_UNITS = {"yuan": (2, "单位：元"), "wan": (6, "单位：万元")}
_MAX_NAME = 31  # Excel's limit on a sheet name
_BAD_CHARS = str.maketrans(dict.fromkeys("[]:*?/\\", "_"))
_BOLD = Font(bold=True)
_HEADER_FILL = PatternFill("solid", fgColor="D9E1F2")
_LEVEL_FILL = {
    WarningLevel.SHORTAGE: PatternFill("solid", fgColor="F8CBAD"),
    WarningLevel.LOW: PatternFill("solid", fgColor="FCE4D6"),
    WarningLevel.REASONABLE: PatternFill("solid", fgColor="E2EFDA"),
    WarningLevel.HIGH: PatternFill("solid", fgColor="FFF2CC"),
    WarningLevel.EXCESS: PatternFill("solid", fgColor="FFD966"),
}


@dataclass(frozen=True, slots=True)
class FundSheet:
    """One fund in one region for one year: its monthly rows, quarters and alerts."""

    title: str  # the sheet name wanted, e.g. "职工统筹基金 · 湘桥区" (sanitised on writing)
    fund_name: str
    region_name: str
    year: int
    rows: Sequence[MonthRow]
    quarters: Sequence[QuarterRow]
    alerts: Sequence[Alert]


def amount_value(fen: int, unit: str) -> Decimal:
    """The exact amount in the unit: ``123456789`` fen → ``Decimal("123.456789")`` 万元."""
    return Decimal(fen).scaleb(-_UNITS[unit][0])


def ratio_value(value: Fraction | None) -> Decimal | str:
    """A ratio half-up to four decimals (``0.1235`` shows as ``12.4%`` under ``0.0%``); ``—`` for None."""
    if value is None:
        return MISSING
    return Decimal(round_div(value.numerator * 10_000, value.denominator)).scaleb(-4)


def sheet_names(titles: Sequence[str]) -> list[str]:
    """Valid, distinct sheet names: ``[]:*?/\\`` → ``_``, at most 31 characters, ``(2)`` on a repeat."""
    used = {SUMMARY_TITLE.casefold(), "history"}  # Excel reserves "History"
    names: list[str] = []
    for title in titles:
        base = title.translate(_BAD_CHARS).strip().strip("'")[:_MAX_NAME].strip().strip("'") or "Sheet"
        name, n = base, 2
        while name.casefold() in used:
            suffix = f"({n})"
            name, n = base[: _MAX_NAME - len(suffix)] + suffix, n + 1
        used.add(name.casefold())
        names.append(name)
    return names


def _put(ws: Any, row: int, col: int, value: object, number_format: str | None = None) -> Any:
    cell = ws.cell(row=row, column=col, value=value)
    if number_format and not isinstance(value, str):
        cell.number_format = number_format
    return cell


def _heading(ws: Any, row: int, texts: Sequence[str]) -> None:
    for col, text in enumerate(texts, start=1):
        cell = _put(ws, row, col, text)
        cell.font, cell.fill = _BOLD, _HEADER_FILL
        cell.alignment = Alignment(horizontal="center", vertical="center", wrap_text=True)


def _figures(ws: Any, row: int, col: int, amounts: Sequence[int], unit: str) -> int:
    """Write ``amounts`` from ``col`` on; the next free column."""
    for i, fen in enumerate(amounts):
        cell = _put(ws, row, col + i, amount_value(fen, unit), AMOUNT_FORMAT)
        if fen < 0:
            cell.font = Font(color="C00000")
    return col + len(amounts)


def _tail(
    ws: Any, row: int, col: int, ratios: Sequence[Fraction | None], months: Fraction | None, level: WarningLevel
) -> None:
    """Percentages, then months payable and the level."""
    for i, ratio in enumerate(ratios):
        _put(ws, row, col + i, ratio_value(ratio), PERCENT_FORMAT)
    _put(ws, row, col + len(ratios), ratio_value(months), MONTHS_FORMAT)
    cell = _put(ws, row, col + len(ratios) + 1, level.label)
    if level in _LEVEL_FILL:
        cell.fill = _LEVEL_FILL[level]


def _title(ws: Any, text: str, unit: str, width: int) -> None:
    _put(ws, 1, 1, text).font = Font(bold=True, size=14)
    ws.merge_cells(start_row=1, start_column=1, end_row=1, end_column=width)
    _put(ws, 2, 1, _UNITS[unit][1])


def _widths(ws: Any, widths: Sequence[int]) -> None:
    for col, width in enumerate(widths, start=1):
        ws.column_dimensions[get_column_letter(col)].width = width


def _fund_sheet(ws: Any, sheet: FundSheet, unit: str) -> None:
    width = len(MONTH_HEADER)
    _title(ws, f"{sheet.year}年 {sheet.fund_name} 收支月报（{sheet.region_name}）", unit, width)
    _heading(ws, 3, MONTH_HEADER)
    ws.freeze_panes = "A4"
    r = 4
    for m in sheet.rows:
        _put(ws, r, 1, format_month(m.month))
        amounts = (m.income, m.expense, m.current_balance, m.ytd_income, m.ytd_expense, m.accumulated)
        col = _figures(ws, r, 2, amounts, unit)
        ratios = (m.income_yoy, m.expense_yoy, m.income_progress, m.expense_progress)
        _tail(ws, r, col, ratios, m.months_payable, m.level)
        r += 1
    r += 1
    _put(ws, r, 1, "季度分析").font = _BOLD
    _heading(ws, r + 1, QUARTER_HEADER)
    r += 2
    for q in sheet.quarters:
        _put(ws, r, 1, q.label)
        col = _figures(ws, r, 2, (q.income, q.expense, q.current_balance, q.accumulated), unit)
        _tail(ws, r, col, (q.income_progress, q.expense_progress), q.months_payable, q.level)
        r += 1
    r += 1
    _put(ws, r, 1, "预警提示").font = _BOLD
    r += 1
    lines = [(format_month(a.month), a.message) for a in sheet.alerts] or [("", "无")]
    for month, message in lines:
        _put(ws, r, 1, month)
        _put(ws, r, 2, message)
        ws.merge_cells(start_row=r, start_column=2, end_row=r, end_column=width)
        r += 1
    _widths(ws, [14, *[16] * (width - 2), 10])


def _summary(ws: Any, sheets: Sequence[FundSheet], names: Sequence[str], unit: str) -> None:
    _title(ws, "基金运行监测汇总", unit, len(SUMMARY_HEADER))
    _heading(ws, 3, SUMMARY_HEADER)
    ws.freeze_panes = "A4"
    for r, (sheet, name) in enumerate(zip(sheets, names, strict=True), start=4):
        last = sheet.rows[-1]
        for col, text in enumerate((sheet.fund_name, sheet.region_name, f"{sheet.year}年"), start=1):
            _put(ws, r, col, text)
        _put(ws, r, 4, format_month(last.month))
        _figures(ws, r, 5, (last.accumulated,), unit)
        _tail(ws, r, 6, (), last.months_payable, last.level)
        link = _put(ws, r, 8, name)
        link.hyperlink = Hyperlink(ref="", location="'{}'!A1".format(name.replace("'", "''")))
        link.font = Font(color="0563C1", underline="single")
    _widths(ws, [18, 14, 8, 12, 18, 12, 10, 28])


def write_fund_workbook(path: Path, sheets: Sequence[FundSheet], unit: Literal["yuan", "wan"] = "wan") -> Path:
    """Write the summary and one sheet per :class:`FundSheet` to ``path`` (``.xlsx``); return ``path``."""
    if unit not in _UNITS:
        raise InputError("unit", f"金额单位应为 yuan（元）或 wan（万元）：{unit!r}")
    if not sheets:
        raise InputError("sheets", "至少需要一张基金表")
    for i, sheet in enumerate(sheets):
        if not sheet.rows:
            raise InputError(f"sheets[{i}].rows", "没有月份数据")
        if any(row.month.year != sheet.year for row in sheet.rows):
            raise InputError(f"sheets[{i}].rows", f"月份应属 {sheet.year} 年")
    names = sheet_names([s.title for s in sheets])
    wb = Workbook()
    summary = wb.active
    summary.title = SUMMARY_TITLE
    _summary(summary, sheets, names, unit)
    for sheet, name in zip(sheets, names, strict=True):
        _fund_sheet(wb.create_sheet(name), sheet, unit)
    wb.save(path)
    return path
