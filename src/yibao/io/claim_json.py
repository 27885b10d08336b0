"""Read claim and state documents (JSON) into engine values.

The formats are documented in ``docs/claim-format.md``. Field names follow the
national interface where it has one (``insuplc_admdvs``, ``med_type``, ``pric``,
``cnt``, ``det_item_fee_sumamt``, ``chrgitm_lv`` …); English names are accepted as
aliases. Code tables (med_type, psn_type, insutype) use the national baseline values.
"""

from __future__ import annotations

from collections.abc import Mapping

from yibao.engine.model import (
    ACCOUNT_MUTUAL_AID,
    ACCOUNT_NONE,
    ACCOUNT_OWN,
    CHRONIC,
    EMPLOYEE,
    INPATIENT,
    OUTPATIENT,
    PHARMACY,
    RESIDENT,
    VISIT_TYPES,
    Claim,
    FeeLine,
    Person,
    SplitTotals,
)
from yibao.engine.state import CHRONIC_COUNTERS, COUNTERS, Accumulators
from yibao.errors import InputError
from yibao.io.fields import Fields
from yibao.money import decimal_to_fen_half_up
from yibao.policy.context import PERSON_TYPES
from yibao.policy.regions import is_region_code
from yibao.policy.schema import CATEGORIES

#: national med_type baseline → (visit type, day surgery)
MED_TYPES: dict[str, tuple[str, bool]] = {
    "11": (OUTPATIENT, False),
    "12": (OUTPATIENT, False),
    "13": (OUTPATIENT, False),
    "14": (CHRONIC, False),
    "21": (INPATIENT, False),
    "22": (INPATIENT, False),
    "24": (INPATIENT, False),
    "28": (INPATIENT, True),
    "41": (PHARMACY, False),
}
INSUTYPES = {"310": EMPLOYEE, "390": RESIDENT, EMPLOYEE: EMPLOYEE, RESIDENT: RESIDENT}
SCHEME_INSUTYPE = {EMPLOYEE: "310", RESIDENT: "390"}
SEXES = {"1": "male", "2": "female", "male": "male", "female": "female", "男": "male", "女": "female"}
CLASSES = {"01": 1, "1": 1, "02": 2, "2": 2, "03": 3, "3": 3}
ACCOUNT_FLAGS = {"0": ACCOUNT_NONE, "1": ACCOUNT_OWN, "2": ACCOUNT_MUTUAL_AID}


def person_type_of(psn_type: str) -> str:
    """National 人员类别 (4-digit structure, national-platform.md §1.7) → person type."""
    if psn_type in PERSON_TYPES:
        return psn_type
    if psn_type.startswith("1103"):
        return "flexible"
    if psn_type.startswith("11"):
        return "active"
    if psn_type.startswith(("12", "13")):
        return "retiree"
    if psn_type.startswith(("1403", "1404")):
        return "student"
    if psn_type.startswith("14"):
        return "minor"
    if psn_type.startswith("15"):
        return "adult"
    raise InputError("person.psn_type", f"无法识别的人员类别 {psn_type!r}")


def read_person(f: Fields) -> Person:
    scheme = f.choice("insutype", INSUTYPES, "scheme")
    person_type = person_type_of(f.text("psn_type", "person_type"))
    if scheme == EMPLOYEE and person_type in ("student", "minor", "adult"):
        raise InputError(f.where("psn_type"), "职工医保参保人的人员类别应为在职、退休或灵活就业")
    if scheme == RESIDENT and person_type in ("active", "retiree", "flexible"):
        raise InputError(f.where("psn_type"), "居民医保参保人的人员类别应为学生、未成年人或成年居民")
    age = f.integer("age")
    assert age is not None
    if not 0 <= age <= 130:
        raise InputError(f.where("age"), f"年龄不合理：{age}")
    category = f.text("assistance_category", required=False, default="none")
    if category not in (*CATEGORIES, "none"):
        raise InputError(f.where("assistance_category"), f"取值 {category!r} 不在 {[*CATEGORIES, 'none']} 内")
    return Person(
        person_id=f.text("psn_no", "person_id"),
        scheme=scheme,
        person_type=person_type,
        age=age,
        sex=f.choice("gend", SEXES, "sex", required=False) or "male",
        assistance_category=category,
        civil_servant=f.flag("cvlserv_flag", "civil_servant"),
    )


def _region(f: Fields, *names: str) -> str:
    code = f.text(*names)
    if not is_region_code(code):
        raise InputError(f.where(names[0]), f"医保区划代码应为6位数字：{code!r}")
    return code


def _level(f: Fields, *names: str, required: bool = True) -> int | None:
    level = f.integer(*names, required=required)
    if level is not None and not 0 <= level <= 3:
        raise InputError(f.where(names[0]), f"医院等级应为 0（基层）到 3：{level}")
    return level


def read_fee_line(f: Fields, index: int) -> FeeLine:
    price = f.decimal("pric", "price")
    quantity = f.decimal("cnt", "quantity")
    assert price is not None and quantity is not None
    if price < 0:
        raise InputError(f.where("pric"), "单价不能为负")
    if f.has("det_item_fee_sumamt", "amount"):
        amount = f.fen("det_item_fee_sumamt", "amount")
    else:
        amount = decimal_to_fen_half_up(price * quantity)
    # declared_class: the batch lines column (docs/batch.md), which the DuckDB reader reads too
    declared = f.choice("chrgitm_lv", {k: k for k in CLASSES}, "item_class", "declared_class", required=False)
    return FeeLine(
        item_code=f.text("hilist_code", "item_code", "med_list_codg"),
        amount=amount,
        price=price,
        quantity=quantity,
        declared_class=CLASSES[declared] if declared else None,
        indication_met=f.flag("lmt_used_flag", "indication_met", default=True),
        line_no=f.text("feedetl_sn", "line_no", required=False, default=str(index + 1)),
    )


