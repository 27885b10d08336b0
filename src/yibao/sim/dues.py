"""What each insured person of the synthetic city owes the fund for the year (应缴).

Employee members owe monthly on their base (:func:`yibao.enrol.contribution.employee_month`),
from the month contributions resumed if they were interrupted; retirees owe nothing but their
account is credited monthly from the pooled fund. Residents owe the year's standard once,
split into the individual part (paid by the person or, for assisted groups, by medical
assistance) and the fiscal subsidy. Every figure comes from the policy in force for the
person's region in that month.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from yibao.enrol.contribution import employee_month, resident_year
from yibao.enrol.terms import EmployeeTerms, employee_terms, resident_terms
from yibao.io.claim_json import SCHEME_INSUTYPE
from yibao.policy.snapshot import PolicySnapshot
from yibao.sim.city import City, Resident

EMPLOYEE_INSUTYPE, RESIDENT_INSUTYPE = SCHEME_INSUTYPE["employee"], SCHEME_INSUTYPE["resident"]


@dataclass(frozen=True, slots=True)
class Due:
    """One period's contribution due from (or credited to) one person, fen."""

    psn_no: str
    insutype: str
    region: str
    period: date  # first day of the month (employees) or of the year (residents)
    base: int
    employer: int
    personal: int  # the employee share, the flexible worker's whole payment, a resident's own part
    assistance: int  # a resident's individual part paid by medical assistance (资助参保)
    fiscal_subsidy: int
    account_credit: int
    critical_illness_funding: int  # residents: moved from the resident fund to 大病保险

    @property
    def paid_in(self) -> int:
        """What is collected from payers (the tax bureau's receipts): not the fiscal subsidy."""
        return self.employer + self.personal + self.assistance

    @property
    def income(self) -> int:
        return self.paid_in + self.fiscal_subsidy


class DueBook:
    """Dues for the city's year, with the terms cached per region and month."""

    def __init__(self, city: City, snapshot: PolicySnapshot) -> None:
        self.city, self.snapshot = city, snapshot
        self._terms: dict[tuple[str, int], EmployeeTerms] = {}

    def employee_terms(self, region: str, month: int) -> EmployeeTerms:
        key = (region, month)
        if key not in self._terms:
            self._terms[key] = employee_terms(self.snapshot, region, date(self.city.year, month, 1))
        return self._terms[key]

    def employee_due(self, p: Resident, month: int) -> Due | None:
        if p.interrupted_months and (p.paid_on.year, p.paid_on.month) > (self.city.year, month):
            return None  # still interrupted this month
        c = employee_month(p.person_type, p.wage, self.employee_terms(p.region, month))
        period = date(self.city.year, month, 1)
        return Due(p.psn_no, EMPLOYEE_INSUTYPE, p.region, period, c.base, c.employer, c.employee, 0, 0,
                   c.account_credit, 0)  # fmt: skip

    def account_credit(self, p: Resident, month: int) -> int:
        due = self.employee_due(p, month)
        return due.account_credit if due else 0

    def resident_due(self, p: Resident) -> Due:
        start = date(self.city.year, 1, 1)
        c = resident_year(p.category, resident_terms(self.snapshot, p.region, start))
        return Due(p.psn_no, RESIDENT_INSUTYPE, p.region, start, 0, 0, c.by_person, c.by_assistance,
                   c.fiscal_subsidy, 0, c.critical_illness_funding)  # fmt: skip

    def all(self) -> list[Due]:
        out: list[Due] = []
        for p in self.city.people:
            if p.scheme == "resident":
                out.append(self.resident_due(p))
                continue
            for month in range(1, 13):
                due = self.employee_due(p, month)
                if due is not None:
                    out.append(due)
        return out
