"""A realistic example of the demo's results, for tests and for developing the page.

Calibrated like the demo: 潮州市 2020 at a sampling ratio of 0.5% (266.30 万 insured →
13,315 people; fund income 28.44 亿元 → 1,422 万元). The parts add up — monthly rows sum
to the annual totals, hospital levels and visit types to the same spending — so the page
can be checked by eye. Every identifier is already masked, as the demo sends them.

>>> data = sample_data()
>>> data["summary"]["insured_total"]
13315
>>> len(data["monthly"])
12
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

_CENT = Decimal("0.01")
_PLAN = "《潮州市医疗保障事业发展“十四五”规划》"

_INCOME = {"employee": Decimal("5506680.00"), "resident": Decimal("8713320.00")}
_SPENDING = {"employee": Decimal("4702350.00"), "resident": Decimal("7487650.00")}
# Employee contributions were halved February–June 2020 (减征, COVID relief); residents pay in
# a few collection drives; spending dipped in February 2020.
_WEIGHTS: dict[tuple[str, str], tuple[int | str, ...]] = {
    ("income", "employee"): (10, 6, 6, 6, 6, 6, 10, 10, 10, 10, 10, 10),
    ("income", "resident"): (28, 3, 3, 4, 4, 18, 3, 3, 4, 4, 4, 22),
    ("spending", "employee"): ("8.5", 5, 7, 8, "8.5", "8.5", 9, 9, "8.5", 9, 9, 10),
    ("spending", "resident"): (8, "4.5", 7, 8, "8.5", "8.5", 9, 9, "8.5", 9, "9.5", "10.5"),
}
_LEVELS = {  # (level, scheme): (visits, total yuan, fund yuan)
    ("基层", "employee"): (6200, "620000", "372000"),
    ("一级", "employee"): (2100, "410000", "266500"),
    ("二级", "employee"): (3400, "2150000", "1612500"),
    ("三级", "employee"): (1900, "2480000", "1934400"),
    ("市外", "employee"): (120, "760000", "516950"),
    ("基层", "resident"): (38000, "1520000", "912000"),
    ("一级", "resident"): (9500, "1180000", "826000"),
    ("二级", "resident"): (14000, "4300000", "2795000"),
    ("三级", "resident"): (5800, "3900000", "2340000"),
    ("市外", "resident"): (214, "1520000", "614650"),
}
_AGES = {  # age group: (insured, total yuan, fund yuan)
    "0-17": (3300, "1980000", "1287000"),
    "18-44": (4700, "3290000", "2040000"),
    "45-59": (2763, "4144500", "2652000"),
    "60-64": (785, "1962500", "1295000"),
    "65-74": (1100, "3850000", "2560000"),
    "75+": (667, "3613000", "2356000"),
}
_VISIT_TYPES = {  # visit type: (settlements, total yuan, fund yuan)
    "普通门诊": (62000, "3100000", "1520000"),
    "门诊慢特病": (9800, "2640000", "1716000"),
    "住院": (9434, "13100000", "8954000"),
    "定点药店购药": (10000, "1180000", "0"),
}
_SURNAMES = "陈林黄蔡郑吴李张王刘许谢杨洪苏余邱詹曾庄"


def _yuan(value: Decimal | str | int) -> str:
    return str(Decimal(value).quantize(_CENT, rounding=ROUND_HALF_UP))


def _share(numerator: Decimal, denominator: Decimal) -> str:
    return str((numerator / denominator).quantize(Decimal("0.0001"), rounding=ROUND_HALF_UP))


def _spread(total: Decimal, weights: tuple[int | str, ...]) -> list[Decimal]:
    """``total`` split by ``weights`` to the fen, December taking the rounding residual."""
    parts = [Decimal(w) for w in weights]
    whole = sum(parts, Decimal(0))
    months = [(total * p / whole).quantize(_CENT, rounding=ROUND_HALF_UP) for p in parts[:-1]]
    return [*months, total - sum(months, Decimal(0))]


def _monthly() -> list[dict[str, object]]:
    columns = {key: _spread((_INCOME if key[0] == "income" else _SPENDING)[key[1]], w) for key, w in _WEIGHTS.items()}
    return [
        {
            "month": f"2020-{m + 1:02d}",
            "income_yuan": {s: _yuan(columns["income", s][m]) for s in ("employee", "resident")},
            "expenditure_yuan": {s: _yuan(columns["spending", s][m]) for s in ("employee", "resident")},
        }
        for m in range(12)
    ]


def _burdens() -> list[dict[str, object]]:
    result: list[dict[str, object]] = []
    for i in range(20):
        resident = i % 3 != 1
        category = ("低保", "特困", "一般", "退休", "在职")[i % 5] if resident else ("退休", "在职")[i % 2]
        if resident and category in ("退休", "在职"):
            category = "一般"
        total = Decimal(186_400 - i * 7_350)
        fund = (total * Decimal("0.62" if resident else "0.78")).quantize(_CENT)
        assistance = (total * Decimal("0.12")).quantize(_CENT) if category in ("低保", "特困") else Decimal(0)
        personal = total - fund - assistance
        result.append(
            {
                "psn_no_masked": f"4451****{i + 1:04d}",
                "name_masked": _SURNAMES[i] + ("*" if i % 4 else "**"),
                "scheme": "居民" if resident else "职工",
                "category": category,
                "total_yuan": _yuan(total),
                "fund_yuan": _yuan(fund),
                "assistance_yuan": _yuan(assistance),
                "personal_yuan": _yuan(personal),
                "personal_share": _share(personal, total),
            }
        )
    return sorted(result, key=lambda r: -Decimal(str(r["personal_yuan"])))


def _calibration() -> list[dict[str, object]]:
    def row(
        metric: str, target: str, result: str, unit: str, where: str, tolerance: str, ok: bool
    ) -> dict[str, object]:
        return {
            "metric": metric,
            "target": target,
            "result": result,
            "unit": unit,
            "source": f"{_PLAN}{where}",
            "tolerance": tolerance,
            "ok": ok,
        }

    basis, challenges, table = "一、（一）发展基础", "一、（二）面临挑战", "专栏一"
    return [
        row("参保人数（万人，按比例换算）", "266.30", "266.30", "万人", basis, "±10%", True),
        row("职工医保参保人数（万人，按比例换算）", "39.98", "39.98", "万人", basis, "±10%", True),
        row("居民医保参保人数（万人，按比例换算）", "226.32", "226.32", "万人", basis, "±10%", True),
        row("基本医疗保险基金收入（亿元，按比例换算）", "28.44", "28.44", "亿元", table, "±10%", True),
        row("基本医疗保险基金支出（亿元，按比例换算）", "24.38", "24.38", "亿元", table, "±10%", True),
        row("职工政策范围内住院费用基金支付比例", "85.2", "85.20", "%", table, "±2个百分点", True),
        row("居民政策范围内住院费用基金支付比例", "70", "70.00", "%", table, "±2个百分点", True),
        row("重点救助对象住院医疗费用救助比例", "80", "71.00", "%", table, "±5个百分点", False),
        row("60岁及以上人口占比", "19.17", "19.17", "%", challenges, "±1个百分点", True),
        row("65岁及以上人口占比", "13.27", "13.27", "%", challenges, "±1个百分点", True),
        row("职工医保退休人员占比", "30.29", "30.29", "%", challenges, "±1个百分点", True),
        row("退休人员支出占职工医保待遇支出比例", "50", "50.00", "%", challenges, "±5个百分点", True),
    ]


def _indicators() -> list[dict[str, object]]:
    def row(category: str, name: str, unit: str, value: str, target: str, note: str) -> dict[str, object]:
        return {"category": category, "name": name, "unit": unit, "value": value, "target": target, "note": note}

    return [
        row("参保覆盖", "基本医疗保险参保率", "%", "98.20", ">95", "参保人数 ÷ 合成常住人口"),
        row(
            "基金安全",
            "基本医疗保险（含生育保险）基金收入",
            "亿元",
            "28.44",
            "收入规模与经济社会发展水平更加适应",
            "按抽样比例 0.5% 折算全市；不含生育保险",
        ),
        row(
            "基金安全",
            "基本医疗保险（含生育保险）基金支出",
            "亿元",
            "24.38",
            "支出规模与经济社会发展水平、群众基本医疗需求更加适应",
            "按抽样比例折算全市",
        ),
        row("保障程度", "职工基本医疗保险政策范围内住院费用基金支付比例", "%", "85.20", "保持稳定（2020年：85.2）", ""),
        row(
            "保障程度", "城乡居民基本医疗保险政策范围内住院费用基金支付比例", "%", "70.00", "保持稳定（2020年：70）", ""
        ),
        row(
            "保障程度",
            "重点救助对象符合规定的住院医疗费用救助比例",
            "%",
            "71.00",
            "保持稳定（2020年：80）",
            "低于规划值：合成数据中部分救助对象未达起付标准",
        ),
        row(
            "精细管理",
            "实行按疾病诊断相关分组付费和按病种付费的住院费用占全部住院费用的比例",
            "%",
            "—",
            "90",
            "本次演示未模拟支付方式",
        ),
    ]


def sample_data() -> dict[str, object]:
    """The demo's results for a 0.5% synthetic 潮州 2020 (see the module docstring)."""
    income_total = sum(_INCOME.values(), Decimal(0))
    spending_total = sum(_SPENDING.values(), Decimal(0))
    insured = {"employee": 1999, "resident": 11316}
    total_insured = sum(insured.values())
    return {
        "meta": {
            "city": "潮州市（合成）",
            "region": "445100",
            "year": 2020,
            "scale": 0.005,
            "seed": 1,
            "policy_snapshot": "ps-7f3a9c21e4b0",
            "generated_at": "2026-11-22T20:00:00",
            "yibao_version": "0.1.0",
            "elapsed_seconds": 42.1,
        },
        "summary": {
            "insured_total": total_insured,
            "insured_employee": insured["employee"],
            "insured_resident": insured["resident"],
            "retiree_share": "0.3029",
            "fund_income_yuan": {"total": _yuan(income_total), **{k: _yuan(v) for k, v in _INCOME.items()}},
            "fund_expenditure_yuan": {"total": _yuan(spending_total), **{k: _yuan(v) for k, v in _SPENDING.items()}},
            "per_capita": {
                "income_yuan": _yuan(income_total / total_insured),
                "expenditure_yuan": _yuan(spending_total / total_insured),
            },
            "policy_range_inpatient_fund_share": {"employee": "0.8520", "resident": "0.7000"},
            "assistance_share_for_key_groups": "0.7100",
            "settlements_total": sum(v[0] for v in _VISIT_TYPES.values()),
            "age_60_plus_share": "0.1917",
            "age_65_plus_share": "0.1327",
            "retiree_share_of_employee_spending": "0.50",
            "critical_illness_paid_yuan": "640000.00",
            "assistance_paid_yuan": "210000.00",
            "account_paid_yuan": "1020000.00",
        },
        "calibration": _calibration(),
        "monthly": _monthly(),
        "by_level": [
            {"level": level, "scheme": scheme, "visits": visits, "total_yuan": _yuan(total), "fund_yuan": _yuan(fund)}
            for (level, scheme), (visits, total, fund) in _LEVELS.items()
        ],
        "by_age": [
            {
                "age_group": group,
                "insured": people,
                "total_yuan": _yuan(total),
                "fund_yuan": _yuan(fund),
                "per_capita_yuan": _yuan(Decimal(total) / people),
            }
            for group, (people, total, fund) in _AGES.items()
        ],
        "by_visit_type": [
            {
                "visit_type": kind,
                "settlements": n,
                "total_yuan": _yuan(total),
                "fund_yuan": _yuan(fund),
                "personal_yuan": _yuan(Decimal(total) - Decimal(fund)),
            }
            for kind, (n, total, fund) in _VISIT_TYPES.items()
        ],
        "heaviest_burdens": _burdens(),
        "indicators": _indicators(),
    }
