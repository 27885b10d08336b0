"""The report's fund page: the city's monthly fund table per pooled fund, months payable per
county and month coloured by warning level, the warnings raised, and the year-end deficit sharing.

Reads the ``fund`` section of the demo's results (:func:`yibao.service.fund_report.report_section`),
already formatted as text; checks its shape like the rest of the report (:mod:`yibao.report.fields`).
"""

from __future__ import annotations

from dataclasses import dataclass

from yibao.report.fields import Record, rows, section, text
from yibao.report.tables import Cell, Table

LEVEL_CSS = {
    "shortage": "lv-shortage",
    "low": "lv-low",
    "reasonable": "lv-ok",
    "high": "lv-high",
    "excess": "lv-excess",
}


@dataclass(frozen=True)
class FundPage:
    whole: tuple[Table, ...]
    counties: Table
    alerts: tuple[str, ...]
    sharing: Table


def _strings(data: Record, key: str, path: str) -> list[str]:
    from yibao.errors import InputError

    value = data.get(key) or []
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise InputError(f"{path}.{key}", "应为文本数组")
    return list(value)


_COLUMNS = ("income", "expense", "current", "accumulated", "income_progress", "expense_progress", "months_payable")


def _lines(t: Record, key: str, label: str, path: str) -> tuple[tuple[Cell, ...], ...]:
    """One table row per month (or quarter): amounts right-aligned, negatives marked, the level coloured."""
    body = []
    for rpath, r in rows(t, key, path):
        values = [text(r, k, rpath) for k in _COLUMNS]
        cells = [Cell(text(r, label, rpath))]
        cells += [Cell(v, "num neg" if v.startswith("-") else "num") for v in values]
        cells.append(Cell(text(r, "level", rpath), LEVEL_CSS.get(text(r, "level_code", rpath), "")))
        body.append(tuple(cells))
    return tuple(body)


def build_fund_page(data: Record) -> FundPage:
    fund = section(data, "fund")
    head = (
        "月份",
        "本月收入",
        "本月支出",
        "当期结余",
        "累计结余",
        "收入预算进度",
        "支出预算进度",
        "可支付月数",
        "预警等级",
    )
    numeric = (False, True, True, True, True, True, True, True, False)
    whole = []
    for i, (path, t) in enumerate(rows(fund, "whole", "fund")):
        name = f"{text(t, 'region', path)} {text(t, 'fund', path)}"
        whole.append(Table(f"fund-{i}", f"{name} 收支月报（元）", head, numeric, _lines(t, "rows", "month", path)))
        quarter_head = ("季度", *head[1:])
        whole.append(Table(f"fund-{i}-q", f"{name} 季度分析（元；进度与可支付月数为季末）", quarter_head, numeric,
                           _lines(t, "quarters", "quarter", path)))  # fmt: skip
    county_rows = []
    for path, c in rows(fund, "counties", "fund"):
        months = _strings(c, "months", path)
        levels = _strings(c, "levels", path)
        labels = _strings(c, "labels", path)
        cells = [Cell(text(c, "region", path)), Cell(text(c, "fund", path))]
        cells += [Cell(m, f"num {LEVEL_CSS.get(lv, '')}".strip()) for m, lv in zip(months, levels, strict=True)]
        cells.append(Cell(labels[-1] if labels else "—", LEVEL_CSS.get(levels[-1], "") if levels else ""))
        county_rows.append(tuple(cells))
    n = max((len(r) - 3 for r in county_rows), default=12)
    counties = Table(
        "fund-counties",
        "各县区分账 累计结余可支付月数（月末；颜色为预警等级）",
        ("分账", "基金", *(f"{m}月" for m in range(1, n + 1)), "年末等级"),
        (False, False, *([True] * n), False),
        tuple(county_rows),
    )
    share_rows = []
    for path, s in rows(fund, "sharing", "fund"):
        values = [text(s, k, path) for k in ("region", "fund", "income", "expense", "deficit", "under_collection",
                                             "over_budget", "within_budget", "county", "city")]  # fmt: skip
        share_rows.append(tuple(Cell(v, "num" if i >= 2 else "") for i, v in enumerate(values)))
    sharing = Table(
        "fund-sharing",
        "年终县区缺口分担（元；征缴未达目标部分由县区承担，超预算部分按比例分担，预算内缺口由市级统筹基金承担）",
        ("县区", "基金", "本年收入", "本年支出", "缺口", "征缴不足", "超预算", "预算内", "县区承担", "市级承担"),
        (False, False, *([True] * 8)),
        tuple(share_rows),
        empty="本年各县区均无缺口",
    )
    return FundPage(tuple(whole), counties, tuple(_strings(fund, "alerts", "fund")), sharing)
