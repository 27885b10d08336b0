"""Deterministic synthetic catalogue, persons and claims for 潮州市 (445100), for benchmarks.

Everything comes from one seeded :class:`random.Random`, so a seed gives the same
catalogue, persons and claims on every machine and Python version (``random.Random``
with an integer seed is stable across CPython releases for the methods used here).

The catalogue mimics a city's 三个目录 + 医用耗材: ~3,000 drugs, ~1,500 service items,
~500 materials, 甲 45% / 乙 45% / 丙 10%; some 乙 items carry their own self-pay-first
ratio (5–30%) or a retiree ratio; ~15% of drugs have a 集采 payment standard a little
below the typical price (so some lines go over-limit); a few items are restricted
(sex, age, visit type, hospital level, indication).

Claims: inpatient 50–200 lines (day surgery among them), outpatient 3–15 lines,
chronic (居民“两病”, 恶性肿瘤门诊) 3–40 lines, hospital levels 0–3, some treated
outside the city. Amounts are ``price × quantity`` rounded half-up to the fen.

Used by ``bench/settle_scalar.py``; importable on its own::

    from claimgen import Generator
    gen = Generator(seed=20260101)
    snapshot = gen.snapshot(Path("policies"))
    persons = gen.persons(2000)
    claims = gen.outpatient_claims(persons, 1000)
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

from yibao.engine.model import (
    ACCOUNT_MUTUAL_AID,
    ACCOUNT_NONE,
    ACCOUNT_OWN,
    CHRONIC,
    EMPLOYEE,
    INPATIENT,
    OUTPATIENT,
    RESIDENT,
    Claim,
    FeeLine,
    Person,
)
from yibao.io.policy_dir import load_policy_dir
from yibao.policy.catalog import CLASS_A, CLASS_B, CLASS_C, CatalogItem
from yibao.policy.snapshot import PolicySnapshot
from yibao.sim.catalog import plain_item

CITY = "445100"
COUNTIES = ("445102", "445103", "445122")
#: insured region of a person: the city code itself or one of its counties
INSURED_REGIONS = (CITY, *COUNTIES)
#: elsewhere in Guangdong (广州, 深圳, 汕头, 揭阳) and other provinces (北京, 上海, 长沙)
PROVINCE_REGIONS = ("440100", "440300", "440500", "445200")
NATIONAL_REGIONS = ("110100", "310100", "430100")
ASSISTANCE = ("extreme_poverty", "subsistence_allowance", "near_subsistence")
YEAR = 2025
_CENT = Decimal("0.01")
_ICD = ("I10", "E11.9", "J18.9", "K35.8", "N20.0", "S72.0", "C34.9", "C50.9", "I63.9", "O80", "J06.9", "K29.7")


@dataclass(frozen=True, slots=True)
class PersonRecord:
    """A synthetic insured person: the engine's :class:`Person` plus what claims need."""

    person: Person
    insured_region: str
    account_balance: int  # fen, initial personal account balance (employees)
    chronic: tuple[str, ...]  # 门诊慢特病 diseases this person is certified for


@dataclass(frozen=True, slots=True)
class GenClaim:
    claim: Claim
    person: PersonRecord


def _lognormal_price(rng: random.Random, median: float, sigma: float, lo: float, hi: float) -> float:
    return min(hi, max(lo, median * math.exp(rng.gauss(0.0, sigma))))


def _dec(value: float, places: int) -> Decimal:
    return Decimal(repr(round(value, places))).quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)


def fen_of(price: Decimal, quantity: Decimal) -> int:
    """``price × quantity`` yuan, rounded half-up to the fen, as integer fen."""
    return int((price * quantity).quantize(_CENT, rounding=ROUND_HALF_UP) * 100)


@dataclass(frozen=True, slots=True)
class _Typical:
    """Per-item facts the claim generator needs that the catalogue does not hold."""

    code: str
    kind: str
    price: float  # typical unit price, yuan
    price_places: int
    qty_kind: str  # tablets | vials | times | days | pieces


