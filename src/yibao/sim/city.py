"""The synthetic city: its people, employers, hospitals and pharmacies.

Deterministic given ``seed``; ``scale`` is the fraction of the real city (1 = 潮州's 266.30万
insured). The counts of insured by scheme and of retirees are the targets times the scale,
exactly; ages and sexes follow the census profile reweighted to the city's ageing
(:mod:`yibao.sim.profile`). Who retires, who works and who is a resident follows age:
retirees are men from 60 and women from 50 (国发〔1978〕104号 ages), active employees are of
working age, and everyone else is in the resident scheme (minors 0–5, students 6–18, adults).
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date, timedelta
from fractions import Fraction

from yibao.errors import InputError
from yibao.sim.profile import GUANGDONG_2020, allocate, bands_of, reweight
from yibao.sim.targets import target

YEAR = 2020
CENSUS_DAY = (11, 1)  # month and day the census ages refer to (第七次全国人口普查标准时点)
CITY = "445100"
#: 潮州's districts and county with their share of the population (七普: 湘桥 ≈ 0.18, 潮安 ≈ 0.47, 饶平 ≈ 0.35)
COUNTIES = (("445102", "湘桥区", Fraction(18, 100)), ("445103", "潮安区", Fraction(47, 100)),
            ("445122", "饶平县", Fraction(35, 100)))  # fmt: skip
TOWNS = {
    "445102": ("意溪", "桥东", "城西", "凤新", "官塘", "铁铺", "磷溪"),
    "445103": ("庵埠", "彩塘", "金石", "浮洋", "古巷", "登塘", "东凤", "凤塘", "龙湖", "江东", "沙溪", "枫溪"),
    "445122": ("黄冈", "钱东", "浮滨", "三饶", "汫洲", "海山", "新丰", "联饶", "樟溪", "所城", "高堂"),
}
#: where people are treated outside the city: (region, name, level)
OUTSIDE = (("440100", "广州市某三甲医院", 3), ("440500", "汕头市某三甲医院", 3), ("445200", "揭阳市某二级医院", 2),
           ("440300", "深圳市某三甲医院", 3), ("110100", "北京市某三甲医院", 3))  # fmt: skip
SURNAMES = "陈林黄蔡郑吴李张王刘许谢杨洪苏余邱詹曾庄沈彭翁柯丁姚魏钟卢方"
GIVEN = "伟俊杰浩宇思佳欣怡婷丽娟秀英明华文辉锦楷泽瑜涛燕妹惠銮玉珠创鸿乐"
INDUSTRIES = ("陶瓷", "食品", "服装", "不锈钢制品", "电子", "印刷包装", "物流", "婚纱礼服", "茶业", "建材")
#: the assistance categories' shares of residents (潮州: about 2.3% 低保, 0.3% 特困; assumption)
ASSISTANCE_SHARES = (("extreme_poverty", 0.003), ("subsistence_allowance", 0.026), ("near_subsistence", 0.008),
                     ("relapse_poverty", 0.002), ("severe_disability", 0.006))  # fmt: skip
FLEXIBLE_SHARE = 0.12  # of working employee-scheme members (assumption)
CIVIL_SERVANT_SHARE = 0.06  # employees of 机关事业单位 with 公务员医疗补助 (assumption)
PSN_TYPES = {"active": "1101", "flexible": "1103", "retiree": "1201", "minor": "1401", "student": "1403",
             "adult": "1501"}  # fmt: skip
_CHECK_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_CHECK_CODES = "10X98765432"


@dataclass(frozen=True, slots=True)
class Employer:
    code: str  # 统一社会信用代码-like
    name: str
    region: str
    wage_level: float  # the employer's median monthly wage, yuan
    public: bool  # 机关事业单位: its employees get 公务员医疗补助


@dataclass(frozen=True, slots=True)
class Institution:
    code: str  # fixmedins_code
    name: str
    kind: str  # H | P
    level: int  # 0 基层 … 3; pharmacies 0
    region: str


@dataclass(frozen=True, slots=True)
class Resident:
    """One insured person of the synthetic city (参保人) with what enrolment needs."""

    psn_no: str
    certno: str
    name: str
    sex: str
    birth: date
    region: str  # the county where insured (insuplc_admdvs)
    scheme: str  # employee | resident
    person_type: str  # active | flexible | retiree | minor | student | adult
    category: str  # assistance category or "none"
    employer: str | None
    wage: int  # fen per month: the wage of an active member, the declared base of a flexible worker
    civil_servant: bool
    chronic: tuple[str, ...]  # certified 门诊慢特病
    paid_on: date  # when this year's contribution was paid (residents) or resumed (employees)
    interrupted_months: int  # employees: months without contribution just before ``paid_on``
    account_opening: int  # fen, personal account balance on 1 January

    def age_on(self, day: date) -> int:
        return day.year - self.birth.year - ((day.month, day.day) < (self.birth.month, self.birth.day))


@dataclass(frozen=True, slots=True)
class City:
    seed: int
    scale: Fraction
    year: int
    people: tuple[Resident, ...]
    employers: tuple[Employer, ...]
    institutions: tuple[Institution, ...]


def certno_for(region: str, birth: date, serial: int, sex: str) -> str:
    """A synthetic 18-digit 居民身份证号码 with a valid GB 11643 check digit (never a real person's).

    ``serial`` (0–499) tells apart people of one region, birth date and sex.
    """
    if not 0 <= serial < 500:
        raise InputError("serial", f"同一区划、出生日期与性别的顺序号应在 0–499 之间：{serial}")
    seq = serial * 2 + (1 if sex == "male" else 0)  # the 17th digit is odd for men
    body = f"{region}{birth:%Y%m%d}{seq:03d}"
    return body + _CHECK_CODES[sum(int(d) * w for d, w in zip(body, _CHECK_WEIGHTS, strict=True)) % 11]


def _pick(rng: random.Random, pool: list[int], weights: list[float], k: int) -> set[int]:
    """``k`` of ``pool`` chosen with probability by weight (Efraimidis–Spirakis), deterministic in ``rng``."""
    if k > len(pool):
        raise InputError("scale", f"合成人口中符合条件的人数（{len(pool)}）少于需要的 {k} 人")
    keyed = sorted(((rng.random() ** (1.0 / w), i) for i, w in zip(pool, weights, strict=True)), reverse=True)
    return {i for _, i in keyed[:k]}


def generate_city(scale: Fraction, seed: int, year: int = YEAR) -> City:
    if scale <= 0 or scale > 2:
        raise InputError("scale", f"规模应在 (0, 2] 之间（1 = 全市 266.30 万人），收到 {float(scale)}")
    rng = random.Random(f"city-{seed}")
    total = round(target("insured_total").value * scale)
    employees = round(target("insured_employee").value * scale)
    retirees = round(employees * target("retiree_share").value)
    if total < 100:
        raise InputError("scale", f"规模过小：只有 {total} 人，至少需要 100 人")
    bands = reweight(bands_of(GUANGDONG_2020), target("age_60_plus_share").value, target("age_65_plus_share").value)
    counts = allocate([b.weight for b in bands], total)
    ages: list[tuple[int, str]] = []
    for band, n in zip(bands, counts, strict=True):
        ages.extend((rng.randint(band.lo, min(band.hi, 100)), band.sex) for _ in range(n))
    rng.shuffle(ages)

    def retiree_weight(i: int) -> float:
        age, sex = ages[i]
        return 0.0 if (age < 60 if sex == "male" else age < 50) else (0.5 if age < 55 else 1.0)

    eligible = [i for i in range(total) if retiree_weight(i) > 0]
    retired = _pick(rng, eligible, [retiree_weight(i) for i in eligible], retirees)

    def worker_weight(i: int) -> float:
        age, sex = ages[i]
        if i in retired or age < 18 or age > (59 if sex == "male" else 54):
            return 0.0
        return 1.0 if 23 <= age <= 50 else 0.4

    eligible = [i for i in range(total) if worker_weight(i) > 0]
    working = _pick(rng, eligible, [worker_weight(i) for i in eligible], employees - retirees)

    county_of = _counties(rng, total)
    employers = _employers(rng, max(1, round((employees - retirees) * (1 - FLEXIBLE_SHARE) / 15)))
    people: list[Resident] = []
    start = date(year, 1, 1)
    serials: dict[tuple[str, date, str], int] = {}
    for i, (age, sex) in enumerate(ages):
        region = county_of[i]
        # the census counts ages on its standard day (七普: 1 November 2020)
        birth = date(year - age - 1, 11, 2) + timedelta(days=rng.randrange(365))
        if i in retired:
            scheme, ptype = "employee", "retiree"
        elif i in working:
            scheme, ptype = "employee", ("flexible" if rng.random() < FLEXIBLE_SHARE else "active")
        else:
            scheme, ptype = "resident", ("minor" if age < 6 else "student" if age <= 18 else "adult")
        serial = serials[region, birth, sex] = serials.get((region, birth, sex), -1) + 1
        certno = certno_for(region, birth, serial, sex)
        people.append(_person(rng, i, seed, region, certno, birth, age, sex, scheme, ptype, employers, start))
    return City(seed, scale, year, tuple(people), tuple(employers), tuple(_institutions(rng, total)))


def _counties(rng: random.Random, total: int) -> list[str]:
    counts = allocate([share for _, _, share in COUNTIES], total)
    out = [code for (code, _, _), n in zip(COUNTIES, counts, strict=True) for _ in range(n)]
    rng.shuffle(out)
    return out


def _employers(rng: random.Random, count: int) -> list[Employer]:
    out = []
    for n in range(count):
        region = rng.choices([c for c, _, _ in COUNTIES], [float(s) for _, _, s in COUNTIES])[0]
        public = rng.random() < CIVIL_SERVANT_SHARE
        if public:
            name = (
                f"潮州市{rng.choice(TOWNS[region])}{rng.choice(('中学', '小学', '卫生院', '街道办事处', '税务分局'))}"
            )
            level = 6200.0
        else:
            name = f"潮州市{rng.choice(TOWNS[region])}{rng.choice(INDUSTRIES)}有限公司{n + 1}"
            level = 3400.0 * rng.lognormvariate(0.0, 0.25)
        out.append(Employer(f"91445100MA{n:07d}", name, region, level, public))
    return out


def _person(
    rng: random.Random,
    i: int,
    seed: int,
    region: str,
    certno: str,
    birth: date,
    age: int,
    sex: str,
    scheme: str,
    ptype: str,
    employers: list[Employer],
    start: date,
) -> Resident:
    employer: Employer | None = None
    wage = 0
    if ptype == "active":
        employer = rng.choice(employers)
        wage = round(employer.wage_level * rng.lognormvariate(0.0, 0.45) * 100)
    elif ptype == "flexible":
        wage = round(3300 * rng.choice((1, 1, 1, 1.2, 1.5)) * 100)  # most declare the floor
    category = "none"
    if scheme == "resident":
        u = rng.random()
        for name, share in ASSISTANCE_SHARES:
            if u < share * (1.6 if age >= 60 else 1.0):
                category = name
                break
            u -= share * (1.6 if age >= 60 else 1.0)
    chronic: list[str] = []
    if scheme == "resident" and age >= 35 and rng.random() < (0.06 if age < 60 else 0.16):
        chronic.append("hypertension_diabetes")
    if age >= 30 and rng.random() < (0.003 if age < 60 else 0.010):
        chronic.append("malignant_tumour")
    paid_on = date(start.year - 1, rng.randint(9, 12), rng.randint(1, 28))  # 集中参保期
    interrupted = 0
    if birth >= start:
        paid_on = birth  # a newborn, enrolled from birth (exempt from waiting)
    elif category != "none":
        paid_on = date(start.year - 1, 12, 20)  # enrolled and paid for by medical assistance (资助参保)
    elif scheme == "resident" and rng.random() < 0.03:
        paid_on = start + timedelta(days=rng.randrange(30, 180))  # a late enrolee
    elif ptype in ("active", "flexible") and rng.random() < 0.01:
        paid_on = start + timedelta(days=rng.randrange(15, 120))  # contributions resumed
        interrupted = rng.randint(4, 12)
    opening = 0
    if scheme == "employee":
        opening = round(rng.lognormvariate(7.3, 0.9) * 100 * (1.5 if ptype == "retiree" else 1.0))
    name = rng.choice(SURNAMES) + "".join(rng.choice(GIVEN) for _ in range(rng.choice((1, 2, 2))))
    return Resident(
        psn_no=f"445100{seed % 100:02d}{i:08d}",
        certno=certno,
        name=name,
        sex=sex,
        birth=birth,
        region=region,
        scheme=scheme,
        person_type=ptype,
        category=category,
        employer=employer.code if employer else None,
        wage=wage,
        civil_servant=bool(employer and employer.public),
        chronic=tuple(chronic),
        paid_on=paid_on,
        interrupted_months=interrupted,
        account_opening=opening,
    )


def _institutions(rng: random.Random, total: int) -> list[Institution]:
    out: list[Institution] = []
    n = 0

    def add(name: str, kind: str, level: int, region: str) -> None:
        nonlocal n
        n += 1
        out.append(Institution(f"{kind}{region}{n:05d}", name, kind, level, region))

    add("潮州市中心医院", "H", 3, "445102")
    if total > 1_000_000:
        add("潮州市人民医院", "H", 3, "445102")
    for region, county, share in COUNTIES:
        people = total * share
        towns = TOWNS[region]
        add(f"{county}人民医院", "H", 2, region)
        for k in range(1, max(1, round(people / 250_000))):
            add(f"{county}第{k + 1}人民医院", "H", 2, region)
        for k in range(max(1, round(people / 80_000))):
            add(f"{county}{towns[k % len(towns)]}医院", "H", 1, region)
        for k in range(max(2, round(people / 20_000))):
            add(
                f"{county}{towns[k % len(towns)]}镇卫生院{k // len(towns) + 1 if k >= len(towns) else ''}",
                "H",
                0,
                region,
            )
        for k in range(max(2, round(people / 3_000))):
            add(f"{county}{towns[rng.randrange(len(towns))]}大药房{k + 1}", "P", 0, region)
    for region, name, level in OUTSIDE:
        add(name, "H", level, region)
    return out
