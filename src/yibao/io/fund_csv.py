"""CSV files of the fund's books: annual budgets (基金预算) and assessment scores (考核得分).

UTF-8 (a BOM is accepted, as Excel writes it) with the Chinese headers below. Reading is
all-or-nothing: the first bad line raises an :class:`~yibao.errors.InputError` naming the file,
line and column.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from pathlib import Path

from yibao.errors import InputError
from yibao.money import RATIO_ONE, yuan_to_fen

BUDGET_HEADERS = ("年度", "基金编码", "区划", "收入预算", "支出预算")
SCORE_HEADERS = ("区划", "考核得分")


@dataclass(frozen=True, slots=True)
class BudgetLine:
    year: int
    fund: str
    region: str
    income: int  # fen
    expense: int


def _lines(path: Path, headers: tuple[str, ...]) -> Iterator[tuple[int, dict[str, str]]]:
    try:
        text = path.read_text(encoding="utf-8-sig")
    except OSError as e:
        raise InputError(str(path), f"无法读取文件：{e.strerror}") from None
    reader = csv.DictReader(text.splitlines())
    missing = [h for h in headers if h not in (reader.fieldnames or [])]
    if missing:
        raise InputError(f"{path.name}:1", f"缺少表头：{'、'.join(missing)}（应为 {','.join(headers)}）")
    for n, row in enumerate(reader, start=2):
        yield n, {h: (row.get(h) or "").strip() for h in headers}


def _region(value: str, where: str) -> str:
    if len(value) != 6 or not value.isdigit():
        raise InputError(where, f"区划应为 6 位数字：{value!r}")
    return value


def read_budgets(path: Path) -> list[BudgetLine]:
    out: list[BudgetLine] = []
    seen: set[tuple[int, str, str]] = set()
    for n, row in _lines(path, BUDGET_HEADERS):

        def at(col: str, n: int = n) -> str:
            return f"{path.name}:{n}:{col}"

        if not row["年度"].isdigit():
            raise InputError(at("年度"), f"应为四位年份：{row['年度']!r}")
        line = BudgetLine(
            int(row["年度"]),
            row["基金编码"],
            _region(row["区划"], at("区划")),
            yuan_to_fen(row["收入预算"], at("收入预算")),
            yuan_to_fen(row["支出预算"], at("支出预算")),
        )
        if line.income < 0 or line.expense < 0:
            raise InputError(at("收入预算" if line.income < 0 else "支出预算"), "预算金额不能为负")
        key = (line.year, line.fund, line.region)
        if key in seen:
            raise InputError(at("区划"), f"{line.year} 年 {line.fund} {line.region} 的预算重复")
        seen.add(key)
        out.append(line)
    return out


def read_scores(path: Path) -> dict[str, int]:
    """Assessment scores 0–100 (two decimals at most) → basis points of the full score."""
    out: dict[str, int] = {}
    for n, row in _lines(path, SCORE_HEADERS):
        where = f"{path.name}:{n}:考核得分"
        region = _region(row["区划"], f"{path.name}:{n}:区划")
        try:
            score = Decimal(row["考核得分"])
        except InvalidOperation:
            raise InputError(where, f"应为 0–100 的数：{row['考核得分']!r}") from None
        if not score.is_finite() or not 0 <= score <= 100 or score != score.quantize(Decimal("0.01")):
            raise InputError(where, f"应为 0–100 的数，至多两位小数：{row['考核得分']!r}")
        if region in out:
            raise InputError(f"{path.name}:{n}:区划", f"{region} 重复")
        out[region] = int(score * RATIO_ONE / 100)
    return out
