"""The fund's monthly tables (收支月报), quarterly analysis and warnings, read from the books: for
the city as a whole per fund and for each county's sub-ledger. Feeds ``yibao fund report``, the
Excel workbook (:mod:`yibao.io.fund_xlsx`) and the demo report's fund page.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from sqlalchemy import select

from yibao.fund.chart import MONITORED_FUNDS, Fund
from yibao.fund.monitor import Alert, MonthRow, QuarterRow, alerts, format_months, format_percent, quarterly
from yibao.io.fund_xlsx import FundSheet, write_fund_workbook
from yibao.money import fen_to_yuan
from yibao.service.books import Books, monitored, table_of, year_figures
from yibao.store.ledger import DeficitShareRow
from yibao.store.models import Region


@dataclass(frozen=True, slots=True)
class FundTable:
    fund: str
    fund_name: str
    region: str
    region_name: str
    whole: bool  # the entity's whole books (全市) rather than one sub-ledger
    monitored: bool  # warning levels apply (pooled funds)
    rows: list[MonthRow]
    quarters: list[QuarterRow]
    alerts: list[Alert]


def fund_tables(desk: Books, entity: str, year: int, last_month: int = 12) -> list[FundTable]:
    """The whole entity per fund first (transfers between its sub-ledgers left out), then each sub-ledger."""
    with desk.sessions() as session:
        names = dict(session.execute(select(Region.code, Region.name)).all())
        whole = year_figures(session, entity, year, last_month, combine=True)
        parts = year_figures(session, entity, year, last_month)
    out: list[FundTable] = []
    for combined, figures in ((True, whole), (False, parts)):
        for s in sorted(figures, key=lambda f: (f.fund, f.region)):
            rows = table_of(s, desk)
            base = names.get(s.region, s.region)
            region_name = f"{base}（全市）" if combined else (f"{base}本级" if s.region == entity else base)
            fund_name = Fund(s.fund).label
            watched = s.fund in MONITORED_FUNDS if combined else monitored(s.fund, s.region, entity)
            warned = alerts(rows, region_name, fund_name) if watched else []
            out.append(
                FundTable(s.fund, fund_name, s.region, region_name, combined, watched, rows, quarterly(rows), warned)
            )
    return out


def write_workbook(tables: list[FundTable], year: int, path: Path, unit: Literal["yuan", "wan"] = "wan") -> Path:
    sheets = [
        FundSheet(f"{t.fund_name}·{t.region_name}", t.fund_name, t.region_name, year, t.rows, t.quarters, t.alerts)
        for t in tables
    ]
    return write_fund_workbook(path, sheets, unit)


def report_section(desk: Books, entity: str, year: int) -> dict[str, object]:
    """The demo report's fund page as formatted text (yuan with two decimals, ratios as percent)."""
    tables = fund_tables(desk, entity, year)
    with desk.sessions() as session:
        names = dict(session.execute(select(Region.code, Region.name)).all())
        shares = list(session.scalars(select(DeficitShareRow).where(DeficitShareRow.year == year)))
    return {
        "whole": [
            {
                "fund": t.fund_name,
                "region": t.region_name,
                "rows": [
                    {
                        "month": f"{r.month:%Y-%m}",
                        "income": fen_to_yuan(r.income),
                        "expense": fen_to_yuan(r.expense),
                        "current": fen_to_yuan(r.current_balance),
                        "accumulated": fen_to_yuan(r.accumulated),
                        "income_progress": format_percent(r.income_progress),
                        "expense_progress": format_percent(r.expense_progress),
                        "months_payable": format_months(r.months_payable),
                        "level": r.level.label,
                        "level_code": r.level.value,
                    }
                    for r in t.rows
                ],
                "quarters": [
                    {
                        "quarter": q.label,
                        "income": fen_to_yuan(q.income),
                        "expense": fen_to_yuan(q.expense),
                        "current": fen_to_yuan(q.current_balance),
                        "accumulated": fen_to_yuan(q.accumulated),
                        "income_progress": format_percent(q.income_progress),
                        "expense_progress": format_percent(q.expense_progress),
                        "months_payable": format_months(q.months_payable),
                        "level": q.level.label,
                        "level_code": q.level.value,
                    }
                    for q in t.quarters
                ],
            }
            for t in tables
            if t.whole and t.fund in (Fund.EMPLOYEE_POOLED, Fund.RESIDENT_POOLED)
        ],
        "counties": [
            {
                "fund": t.fund_name,
                "region": t.region_name,
                "months": [format_months(r.months_payable) for r in t.rows],
                "levels": [r.level.value for r in t.rows],
                "labels": [r.level.label for r in t.rows],
            }
            for t in tables
            if not t.whole and t.fund in (Fund.EMPLOYEE_POOLED, Fund.RESIDENT_POOLED)
        ],
        "alerts": [a.message for t in tables if not t.whole for a in t.alerts][:60],
        "sharing": [
            {
                "region": names.get(s.region, s.region),
                "fund": Fund(s.fund).label,
                "income": fen_to_yuan(s.income),
                "expense": fen_to_yuan(s.expense),
                "deficit": fen_to_yuan(s.deficit),
                "under_collection": fen_to_yuan(s.under_collection),
                "over_budget": fen_to_yuan(s.over_budget),
                "within_budget": fen_to_yuan(s.within_budget),
                "county": fen_to_yuan(s.county),
                "city": fen_to_yuan(s.city),
            }
            for s in sorted(shares, key=lambda s: (s.fund, s.region))
        ],
    }
