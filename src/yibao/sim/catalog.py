"""A generated medical-insurance catalogue (三个目录 + 医用耗材) for the synthetic city.

Items are named after real generic drugs, services and materials with a numbered
specification, so fee lines read like a hospital's. Classes follow the usual mix by count —
甲 about 45%, 乙 45%, 丙 10% — and by kind: everyday drugs and basic services are mostly 甲,
newer drugs and high-value materials mostly 乙 or 丙. 乙 items use the region's default
先行自付 ratio except a few with their own. About one drug in eight has a 集采 payment
standard a little below its usual price. No item is restricted, so the synthetic bills
exercise the split by class and price, not the restriction checks (tested elsewhere).
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from yibao.policy.catalog import CLASS_A, CLASS_B, CLASS_C, CatalogItem

DRUGS = (
    ("阿莫西林胶囊", 0.6, "tablet"),
    ("头孢呋辛酯片", 1.8, "tablet"),
    ("左氧氟沙星片", 1.5, "tablet"),
    ("苯磺酸氨氯地平片", 0.9, "tablet"),
    ("盐酸二甲双胍片", 0.3, "tablet"),
    ("阿托伐他汀钙片", 1.2, "tablet"),
    ("奥美拉唑肠溶胶囊", 0.8, "tablet"),
    ("硝苯地平控释片", 2.1, "tablet"),
    ("阿司匹林肠溶片", 0.2, "tablet"),
    ("缬沙坦胶囊", 1.6, "tablet"),
    ("格列美脲片", 1.1, "tablet"),
    ("氯吡格雷片", 2.5, "tablet"),
    ("布洛芬缓释胶囊", 0.7, "tablet"),
    ("复方甘草片", 0.1, "tablet"),
    ("蒙脱石散", 1.3, "tablet"),
    ("连花清瘟胶囊", 0.9, "tablet"),
    ("恩替卡韦片", 0.6, "tablet"),
    ("达格列净片", 4.5, "tablet"),
    ("0.9%氯化钠注射液", 3.5, "vial"),
    ("5%葡萄糖注射液", 3.8, "vial"),
    ("注射用头孢曲松钠", 12.0, "vial"),
    ("注射用头孢哌酮舒巴坦钠", 28.0, "vial"),
    ("注射用奥美拉唑钠", 9.5, "vial"),
    ("胰岛素注射液", 45.0, "vial"),
    ("注射用血栓通", 36.0, "vial"),
    ("人血白蛋白", 380.0, "vial"),
    ("注射用紫杉醇", 1200.0, "vial"),
    ("曲妥珠单抗注射液", 5500.0, "vial"),
    ("低分子肝素钙注射液", 24.0, "vial"),
    ("注射用美罗培南", 95.0, "vial"),
)
SERVICES = (
    ("普通门诊诊查费", 10.0, "time"),
    ("副主任医师诊查费", 25.0, "time"),
    ("血常规", 20.0, "time"),
    ("肝功能检测", 60.0, "time"),
    ("肾功能检测", 40.0, "time"),
    ("血糖测定", 8.0, "time"),
    ("心电图检查", 25.0, "time"),
    ("胸部X线摄影", 60.0, "time"),
    ("彩色多普勒超声", 150.0, "time"),
    ("CT平扫", 260.0, "time"),
    ("磁共振平扫", 550.0, "time"),
    ("静脉输液", 8.0, "time"),
    ("肌肉注射", 3.0, "time"),
    ("换药", 20.0, "time"),
    ("一级护理", 30.0, "day"),
    ("二级护理", 18.0, "day"),
    ("重症监护", 380.0, "day"),
    ("血液透析", 420.0, "time"),
    ("腹腔镜胆囊切除术", 2100.0, "time"),
    ("阑尾切除术", 1300.0, "time"),
    ("全髋关节置换术", 4200.0, "time"),
    ("冠状动脉造影术", 2600.0, "time"),
    ("白内障超声乳化摘除术", 1500.0, "time"),
    ("剖宫产术", 1600.0, "time"),
    ("康复训练", 45.0, "time"),
    ("针灸", 30.0, "time"),
    ("病理检查", 180.0, "time"),
    ("麻醉", 600.0, "time"),
)
MATERIALS = (
    ("一次性输液器", 6.0, "piece"),
    ("一次性注射器", 1.0, "piece"),
    ("医用棉签", 2.0, "piece"),
    ("导尿管", 25.0, "piece"),
    ("留置针", 18.0, "piece"),
    ("吻合器", 2800.0, "piece"),
    ("冠脉药物洗脱支架", 700.0, "piece"),
    ("人工晶体", 1800.0, "piece"),
    ("人工髋关节", 7200.0, "piece"),
    ("骨科内固定钢板", 3500.0, "piece"),
    ("一次性手术包", 120.0, "piece"),
    ("中心静脉导管", 300.0, "piece"),
)
BED = ("普通病房床位费", 40.0, "day")
CITY = "445100"


@dataclass(frozen=True, slots=True)
class Priced:
    """An item with its usual unit price (yuan) and how it is dispensed."""

    code: str
    name: str
    kind: str  # drug | service | material | bed
    unit: str  # tablet | vial | time | day | piece
    price: Decimal
    item_class: int


def _class(rng: random.Random, kind: str, price: float) -> int:
    dear = price > (50.0 if kind == "drug" else 1000.0)
    a, b = (0.25, 0.55) if dear else (0.60, 0.32)
    u = rng.random()
    return CLASS_A if u < a else CLASS_B if u < a + b else CLASS_C


def generate_catalog(seed: int, variants: int = 12) -> tuple[list[CatalogItem], list[Priced]]:
    """The catalogue (for the policy snapshot) and the priced list the visit generator draws from."""
    rng = random.Random(f"catalog-{seed}")
    items: list[CatalogItem] = []
    priced: list[Priced] = []
    for kind, table, prefix in (("drug", DRUGS, "XY"), ("service", SERVICES, "FW"), ("material", MATERIALS, "HC")):
        for n, (name, price, unit) in enumerate(table):
            for v in range(variants):
                code = f"{prefix}{n:03d}{v:03d}"
                usual = price * rng.lognormvariate(0.0, 0.35)
                cls = _class(rng, kind, usual)
                places = 4 if usual < 1 else 2
                p = Decimal(repr(usual)).quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)
                p = max(p, Decimal("0.01"))
                spf = rng.choice((500, 1500, 2000)) if cls == CLASS_B and rng.random() < 0.15 else None
                standard = None
                if kind == "drug" and cls != CLASS_C and rng.random() < 0.12:
                    standard = (p * Decimal(str(round(rng.uniform(0.85, 0.97), 2)))).quantize(Decimal("0.0001"))
                items.append(plain_item(code, f"{name}（规格{v + 1}）", kind, cls, spf, standard))
                priced.append(Priced(code, f"{name}（规格{v + 1}）", kind, unit, p, cls))
    name, price, unit = BED
    items.append(plain_item("CW000001", name, "service", CLASS_A, None, None))
    priced.append(Priced("CW000001", name, "bed", unit, Decimal(str(price)), CLASS_A))
    return items, priced


def plain_item(
    code: str,
    name: str,
    kind: str,
    cls: int,
    spf: int | None = None,
    standard: Decimal | None = None,
    region: str = CITY,
) -> CatalogItem:
    """A catalogue item without restrictions (sex, age, visit type, level, indication, validity)."""
    return CatalogItem(
        code=code,
        name=name,
        kind=kind,
        item_class=cls,
        self_pay_first_ratio=spf,
        ratio_by_person_type=(),
        payment_standard=standard,
        sex=None,
        age_min=None,
        age_max=None,
        visit_types=None,
        min_hospital_level=None,
        indication_required=False,
        valid_from=None,
        valid_to=None,
        region=region,
    )
