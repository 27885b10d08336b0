"""The engine's inputs: a claim (visit and its bill) and the person's status on that date.

Amounts are integer fen; unit prices and quantities are exact ``Decimal``. These are
plain values: parsing and validation of documents happen in :mod:`yibao.io.claim_json`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

INPATIENT, OUTPATIENT, CHRONIC, PHARMACY = "inpatient", "outpatient", "chronic", "pharmacy"
VISIT_TYPES = (INPATIENT, OUTPATIENT, CHRONIC, PHARMACY)
EMPLOYEE, RESIDENT = "employee", "resident"

#: personal-account use (national ``acct_used_flag``): 0 none, 1 own account, 2 a family member's (共济)
ACCOUNT_NONE, ACCOUNT_OWN, ACCOUNT_MUTUAL_AID = 0, 1, 2


@dataclass(frozen=True, slots=True)
class FeeLine:
    """One fee line (费用明细): item, unit price, quantity and amount."""

    item_code: str
    amount: int  # fen (det_item_fee_sumamt)
    price: Decimal  # yuan per unit (pric)
    quantity: Decimal  # cnt
    declared_class: int | None = None  # chrgitm_lv 1/2/3 when the item is not in the catalogue
    indication_met: bool = True  # a restricted item's indication (限定支付范围) is met
    line_no: str = ""  # feedetl_sn


@dataclass(frozen=True, slots=True)
class SplitTotals:
    """Pre-split totals, as published worked examples give them."""

    total: int
    full_self_pay: int
    over_limit: int
    self_pay_first: int
    policy_range: int


@dataclass(frozen=True, slots=True)
class Claim:
    claim_id: str
    insured_region: str  # insuplc_admdvs
    treatment_region: str  # mdtrtarea_admvs
    visit_type: str
    hospital_level: int  # 0 (基层) … 3
    settlement_date: date
    admission_date: date | None = None
    discharge_date: date | None = None
    diagnoses: tuple[str, ...] = ()
    disease: str = ""  # 门诊慢特病 病种 code, for chronic visits
    day_surgery: bool = False
    transfer_from_level: int | None = None  # 转院: the level of the hospital the patient came from
    filed: bool = False  # 异地就医备案
    fee_lines: tuple[FeeLine, ...] | None = None
    totals: SplitTotals | None = None
    account_use: int = ACCOUNT_OWN
    mutual_aid_balance: int = 0  # balance of the family member's account when account_use == 2


@dataclass(frozen=True, slots=True)
class Person:
    """The insured person's status on the date of the claim."""

    person_id: str  # psn_no
    scheme: str  # employee | resident
    person_type: str  # active | retiree | flexible | student | minor | adult
    age: int
    sex: str = "male"
    assistance_category: str = "none"
    civil_servant: bool = False
    benefits_from: date | None = None  # 待遇享受起始日: before it (等待期) no fund pays
    critical_illness_cap_raise: int = 0  # bp of the 大病 cap added for continuous enrolment (连续参保激励)
