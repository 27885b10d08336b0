"""Tables of the pooled funds' books: accounts, transfers and their postings, month-end closes,
budgets, warning alerts, county openings, and the results of deficit sharing and the adjustment fund.

Postings are append-only; an account's balance is the sum of its postings (no running balance row
that every settlement would have to lock, which would serialise the whole city's settlements on
one row). A month-end close stores each account's balance and each sub-ledger's monthly figures;
``yibao check`` proves both equal what the postings say.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import BigInteger, Date, DateTime, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from yibao.store.models import Base

Fen = BigInteger


class LedgerAccount(Base):
    """An account of the chart (:class:`yibao.fund.chart.AccountRef`), keyed by its code."""

    __tablename__ = "ledger_account"
    code: Mapped[str] = mapped_column(String(80), primary_key=True)
    kind: Mapped[str] = mapped_column(String(10))
    fund: Mapped[str] = mapped_column(String(6))
    region: Mapped[str] = mapped_column(String(6))
    entity: Mapped[str] = mapped_column(String(6))
    party: Mapped[str] = mapped_column(String(30), default="")


class LedgerTransfer(Base):
    """One money movement; its id is derived from the event that caused it (idempotent posting)."""

    __tablename__ = "ledger_transfer"
    __table_args__ = (Index("ix_ledger_transfer_type_booked", "type", "booked_on"),)
    id: Mapped[str] = mapped_column(String(80), primary_key=True)
    type: Mapped[str] = mapped_column(String(30))
    ref: Mapped[str] = mapped_column(String(80), index=True)
    booked_on: Mapped[date] = mapped_column(Date)
    at: Mapped[datetime] = mapped_column(DateTime)
    memo: Mapped[str] = mapped_column(String(400), default="")


class LedgerPosting(Base):
    """A debit (positive) or credit (negative) of one account within a transfer."""

    __tablename__ = "ledger_posting"
    __table_args__ = (Index("ix_ledger_posting_account_booked", "account", "booked_on"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    transfer_id: Mapped[str] = mapped_column(ForeignKey("ledger_transfer.id"), index=True)
    account: Mapped[str] = mapped_column(ForeignKey("ledger_account.code"))
    booked_on: Mapped[date] = mapped_column(Date)  # the transfer's, repeated so balances need no join
    amount: Mapped[int] = mapped_column(Fen)


class LedgerClose(Base):
    """An account's balance at a month-end close (结账)."""

    __tablename__ = "ledger_close"
    account: Mapped[str] = mapped_column(ForeignKey("ledger_account.code"), primary_key=True)
    month: Mapped[date] = mapped_column(Date, primary_key=True)  # first day of the closed month
    balance: Mapped[int] = mapped_column(Fen)


class FundMonth(Base):
    """One sub-ledger's figures for a closed month (收支月报): what the monthly table shows."""

    __tablename__ = "fund_month"
    region: Mapped[str] = mapped_column(String(6), primary_key=True)  # a county, or the city (市本级)
    fund: Mapped[str] = mapped_column(String(6), primary_key=True)
    month: Mapped[date] = mapped_column(Date, primary_key=True)
    income: Mapped[int] = mapped_column(Fen)
    expense: Mapped[int] = mapped_column(Fen)
    accumulated: Mapped[int] = mapped_column(Fen)  # 累计结余 at month end
    months_payable: Mapped[str] = mapped_column(String(20), default="")  # exact fraction "p/q", "" if undefined
    level: Mapped[str] = mapped_column(String(20), default="")
    closed_at: Mapped[datetime] = mapped_column(DateTime)


class FundBudget(Base):
    """Annual budget of one fund in one region (基金预算): income target and expenditure target."""

    __tablename__ = "fund_budget"
    year: Mapped[int] = mapped_column(Integer, primary_key=True)
    fund: Mapped[str] = mapped_column(String(6), primary_key=True)
    region: Mapped[str] = mapped_column(String(6), primary_key=True)
    income: Mapped[int] = mapped_column(Fen)
    expense: Mapped[int] = mapped_column(Fen)


class FundAlert(Base):
    """A region crossing a warning level of months payable, or turning a current deficit."""

    __tablename__ = "fund_alert"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    region: Mapped[str] = mapped_column(String(6), index=True)
    fund: Mapped[str] = mapped_column(String(6))
    month: Mapped[date] = mapped_column(Date)
    before: Mapped[str] = mapped_column(String(20), default="")
    after: Mapped[str] = mapped_column(String(20))
    message: Mapped[str] = mapped_column(String(400))


class CountyOpening(Base):
    """A county's position when city pooling began: the balance pooled and the debt it keeps."""

    __tablename__ = "county_opening"
    region: Mapped[str] = mapped_column(String(6), primary_key=True)
    fund: Mapped[str] = mapped_column(String(6), primary_key=True)
    as_of: Mapped[date] = mapped_column(Date)
    balance: Mapped[int] = mapped_column(Fen)  # 归缴市财政专户
    debt: Mapped[int] = mapped_column(Fen)  # 统收统支前债务，由县区自行承担


class DeficitShareRow(Base):
    """The year-end split of one county's deficit (缺口分担), with how it was computed."""

    __tablename__ = "deficit_share"
    year: Mapped[int] = mapped_column(Integer, primary_key=True)
    fund: Mapped[str] = mapped_column(String(6), primary_key=True)
    region: Mapped[str] = mapped_column(String(6), primary_key=True)
    income: Mapped[int] = mapped_column(Fen)
    expense: Mapped[int] = mapped_column(Fen)
    deficit: Mapped[int] = mapped_column(Fen)
    under_collection: Mapped[int] = mapped_column(Fen)
    over_budget: Mapped[int] = mapped_column(Fen)
    within_budget: Mapped[int] = mapped_column(Fen)
    county: Mapped[int] = mapped_column(Fen)
    city: Mapped[int] = mapped_column(Fen)
    explanation: Mapped[str] = mapped_column(Text, default="")


class AdjustmentRegionRow(Base):
    """One region's line of a provincial adjustment-fund year (调剂金上解与下拨)."""

    __tablename__ = "adjustment_region"
    year: Mapped[int] = mapped_column(Integer, primary_key=True)
    fund: Mapped[str] = mapped_column(String(6), primary_key=True)
    region: Mapped[str] = mapped_column(String(6), primary_key=True)
    province: Mapped[str] = mapped_column(String(6))
    score: Mapped[int] = mapped_column(Integer)
    levy: Mapped[int] = mapped_column(Fen)
    gap: Mapped[int] = mapped_column(Fen)
    reasonable_gap: Mapped[int] = mapped_column(Fen)
    claim: Mapped[int] = mapped_column(Fen)
    allocation: Mapped[int] = mapped_column(Fen)
