"""The report's tables as plain rows of formatted text, ready for the template.

Each builder reads one section of the demo's results (see :mod:`yibao.report.fields`) and
returns a :class:`Table`. Person identifiers go through
:func:`~yibao.report.formatting.masked_identifier` and
:func:`~yibao.report.formatting.masked_name` even though the demo masks them already.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal

from yibao.report import formatting as fmt
from yibao.report.fields import Record, SchemeAmounts, by_scheme, flag, integer, number, rows, text

SCHEMES = {"employee": "职工", "resident": "居民"}


@dataclass(frozen=True)
class Cell:
    """One table cell: its text and an optional CSS class (``ok``, ``bad``, ``num``)."""

    text: str
    css: str = ""


@dataclass(frozen=True)
class Table:
    """A captioned table; ``numeric`` marks the right-aligned columns."""

    key: str
    caption: str
    head: tuple[str, ...]
    numeric: tuple[bool, ...]
    body: tuple[tuple[Cell, ...], ...]
    foot: tuple[tuple[Cell, ...], ...] = ()
    empty: str = "无数据"


def scheme_name(code: str) -> str:
    """``employee`` → ``职工``; a Chinese name or an unknown code is kept as given."""
    return SCHEMES.get(code, code)


def _cells(values: tuple[str, ...], numeric: tuple[bool, ...]) -> tuple[Cell, ...]:
    return tuple(Cell(v, "num" if n else "") for v, n in zip(values, numeric, strict=True))


# --- 专栏一 style indicators ------------------------------------------------------------------------


def indicators(data: Record) -> Table:
    head = ("类别", "指标名称", "单位", "本次结果", "规划目标", "说明")
    numeric = (False, False, False, True, False, False)
    body = []
    for path, row in rows(data, "indicators"):
        values = (
            text(row, "category", path),
            text(row, "name", path),
            text(row, "unit", path),
            text(row, "value", path, fmt.MISSING) or fmt.MISSING,
            text(row, "target", path),
            text(row, "note", path),
        )
        body.append(_cells(values, numeric))
    return Table("indicators", "主要指标（参照规划专栏一口径）", head, numeric, tuple(body))


# --- calibration ----------------------------------------------------------------------------------

_TOLERANCE = re.compile(r"^±\s*([0-9]+(?:\.[0-9]+)?)\s*(%|个?百分点|pp)?$")


def _tolerance(tolerance: str) -> tuple[Decimal, bool] | None:
    """The tolerance's size and whether it is relative (``±10%``); ``None`` if unreadable."""
    match = _TOLERANCE.match(tolerance.strip())
    if match is None:
        return None
    return Decimal(match.group(1)), match.group(2) == "%"


def within_tolerance(target: Decimal, result: Decimal, tolerance: str) -> bool | None:
    """Whether ``result`` is within ``tolerance`` of ``target``; ``None`` if the tolerance is unreadable.

    ``±10%`` is relative to the target; ``±2个百分点`` and ``±0.5`` are absolute, in the
    metric's own unit.

    >>> within_tolerance(Decimal("266.30"), Decimal("280"), "±10%")
    True
    >>> within_tolerance(Decimal("80"), Decimal("71"), "±5个百分点")
    False
    """
    parsed = _tolerance(tolerance)
    if parsed is None:
        return None
    size, relative = parsed
    allowed = abs(target) * size / 100 if relative else size
    return abs(result - target) <= allowed


def deviation(target: Decimal | None, result: Decimal | None, tolerance: str, unit: str) -> str:
    """``result − target`` in the tolerance's terms: relative for ``±10%``, else in the metric's unit.

    >>> deviation(Decimal("266.30"), Decimal("280"), "±10%", "万人")
    '+5.14%'
    >>> deviation(Decimal("80"), Decimal("71.00"), "±5个百分点", "%")
    '-9.00 个百分点'
    """
    if target is None or result is None:
        return fmt.MISSING
    parsed = _tolerance(tolerance)
    if parsed is None or parsed[1]:
        return fmt.signed_percent(fmt.ratio(result - target, target))
    difference = fmt.fixed(result - target, 2)
    sign = "" if difference.startswith("-") else "+"
    return f"{sign}{difference} {'个百分点' if unit == '%' else unit}".rstrip()


