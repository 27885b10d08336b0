"""The demo's results: ``summary.json`` and the data :func:`yibao.report.render_report` draws.

Counts and money are given for the simulated sample and, where a reader compares with the
city, divided by the scale (``按比例换算``); shares are shares. Amounts are decimal-yuan
strings, shares decimal strings with four places.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction

from yibao.demo.indicators import AGE_GROUPS, YearFigures, share
from yibao.money import fen_to_yuan as yuan
from yibao.sim.targets import CHAOZHOU_2020, Target, within


def _dec(x: Fraction, places: str = "0.0001") -> str:
    return str((Decimal(x.numerator) / Decimal(x.denominator)).quantize(Decimal(places), rounding=ROUND_HALF_UP))


def _share(x: Fraction | None) -> str | None:
    return None if x is None else _dec(x)


def measured(f: YearFigures) -> dict[str, Fraction | None]:
    """The calibration quantities as fractions (counts, yuan, shares), keyed as the targets are."""
    insured = sum(f.insured.values())
    employees = f.insured.get("employee", 0)
    return {
        "insured_total": Fraction(insured),
        "insured_employee": Fraction(employees),
        "insured_resident": Fraction(f.insured.get("resident", 0)),
        "fund_income_yuan": Fraction(sum(f.income.values()), 100),
        "fund_expenditure_yuan": Fraction(sum(f.expenditure.values()), 100),
        **{
            f"policy_range_inpatient_fund_share.{s}": share(
                f.inpatient_insurance.get(s, 0), f.inpatient_policy_range.get(s, 0)
            )
            for s in ("employee", "resident")
        },
        "assistance_share_for_key_groups": share(f.key_group_assistance, f.key_group_base),
        "age_60_plus_share": share(f.age_60, insured),
        "age_65_plus_share": share(f.age_65, insured),
        "retiree_share": share(f.retirees, employees),
        "retiree_share_of_employee_spending": share(f.retiree_expenditure, f.expenditure.get("employee", 0)),
    }


def summary(f: YearFigures, scale: Fraction, seed: int) -> dict[str, object]:
    m = measured(f)
    insured = sum(f.insured.values())

    def by_scheme(values: dict[str, int]) -> dict[str, str]:
        return {"total": yuan(sum(values.values())), **{s: yuan(values.get(s, 0)) for s in ("employee", "resident")}}

    return {
        "scale": _dec(scale, "0.000001"),
        "seed": seed,
        "year": f.year,
        "insured_total": insured,
        "insured_employee": f.insured.get("employee", 0),
        "insured_resident": f.insured.get("resident", 0),
        "retiree_share": _share(m["retiree_share"]),
        "fund_income_yuan": by_scheme(f.income),
        "fund_expenditure_yuan": by_scheme(f.expenditure),
        "per_capita": {
            "income_yuan": yuan(round(Fraction(sum(f.income.values()), insured))) if insured else None,
            "expenditure_yuan": yuan(round(Fraction(sum(f.expenditure.values()), insured))) if insured else None,
        },
        "policy_range_inpatient_fund_share": {
            s: _share(m[f"policy_range_inpatient_fund_share.{s}"]) for s in ("employee", "resident")
        },
        "assistance_share_for_key_groups": _share(m["assistance_share_for_key_groups"]),
        "settlements_total": f.settlements,
        "age_60_plus_share": _share(m["age_60_plus_share"]),
        "age_65_plus_share": _share(m["age_65_plus_share"]),
        "retiree_share_of_employee_spending": _share(m["retiree_share_of_employee_spending"]),
        "critical_illness_paid_yuan": yuan(f.paid["critical_illness"]),
        "assistance_paid_yuan": yuan(f.paid["assistance"]),
        "account_paid_yuan": yuan(f.paid["account"]),
        "civil_servant_paid_yuan": yuan(f.paid["civil_servant"]),
    }


def _display(t: Target, value: Fraction) -> tuple[str, str]:
    """A target or result as the report shows it: 万人, 亿元 or %."""
    if t.kind == "count":
        return _dec(value / 10_000, "0.01"), "万人"
    if t.kind == "yuan":
        return _dec(value / 100_000_000, "0.01"), "亿元"
    return _dec(value * 100, "0.01"), "%"


def calibration(f: YearFigures, scale: Fraction) -> list[dict[str, object]]:
    m = measured(f)
    rows: list[dict[str, object]] = []
    for t in CHAOZHOU_2020:
        result = m[t.key]
        shown_target, unit = _display(t, t.value)
        tolerance = (
            f"±{_dec(t.tolerance * 100, '1')}%" if t.kind != "share" else f"±{_dec(t.tolerance * 100, '1')}个百分点"
        )
        row: dict[str, object] = {
            "metric": t.name + ("（按比例换算）" if t.kind != "share" else ""),
            "target": shown_target,
            "unit": unit,
            "source": t.source,
            "tolerance": tolerance,
            "result": None,
            "ok": None,
        }
        if result is not None:
            city = result / scale if t.kind != "share" else result
            row["result"] = _display(t, city)[0]
            row["ok"] = within(t, result, scale)
        rows.append(row)
    return rows


def report_data(f: YearFigures, scale: Fraction, seed: int, meta: dict[str, object]) -> dict[str, object]:
    s = summary(f, scale, seed)
    months = range(1, 13)
    schemes = ("employee", "resident")
    cal = calibration(f, scale)

    def shown(key: str) -> str:
        return next(str(r["result"] or "—") for r in cal if str(r["metric"]).startswith(key))

    income_city = _dec(Fraction(sum(f.income.values()), 100) / scale / 100_000_000, "0.01")
    spending_city = _dec(Fraction(sum(f.expenditure.values()), 100) / scale / 100_000_000, "0.01")
    return {
        "meta": {**meta, "scale": s["scale"], "seed": seed, "year": f.year},
        "summary": s,
        "calibration": cal,
        "monthly": [
            {
                "month": f"{f.year}-{m:02d}",
                "income_yuan": {k: yuan(f.monthly_income.get((m, k), 0)) for k in schemes},
                "expenditure_yuan": {k: yuan(f.monthly_expenditure.get((m, k), 0)) for k in schemes},
            }
            for m in months
        ],
        "by_level": [
            {"level": level, "scheme": scheme, "visits": v[0], "total_yuan": yuan(v[1]), "fund_yuan": yuan(v[2])}
            for (level, scheme), v in sorted(f.by_level.items(), key=lambda kv: (kv[0][1], _LEVEL_ORDER[kv[0][0]]))
        ],
        "by_age": [
            {
                "age_group": name,
                "insured": f.by_age[name][0],
                "total_yuan": yuan(f.by_age[name][1]),
                "fund_yuan": yuan(f.by_age[name][2]),
            }
            for _, _, name in AGE_GROUPS
        ],
        "by_visit_type": [
            {
                "visit_type": kind,
                "settlements": v[0],
                "total_yuan": yuan(v[1]),
                "fund_yuan": yuan(v[2]),
                "personal_yuan": yuan(v[3]),
            }
            for kind, v in f.by_visit_type.items()
        ],
        "heaviest_burdens": f.burdens,
        "indicators": [
            _indicator(
                "基金安全",
                "基本医疗保险基金收入（按比例换算全市）",
                "亿元",
                income_city,
                "28.44（2020年）",
                "不含生育保险",
            ),
            _indicator(
                "基金安全",
                "基本医疗保险基金支出（按比例换算全市）",
                "亿元",
                spending_city,
                "24.38（2020年）",
                "统筹、大额、大病与个人账户支付",
            ),
            _indicator(
                "保障程度",
                "职工基本医疗保险政策范围内住院费用基金支付比例",
                "%",
                shown("职工政策范围内"),
                "保持稳定（2020年：85.2）",
                "",
            ),
            _indicator(
                "保障程度",
                "城乡居民基本医疗保险政策范围内住院费用基金支付比例",
                "%",
                shown("居民政策范围内"),
                "保持稳定（2020年：70）",
                "",
            ),
            _indicator(
                "保障程度",
                "重点救助对象符合规定的住院医疗费用救助比例",
                "%",
                shown("重点救助对象"),
                "保持稳定（2020年：80）",
                "特困人员与低保对象",
            ),
            _indicator(
                "精细管理",
                "实行按疾病诊断相关分组付费和按病种付费的住院费用占全部住院费用的比例",
                "%",
                "—",
                "90",
                "本演示未模拟支付方式改革",
            ),
        ],
    }


_LEVEL_ORDER = {"基层": 0, "一级": 1, "二级": 2, "三级": 3, "市外": 4}


def _indicator(category: str, name: str, unit: str, value: str, target: str, note: str) -> dict[str, object]:
    return {"category": category, "name": name, "unit": unit, "value": value, "target": target, "note": note}
