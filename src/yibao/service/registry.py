"""Who is insured where, and which institutions are designated: the reference data settlement reads.

Enrolment and contributions proper come with the enrolment issue; this module keeps the
minimum the real-time service needs — persons (ID number and name encrypted, a keyed
hash to find them by ID number), enrolment periods, personal accounts and their family
mutual-aid bindings, e-voucher tokens, designated institutions — and loads it from a
JSON document (``yibao db load``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import date, datetime
from typing import Any

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from yibao.engine.model import Person as EnginePerson
from yibao.errors import InputError
from yibao.io.claim_json import INSUTYPES, person_type_of
from yibao.io.fields import Fields
from yibao.policy.schema import CATEGORIES
from yibao.store.db import core_table
from yibao.store.direct import Direct, record
from yibao.store.models import Account, Enrolment, EVoucher, Institution, MutualAidBinding, Person, Region
from yibao.store.pii import LABEL_CERTNO as CERTNO
from yibao.store.pii import LABEL_NAME as NAME
from yibao.store.pii import PiiCipher


def age_on(birth: date, on: date) -> int:
    return on.year - birth.year - ((on.month, on.day) < (birth.month, birth.day))


def find_psn_no_by_certno(session: Session, cipher: PiiCipher, certno: str) -> str | None:
    return session.scalar(select(Person.psn_no).where(Person.certno_hash == cipher.lookup_hash(certno)))


_PERSON = core_table(Person).c
_ENROLMENT = core_table(Enrolment).c


def _in_force(insutype: object, on: object) -> tuple[Any, ...]:
    return (
        _ENROLMENT.insutype == insutype,
        _ENROLMENT.begin_date <= on,
        (_ENROLMENT.end_date.is_(None)) | (_ENROLMENT.end_date >= on),
    )


#: built once: constructing a statement costs more CPU than PostgreSQL spends running it
_ENROLMENT_ON = (
    select(Enrolment)
    .where(Enrolment.psn_no == bindparam("psn_no"), *_in_force(bindparam("insutype"), bindparam("on")))
    .order_by(Enrolment.begin_date.desc())
    .limit(1)
)
#: the person with that enrolment, in one statement (every registration, fee upload and settlement
#: asks); the enrolment's columns labelled ``e_…``
_INSURED_ON = Direct(
    select(*_PERSON, *(c.label(f"e_{c.key}") for c in _ENROLMENT))
    .join_from(core_table(Person), core_table(Enrolment), _ENROLMENT.psn_no == _PERSON.psn_no)
    .where(_PERSON.psn_no == bindparam("psn_no"), *_in_force(bindparam("insutype"), bindparam("on")))
    .order_by(_ENROLMENT.begin_date.desc())
    .limit(1)
)


def enrolment_on(session: Session, psn_no: str, insutype: str, on: date) -> Enrolment | None:
    """The enrolment in force for a person and scheme on a date (the latest that started)."""
    return session.scalar(_ENROLMENT_ON, {"psn_no": psn_no, "insutype": insutype, "on": on})


def insured_on(session: Session, psn_no: str, insutype: str, on: date) -> tuple[Person, Enrolment] | None:
    """The person and the enrolment in force on a date, or None when either is missing. Both are
    built from one row and are not in the session (nothing on the real-time path changes them)."""
    row = _INSURED_ON.first(session, {"psn_no": psn_no, "insutype": insutype, "on": on})
    if row is None:
        return None
    split = len(_PERSON)
    person = record(Person, dict(zip(_PERSON.keys(), row[:split], strict=True)))
    return person, record(Enrolment, dict(zip(_ENROLMENT.keys(), row[split:], strict=True)))


def engine_person(
    person: Person, enrolment: Enrolment, on: date, person_type: Callable[[str, str], str] | None = None
) -> EnginePerson:
    """The engine's view of a person on a date; ``person_type`` maps a region's 人员类别 codes."""
    kind = (person_type or (lambda _region, code: person_type_of(code)))(enrolment.region_code, enrolment.psn_type)
    return EnginePerson(
        person_id=person.psn_no,
        scheme=INSUTYPES[enrolment.insutype],
        person_type=kind,
        age=age_on(person.birth_date, on),
        sex="female" if person.sex == "2" else "male",
        assistance_category=enrolment.assistance_category,
        civil_servant=enrolment.civil_servant,
    )


# -- loading reference data ---------------------------------------------------------------------


def load_registry(session: Session, cipher: PiiCipher, data: object) -> dict[str, int]:
    """Insert (or update) regions, institutions, persons, enrolments, accounts, e-vouchers from JSON.

    ``{"regions": [...], "institutions": [...], "persons": [{psn_no, certno, name, gend, brdy,
    enrolments: [{insutype, psn_type, insuplc_admdvs, begndate, enddate?, assistance_category?}],
    balc?, mutual_aid_payer?, e_vouchers?: [{token, expires_at}]}]}``
    """
    root = Fields(data, "")
    counts = {"regions": 0, "institutions": 0, "persons": 0, "enrolments": 0}
    if "regions" in root.data:
        for r in root.items("regions"):
            session.merge(
                Region(
                    code=r.text("code"),
                    name=r.text("name"),
                    parent_code=r.text("parent_code", required=False) or None,
                    pooling=r.flag("pooling"),
                )
            )
            counts["regions"] += 1
    if "institutions" in root.data:
        for i in root.items("institutions"):
            code = i.text("fixmedins_code", "code")
            if code[:1] not in ("H", "P"):
                raise InputError(i.where("fixmedins_code"), "定点医药机构编号应以 H（医院）或 P（药店）开头")
            level = i.integer("hosp_lv", "hospital_level", required=False, default=0)
            assert level is not None
            session.merge(
                Institution(
                    code=code,
                    name=i.text("fixmedins_name", "name"),
                    kind=code[0],
                    hospital_level=level,
                    region_code=i.text("admdvs", "region_code"),
                    active=True,
                )
            )
            counts["institutions"] += 1
    session.flush()
    if "persons" in root.data:
        for p in root.items("persons"):
            psn_no = p.text("psn_no")
            certno = p.text("certno")
            birth = p.day("brdy", "birth_date")
            assert birth is not None
            gend = p.text("gend", required=False, default="1")
            if gend not in ("1", "2"):
                raise InputError(p.where("gend"), "性别应为 1（男）或 2（女）")
            session.merge(
                Person(
                    psn_no=psn_no,
                    certno_enc=cipher.encrypt(certno, CERTNO),
                    certno_hash=cipher.lookup_hash(certno),
                    name_enc=cipher.encrypt(p.text("psn_name", "name"), NAME),
                    sex=gend,
                    birth_date=birth,
                )
            )
            session.flush()
            session.merge(Account(psn_no=psn_no, balance=p.fen("balc", required=False)))
            for e in p.items("enrolments") if "enrolments" in p.data else []:
                _enrolment(session, psn_no, e)
                counts["enrolments"] += 1
            for v in p.items("e_vouchers") if "e_vouchers" in p.data else []:
                expires = v.day("expires_at", required=False) or date(9999, 12, 31)
                session.merge(
                    EVoucher(
                        token=v.text("token"), psn_no=psn_no, expires_at=datetime.combine(expires, datetime.min.time())
                    )
                )
            counts["persons"] += 1
        session.flush()
        for p in root.items("persons"):
            payer = p.text("mutual_aid_payer", required=False)
            if payer:
                session.merge(MutualAidBinding(psn_no=p.text("psn_no"), payer_psn_no=payer))
    return counts


def _enrolment(session: Session, psn_no: str, e: Fields) -> None:
    insutype = e.text("insutype")
    if insutype not in INSUTYPES:
        raise InputError(e.where("insutype"), f"险种类型应为 310 或 390：{insutype!r}")
    psn_type = e.text("psn_type")
    person_type_of(psn_type)  # validates
    category = e.text("assistance_category", required=False, default="none")
    if category not in (*CATEGORIES, "none"):
        raise InputError(e.where("assistance_category"), f"取值 {category!r} 不在 {[*CATEGORIES, 'none']} 内")
    begin = e.day("begndate", "begin_date")
    assert begin is not None
    session.add(
        Enrolment(
            psn_no=psn_no,
            insutype=insutype,
            psn_type=psn_type,
            region_code=e.text("insuplc_admdvs", "region_code"),
            begin_date=begin,
            end_date=e.day("enddate", "end_date", required=False),
            assistance_category=category,
            civil_servant=e.flag("cvlserv_flag"),
            emp_name=e.text("emp_name", required=False),
        )
    )


def region_rows(snapshot_regions: Mapping[str, tuple[str, str | None, bool]]) -> list[Region]:
    return [Region(code=c, name=n, parent_code=p, pooling=pool) for c, (n, p, pool) in snapshot_regions.items()]
