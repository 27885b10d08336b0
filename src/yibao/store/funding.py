"""Tables of the fund's income: employers, contributions due, collections and remittances.

Contributions are collected by the tax bureau (税务征收) and arrive as a file of payments
(:mod:`yibao.enrol.collection`); each county's collections are remitted monthly to the
city's fund account (统收统支, DESIGN.md §2). Money is integer fen.
"""

from __future__ import annotations

from datetime import date

from sqlalchemy import BigInteger, Boolean, Date, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from yibao.store.models import Base

Fen = BigInteger


class Employer(Base):
    """A contributing employer (参保单位)."""

    __tablename__ = "employer"
    code: Mapped[str] = mapped_column(String(30), primary_key=True)  # 统一社会信用代码
    name: Mapped[str] = mapped_column(String(200))
    region_code: Mapped[str] = mapped_column(String(6))
    public: Mapped[bool] = mapped_column(Boolean, default=False)  # 机关事业单位


class ContributionDue(Base):
    """What one person owes (应缴) for one period: a month (employees) or a year (residents)."""

    __tablename__ = "contribution_due"
    __table_args__ = (Index("ix_contribution_due_person_period", "psn_no", "insutype", "period"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    psn_no: Mapped[str] = mapped_column(String(30))
    insutype: Mapped[str] = mapped_column(String(6))
    region_code: Mapped[str] = mapped_column(String(6))
    period: Mapped[date] = mapped_column(Date)
    base: Mapped[int] = mapped_column(Fen)
    employer_amount: Mapped[int] = mapped_column(Fen)
    personal_amount: Mapped[int] = mapped_column(Fen)
    assistance_amount: Mapped[int] = mapped_column(Fen)  # 资助参保: paid by medical assistance
    fiscal_subsidy: Mapped[int] = mapped_column(Fen)
    account_credit: Mapped[int] = mapped_column(Fen)
    critical_illness_funding: Mapped[int] = mapped_column(Fen)


class Collection(Base):
    """One payment line of the tax bureau's file (实缴), as imported."""

    __tablename__ = "collection"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    serial: Mapped[str] = mapped_column(String(40), unique=True)  # 缴费流水号
    psn_no: Mapped[str] = mapped_column(String(30), index=True)
    insutype: Mapped[str] = mapped_column(String(6))
    region_code: Mapped[str] = mapped_column(String(6))  # the collecting county
    period: Mapped[date] = mapped_column(Date)  # 费款所属期
    employer_amount: Mapped[int] = mapped_column(Fen)
    personal_amount: Mapped[int] = mapped_column(Fen)
    assistance_amount: Mapped[int] = mapped_column(Fen)
    late_fee: Mapped[int] = mapped_column(Fen)
    paid_on: Mapped[date] = mapped_column(Date)  # 入库日期
    source_file: Mapped[str] = mapped_column(String(200))


class Remittance(Base):
    """A county's collections of one month remitted to the city's fund account (上解)."""

    __tablename__ = "remittance"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    region_code: Mapped[str] = mapped_column(String(6))
    insutype: Mapped[str] = mapped_column(String(6))
    month: Mapped[date] = mapped_column(Date)
    payments: Mapped[int] = mapped_column(Integer)
    amount: Mapped[int] = mapped_column(Fen)
    remitted_on: Mapped[date] = mapped_column(Date)


class FiscalSubsidy(Base):
    """财政补助 to the resident fund, booked per county and instalment."""

    __tablename__ = "fiscal_subsidy"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    region_code: Mapped[str] = mapped_column(String(6))
    insutype: Mapped[str] = mapped_column(String(6))
    month: Mapped[date] = mapped_column(Date)
    persons: Mapped[int] = mapped_column(Integer)
    amount: Mapped[int] = mapped_column(Fen)
