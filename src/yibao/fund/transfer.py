"""A transfer: one money movement of the books, as balanced postings with an id.

Every movement — a contribution collected, a county's remittance, a settlement's payable, a
hospital's monthly clearing, the adjustment fund's levy — is one :class:`Transfer`. Its id is
derived from what caused it (``setl:S2020…``, ``remit:445102:310:2020-01``), so posting the same
event twice is a no-op (idempotent), and its postings sum to zero for every fund and every
accounting entity (double entry; DESIGN.md §2 "The ledger is double-entry and always balances").
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from enum import StrEnum

from yibao.errors import InputError
from yibao.fund.chart import AccountRef


class TransferType(StrEnum):
    OPENING = "opening"  # 期初结余归集 (balances pooled at the start of city pooling)
    COLLECTION = "collection"  # 征缴收入 (tax bureau receipts into a county's income account)
    REMITTANCE = "remittance"  # 县区上解市财政专户
    FISCAL_SUBSIDY = "fiscal_subsidy"  # 财政补助
    ACCOUNT_CREDIT = "account_credit"  # 个人账户划入
    FUND_TRANSFER = "fund_transfer"  # 基金间划转 (大病保险筹资, 医疗救助资助参保)
    DISBURSEMENT = "disbursement"  # 月度用款计划: 市财政专户 → 市经办支出户 → 县区支出户
    SETTLEMENT = "settlement"  # 结算: 待遇支出 / 应付医疗机构款
    SETTLEMENT_CANCEL = "settlement_cancel"  # 结算撤销 (reversing entries)
    CLEARING = "clearing"  # 月度清算: 应付医疗机构款 → 支出户
    REVOLVING_ADVANCE = "revolving_advance"  # 预付周转金拨付
    REVOLVING_RECOVERY = "revolving_recovery"  # 周转金清算扣回
    DEFICIT_SHARING = "deficit_sharing"  # 年终缺口分担
    ADJUSTMENT_LEVY = "adjustment_levy"  # 调剂金上解
    ADJUSTMENT_ALLOCATION = "adjustment_allocation"  # 调剂金下拨
    INTEREST = "interest"  # 利息

    @property
    def label(self) -> str:
        return _LABEL[self]


_LABEL = {
    TransferType.OPENING: "期初结余归集",
    TransferType.COLLECTION: "征缴收入",
    TransferType.REMITTANCE: "县区上解",
    TransferType.FISCAL_SUBSIDY: "财政补助",
    TransferType.ACCOUNT_CREDIT: "个人账户划入",
    TransferType.FUND_TRANSFER: "基金间划转",
    TransferType.DISBURSEMENT: "用款计划拨付",
    TransferType.SETTLEMENT: "医疗费用结算",
    TransferType.SETTLEMENT_CANCEL: "结算撤销",
    TransferType.CLEARING: "月度清算",
    TransferType.REVOLVING_ADVANCE: "预付周转金",
    TransferType.REVOLVING_RECOVERY: "周转金扣回",
    TransferType.DEFICIT_SHARING: "缺口分担",
    TransferType.ADJUSTMENT_LEVY: "调剂金上解",
    TransferType.ADJUSTMENT_ALLOCATION: "调剂金下拨",
    TransferType.INTEREST: "利息收入",
}


@dataclass(frozen=True, slots=True)
class Posting:
    account: AccountRef
    amount: int  # fen; debit positive, credit negative


@dataclass(frozen=True, slots=True)
class Transfer:
    id: str
    type: TransferType
    ref: str  # what caused it: a setl_id, a remittance month, a clearing period …
    booked_on: date  # 记账日期: the month whose figures it belongs to
    postings: tuple[Posting, ...]
    memo: str = ""

    def __post_init__(self) -> None:
        if not self.id or len(self.id) > 80:
            raise InputError("transfer.id", "转账编号不能为空且不超过 80 个字符")
        check_balanced(self.id, ((p.account, p.amount) for p in self.postings))

    @property
    def amount(self) -> int:
        """The money moved: the sum of the debits."""
        return sum(p.amount for p in self.postings if p.amount > 0)


def check_balanced(transfer_id: str, postings: Iterable[tuple[AccountRef, int]]) -> None:
    """Refuse a transfer that is empty, has a zero posting or does not balance per fund and entity."""
    sums: dict[tuple[str, str], int] = defaultdict(int)
    count = 0
    for account, amount in postings:
        if amount == 0:
            raise InputError("postings", f"{transfer_id}: 分录金额不能为零（{account.code}）")
        sums[(account.fund.value, account.entity)] += amount
        count += 1
    if count < 2:
        raise InputError("postings", f"{transfer_id}: 转账至少需要一借一贷两条分录")
    unbalanced = {k: v for k, v in sums.items() if v != 0}
    if unbalanced:
        where = "；".join(f"基金 {f} 主体 {e} 差额 {v} 分" for (f, e), v in sorted(unbalanced.items()))
        raise InputError("postings", f"{transfer_id}: 借贷不平衡（{where}）")


def move(
    transfer_id: str,
    type_: TransferType,
    ref: str,
    booked_on: date,
    legs: Iterable[tuple[AccountRef, AccountRef, int]],
    memo: str = "",
) -> Transfer:
    """A transfer from ``(debit, credit, amount)`` legs; zero legs are dropped, same accounts merged."""
    merged: dict[AccountRef, int] = defaultdict(int)
    for debit, credit, amount in legs:
        if amount < 0:
            raise InputError("amount", f"{transfer_id}: 金额不能为负（{amount} 分）")
        if amount:
            merged[debit] += amount
            merged[credit] -= amount
    postings = tuple(Posting(a, v) for a, v in sorted(merged.items()) if v)
    return Transfer(transfer_id, type_, ref, booked_on, postings, memo)


def negated(original: Transfer, transfer_id: str, type_: TransferType, booked_on: date, memo: str = "") -> Transfer:
    """The reversing transfer: the same postings with opposite signs (nothing is deleted)."""
    postings = tuple(Posting(p.account, -p.amount) for p in original.postings)
    return Transfer(transfer_id, type_, original.id, booked_on, postings, memo)
