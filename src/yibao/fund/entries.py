"""The entries each business event posts: one function per kind of money movement.

Each function is pure and returns a balanced :class:`~yibao.fund.transfer.Transfer` whose id is
derived from the event, so the service can post it in the same database transaction as the event
and a repeat posts nothing. ``city`` is the pooling region whose fiscal special account holds the
money (统收统支); ``county`` the sub-ledger the income or spending belongs to (市级分账核算 — the
city's own code for 市本级).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import date

from yibao.fund.chart import AccountKind as K
from yibao.fund.chart import AccountRef, Fund, fund_of
from yibao.fund.transfer import Posting, Transfer, TransferType, move


def _a(kind: K, fund: Fund, region: str, party: str = "") -> AccountRef:
    return AccountRef(kind, fund, region, party)


def month_key(on: date) -> str:
    return f"{on:%Y-%m}"


def settlement(
    setl_id: str,
    booked_on: date,
    institution: str,
    city: str,
    county: str,
    fund_payments: Iterable[tuple[str, int]],
    account_pay: int,
    cancels: str | None = None,
) -> Transfer | None:
    """A settlement's spending: each fund's payment is a benefit expense of the insured person's
    county and a payable to the institution (cleared monthly). ``account_pay`` (own account plus
    family mutual aid) is the personal-account fund's. A cancel passes its negative amounts and
    ``cancels`` = the original setl_id. ``None`` when no fund paid anything (cash only)."""
    by_fund: dict[Fund, int] = defaultdict(int)
    for code, amount in fund_payments:
        if code != Fund.PERSONAL_ACCOUNT.value:  # the account row is account_pay below
            by_fund[fund_of(code)] += amount
    by_fund[Fund.PERSONAL_ACCOUNT] += account_pay
    postings: list[Posting] = []
    for fund, amount in sorted(by_fund.items()):
        if amount:
            postings.append(Posting(_a(K.BENEFIT_EXPENSE, fund, county), amount))
            postings.append(Posting(_a(K.HOSPITAL_PAYABLE, fund, city, institution), -amount))
    if not postings:
        return None
    kind = TransferType.SETTLEMENT_CANCEL if cancels else TransferType.SETTLEMENT
    return Transfer(f"setl:{setl_id}", kind, cancels or setl_id, booked_on, tuple(postings))


def collection(
    ref: str, booked_on: date, fund: Fund, city: str, county: str, amount: int, assistance_paid: int = 0
) -> Transfer:
    """Tax-bureau receipts (征缴) into the county's income account; the part the assistance fund
    paid for its groups (资助参保) leaves the assistance fund's special account."""
    legs = [(_a(K.INCOME_ACCOUNT, fund, county), _a(K.CONTRIBUTION_INCOME, fund, county), amount + assistance_paid)]
    legs.append(
        (_a(K.TRANSFER_OUT, Fund.ASSISTANCE, county), _a(K.FISCAL_SPECIAL, Fund.ASSISTANCE, city), assistance_paid)
    )
    return move(f"coll:{ref}", TransferType.COLLECTION, ref, booked_on, legs)


def _batch(ref: str, batch: str) -> str:
    """A second movement of the same kind and period (a supplementary remittance) names its batch."""
    return f"{ref}:{batch}" if batch else ref


def remittance(
    booked_on: date, fund: Fund, city: str, county: str, month: date, amount: int, batch: str = ""
) -> Transfer:
    """A county's receipts of ``month`` remitted to the city's fiscal special account (上解)."""
    ref = _batch(f"{county}:{fund.value}:{month_key(month)}", batch)
    legs = [(_a(K.FISCAL_SPECIAL, fund, city), _a(K.INCOME_ACCOUNT, fund, county), amount)]
    return move(f"remit:{ref}", TransferType.REMITTANCE, ref, booked_on, legs)


def fiscal_subsidy(ref: str, booked_on: date, fund: Fund, city: str, county: str, amount: int) -> Transfer:
    """财政补助 paid into the special account, booked as the county's income."""
    legs = [(_a(K.FISCAL_SPECIAL, fund, city), _a(K.FISCAL_SUBSIDY_INCOME, fund, county), amount)]
    return move(f"subsidy:{ref}", TransferType.FISCAL_SUBSIDY, ref, booked_on, legs)


def account_credit(booked_on: date, city: str, county: str, amount: int) -> Transfer:
    """个人账户划入 for a month: contribution income moves from the employee pooled fund to the
    personal-account fund (national statistics count pooled income net of account credits)."""
    ref = f"{county}:{month_key(booked_on)}"
    legs = [
        (
            _a(K.CONTRIBUTION_INCOME, Fund.EMPLOYEE_POOLED, county),
            _a(K.FISCAL_SPECIAL, Fund.EMPLOYEE_POOLED, city),
            amount,
        ),
        (
            _a(K.FISCAL_SPECIAL, Fund.PERSONAL_ACCOUNT, city),
            _a(K.CONTRIBUTION_INCOME, Fund.PERSONAL_ACCOUNT, county),
            amount,
        ),
    ]
    return move(f"credit:{ref}", TransferType.ACCOUNT_CREDIT, ref, booked_on, legs)


def fund_transfer(
    ref: str, booked_on: date, source: Fund, target: Fund, city: str, county: str, amount: int
) -> Transfer:
    """Money from one fund to another (大病保险筹资 from the resident fund)."""
    legs = [
        (_a(K.TRANSFER_OUT, source, county), _a(K.FISCAL_SPECIAL, source, city), amount),
        (_a(K.FISCAL_SPECIAL, target, city), _a(K.TRANSFER_IN, target, county), amount),
    ]
    return move(f"fundx:{ref}", TransferType.FUND_TRANSFER, ref, booked_on, legs)


