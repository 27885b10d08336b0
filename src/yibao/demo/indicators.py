"""The bureau's indicators for the demo year, read back from the database with SQL.

Everything here is computed from the stored rows — settlements, enrolments, collections,
fiscal subsidies — so the figures are what a later query of the same database gives.

Definitions (written in the report's notes too):

* fund income (基金收入): contributions received (单位 + 个人 + 医疗救助代缴 + 滞纳金) plus
  fiscal subsidies, by scheme. Residents' payments received in the previous autumn's
  enrolment window are income of this year, shown in January.
* fund expenditure (基金支出): what the basic insurance funds paid — pooled fund (统筹), the
  employee large-expense layer (大额), resident 大病保险, and personal-account payments.
  Medical assistance and the civil-servant subsidy are not basic-insurance funds.
* policy-range inpatient fund share (政策范围内住院费用基金支付比例): insurance payments
  (统筹 + 大额 + 大病 + 公务员补助) on inpatient settlements ÷ their policy-range cost.
* assistance share for key groups (重点救助对象住院救助比例): medical assistance paid to 特困
  and 低保 persons' inpatient settlements ÷ the policy-range cost left to them after the
  insurance layers.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from fractions import Fraction
from typing import Any

from sqlalchemy import Engine, func, select

from yibao.io.claim_json import SCHEME_INSUTYPE
from yibao.money import fen_to_yuan as yuan
from yibao.service.registry import age_on
from yibao.sim.city import CENSUS_DAY
from yibao.store import funding, models
from yibao.store.pii import LABEL_NAME, PiiCipher, mask_name

SCHEMES = {insutype: scheme for scheme, insutype in SCHEME_INSUTYPE.items()}
KEY_GROUPS = ("extreme_poverty", "subsistence_allowance")
LEVELS = {0: "基层", 1: "一级", 2: "二级", 3: "三级"}
VISIT_TYPES = {"outpatient": "普通门诊", "chronic": "门诊慢特病", "inpatient": "住院", "pharmacy": "定点药店购药"}
AGE_GROUPS = ((0, 17, "0-17"), (18, 44, "18-44"), (45, 59, "45-59"), (60, 64, "60-64"), (65, 74, "65-74"),
              (75, 200, "75+"))  # fmt: skip
CATEGORY_NAMES = {"extreme_poverty": "特困", "subsistence_allowance": "低保", "near_subsistence": "低保边缘",
                  "relapse_poverty": "返贫致贫", "illness_impoverished": "因病致贫", "severe_disability": "重度残疾",
                  "retiree": "退休", "active": "在职", "flexible": "灵活就业"}  # fmt: skip


def share(numerator: int, denominator: int) -> Fraction | None:
    return Fraction(numerator, denominator) if denominator else None


@dataclass(slots=True)
class YearFigures:
    """The year's figures in fen and counts; :mod:`yibao.demo.summary` turns them into the report."""

    year: int
    insured: dict[str, int]
    retirees: int
    age_60: int
    age_65: int
    income: dict[str, int]
    expenditure: dict[str, int]
    retiree_expenditure: int
    monthly_income: dict[tuple[int, str], int]
    monthly_expenditure: dict[tuple[int, str], int]
    inpatient_policy_range: dict[str, int]
    inpatient_insurance: dict[str, int]
    key_group_base: int
    key_group_assistance: int
    settlements: int
    by_level: dict[tuple[str, str], list[int]]  # (level, scheme) → [visits, total, fund]
    by_age: dict[str, list[int]]  # age group → [insured, total, fund]
    by_visit_type: dict[str, list[int]]  # visit type → [settlements, total, fund, personal]
    burdens: list[dict[str, object]]
    paid: dict[str, int]  # critical_illness, assistance, account, civil_servant


def _age_group(age: int) -> str:
    return next(name for lo, hi, name in AGE_GROUPS if lo <= age <= hi)


