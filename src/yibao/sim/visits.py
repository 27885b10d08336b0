"""A year of visits for the synthetic city: outpatient, pharmacy, chronic disease and inpatient.

Each person's visits are drawn from rates by age group and scheme; each visit's cost from a
lognormal by visit type and hospital level, then filled with fee lines from the generated
catalogue whose amounts add up to about that cost. The rates and costs below are
assumptions tuned so that the city's per-capita spending and the policy-range inpatient
fund shares land on the published 潮州 2020 figures (see docs/sim.md); utilisation and
costs rising with age and hospital level follows the national statistics' shape
(《中国卫生健康统计年鉴》: admission rates roughly double from 45–59 to 65+).

2020 had fewer visits in February and March (COVID-19), which the monthly weights keep.
"""

from __future__ import annotations

import bisect
import itertools
import math
import random
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal

from yibao.engine.model import (
    ACCOUNT_NONE,
    ACCOUNT_OWN,
    CHRONIC,
    INPATIENT,
    OUTPATIENT,
    PHARMACY,
    Claim,
    FeeLine,
)
from yibao.sim.catalog import Priced
from yibao.sim.city import CENSUS_DAY, OUTSIDE, City, Institution, Resident

#: age-group upper bounds for the rate tables
AGE_GROUPS = (4, 17, 44, 59, 69, 79, 200)
#: per person-year, by age group (assumption, tuned; see module docstring)
OUTPATIENT_RATE = {"resident": (2.2, 1.0, 0.9, 1.5, 2.4, 3.0, 3.2), "employee": (0, 0, 2.3, 3.2, 4.6, 5.4, 5.6)}
PHARMACY_RATE = {"resident": (0.2, 0.2, 0.4, 0.5, 0.6, 0.6, 0.5), "employee": (0, 0, 6.2, 7.0, 7.0, 7.0, 6.5)}
INPATIENT_RATE = {
    "resident": (0.083, 0.031, 0.040, 0.083, 0.150, 0.22, 0.28),
    "employee": (0, 0, 0.066, 0.100, 0.200, 0.30, 0.37),
}
#: women of child-bearing age are admitted more (births: 潮州 had about 1.1% births a year in 2020)
#: and see doctors a little more at every age (《中国卫生健康统计年鉴》 two-week consultation rates)
FEMALE_OUTPATIENT = 1.1
BIRTH_RATE = {20: 0.045, 25: 0.075, 30: 0.055, 35: 0.02}  # per woman-year, by 5-year age band
BIRTH_DX = (("O80.0", "单胎顺产"), ("O82.0", "剖宫产"))
CHRONIC_VISITS = {"hypertension_diabetes": 10, "malignant_tumour": 9}
#: median cost per visit, yuan, by hospital level 0–3 and outside the city (index 4)
OUTPATIENT_COST = (55.0, 95.0, 170.0, 270.0, 300.0)
INPATIENT_COST = (2500.0, 4200.0, 7300.0, 13500.0, 20500.0)
#: employee-scheme stays cost more than residents' at the same level (NHSA 2020 统计快报:
#: 职工 次均住院费用 about 1.5× 居民's)
INPATIENT_COST_FACTOR = {"employee": 1.45, "resident": 0.75}
CHRONIC_COST = {"hypertension_diabetes": 130.0, "malignant_tumour": 2600.0}
PHARMACY_COST = 75.0
#: hospital-level mix (0, 1, 2, 3, outside the city)
INPATIENT_LEVELS = {"resident": (6, 12, 36, 38, 8), "employee": (15, 32, 43, 8, 2)}
OUTPATIENT_LEVELS = (48, 24, 18, 10, 0)
MONTHS = (1.0, 0.55, 0.8, 0.95, 1.0, 1.0, 1.05, 1.05, 1.0, 1.05, 1.05, 1.1)
#: diagnoses (ICD-10) with names: common outpatient ones, and inpatient ones by age
OUTPATIENT_DX = (("J06.9", "急性上呼吸道感染"), ("I10.x00", "原发性高血压"), ("E11.9", "2型糖尿病"),
                 ("K29.7", "胃炎"), ("M54.5", "腰痛"), ("J20.9", "急性支气管炎"), ("L30.9", "皮炎"),
                 ("H10.9", "结膜炎"), ("A09.9", "胃肠炎"))  # fmt: skip
