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


# -- the real-time service ------------------------------------------------------------------------


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def service(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory):
    """(platform, base URL) of a running server on a fresh database of each backend."""
    from harness import build, close_clients, database, serving

    with database(request.param, tmp_path_factory.mktemp(request.param)) as url:
        platform = build(url)
        try:
            with serving(platform) as base:
                yield platform, base
                close_clients()
        finally:
            platform.engine.dispose()


_person_seq = iter(range(1, 10**6))


def new_person(
    platform,
    insutype: str = "310",
    psn_type: str = "1101",
    balance: str = "0",
    category: str = "none",
    region: str = "445100",
    birth: str = "1980-05-05",
    payer: str = "",
) -> str:
    """A fresh insured person (so a test's accumulators are its own)."""
    from yibao.service.registry import load_registry
    from yibao.store.db import transaction

    n = next(_person_seq)
    psn_no = f"T{n:08d}{insutype}"
    person = {
        "psn_no": psn_no,
        "certno": f"4451021980{n:07d}X"[-18:],
        "psn_name": "测试人员",
        "gend": "1",
        "brdy": birth,
        "balc": balance,
        "enrolments": [
            {"insutype": insutype, "psn_type": psn_type, "insuplc_admdvs": region, "begndate": "2010-01-01",
             "assistance_category": category}
        ],
    }  # fmt: skip
    if payer:
        person["mutual_aid_payer"] = payer
    with transaction(platform.sessions) as session:
        load_registry(session, platform.cipher, {"persons": [person]})
    return psn_no