def read_figures(engine: Engine, year: int, cipher: PiiCipher, top: int = 20) -> YearFigures:
    p, e, s = models.Person.__table__, models.Enrolment.__table__, models.Settlement.__table__
    v = models.Visit.__table__
    mid = date(year, *CENSUS_DAY)  # ages as the census counts them
    with engine.connect() as conn:
        people = conn.execute(select(e.c.psn_no, e.c.insutype, e.c.psn_type, e.c.assistance_category, p.c.birth_date)
                              .join(p, p.c.psn_no == e.c.psn_no)).all()  # fmt: skip
        who = {r.psn_no: r for r in people}
        insured: dict[str, int] = defaultdict(int)
        ages: dict[str, int] = {}
        by_age: dict[str, list[int]] = {name: [0, 0, 0] for _, _, name in AGE_GROUPS}
        retirees = age_60 = age_65 = 0
        for person in people:
            insured[SCHEMES[person.insutype]] += 1
            retirees += person.psn_type.startswith(("12", "13"))
            age = age_on(person.birth_date, mid)
            ages[person.psn_no] = age
            age_60 += age >= 60
            age_65 += age >= 65
            by_age[_age_group(age)][0] += 1

        income: dict[str, int] = defaultdict(int)
        monthly_income: dict[tuple[int, str], int] = defaultdict(int)
        c = funding.Collection.__table__
        amount = c.c.employer_amount + c.c.personal_amount + c.c.assistance_amount + c.c.late_fee
        for insutype, paid_on, total in conn.execute(
            select(c.c.insutype, c.c.paid_on, func.sum(amount)).where(c.c.period.between(date(year, 1, 1), date(year, 12, 31)))
            .group_by(c.c.insutype, c.c.paid_on)
        ):  # fmt: skip
            scheme = SCHEMES[insutype]
            income[scheme] += int(total)
            month = paid_on.month if paid_on.year == year else (1 if paid_on.year < year else 12)
            monthly_income[month, scheme] += int(total)
        f = funding.FiscalSubsidy.__table__
        for insutype, month, total in conn.execute(
            select(f.c.insutype, f.c.month, func.sum(f.c.amount)).where(f.c.month.between(date(year, 1, 1), date(year, 12, 31)))
            .group_by(f.c.insutype, f.c.month)
        ):  # fmt: skip
            income[SCHEMES[insutype]] += int(total)
            monthly_income[month.month, SCHEMES[insutype]] += int(total)

        basic = s.c.hifp_pay + s.c.hifob_pay + s.c.hifmi_pay + s.c.acct_pay
        insurance = s.c.hifp_pay + s.c.hifob_pay + s.c.hifmi_pay + s.c.cvlserv_pay
        rows = conn.execute(
            select(s.c.psn_no, s.c.insutype, s.c.visit_type, s.c.setl_time, v.c.hospital_level, v.c.treatment_region,
                   v.c.insured_region, s.c.medfee_sumamt, basic.label("basic"), insurance.label("insurance"),
                   s.c.inscp_scp_amt, s.c.maf_pay, s.c.psn_part_amt, s.c.hifmi_pay, s.c.hifob_pay, s.c.acct_pay,
                   s.c.cvlserv_pay, s.c.fund_pay_sumamt)
            .join(v, v.c.mdtrt_id == s.c.mdtrt_id).where(s.c.year == year, s.c.status == "settled")
        ).all()  # fmt: skip

    expenditure: dict[str, int] = defaultdict(int)
    monthly_expenditure: dict[tuple[int, str], int] = defaultdict(int)
    ip_range: dict[str, int] = defaultdict(int)
    ip_insurance: dict[str, int] = defaultdict(int)
    by_level: dict[tuple[str, str], list[int]] = {}
    by_type: dict[str, list[int]] = {name: [0, 0, 0, 0] for name in VISIT_TYPES.values()}
    per_person: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0, 0])
    paid = dict.fromkeys(("critical_illness", "assistance", "account", "civil_servant"), 0)
    retiree_exp = key_base = key_aid = 0
    for r in rows:
        scheme = SCHEMES[r.insutype]
        expenditure[scheme] += r.basic
        monthly_expenditure[r.setl_time.month, scheme] += r.basic
        person = who[r.psn_no]
        if person.psn_type.startswith(("12", "13")):
            retiree_exp += r.basic
        if r.visit_type == "inpatient":
            ip_range[scheme] += r.inscp_scp_amt
            ip_insurance[scheme] += r.insurance
            if person.assistance_category in KEY_GROUPS:
                key_base += r.inscp_scp_amt - r.insurance
                key_aid += r.maf_pay
        outside = r.treatment_region[:4] != r.insured_region[:4]
        level = "市外" if outside else LEVELS[r.hospital_level]
        if r.visit_type != "pharmacy":
            cell = by_level.setdefault((level, scheme), [0, 0, 0])
            cell[0] += 1
            cell[1] += r.medfee_sumamt
            cell[2] += r.fund_pay_sumamt
        group = by_age[_age_group(ages[r.psn_no])]
        group[1] += r.medfee_sumamt
        group[2] += r.fund_pay_sumamt
        t = by_type[VISIT_TYPES[r.visit_type]]
        t[0] += 1
        t[1] += r.medfee_sumamt
        t[2] += r.fund_pay_sumamt
        t[3] += r.psn_part_amt
        mine = per_person[r.psn_no]
        mine[0] += r.medfee_sumamt
        mine[1] += r.fund_pay_sumamt - r.maf_pay
        mine[2] += r.maf_pay
        mine[3] += r.psn_part_amt
        paid["critical_illness"] += r.hifmi_pay + r.hifob_pay
        paid["assistance"] += r.maf_pay
        paid["account"] += r.acct_pay
        paid["civil_servant"] += r.cvlserv_pay
    return YearFigures(
        year=year,
        insured=dict(insured),
        retirees=retirees,
        age_60=age_60,
        age_65=age_65,
        income=dict(income),
        expenditure=dict(expenditure),
        retiree_expenditure=retiree_exp,
        monthly_income=dict(monthly_income),
        monthly_expenditure=dict(monthly_expenditure),
        inpatient_policy_range=dict(ip_range),
        inpatient_insurance=dict(ip_insurance),
        key_group_base=key_base,
        key_group_assistance=key_aid,
        settlements=len(rows),
        by_level=by_level,
        by_age=by_age,
        by_visit_type=by_type,
        burdens=_burdens(engine, per_person, who, cipher, top),
        paid=paid,
    )


