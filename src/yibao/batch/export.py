"""The synthetic city's year as batch input files (``yibao sim --batch DIR``): claims and their fee
lines, persons with their opening accumulators, and the generated catalogue the claims use.

What a bureau would export from its own database for a re-settlement or a policy simulation;
here it lets anyone run ``yibao batch settle`` on a realistic year of any size.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from yibao.demo.year import engine_person
from yibao.engine.state import COUNTERS
from yibao.io.batch_files import write_rows
from yibao.io.catalog_files import write_catalog
from yibao.money import fen_to_yuan
from yibao.policy.catalog import CatalogItem
from yibao.policy.snapshot import PolicySnapshot
from yibao.sim.city import CITY, City
from yibao.sim.visits import SimVisit


def _day(d: object) -> str | None:
    return None if d is None else str(d)


def write_batch_inputs(
    out: Path, city: City, visits: Sequence[SimVisit], snapshot: PolicySnapshot, catalog: Sequence[CatalogItem]
) -> dict[str, int]:
    """Write claims.parquet, lines.parquet, persons.parquet and catalog.csv to ``out``; the counts."""
    out.mkdir(parents=True, exist_ok=True)
    claims: list[dict[str, object]] = []
    lines: list[dict[str, object]] = []
    for v in visits:
        c = v.claim
        claims.append({
            "claim_id": c.claim_id, "person_id": v.person.psn_no, "insured_region": c.insured_region,
            "treatment_region": c.treatment_region, "visit_type": c.visit_type, "hospital_level": c.hospital_level,
            "settlement_date": str(c.settlement_date), "admission_date": _day(c.admission_date),
            "discharge_date": _day(c.discharge_date), "disease": c.disease, "day_surgery": c.day_surgery,
            "filed": c.filed, "transfer_from_level": c.transfer_from_level, "acct_used_flag": str(c.account_use),
            "institution": v.institution, "reverses": None,
        })  # fmt: skip
        for line in c.fee_lines or ():
            lines.append({
                "claim_id": c.claim_id, "line_no": line.line_no, "item_code": line.item_code,
                "price": str(line.price), "quantity": str(line.quantity), "amount": fen_to_yuan(line.amount),
                "declared_class": None if line.declared_class is None else f"0{line.declared_class}",
                "indication_met": line.indication_met,
            })  # fmt: skip
    persons: list[dict[str, object]] = []
    for p in city.people:
        who = engine_person(p, snapshot, city.year)
        persons.append({
            "person_id": who.person_id, "scheme": who.scheme, "person_type": who.person_type, "age": who.age,
            "sex": who.sex, "assistance_category": who.assistance_category, "civil_servant": who.civil_servant,
            "benefits_from": _day(who.benefits_from), "ci_cap_raise": who.critical_illness_cap_raise,
            "region": CITY, "year": city.year,
            **dict.fromkeys(COUNTERS, "0"), "admissions": 0, "account_balance": fen_to_yuan(p.account_opening),
            "chronic": "{}",
        })  # fmt: skip
    return {
        "claims": write_rows(out / "claims.parquet", claims),
        "lines": write_rows(out / "lines.parquet", lines),
        "persons": write_rows(out / "persons.parquet", persons),
        "catalog": write_catalog(out / "catalog.csv", catalog),
    }
