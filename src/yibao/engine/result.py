"""The engine's output: a settlement in integer fen, its fund details and its deltas.

Fund codes are the national ``fund_pay_type`` values; :data:`SETLINFO_FIELD` maps each
to the ``setlinfo`` amount field it adds to (our reading of the specification: see
``../shared/research/national-platform.md`` §1.7). Formatting to yuan happens at the
boundary (:mod:`yibao.io.settlement_json`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import NamedTuple

POOLED_EMPLOYEE = "310100"
ACCOUNT = "310200"
CIVIL_SERVANT = "320100"
LARGE_EXPENSE = "330100"
ENTERPRISE = "370100"
POOLED_RESIDENT = "390100"
CRITICAL_ILLNESS_RESIDENT = "390200"
ASSISTANCE = "610100"
TILTED_ASSISTANCE = "610102"  # 医疗再救助 (倾斜救助), paid from the assistance fund
DISABLED_VETERAN = "350100"

FUND_NAMES: dict[str, str] = {
    "310100": "职工基本医疗保险统筹基金",
    "310102": "职工门诊统筹基金",
    "310200": "职工基本医疗保险个人账户基金",
    "310300": "职工大病补助基金",
    "320100": "公务员医疗补助基金",
    "330100": "大额医疗费用补助基金",
    "350100": "一至六级残疾军人医疗补助基金",
    "370100": "企业补充医疗保险基金",
    "390100": "城乡居民基本医疗保险基金",
    "390102": "居民门诊统筹基金",
    "390200": "城乡居民大病医疗保险基金",
    "610100": "医疗救助基金",
    "610102": "医疗再救助基金（倾斜救助）",
}

#: fund_pay_type → setlinfo field; anything else goes to ``oth_pay``
SETLINFO_FIELD: dict[str, str] = {
    "310100": "hifp_pay",
    "310102": "hifp_pay",
    "390100": "hifp_pay",
    "390102": "hifp_pay",
    "320100": "cvlserv_pay",
    "370100": "hifes_pay",
    "390200": "hifmi_pay",
    "330100": "hifob_pay",
    "610100": "maf_pay",
    "610102": "maf_pay",
    "350100": "hifdm_pay",
    "310200": "acct_pay",
}


def pooled_fund_code(scheme: str) -> str:
    return POOLED_EMPLOYEE if scheme == "employee" else POOLED_RESIDENT


@dataclass(slots=True)
class FundDetail:
    """One ``setldetail`` row."""

    fund_code: str
    amount: int
    base: int  # inscp_scp_amt: the amount this fund considered
    limit_available: int | None  # crt_payb_lmt_amt: what the fund could still pay this time
    note: str  # setl_proc_info

    @property
    def name(self) -> str:
        return FUND_NAMES.get(self.fund_code, "其他基金")


class LineSplit(NamedTuple):
    """A fee line's split (the 2301 / 2204 answer). A named tuple: one is built per line."""

    position: int  # the line's index in the claim
    line_no: str
    item_code: str
    item_class: int
    amount: int
    full_self_pay: int
    over_limit: int
    self_pay_first: int
    policy_range: int
    self_pay_first_ratio: int
    price_cap: str  # yuan per unit, "" when none
    reason: str  # "" or a code such as R-sex, C (丙类)


@dataclass(slots=True)
class Settlement:
    claim_id: str
    person_id: str
    scheme: str
    region: str
    visit_type: str
    rule_date: str
    year: int
    snapshot_id: str
    total: int = 0
    full_self_pay: int = 0
    over_limit: int = 0
    self_pay_first: int = 0
    policy_range: int = 0
    deductible_paid: int = 0
    pooled_ratio: int = 0
    fund_pay_total: int = 0
    personal_burden: int = 0
    account_pay: int = 0  # own account (the national acct_pay adds mutual_aid_pay)
    mutual_aid_pay: int = 0
    cash_pay: int = 0
    hospital_burden: int = 0
    account_balance: int = 0
    mutual_aid_balance_after: int | None = None
    details: list[FundDetail] = field(default_factory=list)
    lines: list[LineSplit] | None = None
    deltas: dict[str, object] = field(default_factory=dict)
    reasons: list[str] = field(default_factory=list)
    reverses: str | None = None

    def fund(self, code: str) -> int:
        return sum(d.amount for d in self.details if d.fund_code == code)

    def setlinfo_amount(self, name: str) -> int:
        return sum(d.amount for d in self.details if SETLINFO_FIELD.get(d.fund_code, "oth_pay") == name)

    @property
    def pooled_fund_pay(self) -> int:
        return self.setlinfo_amount("hifp_pay")

    @property
    def assistance_pay(self) -> int:
        return self.setlinfo_amount("maf_pay")

    def identities(self) -> list[str]:
        """The identities of DESIGN.md §2 that do not hold (empty when all hold)."""
        broken = []
        if self.total != self.full_self_pay + self.over_limit + self.self_pay_first + self.policy_range:
            broken.append("total = full_self_pay + over_limit + self_pay_first + policy_range")
        if self.total != self.fund_pay_total + self.personal_burden + self.hospital_burden:
            broken.append("total = fund_pay_total + personal_burden + hospital_burden")
        if self.personal_burden != self.account_pay + self.mutual_aid_pay + self.cash_pay:
            broken.append("personal_burden = account_pay + mutual_aid_pay + cash_pay")
        funds = sum(d.amount for d in self.details if d.fund_code != ACCOUNT)
        if self.fund_pay_total != funds:
            broken.append("fund_pay_total = Σ setldetail (excluding the personal account)")
        return broken