def read_totals(f: Fields) -> SplitTotals:
    t = SplitTotals(
        total=f.fen("medfee_sumamt", "total"),
        full_self_pay=f.fen("fulamt_ownpay_amt", "full_self_pay", required=False),
        over_limit=f.fen("overlmt_selfpay", "over_limit", required=False),
        self_pay_first=f.fen("preselfpay_amt", "self_pay_first", required=False),
        policy_range=f.fen("inscp_scp_amt", "policy_range"),
    )
    if t.total != t.full_self_pay + t.over_limit + t.self_pay_first + t.policy_range:
        raise InputError(
            f.where("medfee_sumamt"), "医疗费总额应等于 全自费 + 超限价 + 先行自付 + 符合政策范围金额 之和"
        )
    for name, value in (
        ("fulamt_ownpay_amt", t.full_self_pay),
        ("overlmt_selfpay", t.over_limit),
        ("preselfpay_amt", t.self_pay_first),
        ("inscp_scp_amt", t.policy_range),
    ):
        if value < 0:
            raise InputError(f.where(name), "金额不能为负")
    return t


def read_claim(data: object) -> tuple[Claim, Person]:
    f = Fields(data, "")
    if f.has("visit_type"):
        visit = f.text("visit_type")
        if visit not in VISIT_TYPES:
            raise InputError("visit_type", f"取值 {visit!r} 不在 {list(VISIT_TYPES)} 内")
        day_surgery = f.flag("day_surgery")
    else:
        visit, day_surgery = MED_TYPES.get(f.text("med_type"), ("", False))
        if not visit:
            raise InputError("med_type", f"未配置的医疗类别 {f.text('med_type')!r}；可用 {sorted(MED_TYPES)}")
        day_surgery = day_surgery or f.flag("day_surgery")
    person = read_person(f.sub("person"))
    insured = _region(f, "insuplc_admdvs", "insured_region")
    treatment = (
        _region(f, "mdtrtarea_admvs", "treatment_region") if f.has("mdtrtarea_admvs", "treatment_region") else insured
    )
    lines = None
    totals = None
    if f.has("fee_lines", "feedetail"):
        key = "fee_lines" if f.has("fee_lines") else "feedetail"
        items = f.items(key)
        lines = tuple(read_fee_line(x, i) for i, x in enumerate(items))
    if f.has("totals"):
        if lines is not None:
            raise InputError("totals", "费用明细 fee_lines 与分割合计 totals 只能给出其一")
        totals = read_totals(f.sub("totals"))
    if lines is None and totals is None:
        raise InputError("fee_lines", "必须给出费用明细 fee_lines 或分割合计 totals")
    level = _level(f, "hosp_lv", "hospital_level")
    assert level is not None
    admission = f.day("adm_date", "begndate", "admission_date", required=visit == INPATIENT and not f.has("dscg_date"))
    discharge = f.day("dscg_date", "enddate", "discharge_date", required=False)
    settlement = f.day("setl_date", "settlement_date", required=False) or discharge or admission
    if settlement is None:
        raise InputError("setl_date", "缺少结算日期")
    if admission and discharge and discharge < admission:
        raise InputError("dscg_date", "出院日期早于入院日期")
    account_use = ACCOUNT_FLAGS[f.choice("acct_used_flag", {k: k for k in ACCOUNT_FLAGS}, required=False) or "1"]
    diseases = f.data.get("diagnoses") or []
    if not isinstance(diseases, list):
        raise InputError("diagnoses", "应为诊断代码数组")
    claim = Claim(
        claim_id=f.text("claim_id", "mdtrt_id", "setl_id"),
        insured_region=insured,
        treatment_region=treatment,
        visit_type=visit,
        hospital_level=level,
        settlement_date=settlement,
        admission_date=admission,
        discharge_date=discharge,
        diagnoses=tuple(str(d) for d in diseases),
        disease=f.text("disease", "opsp_dise_code", required=visit == CHRONIC),
        day_surgery=day_surgery,
        transfer_from_level=_level(f, "transfer_from_level", required=False),
        filed=f.flag("out_of_area_filed", "filed"),
        fee_lines=lines,
        totals=totals,
        account_use=account_use,
        mutual_aid_balance=f.fen("mutual_aid_balance", required=account_use == ACCOUNT_MUTUAL_AID),
    )
    return claim, person


def read_state(data: object) -> Accumulators:
    f = Fields(data, "state")
    year = f.integer("year")
    assert year is not None
    state = Accumulators(
        person_id=f.text("psn_no", "person_id"),
        scheme=f.choice("insutype", INSUTYPES, "scheme"),
        region=_region(f, "region"),
        year=year,
        account_balance=f.fen("account_balance", "balc", required=False),
    )
    for name in COUNTERS:
        value = f.integer(name, required=False, default=0) if name == "admissions" else f.fen(name, required=False)
        assert value is not None
        if value < 0:
            raise InputError(f.where(name), "累计数不能为负")
        setattr(state, name, value)
    chronic = f.data.get("chronic") or {}
    if not isinstance(chronic, Mapping):
        raise InputError("state.chronic", "应为 病种代码: {paid, deductible_paid} 的对象")
    for disease, slot in chronic.items():
        sf = Fields(slot, f"state.chronic.{disease}")
        for counter in CHRONIC_COUNTERS:
            state.add_chronic(str(disease), counter, sf.fen(counter, required=False))
    return state
