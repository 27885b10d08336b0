"""Random batch years for the differential test: every rule variant the policies in the test snapshot
hold, every person type and assistance category, opening accumulators at and beyond caps and
thresholds, waiting periods, transfers, day surgery, later admissions, chronic diseases, pharmacy
purchases, family mutual aid, many claims per person-year, and reversals in the stream (some of a
claim whose cap had bound).

Plain ``random`` with a seed, not Hypothesis: a million claims are drawn in seconds and a failure
names the seed and the claim.
"""

from __future__ import annotations

import random
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal

from conftest import FIXTURES, NATIONAL, POLICIES
from yibao.engine import settle
from yibao.engine.model import Claim, FeeLine, Person, SplitTotals
from yibao.engine.state import Accumulators
from yibao.errors import YibaoError
from yibao.io.batch_files import BatchClaim, BatchPerson
from yibao.io.policy_dir import load_policy_dir
from yibao.policy.snapshot import PolicySnapshot
from yibao.sim.catalog import generate_catalog

#: the rule-variant regions (tests/fixtures/rules: later admissions by percentage and fixed step, annual
#: deductible, annual bands, day surgery, 大病 with 乙类先行自付, tilted assistance by year, a policy dated
#: mid-year), the published examples' regions (bands per stay, 大病 absolute bands, fee-basis caps …)
#: and 潮州 with its exception rules and chronic diseases
REGIONS = ["980100", "980101", "980102", "980103", "980104", "980105", "980107", "980108", "980109", "980110",
           "990100", "990200", "990300", "990400", "990500", "990600", "990700", "990800", "990900", "991000",
           "991100", "991300", "991400", "991500", "445100", "445102", "445122"]  # fmt: skip
CATEGORIES = ["none"] * 6 + ["extreme_poverty", "subsistence_allowance", "near_subsistence", "relapse_poverty"]
DISEASES = ["D1", "D2", "malignant_tumour", "hypertension_diabetes"]
YEARS = (2024, 2025)


def snapshot() -> PolicySnapshot:
    base = load_policy_dir([NATIONAL, FIXTURES / "rules", FIXTURES / "published", POLICIES / "440000-guangdong"])
    items, _ = generate_catalog(5)
    return PolicySnapshot(base.tree, base.layers, {**base.catalogs, "445100": items})


def _fen(rng: random.Random, big: bool) -> int:
    """Mostly small amounts, a heavy tail that reaches caps (up to 600,000 yuan)."""
    if big and rng.random() < 0.3:
        return rng.randint(2_000_000, 60_000_000)
    return int(rng.paretovariate(1.1) * 2_000) if rng.random() < 0.8 else rng.randint(0, 2_000_000)