class Generator:
    """Seeded generator; call :meth:`catalog` (or :meth:`snapshot`) before the claim methods."""

    def __init__(self, seed: int = 20260101, drugs: int = 3000, services: int = 1500, materials: int = 500) -> None:
        self.seed = seed
        self.rng = random.Random(seed)
        self.sizes = (drugs, services, materials)
        self.items: list[CatalogItem] = []
        self._typical: dict[str, _Typical] = {}
        self._by_kind: dict[str, list[str]] = {}
        self._bed_codes: list[str] = []
        self._claims = 0

    # -- catalogue -------------------------------------------------------------------------------

    def catalog(self) -> list[CatalogItem]:
        if self.items:
            return self.items
        rng = self.rng
        drugs, services, materials = self.sizes
        for kind, count, prefix in (("drug", drugs, "X"), ("service", services, "F"), ("material", materials, "C")):
            codes: list[str] = []
            for n in range(count):
                code = f"{prefix}{kind[0].upper()}{n:06d}{rng.randrange(10**8):08d}"
                codes.append(code)
                self.items.append(self._item(code, kind))
            # popularity order: cheap everyday items are prescribed far more often than dear ones
            self._by_kind[kind] = sorted(codes, key=lambda c: self._typical[c].price * rng.lognormvariate(0, 1.5))
        # bed days, nursing, meals: facility items every stay has
        for n, (price, cls) in enumerate(((30.0, CLASS_A), (45.0, CLASS_A), (80.0, CLASS_B), (200.0, CLASS_C))):
            code = f"FS{n:06d}00000000"
            self._bed_codes.append(code)
            self._typical[code] = _Typical(code, "facility", price, 2, "days")
            self.items.append(plain_item(code, f"床位费{n}", "facility", cls))
        return self.items

    def _item(self, code: str, kind: str) -> CatalogItem:
        rng = self.rng
        u = rng.random()
        cls = CLASS_A if u < 0.45 else CLASS_B if u < 0.90 else CLASS_C
        if kind == "drug" and rng.random() < 0.6:
            price = _lognormal_price(rng, 0.8, 1.1, 0.01, 300.0)  # per tablet / capsule
            places, qty_kind = (4 if price < 1 else 2), "tablets"
        elif kind == "drug":
            price = _lognormal_price(rng, 12.0, 1.4, 0.2, 6000.0)  # per vial / bag / box
            places, qty_kind = 2, "vials"
        elif kind == "service":
            price = _lognormal_price(rng, 15.0, 1.3, 1.0, 12000.0)
            places, qty_kind = 2, "times"
        else:
            price = _lognormal_price(rng, 12.0, 1.9, 0.2, 60000.0)
            places, qty_kind = 2, "pieces"
        self._typical[code] = _Typical(code, kind, price, places, qty_kind)

        spf: int | None = None
        by_type: tuple[tuple[str, int], ...] = ()
        if cls == CLASS_B:
            if rng.random() < 0.30:
                spf = rng.choice((500, 1000, 1500, 2000, 2500, 3000))
            if rng.random() < 0.10:
                by_type = (("retiree", rng.choice((300, 500, 800))),)
        standard: Decimal | None = None
        if kind == "drug" and cls != CLASS_C and rng.random() < 0.15:
            standard = _dec(price * rng.uniform(0.80, 0.98), 4)
        sex = age_min = age_max = level = None
        visits: frozenset[str] | None = None
        indication = False
        if rng.random() < 0.04:
            which = rng.randrange(6)
            if which == 0:
                sex = rng.choice(("male", "female"))
            elif which == 1:
                age_max = 17
            elif which == 2:
                age_min = 60
            elif which == 3:
                visits = frozenset((INPATIENT,))
            elif which == 4:
                level = 2
            else:
                indication = True
        elif kind == "drug" and cls == CLASS_B and rng.random() < 0.08:
            indication = True  # 限定支付范围 drugs are common among 乙类
        return CatalogItem(
            code=code,
            name=f"{kind}-{code[-6:]}",
            kind=kind,
            item_class=cls,
            self_pay_first_ratio=spf,
            ratio_by_person_type=by_type,
            payment_standard=standard,
            sex=sex,
            age_min=age_min,
            age_max=age_max,
            visit_types=visits,
            min_hospital_level=level,
            indication_required=indication,
            valid_from=None,
            valid_to=None,
            region=CITY,
        )

    def snapshot(self, policies: Path) -> PolicySnapshot:
        """The shipped policy with this generator's catalogue as 潮州's catalogue."""
        base = load_policy_dir(policies)
        return PolicySnapshot(base.tree, base.layers, {**base.catalogs, CITY: self.catalog()})

    # -- persons ---------------------------------------------------------------------------------

    def persons(self, count: int) -> list[PersonRecord]:
        rng = self.rng
        out = []
        for n in range(count):
            u = rng.random()
            if u < 0.40:
                scheme, ptype, age = EMPLOYEE, "active", rng.randint(20, 59)
            elif u < 0.55:
                scheme, ptype, age = EMPLOYEE, "retiree", rng.randint(55, 92)
            elif u < 0.80:
                scheme, ptype, age = RESIDENT, "adult", rng.randint(18, 90)
            elif u < 0.92:
                scheme, ptype, age = RESIDENT, "student", rng.randint(6, 22)
            else:
                scheme, ptype, age = RESIDENT, "minor", rng.randint(0, 5)
            category = rng.choice(ASSISTANCE) if rng.random() < 0.05 else "none"
            balance = 0
            if scheme == EMPLOYEE:
                balance = rng.randint(0, 800_000) if ptype == "active" else rng.randint(50_000, 2_000_000)
            chronic: list[str] = []
            if scheme == RESIDENT and age >= 35 and rng.random() < 0.25:
                chronic.append("hypertension_diabetes")
            if age >= 30 and rng.random() < 0.04:
                chronic.append("malignant_tumour")
            person = Person(
                person_id=f"P{self.seed % 1000:03d}{n:07d}",
                scheme=scheme,
                person_type=ptype,
                age=age,
                sex=rng.choice(("male", "female")),
                assistance_category=category,
                civil_servant=scheme == EMPLOYEE and ptype == "active" and rng.random() < 0.03,
            )
            out.append(PersonRecord(person, rng.choice(INSURED_REGIONS), balance, tuple(chronic)))
        return out

    # -- claims ----------------------------------------------------------------------------------

    def _treatment_region(self, insured: str, p_province: float, p_national: float) -> str:
        u = self.rng.random()
        if u < p_national:
            return self.rng.choice(NATIONAL_REGIONS)
        if u < p_national + p_province:
            return self.rng.choice(PROVINCE_REGIONS)
        return insured if self.rng.random() < 0.7 else self.rng.choice(INSURED_REGIONS)

    def _line(self, code: str, no: int, scale: float = 1.0) -> FeeLine:
        rng = self.rng
        t = self._typical.get(code) or _Typical(
            code, "service", _lognormal_price(rng, 20.0, 1.2, 1.0, 2000.0), 2, "times"
        )
        price = _dec(t.price * rng.uniform(0.88, 1.12), t.price_places)
        if price <= 0:
            price = Decimal("0.01")
        if t.qty_kind == "tablets":
            qty = Decimal(rng.choice((6, 7, 10, 12, 14, 20, 21, 24, 28, 30, 42, 60)))
            if rng.random() < 0.05:
                qty = _dec(rng.uniform(0.5, 3.0), 1)
        elif t.qty_kind == "vials":
            qty = Decimal(max(1, round(rng.expovariate(1 / (2.0 * scale)))))
            if rng.random() < 0.05:
                qty += Decimal("0.5")
        elif t.qty_kind == "times":
            qty = Decimal(max(1, round(rng.expovariate(1 / (1.5 * scale)))))
        elif t.qty_kind == "days":
            qty = Decimal(max(1, round(scale)))
        else:
            qty = Decimal(max(1, round(rng.expovariate(1 / 1.5))))
        item = None if code.startswith("ZZ") else code
        declared = None
        if item is None:  # a hospital item outside the catalogue, with its declared class
            declared = rng.choice((1, 2, 3))
        return FeeLine(
            item_code=code,
            amount=fen_of(price, qty),
            price=price,
            quantity=qty,
            declared_class=declared,
            indication_met=rng.random() < 0.8,
            line_no=str(no),
        )

    def _pick(self, weights: Sequence[tuple[str, float]], head: float = 2.5) -> str:
        rng = self.rng
        u = rng.random()
        acc = 0.0
        kind = weights[-1][0]
        for k, w in weights:
            acc += w
            if u < acc:
                kind = k
                break
        if rng.random() < 0.005:
            return f"ZZ{rng.randrange(10**10):010d}"  # not in the catalogue
        codes = self._by_kind[kind]
        # a few items are prescribed far more often than the rest (Zipf-like head)
        idx = int(len(codes) * rng.random() ** head)
        return codes[min(idx, len(codes) - 1)]

    def _claim_id(self, prefix: str) -> str:
        self._claims += 1
        return f"{prefix}{self.seed % 1000:03d}{self._claims:08d}"

    def _account_use(self, rec: PersonRecord) -> tuple[int, int]:
        if rec.person.scheme != EMPLOYEE:
            return ACCOUNT_NONE, 0
        u = self.rng.random()
        if u < 0.05:
            return ACCOUNT_NONE, 0
        if u < 0.10:
            return ACCOUNT_MUTUAL_AID, self.rng.randint(0, 500_000)
        return ACCOUNT_OWN, 0

    def outpatient_claims(self, persons: Sequence[PersonRecord], count: int) -> list[GenClaim]:
        """``count`` ordinary outpatient claims (3–15 lines), in settlement-date order."""
        rng = self.rng
        self.catalog()
        days = sorted(rng.randrange(365) for _ in range(count))
        out = []
        for d in days:
            rec = rng.choice(persons)
            on = date(YEAR, 1, 1) + timedelta(days=d)
            level = rng.choices((0, 1, 2, 3), (40, 25, 20, 15))[0]
            n = rng.randint(3, 15)
            weights = (("drug", 0.60), ("service", 0.33), ("material", 0.07))
            lines = tuple(self._line(self._pick(weights), i + 1) for i in range(n))
            use, mutual = self._account_use(rec)
            claim = Claim(
                claim_id=self._claim_id("OP"),
                insured_region=rec.insured_region,
                treatment_region=self._treatment_region(rec.insured_region, 0.04, 0.01),
                visit_type=OUTPATIENT,
                hospital_level=level,
                settlement_date=on,
                diagnoses=(rng.choice(_ICD),),
                fee_lines=lines,
                account_use=use,
                mutual_aid_balance=mutual,
            )
            out.append(GenClaim(claim, rec))
        return out

    def inpatient_claims(self, persons: Sequence[PersonRecord], count: int) -> list[GenClaim]:
        """``count`` inpatient stays (50–200 lines; ~6% day surgery), in discharge-date order."""
        rng = self.rng
        self.catalog()
        stays = []
        for _ in range(count):
            day_surgery = rng.random() < 0.06
            los = 1 if day_surgery else max(2, min(60, round(rng.lognormvariate(math.log(7), 0.6))))
            stays.append((rng.randrange(los, 365), los, day_surgery))
        stays.sort()
        out = []
        for discharge_day, los, day_surgery in stays:
            rec = rng.choice(persons)
            discharge = date(YEAR, 1, 1) + timedelta(days=discharge_day)
            admission = discharge - timedelta(days=los)
            level = rng.choices((0, 1, 2, 3), (5, 20, 40, 35))[0]
            n = rng.randint(50, 80) if day_surgery else min(200, max(50, round(40 + los * rng.uniform(6, 14))))
            weights = (("drug", 0.55), ("service", 0.35), ("material", 0.10))
            scale = 1.0 + los / 10
            if not day_surgery and rng.random() < 0.04:  # ICU, major surgery, chemotherapy: the heavy tail
                scale *= rng.uniform(4.0, 12.0)
            lines = [self._line(rng.choice(self._bed_codes[:2]), 1, float(los))]
            lines += [self._line(self._pick(weights, 1.8), i + 2, scale) for i in range(n - 1)]
            if rng.random() < 0.3:  # surgery: an expensive implant or consumable
                code = self._by_kind["material"][
                    rng.randrange(len(self._by_kind["material"]) // 2, len(self._by_kind["material"]))
                ]
                lines[-1] = self._line(code, n)
            use, mutual = self._account_use(rec)
            treatment = self._treatment_region(rec.insured_region, 0.08, 0.03)
            claim = Claim(
                claim_id=self._claim_id("IP"),
                insured_region=rec.insured_region,
                treatment_region=treatment,
                visit_type=INPATIENT,
                hospital_level=level,
                settlement_date=discharge,
                admission_date=admission,
                discharge_date=discharge,
                diagnoses=tuple(rng.sample(_ICD, rng.randint(1, 3))),
                day_surgery=day_surgery,
                transfer_from_level=rng.choice((1, 2)) if rng.random() < 0.03 else None,
                filed=treatment[:4] != CITY[:4] and rng.random() < 0.8,
                fee_lines=tuple(lines),
                account_use=use,
                mutual_aid_balance=mutual,
            )
            out.append(GenClaim(claim, rec))
        return out

    def chronic_claims(self, persons: Sequence[PersonRecord], count: int) -> list[GenClaim]:
        """``count`` 门诊慢特病 claims for certified persons, in settlement-date order."""
        rng = self.rng
        self.catalog()
        certified = [p for p in persons if p.chronic]
        if not certified:
            return []
        days = sorted(rng.randrange(365) for _ in range(count))
        out = []
        for d in days:
            rec = rng.choice(certified)
            disease = rng.choice(rec.chronic)
            tumour = disease == "malignant_tumour"
            n = rng.randint(5, 40) if tumour else rng.randint(3, 10)
            weights = (("drug", 0.80), ("service", 0.17), ("material", 0.03))
            lines = tuple(self._line(self._pick(weights), i + 1, 3.0 if tumour else 1.0) for i in range(n))
            use, mutual = self._account_use(rec)
            claim = Claim(
                claim_id=self._claim_id("MT"),
                insured_region=rec.insured_region,
                treatment_region=self._treatment_region(rec.insured_region, 0.05 if tumour else 0.0, 0.0),
                visit_type=CHRONIC,
                hospital_level=rng.choice((2, 3)) if tumour else rng.choice((0, 0, 1, 2)),
                settlement_date=date(YEAR, 1, 1) + timedelta(days=d),
                diagnoses=("C80.9",) if tumour else ("I10",),
                disease=disease,
                fee_lines=lines,
                account_use=use,
                mutual_aid_balance=mutual,
            )
            out.append(GenClaim(claim, rec))
        return out