def calibration(data: Record) -> tuple[Table, str]:
    """The calibration table and a one-line verdict (``12 项中 11 项在容差范围内``).

    The demo's own ``ok`` flag is shown when given; otherwise the result is judged here
    against the tolerance.
    """
    head = ("校准指标", "规划值", "模拟结果", "单位", "偏差", "容差", "是否达标", "来源")
    numeric = (False, True, True, False, True, False, False, False)
    body = []
    passed = judged = 0
    for path, row in rows(data, "calibration"):
        target, result = number(row, "target", path), number(row, "result", path)
        tolerance, unit = text(row, "tolerance", path), text(row, "unit", path)
        ok = flag(row, "ok", path)
        if ok is None and target is not None and result is not None:
            ok = within_tolerance(target, result, tolerance)
        if ok is not None:
            judged += 1
            passed += ok
        verdict = {True: Cell("✓ 达标", "ok"), False: Cell("✗ 未达标", "bad"), None: Cell(fmt.MISSING)}[ok]
        body.append(
            (
                Cell(text(row, "metric", path)),
                Cell(text(row, "target", path, fmt.MISSING), "num"),
                Cell(text(row, "result", path, fmt.MISSING), "num"),
                Cell(unit, "nowrap"),
                Cell(deviation(target, result, tolerance, unit), "num"),
                Cell(tolerance or fmt.MISSING, "nowrap"),
                verdict,
                Cell(text(row, "source", path), "source"),
            )
        )
    verdict_line = f"{judged} 项中 {passed} 项在容差范围内" if judged else "没有可判定的校准指标"
    table = Table("calibration", "校准：模拟结果与规划数据对照", head, numeric, tuple(body))
    return table, verdict_line


# --- monthly fund income and expenditure ----------------------------------------------------------


@dataclass(frozen=True)
class Month:
    """One row of ``monthly``: its label and the amounts by scheme."""

    month: str
    income: SchemeAmounts
    expenditure: SchemeAmounts


def months(data: Record) -> list[Month]:
    """The ``monthly`` rows, in the order given."""
    return [
        Month(text(row, "month", path), by_scheme(row, "income_yuan", path), by_scheme(row, "expenditure_yuan", path))
        for path, row in rows(data, "monthly")
    ]


def _sum(values: list[Decimal | None]) -> Decimal | None:
    """The sum, or ``None`` when any value is missing (a partial total would mislead)."""
    if any(v is None for v in values):
        return None
    return sum((v for v in values if v is not None), Decimal(0))


def _difference(a: Decimal | None, b: Decimal | None) -> Decimal | None:
    return None if a is None or b is None else a - b


def monthly(data: Record) -> Table:
    """Monthly income and expenditure by scheme, all in one unit, with the year's totals."""
    parsed = months(data)
    head = ("月份", "收入·职工", "收入·居民", "收入合计", "支出·职工", "支出·居民", "支出合计", "当月结余")
    numeric = (False, True, True, True, True, True, True, True)

    lines = [
        (
            m.month,
            (
                m.income.employee,
                m.income.resident,
                m.income.total,
                m.expenditure.employee,
                m.expenditure.resident,
                m.expenditure.total,
                _difference(m.income.total, m.expenditure.total),
            ),
        )
        for m in parsed
    ]
    columns = zip(*(values for _, values in lines), strict=True)
    year: tuple[Decimal | None, ...] = tuple(_sum(list(column)) for column in columns)
    magnitudes = [abs(v) for _, values in lines for v in values if v is not None]
    unit, divisor = fmt.amount_unit(max(magnitudes, default=Decimal(0)))

    def line(label: str, values: tuple[Decimal | None, ...], css: str = "") -> tuple[Cell, ...]:
        def css_of(value: Decimal | None) -> str:
            return " ".join(c for c in ("num", css, "neg" if value is not None and value < 0 else "") if c)

        return (Cell(label, css), *(Cell(fmt.in_unit(v, divisor), css_of(v)) for v in values))

    body = tuple(line(label, values) for label, values in lines)
    foot = (line("全年合计", year, "total"),) if lines else ()
    return Table("monthly", f"月度基金收支（金额单位：{unit}）", head, numeric, body, foot)


# --- spending breakdowns --------------------------------------------------------------------------


