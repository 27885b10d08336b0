"""SQLAlchemy 2 models: the tables of the real-time settlement service.

Money is integer fen in ``BIGINT`` columns (DESIGN.md §2); ratios are integer basis
points; unit prices and quantities are exact ``NUMERIC``. ID numbers and names are
stored encrypted (:mod:`yibao.store.pii`) with a keyed hash for look-up. Migrations
live in ``store/migrations`` (Alembic); these models are their source of truth.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import (
    BigInteger,
    Boolean,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    Numeric,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


Fen = BigInteger


class Region(Base):
    """A pooling region or one of its counties (医保区划)."""

    __tablename__ = "region"
    code: Mapped[str] = mapped_column(String(6), primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    parent_code: Mapped[str | None] = mapped_column(String(6))
    pooling: Mapped[bool] = mapped_column(Boolean, default=False)


class Institution(Base):
    """A designated institution (定点医药机构): hospital H… or pharmacy P…."""

    __tablename__ = "institution"
    code: Mapped[str] = mapped_column(String(30), primary_key=True)  # fixmedins_code
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(1))  # H hospital, P pharmacy
    hospital_level: Mapped[int] = mapped_column(Integer)  # 0 基层 … 3; pharmacies 0
    region_code: Mapped[str] = mapped_column(String(6))
    active: Mapped[bool] = mapped_column(Boolean, default=True)


class Person(Base):
    """An insured person (参保人). The ID number and name are encrypted."""

    __tablename__ = "person"
    psn_no: Mapped[str] = mapped_column(String(30), primary_key=True)
    certno_enc: Mapped[bytes] = mapped_column(LargeBinary)
    certno_hash: Mapped[str] = mapped_column(String(64), unique=True)
    name_enc: Mapped[bytes] = mapped_column(LargeBinary)
    sex: Mapped[str] = mapped_column(String(1))  # gend: 1 male, 2 female
    birth_date: Mapped[date] = mapped_column(Date)


class Enrolment(Base):
    """A period of insurance in one scheme (参保记录)."""

    __tablename__ = "enrolment"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    psn_no: Mapped[str] = mapped_column(ForeignKey("person.psn_no"), index=True)
    insutype: Mapped[str] = mapped_column(String(6))  # 310 职工, 390 居民
    psn_type: Mapped[str] = mapped_column(String(10))  # national 人员类别
    region_code: Mapped[str] = mapped_column(String(6))  # insuplc_admdvs
    begin_date: Mapped[date] = mapped_column(Date)
    end_date: Mapped[date | None] = mapped_column(Date)
    assistance_category: Mapped[str] = mapped_column(String(30), default="none")
    civil_servant: Mapped[bool] = mapped_column(Boolean, default=False)
    emp_name: Mapped[str] = mapped_column(String(200), default="")
    emp_code: Mapped[str | None] = mapped_column(String(30))  # the employer (employee scheme)
    wage: Mapped[int | None] = mapped_column(Fen)  # monthly wage or declared base, for the contribution base
    benefits_from: Mapped[date | None] = mapped_column(Date)  # 待遇享受起始日 (after a waiting period)


class EVoucher(Base):
    """A medical-insurance e-voucher token (医保电子凭证, mdtrt_cert_type 01)."""

    __tablename__ = "e_voucher"
    token: Mapped[str] = mapped_column(String(100), primary_key=True)
    psn_no: Mapped[str] = mapped_column(ForeignKey("person.psn_no"))
    expires_at: Mapped[datetime] = mapped_column(DateTime)


class Account(Base):
    """A personal account (个人账户) balance."""

    __tablename__ = "account"
    psn_no: Mapped[str] = mapped_column(ForeignKey("person.psn_no"), primary_key=True)
    balance: Mapped[int] = mapped_column(Fen, default=0)


class MutualAidBinding(Base):
    """家庭共济: ``payer_psn_no``'s account may pay for ``psn_no``."""

    __tablename__ = "mutual_aid_binding"
    psn_no: Mapped[str] = mapped_column(ForeignKey("person.psn_no"), primary_key=True)
    payer_psn_no: Mapped[str] = mapped_column(ForeignKey("person.psn_no"))


