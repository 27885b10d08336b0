"""Fee lines: upload (2204 outpatient / 2301 inpatient) with each line's split, and their cancel
(2205 / 2302). Lines of a settled visit cannot be added or withdrawn.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from yibao.engine.model import Claim
from yibao.engine.model import FeeLine as EngineFeeLine
from yibao.engine.result import LineSplit
from yibao.engine.settle import split_lines
from yibao.errors import InputError
from yibao.io.claim_json import CLASSES
from yibao.io.fields import Fields
from yibao.money import decimal_to_fen_half_up
from yibao.service.platform import Platform
from yibao.service.registry import engine_person, insured_on
from yibao.service.visits import CANCELLED, SETTLED
from yibao.store.db import core_table, insert_rows
from yibao.store.direct import Direct
from yibao.store.models import FeeLine, Visit

ALL = "0000"  # spec 2205/2302: withdraw every line
_LINES = core_table(FeeLine).c
_SERIALS = Direct(select(_LINES.feedetl_sn).where(_LINES.mdtrt_id == bindparam("mdtrt_id")))


def engine_line(row: Mapping[Any, Any]) -> EngineFeeLine:
    """The engine's line from the stored columns (a row being inserted, or a row read back)."""
    return EngineFeeLine(
        item_code=row["item_code"],
        amount=row["amount"],
        price=row["price"],
        quantity=row["quantity"],
        declared_class=row["declared_class"],
        indication_met=row["indication_met"],
        line_no=row["feedetl_sn"],
    )


def visit_claim(visit: Visit, lines: tuple[EngineFeeLine, ...], on: datetime) -> Claim:
    return Claim(
        claim_id=visit.mdtrt_id,
        insured_region=visit.insured_region,
        treatment_region=visit.treatment_region,
        visit_type=visit.visit_type,
        hospital_level=visit.hospital_level,
        settlement_date=on.date(),
        admission_date=visit.begin_time.date(),
        discharge_date=visit.end_time.date() if visit.end_time else None,
        disease=visit.disease,
        day_surgery=visit.day_surgery,
        transfer_from_level=visit.transfer_from_level,
        filed=visit.filed,
        fee_lines=lines,
    )


def upload(
    session: Session, platform: Platform, visit: Visit, items: list[Fields]
) -> list[tuple[dict[str, Any], LineSplit]]:
    """Store the lines and answer each one's split (each line as the columns stored)."""
    if visit.status in (SETTLED, CANCELLED):
        raise InputError("mdtrt_id", f"就诊已{'结算' if visit.status == SETTLED else '撤销'}，不能再上传费用明细")
    if not items:
        raise InputError("feedetail", "费用明细不能为空")
    existing = set(_SERIALS.scalars(session, {"mdtrt_id": visit.mdtrt_id}))
    rows: list[dict[str, Any]] = []
    for f in items:
        sn = f.text("feedetl_sn", max_len=25)
        if sn in existing:
            raise InputError(f.where("feedetl_sn"), f"明细流水号 {sn} 在本次就诊中已存在")
        existing.add(sn)
        mdtrt = f.text("mdtrt_id", required=False, max_len=30)
        if mdtrt and mdtrt != visit.mdtrt_id:
            raise InputError(f.where("mdtrt_id"), "明细的就诊ID与本次就诊不符")
        price = f.decimal("pric")
        qty = f.decimal("cnt")
        assert price is not None and qty is not None
        if price < 0:
            raise InputError(f.where("pric"), "单价不能为负")
        # the columns are NUMERIC(16,6) and NUMERIC(16,4): refuse here, naming the field
        if price >= 10**10 or price != price.quantize(Decimal("0.000001")):
            raise InputError(f.where("pric"), "单价超出范围或超过6位小数")
        if abs(qty) >= 10**12 or qty != qty.quantize(Decimal("0.0001")):
            raise InputError(f.where("cnt"), "数量超出范围或超过4位小数")
        computed = decimal_to_fen_half_up(price * qty)
        amount = f.fen("det_item_fee_sumamt", required=False, default=computed)
        if abs(amount - computed) > 1:
            raise InputError(f.where("det_item_fee_sumamt"), "明细金额与 单价×数量 不符")
        level = f.text("chrgitm_lv", required=False, max_len=2)
        if level and level not in CLASSES:
            raise InputError(f.where("chrgitm_lv"), f"收费项目等级应为 01/02/03：{level!r}")
        # spec 2204 note: a restricted item counts only when the hospital approved it (hosp_appr_flag 1)
        approved = f.text("hosp_appr_flag", required=False, default="1") != "2"
        indication = f.flag("lmt_used_flag", default=True) if f.has("lmt_used_flag") else approved
        rows.append(
            {
                "mdtrt_id": visit.mdtrt_id,
                "feedetl_sn": sn,
                "chrg_bchno": f.text("chrg_bchno", required=False, max_len=30),
                "item_code": f.text("med_list_codg", "hilist_code", max_len=50),
                "medins_item_code": f.text("medins_list_codg", required=False, max_len=50),
                "price": price,
                "quantity": qty,
                "amount": amount,
                "declared_class": CLASSES[level] if level else None,
                "indication_met": indication and approved,
                "status": "active",
                "setl_id": None,
            }
        )
    splits = _splits(session, platform, visit, rows)
    for row, split in zip(rows, splits, strict=True):
        row.update(
            item_class=split.item_class,
            full_self_pay=split.full_self_pay,
            over_limit=split.over_limit,
            self_pay_first=split.self_pay_first,
            policy_range=split.policy_range,
            self_pay_first_ratio=split.self_pay_first_ratio,
            price_cap=split.price_cap,
            reason=split.reason,
        )
    insert_rows(session, FeeLine, rows)
    return list(zip(rows, splits, strict=True))


def _splits(session: Session, platform: Platform, visit: Visit, rows: list[dict[str, Any]]) -> list[LineSplit]:
    on = platform.clock()
    found = insured_on(session, visit.psn_no, visit.insutype, visit.begin_time.date())
    if found is None:
        raise InputError("psn_no", "就诊日期无有效参保记录")
    person, enrolment = found
    lines = tuple(engine_line(r) for r in rows)
    claim = visit_claim(visit, lines, on)
    try:
        return split_lines(
            claim,
            engine_person(person, enrolment, visit.begin_time.date(), platform.codes.person_type),
            platform.snapshot,
        )
    except InputError as e:  # name the field as the request does
        raise InputError(
            e.field.replace("fee_lines", "feedetail").replace("item_code", "med_list_codg"), e.reason
        ) from None


def withdraw(session: Session, visit: Visit, key: str, value: str) -> int:
    """2205 (by ``chrg_bchno``) / 2302 (by ``feedetl_sn``); ``0000`` withdraws every line."""
    if visit.status in (SETTLED, CANCELLED):
        raise InputError("mdtrt_id", "就诊已结算或已撤销，不能撤销费用明细")
    stmt = select(FeeLine).where(
        FeeLine.mdtrt_id == visit.mdtrt_id, FeeLine.status == "active", FeeLine.setl_id.is_(None)
    )
    if value != ALL:
        stmt = stmt.where(getattr(FeeLine, key) == value)
    rows = list(session.scalars(stmt))
    if not rows:
        raise InputError(key, f"没有可撤销的费用明细：{value}")
    for row in rows:
        row.status = "cancelled"
        # free the serial number for a corrected re-upload; the withdrawn line stays on record
        row.feedetl_sn = f"{row.feedetl_sn}~{row.id}"[:30]
    return len(rows)
