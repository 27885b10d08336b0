"""Visits: outpatient registration (2201/2202), visit information (2203), admission (2401/2404),
discharge (2402/2405). Each function runs inside the caller's transaction and raises
:class:`~yibao.errors.InputError` (naming the field) before writing anything it refuses.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, delete, select, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from yibao.engine.model import INPATIENT, OUTPATIENT
from yibao.errors import InputError
from yibao.io.fields import Fields
from yibao.service.platform import Platform
from yibao.service.registry import insured_on
from yibao.store.db import core_table, insert_rows
from yibao.store.direct import Direct, record
from yibao.store.models import Diagnosis, FeeLine, Institution, Person, Visit

OPEN, DISCHARGED, SETTLED, CANCELLED = "open", "discharged", "settled", "cancelled"


_INSTITUTIONS = core_table(Institution)
_INSTITUTION = Direct(select(_INSTITUTIONS).where(_INSTITUTIONS.c.code == bindparam("code")))


def institution(session: Session, code: str) -> Any:
    """The designated institution's row (code, name, kind, hospital_level, region_code, active);
    a plain row: ``session.get`` cost about three times the statement on the real-time path."""
    found = _INSTITUTION.first(session, {"code": code})
    if found is None or not found.active:
        raise InputError("fixmedins_code", f"不是有效的定点医药机构：{code}")
    return found


_DIAGNOSES = core_table(Diagnosis)
_DROP_DIAGNOSES = Direct(delete(_DIAGNOSES).where(_DIAGNOSES.c.mdtrt_id == bindparam("mdtrt_id")))
_VISITS = core_table(Visit)
_VISIT_BY_ID = select(_VISITS).where(_VISITS.c.mdtrt_id == bindparam("mdtrt_id"))
_VISIT = Direct(_VISIT_BY_ID)
_VISIT_LOCKED = Direct(_VISIT_BY_ID.with_for_update())


def visit_of(session: Session, mdtrt_id: str, psn_no: str, fixmedins_code: str, lock: bool = False) -> Visit:
    """The visit, which must belong to this person and to this institution (an institution may
    only read and settle its own visits). The Visit is built from the row and is not in the
    session, as :func:`register`'s: it changes only through :func:`change_visit`."""
    row = (_VISIT_LOCKED if lock else _VISIT).first(session, {"mdtrt_id": mdtrt_id})
    if row is None or row.fixmedins_code != fixmedins_code:
        raise InputError("mdtrt_id", f"就诊 {mdtrt_id} 不存在或不属于本机构")
    if psn_no and row.psn_no != psn_no:
        raise InputError("psn_no", "人员编号与就诊记录不符")
    return record(Visit, row._asdict())


_CHANGES: dict[tuple[str, ...], Direct] = {}


def change_visit(session: Session, visit: Visit, **values: object) -> None:
    """Write ``values`` to the visit's row with one UPDATE, and into ``visit`` as its stored state.
    Every change of a visit goes through here: through the ORM it would wait for a unit-of-work
    flush, which costs several times the statement (bench/serve_profile.py). Values equal to the
    visit's are left out, and nothing is sent when none differs (a 2203 repeating the 2201's type)."""
    values = {n: v for n, v in values.items() if getattr(visit, n) != v}
    if not values:
        return
    names = tuple(sorted(values))
    stmt = _CHANGES.get(names)
    if stmt is None:  # built once per set of columns ("b_": column-named bind parameters are reserved)
        where = _VISITS.c.mdtrt_id == bindparam("b_mdtrt_id")
        stmt = _CHANGES[names] = Direct(update(_VISITS).where(where).values({n: bindparam(f"b_{n}") for n in names}))
    stmt.later(session, {"b_mdtrt_id": visit.mdtrt_id, **{f"b_{n}": v for n, v in values.items()}})
    for name, value in values.items():
        set_committed_value(visit, name, value)


def _check_enrolled(session: Session, psn_no: str, insutype: str, on: datetime, field: str) -> str:
    found = insured_on(session, psn_no, insutype, on.date())
    if found is None:
        if session.get(Person, psn_no) is None:
            raise InputError("psn_no", f"人员编号 {psn_no} 不存在")
        raise InputError(field, f"人员 {psn_no} 在 {on.date()} 没有有效的 {insutype} 参保记录")
    return found[1].region_code


