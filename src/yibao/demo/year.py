"""Settling the synthetic city's year through the engine, in date order.

Each person's year-to-date accumulators are threaded through their settlements exactly as
the real-time service threads them through the database; personal accounts receive their
monthly credit (职工医保个人账户划入) on the first of each month before that month's visits.
Benefits start on the date enrolment gives (:func:`benefits_from`): before it, the engine
pays nothing from the funds (待遇等待期, or not yet enrolled this year).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date

from yibao.engine import settle
from yibao.engine.model import Person
from yibao.engine.result import Settlement
from yibao.engine.state import Accumulators
from yibao.enrol.terms import employee_terms, resident_terms
from yibao.enrol.waiting import employee_benefits_from, resident_benefits_from
from yibao.policy.snapshot import PolicySnapshot
from yibao.sim.city import CITY, City, Resident
from yibao.sim.visits import SimVisit


def benefits_from(p: Resident, snapshot: PolicySnapshot, year: int) -> date:
    """The first day of ``year`` on which the person's visits are covered."""
    start = date(year, 1, 1)
    if p.scheme == "employee":
        if not p.interrupted_months:
            return start
        wait = employee_terms(snapshot, p.region, p.paid_on).wait_after_interruption
        return employee_benefits_from(p.paid_on, p.interrupted_months, wait)
    in_window = p.paid_on < start
    terms = resident_terms(snapshot, p.region, max(p.paid_on, start)).waiting
    newborn = p.age_on(max(p.paid_on, p.birth)) == 0
    exempt = p.category != "none" or newborn
    return resident_benefits_from(p.paid_on, start, in_window, 0 if in_window else 1, 0, exempt, terms)


def engine_person(p: Resident, snapshot: PolicySnapshot, year: int) -> Person:
    return Person(
        person_id=p.psn_no,
        scheme=p.scheme,
        person_type=p.person_type,
        age=max(0, p.age_on(date(year, 1, 1))),  # a child born this year is 0
        sex=p.sex,
        assistance_category=p.category,
        civil_servant=p.civil_servant,
        benefits_from=benefits_from(p, snapshot, year),
    )


@dataclass(frozen=True, slots=True)
class Settled:
    visit: SimVisit
    settlement: Settlement


class YearRun:
    """Settles ``visits`` (in date order); ``monthly_credit(person, month)`` is the account credit in fen.

    Iterate :meth:`settlements`; afterwards :attr:`accumulators` holds every person's year.
    """

    def __init__(
        self,
        city: City,
        visits: list[SimVisit],
        snapshot: PolicySnapshot,
        monthly_credit: Callable[[Resident, int], int],
        keep_lines: bool = False,
    ) -> None:
        self.city, self.visits, self.snapshot = city, visits, snapshot
        self.monthly_credit, self.keep_lines = monthly_credit, keep_lines
        self.persons = {p.psn_no: engine_person(p, snapshot, city.year) for p in city.people}
        self.employees = [p for p in city.people if p.scheme == "employee"]
        self.accumulators: dict[str, Accumulators] = {}
        for p in city.people:
            acc = Accumulators(p.psn_no, p.scheme, CITY, city.year)
            acc.account_balance = p.account_opening
            self.accumulators[p.psn_no] = acc
        self.credited = 0

    def _credit_to(self, month: int) -> None:
        while self.credited < month:
            self.credited += 1
            for p in self.employees:
                self.accumulators[p.psn_no].account_balance += self.monthly_credit(p, self.credited)

    def settlements(self) -> Iterator[Settled]:
        state = self.accumulators
        for v in self.visits:
            if self.credited < v.day.month:
                self._credit_to(v.day.month)
            key = v.person.psn_no
            result, after = settle(v.claim, self.persons[key], state[key], self.snapshot, self.keep_lines)
            state[key] = after
            yield Settled(v, result)
        self._credit_to(12)
