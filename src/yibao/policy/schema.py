"""The parameters the engine understands: their paths, kinds and units.

Every parameter a policy file may name is declared here once. A path is dotted, with
placeholders for the dimensions that vary (scheme, hospital level, assistance
category, disease): ``{scheme}.inpatient.ratio.{level}`` declares
``employee.inpatient.ratio.level_3`` and its siblings. A file that names a path not
declared here is rejected, so a typo cannot silently leave a default in force.

Kinds and the unit a file must state for them:

=========================  ==========  ==============================================
kind                       unit        value in YAML
=========================  ==========  ==============================================
amount                     yuan        ``1000`` or ``"1000.00"``
amount_or_unlimited        yuan        an amount, or ``unlimited`` (不设封顶)
ratio                      ratio       ``0.95`` (at most four decimals)
ratio_list                 ratio_list  ``[1, 0.7, 0.5]``
scale                      scale       list of ``{from: yuan, rate: ratio}``
enum                       enum        one of the declared choices
bool                       bool        ``true`` / ``false``
code                       code        a string code such as ``"390200"``
count                      count       a whole number (months, years): ``3``
factor                     factor      a non-negative multiple, may exceed 1: ``3.00``
=========================  ==========  ==============================================
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum


class Kind(StrEnum):
    AMOUNT = "amount"
    AMOUNT_OR_UNLIMITED = "amount_or_unlimited"
    RATIO = "ratio"
    RATIO_LIST = "ratio_list"
    SCALE = "scale"
    ENUM = "enum"
    BOOL = "bool"
    CODE = "code"
    COUNT = "count"
    FACTOR = "factor"


UNIT_OF_KIND: dict[Kind, str] = {
    Kind.AMOUNT: "yuan",
    Kind.AMOUNT_OR_UNLIMITED: "yuan",
    Kind.RATIO: "ratio",
    Kind.RATIO_LIST: "ratio_list",
    Kind.SCALE: "scale",
    Kind.ENUM: "enum",
    Kind.BOOL: "bool",
    Kind.CODE: "code",
    Kind.COUNT: "count",
    Kind.FACTOR: "factor",
}

SCHEMES = ("employee", "resident")
LEVELS = ("level_0", "level_1", "level_2", "level_3")
#: 医疗救助 target groups (GLOSSARY.md); ``severe_disability`` = 重度残疾人
CATEGORIES = (
    "extreme_poverty",
    "subsistence_allowance",
    "near_subsistence",
    "relapse_poverty",
    "illness_impoverished",
    "severe_disability",
)

_PLACEHOLDERS: dict[str, str] = {
    "scheme": "|".join(SCHEMES),
    "level": "|".join(LEVELS),
    "category": "|".join(CATEGORIES),
    "disease": r"[A-Za-z0-9_]+",
}


@dataclass(frozen=True, slots=True)
class ParamDef:
    pattern: str
    kind: Kind
    choices: tuple[str, ...] = ()

    @property
    def unit(self) -> str:
        return UNIT_OF_KIND[self.kind]


def _d(pattern: str, kind: Kind, *choices: str) -> ParamDef:
    return ParamDef(pattern, kind, tuple(choices))


DEFINITIONS: tuple[ParamDef, ...] = (
    # which date selects the values of a settlement (DESIGN.md §2)
    _d("settlement.rule_date.inpatient", Kind.ENUM, "discharge", "admission", "settlement"),
    # fee split
    _d("{scheme}.fee_split.class_b_self_pay_first_ratio", Kind.RATIO),
    # inpatient deductible (起付线)
    _d("{scheme}.inpatient.deductible.mode", Kind.ENUM, "per_admission", "annual"),
    _d("{scheme}.inpatient.deductible.{level}", Kind.AMOUNT),
    _d(
        "{scheme}.inpatient.deductible.later_admission.mode",
        Kind.ENUM,
        "none",
        "percentage",
        "schedule",
        "fixed_step",
    ),
    _d("{scheme}.inpatient.deductible.later_admission.percentage", Kind.RATIO),
    _d("{scheme}.inpatient.deductible.later_admission.schedule", Kind.RATIO_LIST),
    _d("{scheme}.inpatient.deductible.later_admission.step", Kind.AMOUNT),
    _d("{scheme}.inpatient.deductible.later_admission.floor.{level}", Kind.AMOUNT),
    _d("{scheme}.inpatient.deductible.day_surgery_reduction", Kind.AMOUNT),
    # inpatient pooled fund (统筹基金)
    _d("{scheme}.inpatient.ratio.{level}", Kind.RATIO),
    _d("{scheme}.inpatient.ratio_bands.{level}", Kind.SCALE),
    _d("{scheme}.inpatient.ratio_bands_basis", Kind.ENUM, "per_stay", "annual"),
    _d("{scheme}.inpatient.annual_cap", Kind.AMOUNT_OR_UNLIMITED),
    _d("{scheme}.inpatient.annual_cap_basis", Kind.ENUM, "fund_payment", "eligible_fee"),
    # employee large-expense layer above the cap (职工大额医疗费用补助)
    _d("{scheme}.large_expense.enabled", Kind.BOOL),
    _d("{scheme}.large_expense.ratio", Kind.RATIO),
    _d("{scheme}.large_expense.annual_cap", Kind.AMOUNT_OR_UNLIMITED),
    # critical-illness insurance (大病保险)
    _d("{scheme}.critical_illness.enabled", Kind.BOOL),
    _d("{scheme}.critical_illness.fund_code", Kind.CODE),
    _d("{scheme}.critical_illness.threshold", Kind.AMOUNT),
    _d("{scheme}.critical_illness.mode", Kind.ENUM, "absolute", "excess"),
    _d("{scheme}.critical_illness.bands", Kind.SCALE),
    _d("{scheme}.critical_illness.annual_cap", Kind.AMOUNT_OR_UNLIMITED),
    _d("{scheme}.critical_illness.base_includes_self_pay_first", Kind.BOOL),
    _d("{scheme}.critical_illness.includes_chronic_outpatient", Kind.BOOL),
    _d("{scheme}.critical_illness.includes_outpatient_pooling", Kind.BOOL),
    # ordinary outpatient pooling (门诊共济 / 普通门诊统筹)
    _d("{scheme}.outpatient_pooling.enabled", Kind.BOOL),
    _d("{scheme}.outpatient_pooling.deductible.{level}", Kind.AMOUNT),
    _d("{scheme}.outpatient_pooling.ratio.{level}", Kind.RATIO),
    _d("{scheme}.outpatient_pooling.annual_cap", Kind.AMOUNT_OR_UNLIMITED),
    _d("{scheme}.outpatient_pooling.annual_cap_basis", Kind.ENUM, "fund_payment", "eligible_fee"),
    _d("{scheme}.outpatient_pooling.pharmacy_level", Kind.ENUM, "none", *LEVELS),
    # chronic / special disease outpatient (门诊慢特病)
    _d("{scheme}.chronic.shares_inpatient_cap", Kind.BOOL),
    _d("{scheme}.chronic.{disease}.mode", Kind.ENUM, "own_limit", "as_inpatient"),
    _d("{scheme}.chronic.{disease}.ratio", Kind.RATIO),
    _d("{scheme}.chronic.{disease}.deductible", Kind.AMOUNT),
    _d("{scheme}.chronic.{disease}.annual_limit", Kind.AMOUNT_OR_UNLIMITED),
    # personal account (个人账户) and family mutual aid (家庭共济)
    _d("{scheme}.personal_account.enabled", Kind.BOOL),
    _d("{scheme}.personal_account.scope", Kind.ENUM, "policy_range_self_pay", "all_personal_burden"),
    _d("{scheme}.personal_account.mutual_aid", Kind.BOOL),
    # medical assistance (医疗救助) by category
    _d("assistance.base_includes_self_pay_first", Kind.BOOL),
    _d("assistance.{category}.deductible", Kind.AMOUNT),
    _d("assistance.{category}.ratio", Kind.RATIO),
    _d("assistance.{category}.limit.outpatient", Kind.AMOUNT_OR_UNLIMITED),
    _d("assistance.{category}.limit.inpatient", Kind.AMOUNT_OR_UNLIMITED),
    _d("assistance.{category}.limit.total", Kind.AMOUNT_OR_UNLIMITED),
    # tilted assistance (倾斜救助) for heavy residual burdens
    _d("tilted_assistance.scope", Kind.ENUM, "per_settlement", "annual"),
    _d("tilted_assistance.base_includes_full_self_pay", Kind.BOOL),
    _d("tilted_assistance.{category}.threshold", Kind.AMOUNT),
    _d("tilted_assistance.{category}.ratio", Kind.RATIO),
    _d("tilted_assistance.{category}.limit", Kind.AMOUNT_OR_UNLIMITED),
    # contributions (缴费): employee bases and rates, account credits, resident standards
    _d("employee.contribution.average_wage", Kind.AMOUNT),
    _d("employee.contribution.base_floor_factor", Kind.FACTOR),
    _d("employee.contribution.base_ceiling_factor", Kind.FACTOR),
    _d("employee.contribution.employer_rate", Kind.RATIO),
    _d("employee.contribution.employee_rate", Kind.RATIO),
    _d("employee.contribution.account_credit_rate", Kind.RATIO),
    _d("employee.contribution.retiree_account_credit", Kind.AMOUNT),
    _d("employee.contribution.flexible_rate", Kind.RATIO),
    _d("employee.contribution.flexible_account_credit_rate", Kind.RATIO),
    _d("employee.contribution.late_fee_daily_rate", Kind.RATIO),
    _d("employee.retirement.minimum_contribution_years", Kind.COUNT),
    _d("employee.waiting_period.months_after_interruption", Kind.COUNT),
    _d("resident.contribution.individual", Kind.AMOUNT),
    _d("resident.contribution.fiscal_subsidy", Kind.AMOUNT),
    _d("resident.contribution.critical_illness_funding", Kind.AMOUNT),
    _d("assistance.{category}.contribution_subsidy", Kind.RATIO),
    # enrolment (参保): waiting periods and continuous-enrolment incentives (国办发〔2024〕38号)
    _d("resident.waiting_period.fixed_months", Kind.COUNT),
    _d("resident.waiting_period.months_per_lapsed_year", Kind.COUNT),
    _d("resident.waiting_period.months_repaired_per_extra_year", Kind.COUNT),
    _d("resident.incentive.continuous_years_threshold", Kind.COUNT),
    _d("resident.incentive.ci_cap_raise_per_year", Kind.RATIO),
    _d("resident.incentive.zero_claim_raise", Kind.RATIO),
    _d("resident.incentive.max_raise", Kind.RATIO),
    # the fund's books (基金管理): warning levels, city–county deficit sharing, the adjustment fund
    _d("fund.warning.shortage_months", Kind.COUNT),
    _d("fund.warning.reasonable_min_months", Kind.COUNT),
    _d("fund.warning.reasonable_max_months", Kind.COUNT),
    _d("fund.warning.excess_months", Kind.COUNT),
    _d("fund.pooling.county_share.under_collection", Kind.RATIO),
    _d("fund.pooling.county_share.over_budget", Kind.RATIO),
    _d("fund.pooling.county_share.within_budget", Kind.RATIO),
    _d("fund.adjustment.levy_rate", Kind.RATIO),
    _d("fund.adjustment.stop_months", Kind.COUNT),
    _d("fund.adjustment.reserve_months", Kind.COUNT),
)


def _compile(pattern: str) -> re.Pattern[str]:
    parts = []
    for segment in pattern.split("."):
        m = re.fullmatch(r"\{(\w+)\}", segment)
        parts.append(f"(?:{_PLACEHOLDERS[m.group(1)]})" if m else re.escape(segment))
    return re.compile(r"\.".join(parts))


_COMPILED = [(_compile(d.pattern), d) for d in DEFINITIONS]
_CACHE: dict[str, ParamDef | None] = {}


def definition_of(path: str) -> ParamDef | None:
    """The declaration a concrete path matches, or ``None`` if it is not a parameter."""
    if path in _CACHE:
        return _CACHE[path]
    found = next((d for rx, d in _COMPILED if rx.fullmatch(path)), None)
    _CACHE[path] = found
    return found


def expand_definitions() -> list[str]:
    """Every concrete path the declarations allow (a disease code is shown as ``X``)."""
    values = {"scheme": SCHEMES, "level": LEVELS, "category": CATEGORIES, "disease": ("X",)}
    out: list[str] = []
    for d in DEFINITIONS:
        paths = [""]
        for segment in d.pattern.split("."):
            m = re.fullmatch(r"\{(\w+)\}", segment)
            options = values[m.group(1)] if m else (segment,)
            paths = [f"{p}.{o}" if p else o for p in paths for o in options]
        out.extend(paths)
    return out
