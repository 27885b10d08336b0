"""The tax bureau's file of contribution payments (税务征收明细), its import and the remittances.

Since 2019 the tax bureau collects medical-insurance contributions (《国税地税征管体制改革方案》)
and hands the 医保局 a file of what was paid: one line per person, scheme and period. The
file here is UTF-8 CSV with the Chinese headers in :data:`HEADERS`; amounts are yuan with at
most two decimals. Reading is all-or-nothing: the first bad line raises an
:class:`~yibao.errors.InputError` naming its line and field, and nothing is imported.

Each county's receipts of a month are remitted to the city's fund account (上解) on
``remit_day`` of the following month (统收统支).
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation
from pathlib import Path

from yibao.errors import InputError
from yibao.money import fen_to_yuan

HEADERS = (
    "缴费流水号",
    "个人编号",
    "险种类型",
    "费款所属期",
    "单位缴费",
    "个人缴费",
    "医疗救助代缴",
    "滞纳金",
    "入库日期",
    "征收区划",
)
INSUTYPES = ("310", "390")


@dataclass(frozen=True, slots=True)
class Payment:
    serial: str
    psn_no: str
    insutype: str
    period: date  # first day of the month (or of the year for residents)
    employer: int  # fen
    personal: int
    assistance: int
    late_fee: int
    paid_on: date
    region: str

    @property
    def amount(self) -> int:
        return self.employer + self.personal + self.assistance + self.late_fee


def write_payments(path: Path, payments: Iterable[Payment]) -> int:
    """Write the file as the tax bureau sends it; returns the number of lines."""
    n = 0
    with path.open("w", encoding="utf-8", newline="") as f:
        w = csv.writer(f)
        w.writerow(HEADERS)
        for p in payments:
            period = f"{p.period:%Y%m}" if p.insutype == "310" else f"{p.period:%Y}"
            w.writerow([p.serial, p.psn_no, p.insutype, period, fen_to_yuan(p.employer), fen_to_yuan(p.personal),
                        fen_to_yuan(p.assistance), fen_to_yuan(p.late_fee), p.paid_on.isoformat(), p.region])  # fmt: skip
            n += 1
    return n


def _fen(text: str, where: str) -> int:
    try:
        value = Decimal(text.strip())
    except InvalidOperation:
        raise InputError(where, f"金额应为数字，收到 {text!r}") from None
    if not value.is_finite() or value < 0:
        raise InputError(where, f"金额不能为负或非数值：{text!r}")
    if value != value.quantize(Decimal("0.01")):
        raise InputError(where, f"金额最多两位小数：{text!r}")
    return int(value * 100)


def _period(text: str, insutype: str, where: str) -> date:
    text = text.strip()
    try:
        if insutype == "310" and len(text) == 6:
            return date(int(text[:4]), int(text[4:]), 1)
        if insutype == "390" and len(text) == 4:
            return date(int(text), 1, 1)
    except ValueError:
        pass
    shape = "YYYYMM（职工按月）" if insutype == "310" else "YYYY（居民按年）"
    raise InputError(where, f"费款所属期应为 {shape}，收到 {text!r}")


def read_payments(path: Path, enrolled: Mapping[str, frozenset[str]], counties: frozenset[str]) -> list[Payment]:
    """Read and check the file. ``enrolled``: psn_no → the insutypes the person is enrolled in."""
    try:
        f = path.open(encoding="utf-8-sig", newline="")
    except OSError as e:
        raise InputError("file", f"无法读取缴费明细文件 {path}：{e.strerror}") from e
    with f:
        reader = csv.reader(f)
        header = next(reader, None)
        if header is None or tuple(h.strip() for h in header) != HEADERS:
            raise InputError(f"{path.name}:1", f"表头应为 {','.join(HEADERS)}")
        out: list[Payment] = []
        seen: set[str] = set()
        for line, row in enumerate(reader, start=2):
            out.append(_payment(row, f"{path.name}:{line}", enrolled, counties, seen))
    return out


def _payment(
    row: list[str], where: str, enrolled: Mapping[str, frozenset[str]], counties: frozenset[str], seen: set[str]
) -> Payment:
    if len(row) != len(HEADERS):
        raise InputError(where, f"应有 {len(HEADERS)} 列，实有 {len(row)} 列")
    field = dict(zip(HEADERS, (c.strip() for c in row), strict=True))

    def at(name: str) -> str:
        return f"{where} {name}"

    serial = field["缴费流水号"]
    if not serial or serial in seen:
        raise InputError(at("缴费流水号"), "流水号为空或重复" + (f"：{serial}" if serial else ""))
    seen.add(serial)
    insutype = field["险种类型"]
    if insutype not in INSUTYPES:
        raise InputError(at("险种类型"), f"应为 310（职工）或 390（居民），收到 {insutype!r}")
    psn_no = field["个人编号"]
    if insutype not in enrolled.get(psn_no, frozenset()):
        raise InputError(at("个人编号"), f"{psn_no} 未参加险种 {insutype}")
    region = field["征收区划"]
    if region not in counties:
        raise InputError(at("征收区划"), f"{region!r} 不是本统筹区的区县")
    try:
        paid_on = date.fromisoformat(field["入库日期"])
    except ValueError:
        raise InputError(at("入库日期"), f"日期应为 YYYY-MM-DD，收到 {field['入库日期']!r}") from None
    payment = Payment(
        serial=serial,
        psn_no=psn_no,
        insutype=insutype,
        period=_period(field["费款所属期"], insutype, at("费款所属期")),
        employer=_fen(field["单位缴费"], at("单位缴费")),
        personal=_fen(field["个人缴费"], at("个人缴费")),
        assistance=_fen(field["医疗救助代缴"], at("医疗救助代缴")),
        late_fee=_fen(field["滞纳金"], at("滞纳金")),
        paid_on=paid_on,
        region=region,
    )
    if payment.amount == 0:
        raise InputError(at("单位缴费"), "缴费金额合计为零")
    return payment


@dataclass(frozen=True, slots=True)
class Remittance:
    region: str
    insutype: str
    month: date
    payments: int
    amount: int
    remitted_on: date


def remittances(payments: Iterable[Payment], remit_day: int = 5) -> list[Remittance]:
    """Each county's receipts per scheme and month of receipt, remitted the following month."""
    sums: dict[tuple[str, str, date], list[int]] = {}
    for p in payments:
        key = (p.region, p.insutype, p.paid_on.replace(day=1))
        acc = sums.setdefault(key, [0, 0])
        acc[0] += 1
        acc[1] += p.amount
    out = []
    for (region, insutype, month), (count, amount) in sorted(sums.items()):
        nxt = date(month.year + month.month // 12, month.month % 12 + 1, remit_day)
        out.append(Remittance(region, insutype, month, count, amount, nxt))
    return out