def by_level(data: Record) -> Table:
    head = ("医疗机构级别", "险种", "就诊人次", "医疗总费用", "基金支付", "基金支付占比")
    numeric = (False, False, True, True, True, True)
    body = []
    for path, row in rows(data, "by_level"):
        total, fund = number(row, "total_yuan", path), number(row, "fund_yuan", path)
        values = (
            text(row, "level", path),
            scheme_name(text(row, "scheme", path)),
            fmt.count(integer(row, "visits", path)),
            fmt.yuan(total),
            fmt.yuan(fund),
            fmt.percent(fmt.ratio(fund, total)),
        )
        body.append(_cells(values, numeric))
    return Table("by-level", "按医疗机构级别和险种的医疗费用", head, numeric, tuple(body))


def by_age(data: Record) -> Table:
    head = ("年龄组", "参保人数", "占参保人数", "医疗总费用", "基金支付", "人均医疗费用", "人均基金支付")
    numeric = (False, True, True, True, True, True, True)
    parsed = [(path, row, integer(row, "insured", path)) for path, row in rows(data, "by_age")]
    everyone = Decimal(sum(n or 0 for _, _, n in parsed))
    body = []
    for path, row, insured in parsed:
        fund = number(row, "fund_yuan", path)
        people = None if insured is None else Decimal(insured)
        values = (
            text(row, "age_group", path),
            fmt.count(insured),
            fmt.percent(fmt.ratio(people, everyone)),
            fmt.yuan(number(row, "total_yuan", path)),
            fmt.yuan(fund),
            fmt.yuan(number(row, "per_capita_yuan", path)),
            fmt.yuan(fmt.ratio(fund, people)),
        )
        body.append(_cells(values, numeric))
    return Table("by-age", "按年龄组的医疗费用", head, numeric, tuple(body))


def by_visit_type(data: Record) -> Table:
    head = ("就诊类型", "结算人次", "医疗总费用", "基金支付", "个人负担", "基金支付占比", "次均费用")
    numeric = (False, True, True, True, True, True, True)
    body = []
    for path, row in rows(data, "by_visit_type"):
        settlements = integer(row, "settlements", path)
        total, fund = number(row, "total_yuan", path), number(row, "fund_yuan", path)
        values = (
            text(row, "visit_type", path),
            fmt.count(settlements),
            fmt.yuan(total),
            fmt.yuan(fund),
            fmt.yuan(number(row, "personal_yuan", path)),
            fmt.percent(fmt.ratio(fund, total)),
            fmt.yuan(fmt.ratio(total, None if settlements is None else Decimal(settlements))),
        )
        body.append(_cells(values, numeric))
    return Table("by-visit-type", "按就诊类型的医疗费用", head, numeric, tuple(body))


# --- heaviest personal burdens ----------------------------------------------------------------------


def _first_text(row: Record, path: str, *keys: str) -> str:
    """The first of ``keys`` present in ``row`` (the masked field, else an unmasked fallback)."""
    for key in keys:
        if row.get(key) is not None:
            return text(row, key, path)
    return ""


def heaviest_burdens(data: Record) -> Table:
    """The people who paid most themselves; identifiers are masked again here, whatever arrives."""
    head = ("序号", "个人编号（脱敏）", "姓名（脱敏）", "险种", "人员类别", "医疗总费用", "基金支付", "医疗救助",
            "个人负担", "个人负担占比")  # fmt: skip
    numeric = (True, False, False, False, False, True, True, True, True, True)
    body = []
    for index, (path, row) in enumerate(rows(data, "heaviest_burdens"), start=1):
        share = number(row, "personal_share", path)
        personal = number(row, "personal_yuan", path)
        if share is None:
            share = fmt.ratio(personal, number(row, "total_yuan", path))
        values = (
            str(index),
            fmt.masked_identifier(_first_text(row, path, "psn_no_masked", "psn_no", "certno")),
            fmt.masked_name(_first_text(row, path, "name_masked", "name", "psn_name")),
            scheme_name(text(row, "scheme", path)),
            text(row, "category", path),
            fmt.yuan_exact(number(row, "total_yuan", path)),
            fmt.yuan_exact(number(row, "fund_yuan", path)),
            fmt.yuan_exact(number(row, "assistance_yuan", path)),
            fmt.yuan_exact(personal),
            fmt.percent(share),
        )
        body.append(_cells(values, numeric))
    caption = "个人负担最重的参保人（金额单位：元）"
    return Table("burdens", caption, head, numeric, tuple(body))