def _burdens(
    engine: Engine, per_person: Mapping[str, list[int]], who: Mapping[str, Any], cipher: PiiCipher, top: int
) -> list[dict[str, object]]:
    """The persons with the heaviest personal burden of the year, masked."""
    heaviest = sorted(per_person.items(), key=lambda kv: (-kv[1][3], kv[0]))[:top]
    p = models.Person.__table__
    with engine.connect() as conn:
        names = dict(
            conn.execute(select(p.c.psn_no, p.c.name_enc).where(p.c.psn_no.in_([k for k, _ in heaviest]))).all()
        )
    out: list[dict[str, object]] = []
    for psn_no, (total, fund, aid, personal) in heaviest:
        r = who[psn_no]
        category = r.assistance_category
        psn_type = r.psn_type
        label = CATEGORY_NAMES.get(category) or (
            "退休" if psn_type.startswith("12") else "在职" if psn_type.startswith("11") else "一般"
        )
        out.append({
            "psn_no_masked": psn_no[:4] + "****" + psn_no[-4:],
            "name_masked": mask_name(cipher.decrypt(names[psn_no], LABEL_NAME)),
            "scheme": "职工" if r.insutype == "310" else "居民",
            "category": label,
            "total_yuan": yuan(total),
            "fund_yuan": yuan(fund),
            "assistance_yuan": yuan(aid),
            "personal_yuan": yuan(personal),
        })  # fmt: skip
    return out