class Generator:
    def __init__(self, snap: PolicySnapshot, seed: int) -> None:
        self.snap = snap
        self.rng = random.Random(seed)
        self.codes: dict[tuple[str, int], list[str]] = {}
        self.diseases: dict[tuple[str, str, int], list[str]] = {}
        self.kinds: dict[tuple[str, str, int], list[tuple[str, int, str]]] = {}

    def _codes(self, region: str, year: int) -> list[str]:
        key = (region, year)
        if key not in self.codes:
            catalog = self.snap.at(region, date(year, 6, 1), "insuplc_admdvs").catalog
            self.codes[key] = sorted(catalog)[:400]
        return self.codes[key]

    def _valid(self, region: str, who: Person, year: int) -> list[tuple[str, int, str]]:
        """The (visit, level, disease) kinds the region's policy covers for the scheme (the published
        examples' regions hold only the parameters of their example)."""
        key = (region, who.scheme, year)
        if key not in self.kinds:
            found = []
            for visit in ("inpatient", "outpatient", "chronic", "pharmacy"):
                for level in range(4):
                    for disease in self._diseases(region, who.scheme, year) if visit == "chronic" else [""]:
                        on = date(year, 6, 1)
                        claim = Claim("probe", region, region, visit, level, on, on, on, disease=disease,
                                      fee_lines=(FeeLine("X0", 10_000_000, Decimal(100_000), Decimal(1), 2),))  # fmt: skip
                        probe = Person(
                            "probe", who.scheme, who.person_type, 40, assistance_category="subsistence_allowance"
                        )
                        try:
                            settle(claim, probe, None, self.snap)
                        except YibaoError:
                            continue
                        found.append((visit, level, disease))
            self.kinds[key] = found
        return self.kinds[key]

    def _diseases(self, region: str, scheme: str, year: int) -> list[str]:
        key = (region, scheme, year)
        if key not in self.diseases:
            policy = self.snap.at(region, date(year, 6, 1), "insuplc_admdvs")
            self.diseases[key] = [d for d in DISEASES if policy.has(f"{scheme}.chronic.{d}.mode")]
        return self.diseases[key]

    def person_year(self, pid: str, region: str, year: int, who: Person) -> BatchPerson:
        rng = self.rng
        pooling = self.snap.tree.pooling_region(region, "insuplc_admdvs").code
        state = Accumulators(pid, who.scheme, pooling, year,
                             account_balance=rng.randint(0, 800_000) if who.scheme == "employee" else 0)  # fmt: skip
        if rng.random() < 0.25:  # a year already under way: at, near or beyond caps and thresholds
            state.admissions = rng.randint(0, 4)
            for name in ("deductible_paid", "pooled_fund_paid", "inpatient_covered", "inpatient_eligible",
                         "critical_illness_base", "critical_illness_paid", "outpatient_deductible_paid",
                         "outpatient_pooled_paid", "outpatient_eligible", "assistance_deductible_paid",
                         "assistance_paid_inpatient", "tilted_base", "tilted_paid", "large_expense_paid"):  # fmt: skip
                if rng.random() < 0.4:
                    setattr(state, name, rng.choice([0, 10_000, 100_000, 1_000_000, 5_000_000, 30_000_000,
                                                     rng.randint(0, 60_000_000)]))  # fmt: skip
            for d in self._diseases(region, who.scheme, year):
                if rng.random() < 0.2:
                    state.add_chronic(d, "paid", rng.randint(0, 3_000_000))
                    state.add_chronic(d, "deductible_paid", rng.randint(0, 100_000))
        benefits = date(year, 1, 1) + timedelta(days=rng.randint(0, 200)) if rng.random() < 0.05 else None
        # 连续参保激励: a raised 大病 cap (+10 % / +20 %) for some residents, so raised caps meet the cap edges
        cap_raise = rng.choice([1000, 2000]) if who.scheme == "resident" and rng.random() < 0.2 else 0
        return BatchPerson(Person(pid, who.scheme, who.person_type, who.age, who.sex, who.assistance_category,
                                  who.civil_servant, benefits, cap_raise), state)  # fmt: skip

    def person(self, pid: str) -> Person:
        rng = self.rng
        scheme = rng.choice(["employee", "resident"])
        kind = rng.choice(["active", "retiree", "flexible"] if scheme == "employee" else ["adult", "student", "minor"])
        low, high = {"retiree": (55, 99), "minor": (0, 17), "student": (6, 24)}.get(kind, (18, 64))
        return Person(pid, scheme, kind, rng.randint(low, high), rng.choice(["male", "female"]),
                      rng.choice(CATEGORIES), scheme == "employee" and rng.random() < 0.1)  # fmt: skip

    def lines(self, region: str, year: int, big: bool) -> tuple[FeeLine, ...]:
        rng = self.rng
        codes = self._codes(region, year)
        out = []
        for n in range(rng.randint(1, 6)):
            if codes and rng.random() < 0.85:
                code, declared = rng.choice(codes), None
            else:
                code, declared = f"X{rng.randint(0, 9)}", rng.choice([1, 2, 3])
            price = Decimal(max(1, _fen(rng, big) // rng.choice([1, 1, 3, 7]))) / 100
            if rng.random() < 0.1:
                price += Decimal(rng.randint(0, 99)) / 10_000  # sub-fen prices round half-up
            qty = Decimal(rng.choice([1, 1, 1, 2, 3, 10])) / rng.choice([1, 1, 2])
            amount = int((price * qty * 100).quantize(Decimal(1), rounding=ROUND_HALF_UP))
            if rng.random() < 0.05 and sum(line.amount for line in out) >= amount:
                qty, amount = -qty, -amount  # a returned item (退费): rounding and clips mirror at zero
            out.append(FeeLine(code, amount, price, qty, declared, rng.random() < 0.9, str(n + 1)))
        return tuple(out)

    def claims(self, pid: str, who: Person, region: str, year: int, first: int) -> list[BatchClaim]:
        rng = self.rng
        n = min(80, int(rng.paretovariate(0.9)))
        days = sorted(rng.randint(20, 330) for _ in range(n))
        out: list[BatchClaim] = []
        kinds = self._valid(region, who, year)
        stays = [lv for v, lv, _ in kinds if v == "inpatient"]  # a transfer comes from a level the policy covers
        for i, day in enumerate(days):
            on = date(year, 1, 1) + timedelta(days=day)
            visit, level, disease = rng.choice(kinds)
            treated = rng.choice([region, region, region, "981000", "440100", "445103", "110100"])
            claim = Claim(
                claim_id=f"{pid}-{year}-{i}", insured_region=region, treatment_region=treated, visit_type=visit,
                hospital_level=level, settlement_date=on,
                admission_date=on - timedelta(days=rng.randint(0, 19)), discharge_date=on,
                disease=disease,
                day_surgery=visit == "inpatient" and rng.random() < 0.15,
                transfer_from_level=rng.choice(stays) if visit == "inpatient" and rng.random() < 0.1 else None,
                filed=rng.random() < 0.3, fee_lines=self.lines(region, year, visit == "inpatient"),
                account_use=rng.choice([0, 1, 1, 1, 2]), mutual_aid_balance=rng.choice([0, 5_000, 300_000]),
            )  # fmt: skip
            out.append(BatchClaim(first + len(out), pid, claim, None))
            if out and rng.random() < 0.06:  # reverse an earlier claim of this year, not yet reversed
                done = {c.reverses for c in out}
                open_ = [c for c in out if c.reverses is None and c.claim.claim_id not in done]
                victim = rng.choice(open_).claim
                undo = Claim(victim.claim_id + "-R", region, victim.treatment_region, victim.visit_type,
                             victim.hospital_level, on, victim.admission_date, victim.discharge_date,
                             totals=SplitTotals(0, 0, 0, 0, 0))  # fmt: skip
                out.append(BatchClaim(first + len(out), pid, undo, victim.claim_id))
        return out

    def batch(self, persons: int, prefix: str) -> tuple[list[BatchClaim], dict[tuple[str, int], BatchPerson]]:
        claims: list[BatchClaim] = []
        people: dict[tuple[str, int], BatchPerson] = {}
        for p in range(persons):
            pid = f"{prefix}{p:07d}"
            who = self.person(pid)
            region = self.rng.choice(REGIONS)
            if not all(self._valid(region, who, year) for year in YEARS):
                continue
            for year in YEARS if self.rng.random() < 0.1 else YEARS[:1]:
                people[(pid, year)] = self.person_year(pid, region, year, who)
                claims += self.claims(pid, who, region, year, len(claims))
        claims.sort(key=lambda c: (c.person_id, c.claim.settlement_date, c.order))
        return claims, people