def register(
    session: Session,
    platform: Platform,
    fixmedins_code: str,
    treatment_region: str,
    data: Fields,
    admission: bool,
    as_type: str | None = None,
) -> Visit:
    """2201 (outpatient registration) or 2401 (admission): a new visit with a new ``mdtrt_id``;
    ``as_type`` is the visit's type where the caller knows it (2101/2102: a pharmacy purchase).

    The row is inserted through Core and the Visit returned is not in the session: nothing of
    it is changed except through :func:`change_visit`."""
    inst = institution(session, fixmedins_code)
    psn_no = data.text("psn_no", max_len=30)
    insutype = data.text("insutype", max_len=6)
    begin = _time(data, "begntime")
    insured = _check_enrolled(session, psn_no, insutype, begin, "insutype")
    med_type = data.text("med_type", required=admission, default="11", max_len=10)
    kind = platform.med_type(insured, med_type)
    if kind is None:
        raise InputError(data.where("med_type"), f"未配置的医疗类别 {med_type!r}")
    visit_type, day_surgery = kind
    if admission and visit_type != INPATIENT:
        raise InputError(data.where("med_type"), f"入院办理的医疗类别应为住院类，收到 {med_type!r}")
    if not admission and visit_type == INPATIENT:
        raise InputError(data.where("med_type"), "门诊挂号不能使用住院医疗类别")
    values: dict[str, Any] = {
        "mdtrt_id": platform.ids.next("M", platform.clock()),
        "psn_no": psn_no,
        "insutype": insutype,
        "fixmedins_code": fixmedins_code,
        "visit_type": as_type or (visit_type if admission else OUTPATIENT),
        "med_type": med_type,
        "hospital_level": inst.hospital_level,
        "insured_region": insured,
        "treatment_region": treatment_region or inst.region_code,
        "begin_time": begin,
        "end_time": None,
        "status": OPEN,
        "disease": data.text("dise_codg", required=False, max_len=50),
        "day_surgery": day_surgery,
        "filed": data.flag("out_of_area_filed", "filed"),
        "transfer_from_level": _level(data, "transfer_from_level"),
        "ipt_otp_no": data.text("ipt_no", "ipt_otp_no", required=False, max_len=30),
    }
    insert_rows(session, Visit, values)
    return record(Visit, values)


def record_diagnoses(session: Session, visit: Visit, items: list[Fields]) -> None:
    """Replace the visit's diagnoses; ``vali_flag`` 0 drops one (spec 2203 note)."""
    rows: list[dict[str, object]] = []
    for i, d in enumerate(items):
        if not d.flag("vali_flag", default=True):
            continue
        srt_no = d.integer("diag_srt_no", required=False, default=i + 1) or i + 1
        if not 0 < srt_no < 10_000:
            raise InputError(d.where("diag_srt_no"), "诊断排序号应为 1 到 9999")
        rows.append(
            {
                "mdtrt_id": visit.mdtrt_id,
                "diag_type": d.text("diag_type", required=False, default="1", max_len=3),
                "srt_no": srt_no,
                "code": d.text("diag_code", max_len=30),
                "name": d.text("diag_name", required=False, max_len=200),
                "main": d.flag("maindiag_flag", default=i == 0),
                "valid": True,
            }
        )
    _DROP_DIAGNOSES.later(session, {"mdtrt_id": visit.mdtrt_id})
    insert_rows(session, Diagnosis, rows)


def visit_information(session: Session, platform: Platform, visit: Visit, info: Fields) -> None:
    """2203: the outpatient visit's medical type and disease (one med_type per visit)."""
    if visit.visit_type == INPATIENT:
        raise InputError("mdtrt_id", "住院就诊请使用 2401/2402 上传就诊信息")
    if visit.status != OPEN:
        raise InputError("mdtrt_id", "就诊已结算或已撤销，不能修改就诊信息")
    med_type = info.text("med_type", max_len=10)
    kind = platform.med_type(visit.insured_region, med_type)
    if kind is None or kind[0] == INPATIENT:
        raise InputError(info.where("med_type"), f"门诊就诊的医疗类别无效：{med_type!r}")
    disease = info.text("dise_codg", "opsp_dise_code", required=False, max_len=50) or visit.disease
    change_visit(session, visit, med_type=med_type, visit_type=kind[0], disease=disease)


def discharge(session: Session, visit: Visit, info: Fields) -> None:
    """2402: discharge time and diagnoses; the stay can then be settled."""
    if visit.visit_type != INPATIENT:
        raise InputError("mdtrt_id", "不是住院就诊")
    if visit.status != OPEN:
        raise InputError("mdtrt_id", f"就诊状态为 {visit.status}，不能办理出院")
    end = _time(info, "endtime")
    if end < visit.begin_time:
        raise InputError(info.where("endtime"), "出院时间早于入院时间")
    change_visit(session, visit, end_time=end, status=DISCHARGED)


def cancel_discharge(session: Session, visit: Visit) -> None:
    """2405."""
    if visit.status != DISCHARGED:
        raise InputError("mdtrt_id", "就诊未出院或已结算，不能撤销出院")
    change_visit(session, visit, end_time=None, status=OPEN)


def cancel_visit(session: Session, visit: Visit) -> None:
    """2202 / 2404: only a visit with no active fee lines and no settlement can be withdrawn."""
    if visit.status not in (OPEN,):
        raise InputError("mdtrt_id", f"就诊状态为 {visit.status}，不能撤销")
    active = session.scalar(
        select(FeeLine.id).where(FeeLine.mdtrt_id == visit.mdtrt_id, FeeLine.status == "active").limit(1)
    )
    if active is not None:
        raise InputError("mdtrt_id", "就诊仍有未撤销的费用明细，请先撤销明细")
    change_visit(session, visit, status=CANCELLED)


def _level(f: Fields, name: str) -> int | None:
    level = f.integer(name, required=False)
    if level is not None and not 0 <= level <= 3:
        raise InputError(f.where(name), f"医院等级应为 0 到 3：{level}")
    return level


def _time(f: Fields, name: str) -> datetime:
    raw = f.text(name, max_len=30)
    try:
        return datetime.fromisoformat(raw.replace("/", "-"))
    except ValueError:
        raise InputError(f.where(name), f"时间格式应为 yyyy-MM-dd HH:mm:ss：{raw!r}") from None