INPATIENT_DX = {
    "young": (("J18.9", "肺炎"), ("A09.0", "感染性腹泻"), ("J21.9", "急性细支气管炎"), ("S52.5", "桡骨远端骨折"),
              ("K35.8", "急性阑尾炎"), ("N20.0", "肾结石"), ("J45.9", "哮喘")),
    "middle": (("K80.2", "胆囊结石"), ("I63.9", "脑梗死"), ("I25.1", "冠状动脉粥样硬化性心脏病"),
               ("C34.9", "肺恶性肿瘤"), ("C50.9", "乳腺恶性肿瘤"), ("M51.2", "腰椎间盘突出"), ("K35.8", "急性阑尾炎")),
    "old": (("I63.9", "脑梗死"), ("J44.1", "慢性阻塞性肺病伴急性加重"), ("I50.9", "心力衰竭"), ("J18.9", "肺炎"),
            ("H25.9", "老年性白内障"), ("S72.0", "股骨颈骨折"), ("C16.9", "胃恶性肿瘤"), ("N40.x00", "前列腺增生"),
            ("I25.1", "冠状动脉粥样硬化性心脏病")),
}  # fmt: skip
CHRONIC_DX = {"hypertension_diabetes": ("I10.x00", "原发性高血压"), "malignant_tumour": ("C34.9", "肺恶性肿瘤")}
MED_TYPES = {OUTPATIENT: "11", PHARMACY: "41", CHRONIC: "14", INPATIENT: "21"}
_CENT = Decimal("0.01")


@dataclass(frozen=True, slots=True)
class SimVisit:
    """One generated visit: the engine's claim plus what the visit record needs."""

    person: Resident
    claim: Claim
    institution: str  # fixmedins_code
    med_type: str
    diagnoses: tuple[tuple[str, str], ...]  # (code, name)
    day: date  # the day it is settled (discharge for a stay)


def _group(age: int) -> int:
    return next(i for i, hi in enumerate(AGE_GROUPS) if age <= hi)


def _poisson(rng: random.Random, lam: float) -> int:
    if lam <= 0:
        return 0
    limit, k, p = math.exp(-lam), 0, rng.random()
    while p > limit:
        k += 1
        p *= rng.random()
    return k