def disbursement(
    booked_on: date, fund: Fund, city: str, county: str, amount: int, purpose: str = "clearing"
) -> Transfer:
    """月度用款计划: the special account pays the city agency's expenditure account, which pays
    the county agency's (舟山方案 二(二)2(2)). ``purpose``: the month's clearing, or a revolving-fund advance."""
    ref = f"{purpose}:{county}:{fund.value}:{month_key(booked_on)}"
    legs = [(_a(K.EXPENDITURE_ACCOUNT, fund, city), _a(K.FISCAL_SPECIAL, fund, city), amount)]
    if county != city:
        legs.append((_a(K.EXPENDITURE_ACCOUNT, fund, county), _a(K.EXPENDITURE_ACCOUNT, fund, city), amount))
    return move(f"disb:{ref}", TransferType.DISBURSEMENT, ref, booked_on, legs)


def clearing(
    booked_on: date, fund: Fund, city: str, payer: str, institution: str, period: str, amount: int
) -> Transfer:
    """Paying an institution what it is owed for ``period`` from the payer agency's expenditure account."""
    ref = f"{institution}:{fund.value}:{period}"
    legs = [(_a(K.HOSPITAL_PAYABLE, fund, city, institution), _a(K.EXPENDITURE_ACCOUNT, fund, payer), amount)]
    return move(f"clear:{ref}", TransferType.CLEARING, ref, booked_on, legs)


def revolving_advance(booked_on: date, fund: Fund, city: str, payer: str, institution: str, amount: int) -> Transfer:
    """预付周转金: an advance to an institution, an asset of the fund until recovered."""
    ref = f"{institution}:{fund.value}:{booked_on.year}"
    legs = [(_a(K.REVOLVING_FUND, fund, city, institution), _a(K.EXPENDITURE_ACCOUNT, fund, payer), amount)]
    return move(f"revadv:{ref}", TransferType.REVOLVING_ADVANCE, ref, booked_on, legs)


def revolving_recovery(booked_on: date, fund: Fund, city: str, institution: str, period: str, amount: int) -> Transfer:
    """周转金扣回: the advance offset against what the institution is owed."""
    ref = f"{institution}:{fund.value}:{period}"
    legs = [(_a(K.HOSPITAL_PAYABLE, fund, city, institution), _a(K.REVOLVING_FUND, fund, city, institution), amount)]
    return move(f"revrec:{ref}", TransferType.REVOLVING_RECOVERY, ref, booked_on, legs)


def opening(booked_on: date, fund: Fund, city: str, county: str, balance: int) -> Transfer:
    """A county's accumulated balance pooled into the city's special account when city pooling
    starts (舟山方案: 统收统支前各县（区）基金结余，统一归缴市财政专户). Earlier debts stay with
    the county and are not posted to the pool."""
    ref = f"{county}:{fund.value}"
    legs = [(_a(K.FISCAL_SPECIAL, fund, city), _a(K.OPENING_BALANCE, fund, county), balance)]
    return move(f"open:{ref}", TransferType.OPENING, ref, booked_on, legs)


def deficit_sharing(booked_on: date, fund: Fund, city: str, county: str, county_part: int, city_part: int) -> Transfer:
    """A county's year-end deficit: its finance pays ``county_part`` into the special account; the
    city pool bears ``city_part`` (an internal transfer between sub-ledgers)."""
    ref = f"{county}:{fund.value}:{booked_on:%Y-%m-%d}"
    legs = [
        (_a(K.FISCAL_SPECIAL, fund, city), _a(K.COUNTY_SHARE_INCOME, fund, county), county_part),
        (_a(K.INTERNAL_OUT, fund, city), _a(K.INTERNAL_IN, fund, county), city_part),
    ]
    return move(f"share:{ref}", TransferType.DEFICIT_SHARING, ref, booked_on, legs)


def adjustment_levy(booked_on: date, fund: Fund, province: str, city: str, amount: int, batch: str = "") -> Transfer:
    """调剂金上解: from the city's special account to the province's adjustment fund."""
    ref = _batch(f"{city}:{fund.value}:{booked_on.year}", batch)
    legs = [
        (_a(K.TRANSFER_OUT, fund, city), _a(K.FISCAL_SPECIAL, fund, city), amount),
        (_a(K.FISCAL_SPECIAL, fund, province), _a(K.TRANSFER_IN, fund, province), amount),
    ]
    return move(f"levy:{ref}", TransferType.ADJUSTMENT_LEVY, ref, booked_on, legs)


def adjustment_allocation(
    booked_on: date, fund: Fund, province: str, city: str, amount: int, batch: str = ""
) -> Transfer:
    """调剂金下拨: from the province's adjustment fund to a city with a reasonable deficit (an
    emergency allocation within the year names its batch)."""
    ref = _batch(f"{city}:{fund.value}:{booked_on.year}", batch)
    legs = [
        (_a(K.TRANSFER_OUT, fund, province), _a(K.FISCAL_SPECIAL, fund, province), amount),
        (_a(K.FISCAL_SPECIAL, fund, city), _a(K.TRANSFER_IN, fund, city), amount),
    ]
    return move(f"alloc:{ref}", TransferType.ADJUSTMENT_ALLOCATION, ref, booked_on, legs)


def interest(booked_on: date, fund: Fund, region: str, amount: int) -> Transfer:
    """Interest credited to a special account (the city's, or the province's adjustment fund)."""
    ref = f"{region}:{fund.value}:{month_key(booked_on)}"
    legs = [(_a(K.FISCAL_SPECIAL, fund, region), _a(K.INTEREST_INCOME, fund, region), amount)]
    return move(f"int:{ref}", TransferType.INTEREST, ref, booked_on, legs)
