"""The chart of accounts (会计科目) of the pooled funds' books.

An account is (kind, fund, region[, party]): the kind says what the balance is (money in the
fiscal special account, a payable to a hospital, the year's contribution income …), the
fund is the national fund code (``fund_pay_type``), the region the 医保区划 whose books it
belongs to (the province for the adjustment fund, the city for its special account and
payables, a county for its income and spending under 市级分账核算), and the party an
institution for payables and revolving funds.

Amounts are signed fen with debits positive and credits negative, so a transfer balances
when its postings sum to zero (per fund and per accounting entity, see :func:`entity_of`).
Assets are debit-normal; liabilities, fund equity and income are credit-normal; expenses
debit-normal. Cash accounts and revolving-fund advances may not go below zero
(:attr:`AccountKind.floor`); a payable may turn into a receivable when a settlement is
cancelled after its month was paid, and the next clearing recovers it.

Sources: 《社会保险基金会计制度》 (财会〔2017〕28号) for the asset / liability / income /
expense classes and the accounts 财政专户, 收入户, 支出户; 舟山 市级统筹方案 (seeds/003) for
the flow 县区收入户 → 市财政专户 → 市经办支出户 → 县区经办支出户.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from yibao.errors import InputError


class AccountClass(StrEnum):
    ASSET = "asset"
    LIABILITY = "liability"
    EQUITY = "equity"
    INCOME = "income"
    EXPENSE = "expense"


class AccountKind(StrEnum):
    """What an account's balance is. The value is the code used in account codes."""

    FISCAL_SPECIAL = "fsa"  # 财政专户
    INCOME_ACCOUNT = "inc"  # 收入户 (county agency / tax receipts before remittance)
    EXPENDITURE_ACCOUNT = "exp"  # 支出户 (city or county agency)
    REVOLVING_FUND = "rev"  # 预付周转金: advance to an institution, recovered at clearing
    HOSPITAL_PAYABLE = "pay"  # 应付医疗机构款
    OPENING_BALANCE = "open"  # 期初基金结余 (balances pooled at the start of city pooling)
    CONTRIBUTION_INCOME = "contrib"  # 基本医疗保险费收入 (net of account credits)
    FISCAL_SUBSIDY_INCOME = "subsidy"  # 财政补贴收入
    COUNTY_SHARE_INCOME = "cshare"  # 县区财政缺口分担收入
    INTEREST_INCOME = "interest"  # 利息收入
    TRANSFER_IN = "xin"  # 上级补助 / 调剂金拨入 / 划入 (another fund's money received)
    BENEFIT_EXPENSE = "benefit"  # 待遇支出
    TRANSFER_OUT = "xout"  # 上解 / 划出 (to the adjustment fund or another fund)
    INTERNAL_IN = "iin"  # 市级分担拨入: the city pool bearing a county's deficit (nets to 0 city-wide)
    INTERNAL_OUT = "iout"  # 市级分担拨出

    @property
    def account_class(self) -> AccountClass:
        return _CLASS[self]

    @property
    def label(self) -> str:
        return _LABEL[self]

    @property
    def floor(self) -> bool:
        """True when the balance has a floor of zero on its normal side."""
        return self in _FLOORED

    @property
    def credit_normal(self) -> bool:
        return self.account_class in (AccountClass.LIABILITY, AccountClass.EQUITY, AccountClass.INCOME)


_CLASS = {
    AccountKind.FISCAL_SPECIAL: AccountClass.ASSET,
    AccountKind.INCOME_ACCOUNT: AccountClass.ASSET,
    AccountKind.EXPENDITURE_ACCOUNT: AccountClass.ASSET,
    AccountKind.REVOLVING_FUND: AccountClass.ASSET,
    AccountKind.HOSPITAL_PAYABLE: AccountClass.LIABILITY,
    AccountKind.OPENING_BALANCE: AccountClass.EQUITY,
    AccountKind.CONTRIBUTION_INCOME: AccountClass.INCOME,
    AccountKind.FISCAL_SUBSIDY_INCOME: AccountClass.INCOME,
    AccountKind.COUNTY_SHARE_INCOME: AccountClass.INCOME,
    AccountKind.INTEREST_INCOME: AccountClass.INCOME,
    AccountKind.TRANSFER_IN: AccountClass.INCOME,
    AccountKind.INTERNAL_IN: AccountClass.INCOME,
    AccountKind.BENEFIT_EXPENSE: AccountClass.EXPENSE,
    AccountKind.TRANSFER_OUT: AccountClass.EXPENSE,
    AccountKind.INTERNAL_OUT: AccountClass.EXPENSE,
}
_LABEL = {
    AccountKind.FISCAL_SPECIAL: "财政专户",
    AccountKind.INCOME_ACCOUNT: "收入户",
    AccountKind.EXPENDITURE_ACCOUNT: "支出户",
    AccountKind.REVOLVING_FUND: "预付周转金",
    AccountKind.HOSPITAL_PAYABLE: "应付医疗机构款",
    AccountKind.OPENING_BALANCE: "期初基金结余",
    AccountKind.CONTRIBUTION_INCOME: "医疗保险费收入",
    AccountKind.FISCAL_SUBSIDY_INCOME: "财政补贴收入",
    AccountKind.COUNTY_SHARE_INCOME: "县区财政分担收入",
    AccountKind.INTEREST_INCOME: "利息收入",
    AccountKind.TRANSFER_IN: "转移收入",
    AccountKind.BENEFIT_EXPENSE: "待遇支出",
    AccountKind.TRANSFER_OUT: "转移支出",
    AccountKind.INTERNAL_IN: "市级分担拨入",
    AccountKind.INTERNAL_OUT: "市级分担拨出",
}
#: A payable has no floor: a settlement cancelled after its month was cleared leaves the institution
#: owing the fund (a debit balance), which the next clearing offsets before paying anything.
_FLOORED = frozenset(
    {
        AccountKind.FISCAL_SPECIAL,
        AccountKind.INCOME_ACCOUNT,
        AccountKind.EXPENDITURE_ACCOUNT,
        AccountKind.REVOLVING_FUND,
    }
)