class AccountMovement(Base):
    """Every change of an account balance, with what caused it."""

    __tablename__ = "account_movement"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    psn_no: Mapped[str] = mapped_column(ForeignKey("person.psn_no"), index=True)
    amount: Mapped[int] = mapped_column(Fen)  # + credit, − payment
    kind: Mapped[str] = mapped_column(String(20))  # settlement, mutual_aid, cancel, credit
    setl_id: Mapped[str | None] = mapped_column(String(30))
    beneficiary_psn_no: Mapped[str | None] = mapped_column(String(30))
    at: Mapped[datetime] = mapped_column(DateTime)


class Visit(Base):
    """A visit (就诊, ``mdtrt_id``): outpatient registration, admission or pharmacy purchase."""

    __tablename__ = "visit"
    mdtrt_id: Mapped[str] = mapped_column(String(30), primary_key=True)
    psn_no: Mapped[str] = mapped_column(ForeignKey("person.psn_no"), index=True)
    insutype: Mapped[str] = mapped_column(String(6))
    fixmedins_code: Mapped[str] = mapped_column(ForeignKey("institution.code"), index=True)
    visit_type: Mapped[str] = mapped_column(String(12))  # inpatient | outpatient | chronic | pharmacy
    med_type: Mapped[str] = mapped_column(String(10))
    hospital_level: Mapped[int] = mapped_column(Integer)
    insured_region: Mapped[str] = mapped_column(String(6))
    treatment_region: Mapped[str] = mapped_column(String(6))
    begin_time: Mapped[datetime] = mapped_column(DateTime)
    end_time: Mapped[datetime | None] = mapped_column(DateTime)
    status: Mapped[str] = mapped_column(String(12))  # open | discharged | settled | cancelled
    disease: Mapped[str] = mapped_column(String(50), default="")
    day_surgery: Mapped[bool] = mapped_column(Boolean, default=False)
    filed: Mapped[bool] = mapped_column(Boolean, default=False)
    transfer_from_level: Mapped[int | None] = mapped_column(Integer)
    ipt_otp_no: Mapped[str] = mapped_column(String(30), default="")


class Diagnosis(Base):
    __tablename__ = "diagnosis"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    mdtrt_id: Mapped[str] = mapped_column(ForeignKey("visit.mdtrt_id"), index=True)
    diag_type: Mapped[str] = mapped_column(String(3), default="1")
    srt_no: Mapped[int] = mapped_column(Integer, default=1)
    code: Mapped[str] = mapped_column(String(30))
    name: Mapped[str] = mapped_column(String(200), default="")
    main: Mapped[bool] = mapped_column(Boolean, default=False)
    valid: Mapped[bool] = mapped_column(Boolean, default=True)