class VisitGenerator:
    """Draws each person's visits of the year; :meth:`visits` yields them all in date order."""

    def __init__(self, city: City, priced: list[Priced]) -> None:
        self.city = city
        self.rng = random.Random(f"visits-{city.seed}")
        self.by_kind: dict[str, list[Priced]] = {}
        for p in priced:
            self.by_kind.setdefault(p.kind, []).append(p)
        for items in self.by_kind.values():
            items.sort(key=lambda p: p.price)
        self.prices = {k: [float(i.price) for i in items] for k, items in self.by_kind.items()}
        self.hospitals: dict[tuple[str, int], list[Institution]] = {}
        self.pharmacies: dict[str, list[Institution]] = {}
        self.outside = [i for i in city.institutions if i.region in {r for r, _, _ in OUTSIDE}]
        for inst in city.institutions:
            if inst.region in {r for r, _, _ in OUTSIDE}:
                continue
            if inst.kind == "P":
                self.pharmacies.setdefault(inst.region, []).append(inst)
            else:
                self.hospitals.setdefault((inst.region, inst.level), []).append(inst)
        self._n = 0
        self._days = [date(city.year, 1, 1) + timedelta(days=d) for d in range(366 if city.year % 4 == 0 else 365)]
        self._day_cum = list(itertools.accumulate(MONTHS[d.month - 1] for d in self._days))

    def visits(self) -> list[SimVisit]:
        out = [v for p in self.city.people for v in self.person_visits(p)]
        out.sort(key=lambda v: (v.day, v.claim.claim_id))
        return out

    def person_visits(self, p: Resident) -> Iterator[SimVisit]:
        rng = self.rng
        age = p.age_on(date(self.city.year, *CENSUS_DAY))  # the ages the rates (and the census) use
        g = _group(age)
        s = p.scheme
        female = p.sex == "female"
        for _ in range(_poisson(rng, OUTPATIENT_RATE[s][g] * (FEMALE_OUTPATIENT if female else 1.0))):
            yield self._outpatient(p)
        for _ in range(_poisson(rng, PHARMACY_RATE[s][g])):
            yield self._pharmacy(p)
        for _ in range(_poisson(rng, INPATIENT_RATE[s][g])):
            yield self._inpatient(p, age)
        if female and 20 <= age < 40 and s == "resident":  # employees' births are paid by 生育保险, not modelled
            for _ in range(_poisson(rng, BIRTH_RATE[age // 5 * 5 if age < 35 else 35])):
                yield self._inpatient(p, age, birth=True)
        for disease in p.chronic:
            if disease == "hypertension_diabetes" and s != "resident":
                continue
            for _ in range(_poisson(rng, CHRONIC_VISITS[disease])):
                yield self._chronic(p, disease)

    # -- one visit ----------------------------------------------------------------------------

    def _day(self, p: Resident) -> date:
        """A day of the year, weighted by month; never before the person was born."""
        day = self.rng.choices(self._days, cum_weights=self._day_cum)[0]
        if day < p.birth:
            day = p.birth + timedelta(days=self.rng.randrange((self._days[-1] - p.birth).days + 1))
        return day

    def _id(self) -> str:
        self._n += 1
        return f"SIM{self.city.seed % 1000:03d}{self._n:09d}"

    def _hospital(self, p: Resident, level: int) -> Institution:
        if level == 4:
            return self.rng.choice(self.outside)
        region = p.region if self.rng.random() < 0.8 else self.rng.choice([r for r, _ in self.hospitals])
        for lvl in (level, 2, 3):
            for place in (region, p.region, "445102"):
                found = self.hospitals.get((place, lvl))
                if found:
                    return self.rng.choice(found)
        raise LookupError("no hospital")  # the city always has 中心医院 (level 3)

    def _cost(self, median: float, sigma: float, tail: float = 0.0) -> float:
        cost = median * self.rng.lognormvariate(0.0, sigma)
        if tail and self.rng.random() < tail:
            cost *= self.rng.uniform(2.0, 5.0)  # ICU, major surgery, chemotherapy
        return cost

    def _account(self, p: Resident) -> int:
        return ACCOUNT_OWN if p.scheme == "employee" and self.rng.random() < 0.9 else ACCOUNT_NONE

    def _claim(
        self, p: Resident, kind: str, inst: Institution, day: date, lines: tuple[FeeLine, ...], **kw: object
    ) -> Claim:
        return Claim(
            claim_id=self._id(),
            insured_region=p.region,
            treatment_region=inst.region,
            visit_type=kind,
            hospital_level=inst.level,
            settlement_date=day,
            fee_lines=lines,
            account_use=self._account(p),
            filed=inst.region[:4] != p.region[:4],  # 异地就医备案: treated outside the city
            **kw,  # type: ignore[arg-type]
        )

    def _outpatient(self, p: Resident) -> SimVisit:
        level = self.rng.choices(range(5), OUTPATIENT_LEVELS)[0]
        inst = self._hospital(p, level)
        total = self._cost(OUTPATIENT_COST[level], 0.7)
        lines = self._lines(total, (("service", 0.35), ("drug", 0.6), ("material", 0.05)), self.rng.randint(2, 7))
        dx = (self.rng.choice(OUTPATIENT_DX),)
        day = self._day(p)
        return SimVisit(
            p, self._claim(p, OUTPATIENT, inst, day, lines, diagnoses=(dx[0][0],)), inst.code, "11", dx, day
        )

    def _pharmacy(self, p: Resident) -> SimVisit:
        inst = self.rng.choice(self.pharmacies.get(p.region) or next(iter(self.pharmacies.values())))
        total = self._cost(PHARMACY_COST, 0.8)
        lines = self._lines(total, (("drug", 1.0),), self.rng.randint(1, 4))
        day = self._day(p)
        return SimVisit(p, self._claim(p, PHARMACY, inst, day, lines), inst.code, "41", (), day)

    def _chronic(self, p: Resident, disease: str) -> SimVisit:
        inst = self._hospital(p, self.rng.choice((1, 2, 2, 3)) if disease != "malignant_tumour" else 3)
        total = self._cost(CHRONIC_COST[disease], 0.5)
        lines = self._lines(total, (("drug", 0.85), ("service", 0.15)), self.rng.randint(2, 6))
        day = self._day(p)
        claim = self._claim(p, CHRONIC, inst, day, lines, disease=disease, diagnoses=(CHRONIC_DX[disease][0],))
        return SimVisit(p, claim, inst.code, "14", (CHRONIC_DX[disease],), day)

    def _inpatient(self, p: Resident, age: int, birth: bool = False) -> SimVisit:
        rng = self.rng
        level = rng.choices(range(5), INPATIENT_LEVELS[p.scheme])[0]
        inst = self._hospital(p, level)
        total = self._cost(INPATIENT_COST[level] * INPATIENT_COST_FACTOR[p.scheme], 0.7, tail=0.03)
        stay = max(1, min(60, round(rng.lognormvariate(math.log(6 + level), 0.5))))
        discharge = self._day(p)
        admission = discharge - timedelta(days=stay)
        if admission.year < self.city.year:
            admission = date(self.city.year, 1, 1)
            discharge = admission + timedelta(days=stay)
        if admission < p.birth:  # a newborn's first stay starts at birth
            admission = p.birth
            stay = max(1, (discharge - admission).days)
        bed = self.by_kind["bed"][0]
        rest = self._lines(
            max(100.0, total - float(bed.price) * stay),
            (("drug", 0.45), ("service", 0.40), ("material", 0.15)),
            rng.randint(12, 45),
            start=2,
        )
        lines = (self._line(bed, Decimal(stay), 1), *rest)
        if birth:
            dx: tuple[tuple[str, str], ...] = (rng.choice(BIRTH_DX),)
        else:
            table = INPATIENT_DX["young" if age < 35 else "middle" if age < 65 else "old"]
            dx = tuple(rng.sample(table, rng.choice((1, 1, 2, 3))))
        claim = self._claim(
            p, INPATIENT, inst, discharge, lines,
            admission_date=admission, discharge_date=discharge, diagnoses=tuple(c for c, _ in dx),
        )  # fmt: skip
        return SimVisit(p, claim, inst.code, "21", dx, discharge)

    # -- fee lines ---------------------------------------------------------------------------------

    def _line(self, item: Priced, quantity: Decimal, no: int) -> FeeLine:
        amount = int((item.price * quantity).quantize(_CENT, rounding=ROUND_HALF_UP) * 100)
        return FeeLine(item.code, amount, item.price, quantity, line_no=str(no))

    def _lines(
        self, total: float, kinds: tuple[tuple[str, float], ...], count: int, start: int = 1
    ) -> tuple[FeeLine, ...]:
        """``count`` lines whose amounts add up to about ``total`` yuan."""
        rng = self.rng
        shares = [rng.expovariate(1.0) for _ in range(count)]
        whole = sum(shares)
        out: list[FeeLine] = []
        names = [k for k, _ in kinds]
        weights = [w for _, w in kinds]
        for n, share in enumerate(shares):
            budget = total * share / whole
            kind = rng.choices(names, weights)[0]
            items = self.by_kind[kind]
            # an item whose unit price fits the budget: the dearest such, with some spread
            fits = bisect.bisect_right(self.prices[kind], budget) or 1
            item = items[min(len(items) - 1, int(fits * rng.random() ** 0.5))]
            quantity = max(1, round(budget / float(item.price)))
            out.append(self._line(item, Decimal(quantity), start + n))
        return tuple(out)