#: kinds whose balance is the fund's equity in a sub-ledger (结余 = 期初 + 收入 − 支出)
EQUITY_KINDS = frozenset(
    k for k in AccountKind if k.account_class in (AccountClass.EQUITY, AccountClass.INCOME, AccountClass.EXPENSE)
)
INCOME_KINDS = frozenset(k for k in AccountKind if k.account_class is AccountClass.INCOME)
EXPENSE_KINDS = frozenset(k for k in AccountKind if k.account_class is AccountClass.EXPENSE)
#: transfers inside one city's books: in the city-wide table they cancel out
INTERNAL_KINDS = frozenset({AccountKind.INTERNAL_IN, AccountKind.INTERNAL_OUT})


class Fund(StrEnum):
    """The funds that keep books, by national fund code (基金支付类型)."""

    EMPLOYEE_POOLED = "310100"
    PERSONAL_ACCOUNT = "310200"
    EMPLOYEE_CRITICAL = "310300"
    CIVIL_SERVANT = "320100"
    LARGE_EXPENSE = "330100"
    DISABLED_VETERAN = "350100"
    ENTERPRISE = "370100"
    RESIDENT_POOLED = "390100"
    CRITICAL_ILLNESS = "390200"
    MATERNITY = "510100"
    ASSISTANCE = "610100"

    @property
    def label(self) -> str:
        return _FUND_LABEL[self]


_FUND_LABEL = {
    Fund.EMPLOYEE_POOLED: "职工统筹基金",
    Fund.PERSONAL_ACCOUNT: "职工个人账户",
    Fund.EMPLOYEE_CRITICAL: "职工大病补助",
    Fund.CIVIL_SERVANT: "公务员医疗补助",
    Fund.LARGE_EXPENSE: "大额医疗费用补助",
    Fund.DISABLED_VETERAN: "残疾军人医疗补助",
    Fund.ENTERPRISE: "企业补充医疗保险",
    Fund.RESIDENT_POOLED: "居民医保基金",
    Fund.CRITICAL_ILLNESS: "居民大病保险",
    Fund.MATERNITY: "生育保险",
    Fund.ASSISTANCE: "医疗救助基金",
}

#: sub-fund codes of the settlement interface that book to a parent fund
_FUND_OF_PAY_TYPE = {"310102": Fund.EMPLOYEE_POOLED, "390102": Fund.RESIDENT_POOLED, "610102": Fund.ASSISTANCE}

#: the pooled fund of each insutype (险种)
POOLED_FUND = {"310": Fund.EMPLOYEE_POOLED, "390": Fund.RESIDENT_POOLED}
#: funds whose months payable carry warning levels (人社部发〔2009〕67号 speaks of the pooled funds)
MONITORED_FUNDS = frozenset(POOLED_FUND.values())


def fund_of(fund_pay_type: str) -> Fund:
    """The fund whose books a settlement's ``fund_pay_type`` pays from."""
    if fund_pay_type in _FUND_OF_PAY_TYPE:
        return _FUND_OF_PAY_TYPE[fund_pay_type]
    try:
        return Fund(fund_pay_type)
    except ValueError:
        raise InputError("fund_pay_type", f"未知的基金支付类型：{fund_pay_type!r}") from None


def entity_of(region: str) -> str:
    """The accounting entity whose books a region's accounts belong to: the province for a
    province code (the adjustment fund), else the city (its counties are sub-ledgers)."""
    if len(region) != 6 or not region.isdigit():
        raise InputError("region", f"医保区划应为 6 位数字：{region!r}")
    return region if region.endswith("0000") else region[:4] + "00"


@dataclass(frozen=True, slots=True, order=True)
class AccountRef:
    kind: AccountKind
    fund: Fund
    region: str
    party: str = ""  # an institution code for payables and revolving funds

    def __post_init__(self) -> None:
        entity_of(self.region)
        needs_party = self.kind in (AccountKind.HOSPITAL_PAYABLE, AccountKind.REVOLVING_FUND)
        if needs_party != bool(self.party):
            raise InputError("party", f"{self.kind.label}{'须' if needs_party else '不应'}指定机构")

    @property
    def code(self) -> str:
        base = f"{self.kind.value}:{self.fund.value}:{self.region}"
        return f"{base}:{self.party}" if self.party else base

    @property
    def entity(self) -> str:
        return entity_of(self.region)

    @classmethod
    def parse(cls, code: str) -> AccountRef:
        parts = code.split(":")
        if len(parts) not in (3, 4):
            raise InputError("account", f"科目编码格式错误：{code!r}")
        try:
            kind, fund = AccountKind(parts[0]), Fund(parts[1])
        except ValueError:
            raise InputError("account", f"科目编码格式错误：{code!r}") from None
        return cls(kind, fund, parts[2], parts[3] if len(parts) == 4 else "")