class FeeLine(Base):
    """An uploaded fee line (费用明细) and its split (the answer to 2204 / 2301)."""

    __tablename__ = "fee_line"
    # its index serves look-ups by visit too (mdtrt_id leads): no separate mdtrt_id index (migration 0004)
    __table_args__ = (UniqueConstraint("mdtrt_id", "feedetl_sn", name="uq_fee_line_visit_sn"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    mdtrt_id: Mapped[str] = mapped_column(ForeignKey("visit.mdtrt_id"))
    feedetl_sn: Mapped[str] = mapped_column(String(30))
    chrg_bchno: Mapped[str] = mapped_column(String(30), default="")
    item_code: Mapped[str] = mapped_column(String(50))
    medins_item_code: Mapped[str] = mapped_column(String(50), default="")
    price: Mapped[Decimal] = mapped_column(Numeric(16, 6))
    quantity: Mapped[Decimal] = mapped_column(Numeric(16, 4))
    amount: Mapped[int] = mapped_column(Fen)
    declared_class: Mapped[int | None] = mapped_column(Integer)
    indication_met: Mapped[bool] = mapped_column(Boolean, default=True)
    status: Mapped[str] = mapped_column(String(10), default="active")  # active | cancelled
    setl_id: Mapped[str | None] = mapped_column(String(30), index=True)
    item_class: Mapped[int] = mapped_column(Integer)
    full_self_pay: Mapped[int] = mapped_column(Fen)
    over_limit: Mapped[int] = mapped_column(Fen)
    self_pay_first: Mapped[int] = mapped_column(Fen)
    policy_range: Mapped[int] = mapped_column(Fen)
    self_pay_first_ratio: Mapped[int] = mapped_column(Integer)
    price_cap: Mapped[str] = mapped_column(String(30), default="")
    reason: Mapped[str] = mapped_column(String(20), default="")


class Settlement(Base):
    """A settlement (结算, ``setl_id``) or the negative settlement that cancels one."""

    __tablename__ = "settlement"
    __table_args__ = (Index("ix_settlement_clearing", "fixmedins_code", "insutype", "clr_type", "setl_time"),)
    setl_id: Mapped[str] = mapped_column(String(30), primary_key=True)
    mdtrt_id: Mapped[str] = mapped_column(ForeignKey("visit.mdtrt_id"), index=True)
    psn_no: Mapped[str] = mapped_column(String(30), index=True)
    insutype: Mapped[str] = mapped_column(String(6))
    fixmedins_code: Mapped[str] = mapped_column(String(30))
    visit_type: Mapped[str] = mapped_column(String(12))
    med_type: Mapped[str] = mapped_column(String(10))
    clr_type: Mapped[str] = mapped_column(String(6))
    clr_optins: Mapped[str] = mapped_column(String(6))  # the pooling region that clears it
    setl_time: Mapped[datetime] = mapped_column(DateTime)
    rule_date: Mapped[date] = mapped_column(Date)
    year: Mapped[int] = mapped_column(Integer)
    snapshot_id: Mapped[str] = mapped_column(String(40))
    status: Mapped[str] = mapped_column(String(10))  # settled | cancelled | reversal
    reverses: Mapped[str | None] = mapped_column(String(30))  # for a cancel row: the setl_id it cancels
    msgid: Mapped[str] = mapped_column(String(30))
    medfee_sumamt: Mapped[int] = mapped_column(Fen)
    fulamt_ownpay_amt: Mapped[int] = mapped_column(Fen)
    overlmt_selfpay: Mapped[int] = mapped_column(Fen)
    preselfpay_amt: Mapped[int] = mapped_column(Fen)
    inscp_scp_amt: Mapped[int] = mapped_column(Fen)
    act_pay_dedc: Mapped[int] = mapped_column(Fen)
    hifp_pay: Mapped[int] = mapped_column(Fen)
    pool_prop_selfpay: Mapped[int] = mapped_column(Integer)  # basis points
    cvlserv_pay: Mapped[int] = mapped_column(Fen)
    hifes_pay: Mapped[int] = mapped_column(Fen)
    hifmi_pay: Mapped[int] = mapped_column(Fen)
    hifob_pay: Mapped[int] = mapped_column(Fen)
    maf_pay: Mapped[int] = mapped_column(Fen)
    oth_pay: Mapped[int] = mapped_column(Fen)
    hifdm_pay: Mapped[int] = mapped_column(Fen)
    fund_pay_sumamt: Mapped[int] = mapped_column(Fen)
    psn_part_amt: Mapped[int] = mapped_column(Fen)
    acct_pay: Mapped[int] = mapped_column(Fen)  # national meaning: includes mutual aid
    acct_mulaid_pay: Mapped[int] = mapped_column(Fen)
    psn_cash_pay: Mapped[int] = mapped_column(Fen)
    hosp_part_amt: Mapped[int] = mapped_column(Fen)
    balc: Mapped[int] = mapped_column(Fen)
    reasons: Mapped[str] = mapped_column(Text, default="[]")  # JSON list
    deltas: Mapped[str] = mapped_column(Text, default="{}")  # JSON: what it added to the accumulators
    mutual_aid_psn_no: Mapped[str | None] = mapped_column(String(30))


class SettlementDetail(Base):
    """One ``setldetail`` row: what one fund paid."""

    __tablename__ = "settlement_detail"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    setl_id: Mapped[str] = mapped_column(ForeignKey("settlement.setl_id"), index=True)
    fund_pay_type: Mapped[str] = mapped_column(String(6))
    inscp_scp_amt: Mapped[int] = mapped_column(Fen)
    crt_payb_lmt_amt: Mapped[int | None] = mapped_column(Fen)
    fund_payamt: Mapped[int] = mapped_column(Fen)
    setl_proc_info: Mapped[str] = mapped_column(String(400), default="")


class Accumulator(Base):
    """Year-to-date accumulators per person × scheme × pooling region × year (row-locked on settlement)."""

    __tablename__ = "accumulator"
    psn_no: Mapped[str] = mapped_column(String(30), primary_key=True)
    insutype: Mapped[str] = mapped_column(String(6), primary_key=True)
    region_code: Mapped[str] = mapped_column(String(6), primary_key=True)
    year: Mapped[int] = mapped_column(Integer, primary_key=True)
    admissions: Mapped[int] = mapped_column(Integer, default=0)
    deductible_paid: Mapped[int] = mapped_column(Fen, default=0)
    inpatient_covered: Mapped[int] = mapped_column(Fen, default=0)
    inpatient_eligible: Mapped[int] = mapped_column(Fen, default=0)
    pooled_fund_paid: Mapped[int] = mapped_column(Fen, default=0)
    large_expense_paid: Mapped[int] = mapped_column(Fen, default=0)
    critical_illness_base: Mapped[int] = mapped_column(Fen, default=0)
    critical_illness_paid: Mapped[int] = mapped_column(Fen, default=0)
    outpatient_deductible_paid: Mapped[int] = mapped_column(Fen, default=0)
    outpatient_pooled_paid: Mapped[int] = mapped_column(Fen, default=0)
    outpatient_eligible: Mapped[int] = mapped_column(Fen, default=0)
    assistance_deductible_paid: Mapped[int] = mapped_column(Fen, default=0)
    assistance_paid_outpatient: Mapped[int] = mapped_column(Fen, default=0)
    assistance_paid_inpatient: Mapped[int] = mapped_column(Fen, default=0)
    tilted_base: Mapped[int] = mapped_column(Fen, default=0)
    tilted_paid: Mapped[int] = mapped_column(Fen, default=0)
    chronic: Mapped[str] = mapped_column(Text, default="{}")  # JSON: disease → {paid, deductible_paid}


class Message(Base):
    """A processed request (by ``msgid``): repeats get the stored answer; 2601 reverses by it."""

    __tablename__ = "message"
    msgid: Mapped[str] = mapped_column(String(30), primary_key=True)
    infno: Mapped[str] = mapped_column(String(10))
    fixmedins_code: Mapped[str] = mapped_column(String(30))
    received_at: Mapped[datetime] = mapped_column(DateTime)
    status: Mapped[str] = mapped_column(String(12))  # done | reversed | tombstone (reversed before it arrived)
    response: Mapped[str] = mapped_column(Text)  # the JSON envelope answered
    setl_id: Mapped[str | None] = mapped_column(String(30))
    mdtrt_id: Mapped[str | None] = mapped_column(String(30))


class SignIn(Base):
    """9001 sign-in of an operator at an institution."""

    __tablename__ = "sign_in"
    sign_no: Mapped[str] = mapped_column(String(30), primary_key=True)
    fixmedins_code: Mapped[str] = mapped_column(String(30))
    opter_no: Mapped[str] = mapped_column(String(30))
    sign_time: Mapped[datetime] = mapped_column(DateTime)
    sign_out_time: Mapped[datetime | None] = mapped_column(DateTime)
