"""Shared fixtures: the shipped policy tree and the published-example fixture tree."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from yibao.engine import Claim, Person, SplitTotals
from yibao.io.policy_dir import load_policy_dir
from yibao.money import yuan_to_fen
from yibao.policy.snapshot import PolicySnapshot

ROOT = Path(__file__).resolve().parent.parent
POLICIES = ROOT / "policies"
NATIONAL = POLICIES / "000000-national"
FIXTURES = Path(__file__).resolve().parent / "fixtures"


def y(text: str | int) -> int:
    """Yuan → fen, exactly (test shorthand)."""
    return yuan_to_fen(str(text), "test")


@pytest.fixture(scope="session")
def shipped() -> PolicySnapshot:
    return load_policy_dir(POLICIES)


@pytest.fixture(scope="session")
def published() -> PolicySnapshot:
    return load_policy_dir([NATIONAL, FIXTURES / "published"])


def totals(total: str, policy_range: str, full: str = "0", first: str = "0", over: str = "0") -> SplitTotals:
    return SplitTotals(y(total), y(full), y(over), y(first), y(policy_range))


def person(
    scheme: str = "resident",
    person_type: str = "adult",
    age: int = 45,
    category: str = "none",
    pid: str = "P0001",
    sex: str = "male",
) -> Person:
    return Person(pid, scheme, person_type, age, sex, category)


def inpatient(
    region: str,
    on: str,
    level: int,
    split: SplitTotals | None = None,
    claim_id: str = "C1",
    **kw: object,
) -> Claim:
    day = date.fromisoformat(on)
    return Claim(
        claim_id=claim_id,
        insured_region=region,
        treatment_region=str(kw.pop("treatment_region", region)),
        visit_type=str(kw.pop("visit_type", "inpatient")),
        hospital_level=level,
        settlement_date=day,
        admission_date=day,
        discharge_date=day,
        totals=split,
        **kw,  # type: ignore[arg-type]
    )
