"""How the synthetic city pays what it owes: the tax bureau's receipts for the year.

Employers (and flexible workers) pay each month's contribution in that month (广东: 当月申报
当月缴纳). A few employers fall behind: their months are paid one to two months late with
the statutory late fee (社会保险法 §86, via :func:`yibao.enrol.history.back_payment`), and what
is still unpaid at the year's end stays an arrear. Residents paid in the enrolment window of
the previous autumn (or late, on the date they enrolled); the individual part of assisted
groups is paid by medical assistance in one transfer. Fiscal subsidies arrive quarterly.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta

from yibao.enrol.history import Arrear, back_payment
from yibao.io.payments_csv import Payment
from yibao.sim.city import City
from yibao.sim.dues import EMPLOYEE_INSUTYPE, DueBook

LATE_EMPLOYER_SHARE = 0.03  # assumption
DUE_DAY = 25  # the month's contribution is due by the 25th
ASSISTANCE_TRANSFER = (12, 20)  # month and day (previous year) the assistance fund pays for its groups


def payments(city: City, book: DueBook) -> Iterator[Payment]:
    rng = random.Random(f"payments-{city.seed}")
    late = {e.code for e in city.employers if rng.random() < LATE_EMPLOYER_SHARE}
    year_end = date(city.year, 12, 31)
    n = 0

    def serial() -> str:
        nonlocal n
        n += 1
        return f"SW{city.year}{city.seed % 100:02d}{n:09d}"

    for p in city.people:
        if p.scheme == "resident":
            year = book.resident_due(p)
            if year.personal:
                yield Payment(
                    serial(), p.psn_no, year.insutype, year.period, 0, year.personal, 0, 0, p.paid_on, p.region
                )
            if year.assistance:
                on = date(city.year - 1, *ASSISTANCE_TRANSFER)
                yield Payment(serial(), p.psn_no, year.insutype, year.period, 0, 0, year.assistance, 0, on, p.region)
            continue
        if p.person_type == "retiree":
            continue  # retirees pay nothing (they are credited)
        behind = p.employer in late
        for month in range(1, 13):
            due = book.employee_due(p, month)
            if due is None or due.paid_in == 0:
                continue
            on = date(city.year, month, rng.randint(8, DUE_DAY))
            fee = 0
            if behind and month % 4 in (1, 2):
                on = due.period + timedelta(days=rng.randint(45, 80))
                if on > year_end:
                    continue  # still owed at the year's end: an arrear
                arrear = Arrear(due.period, due.paid_in, 0)
                fee = back_payment([arrear], on, DUE_DAY, book.employee_terms(p.region, month)).late_fee
            yield Payment(serial(), p.psn_no, EMPLOYEE_INSUTYPE, due.period, due.employer, due.personal, 0, fee, on,
                          p.region)  # fmt: skip


@dataclass(frozen=True, slots=True)
class Subsidy:
    region: str
    month: date
    persons: int
    amount: int


def fiscal_subsidies(city: City, book: DueBook) -> list[Subsidy]:
    """Each county's subsidy for its residents, in four instalments (March, June, September, December)."""
    per_region: dict[str, list[int]] = {}
    for p in city.people:
        if p.scheme == "resident":
            acc = per_region.setdefault(p.region, [0, 0])
            acc[0] += 1
            acc[1] += book.resident_due(p).fiscal_subsidy
    out = []
    for region, (persons, amount) in sorted(per_region.items()):
        quarter = amount // 4
        for k, month in enumerate((3, 6, 9, 12)):
            out.append(Subsidy(region, date(city.year, month, 1), persons, quarter if k < 3 else amount - 3 * quarter))
    return out
